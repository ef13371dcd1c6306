import type { Logger } from '../observe/logger.js';
import type { WorkQueue } from './queue.js';

/**
 * The worker loop shared by every controller: take a key, reconcile it, and let the outcome decide
 * what happens to the key next. Keeping this policy here means reconcile functions only say what
 * they want ("done", "try again", "look again in N ms") and never touch the queue themselves.
 */

export type Outcome =
  /** Finished: the key's failure count is reset. */
  | { type: 'done' }
  /** Failed (or not finished): retried with the key's exponential backoff. */
  | { type: 'retry'; error?: unknown }
  /** Healthy but waiting on something (a snapshot not ready yet): look again after a fixed delay, without growing the backoff. */
  | { type: 'after'; delayMs: number };

/** How a failed reconcile is logged: `quiet` at verbosity 3 (routine, retried anyway), `error` as an error. */
export type Severity = 'quiet' | 'error';

export interface RunWorkersOptions {
  queue: WorkQueue;
  workers: number;
  reconcile(key: string): Promise<Outcome>;
  log: Logger;
  /**
   * Decides how a reconcile's error is logged; the caller knows which errors are routine (a write
   * conflict, say), the loop does not. Default: every error is logged as an error.
   */
  classify?(error: unknown): Severity;
}

export interface Workers {
  /** Stops taking keys (shuts the queue down) and waits for reconciles in progress to finish. */
  stop(): Promise<void>;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function settle(queue: WorkQueue, key: string, outcome: Outcome, log: Logger, classify: (error: unknown) => Severity): void {
  switch (outcome.type) {
    case 'done':
      queue.forget(key);
      return;
    case 'after':
      queue.forget(key);
      queue.addAfter(key, outcome.delayMs);
      return;
    case 'retry': {
      const fields = { queue: queue.name, key, requeues: queue.numRequeues(key) };
      if (outcome.error === undefined) log.v(4).info('requeueing key', fields);
      else if (classify(outcome.error) === 'quiet') log.v(3).info(`could not sync ${key}: ${describe(outcome.error)}`, fields);
      else log.error(`could not sync ${key}: ${describe(outcome.error)}`, fields);
      queue.addRateLimited(key);
      return;
    }
  }
}

async function workerLoop(options: RunWorkersOptions): Promise<void> {
  const { queue, reconcile, log } = options;
  const classify = options.classify ?? (() => 'error');
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    let outcome: Outcome;
    try {
      outcome = await reconcile(key);
      if (!outcome || typeof outcome !== 'object') outcome = { type: 'retry', error: new Error(`reconcile of ${key} returned no outcome`) };
    } catch (error) {
      outcome = { type: 'retry', error };
    }
    try {
      settle(queue, key, outcome, log, classify);
    } finally {
      queue.done(key);
    }
  }
}

/** Starts `workers` loops over the queue. With workers <= 0 nothing is processed, as in the Go sidecar. */
export function runWorkers(options: RunWorkersOptions): Workers {
  const { queue, workers, log } = options;
  if (!(workers > 0)) {
    log.warn(`no workers for queue ${queue.name} (worker count ${workers}): its keys will never be processed`, { queue: queue.name });
    return { stop: async () => queue.shutdown() };
  }
  const loops = Array.from({ length: Math.floor(workers) }, () => workerLoop(options));
  return {
    async stop() {
      queue.shutdown();
      await Promise.all(loops);
    },
  };
}
