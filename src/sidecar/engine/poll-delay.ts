const MIN_POLL_INTERVAL_MS = 1000;

/**
 * How long to wait before asking again about a snapshot that is not ready, given when it was cut
 * (Unix ms; undefined = just now): a fifth of its age, between 1 s and the maximum. A snapshot that
 * turns ready within seconds is noticed within about a second; one that uploads for an hour is asked
 * about every few seconds, not hammered. This is separate from error backoff, which only grows on
 * failures.
 */
export function pollDelayForAge(createdMs: number | undefined, maxMs: number, now: Date): number {
  const ageMs = Math.max(0, now.getTime() - (createdMs ?? now.getTime()));
  return Math.min(Math.max(MIN_POLL_INTERVAL_MS, Math.round(ageMs / 5)), Math.max(MIN_POLL_INTERVAL_MS, maxMs));
}
