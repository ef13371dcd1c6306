/** Polls a condition until it holds or a deadline passes; the only way these suites wait. */
export interface PollOptions {
  /** What is being waited for, used in the timeout error. */
  description: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Extra text for the timeout error, e.g. the tail of a process log. */
  diagnostics?: () => string;
}

/**
 * Calls `probe` until it returns a value other than undefined and returns that value. A probe that
 * throws counts as "not yet"; the last error is reported if the deadline passes.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined> | T | undefined, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 200;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      const extra = options.diagnostics ? `\n${options.diagnostics()}` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.description}${cause}${extra}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
