/**
 * Microseconds on the machine's monotonic clock (CLOCK_MONOTONIC, which every process on the
 * machine shares). The API test server's request log and the sample driver's call journal both
 * stamp records with it, so a test can order an API write against a driver call across processes.
 */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
