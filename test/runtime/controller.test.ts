import { describe, expect, test } from '@jest/globals';
import { capturingLogger } from '../helpers/logger.js';
import { ApiError } from '../../src/kube/rest.js';
import { runWorkers, type Outcome } from '../../src/runtime/controller.js';
import { WorkQueue } from '../../src/runtime/queue.js';
import { reconcileErrorSeverity } from '../../src/sidecar/engine/loop.js';

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('runWorkers', () => {
  test('done forgets the key; retry and throws back off; after polls without growing the backoff', async () => {
    const queue = new WorkQueue({ name: 'q', baseDelayMs: 5, maxDelayMs: 20 });
    const { log } = capturingLogger();
    const plan: Record<string, Outcome[]> = {
      ok: [{ type: 'done' }],
      flaky: [{ type: 'retry', error: new Error('boom') }, { type: 'retry' }, { type: 'done' }],
      poll: [{ type: 'after', delayMs: 10 }, { type: 'after', delayMs: 10 }, { type: 'done' }],
    };
    const seen: string[] = [];
    const requeuesSeen: Record<string, number[]> = { ok: [], flaky: [], poll: [], thrower: [] };
    let throws = 0;
    const workers = runWorkers({
      queue,
      workers: 2,
      log,
      reconcile: async (key) => {
        seen.push(key);
        requeuesSeen[key]?.push(queue.numRequeues(key));
        if (key === 'thrower') {
          if (throws++ === 0) throw new Error('thrown');
          return { type: 'done' };
        }
        return plan[key]?.shift() ?? { type: 'done' };
      },
    });
    try {
      for (const key of ['ok', 'flaky', 'poll', 'thrower']) queue.add(key);
      await until(() => seen.filter((k) => k === 'flaky').length === 3 && seen.filter((k) => k === 'poll').length === 3 && throws === 2, 'all outcomes');
      await until(() => queue.inFlight() === 0, 'idle workers');
      expect(requeuesSeen.flaky).toEqual([0, 1, 2]);
      expect(requeuesSeen.poll).toEqual([0, 0, 0]);
      expect(requeuesSeen.thrower).toEqual([0, 1]);
      for (const key of ['ok', 'flaky', 'poll', 'thrower']) expect(queue.numRequeues(key)).toBe(0);
    } finally {
      await workers.stop();
    }
  });

  test('one key is never reconciled by two workers at once', async () => {
    const queue = new WorkQueue({ name: 'q', baseDelayMs: 5, maxDelayMs: 20 });
    const { log } = capturingLogger();
    let active = 0;
    let maxActive = 0;
    let calls = 0;
    const release = deferred();
    const workers = runWorkers({
      queue,
      workers: 4,
      log,
      reconcile: async () => {
        active++;
        calls++;
        maxActive = Math.max(maxActive, active);
        if (calls === 1) await release.promise;
        active--;
        return { type: 'done' };
      },
    });
    try {
      queue.add('same');
      await until(() => calls === 1, 'first reconcile');
      queue.add('same');
      queue.add('same');
      await new Promise((resolve) => setImmediate(resolve));
      expect(calls).toBe(1);
      release.resolve();
      await until(() => calls === 2 && queue.inFlight() === 0, 'second reconcile');
      expect(maxActive).toBe(1);
    } finally {
      await workers.stop();
    }
  });

  test('stop() waits for reconciles in progress and takes no new keys', async () => {
    const queue = new WorkQueue({ name: 'q' });
    const { log } = capturingLogger();
    const release = deferred();
    const started: string[] = [];
    let finished = 0;
    const workers = runWorkers({
      queue,
      workers: 1,
      log,
      reconcile: async (key) => {
        started.push(key);
        await release.promise;
        finished++;
        return { type: 'done' };
      },
    });
    queue.add('a');
    queue.add('b');
    await until(() => started.length === 1, 'a started');
    let stopped = false;
    const stopping = workers.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release.resolve();
    await stopping;
    expect(finished).toBe(1);
    expect(started).toEqual(['a']);
  });

  test('with the sidecar\'s classification, conflicts are logged at verbosity 3, other errors as errors', async () => {
    const queue = new WorkQueue({ name: 'q', baseDelayMs: 1000 });
    const quiet = capturingLogger(2);
    const conflict = new ApiError(409, 'Conflict', 'the object has been modified', undefined, undefined);
    let calls = 0;
    const workers = runWorkers({
      queue,
      workers: 1,
      log: quiet.log,
      classify: reconcileErrorSeverity,
      reconcile: async (key) => {
        calls++;
        return { type: 'retry', error: key === 'c' ? conflict : new Error('csi said no') };
      },
    });
    try {
      queue.add('c');
      queue.add('e');
      await until(() => calls === 2 && queue.inFlight() === 0, 'both reconciled');
      await quiet.log.flush();
      expect(quiet.lines.some((l) => l.includes('modified'))).toBe(false);
      const error = quiet.lines.find((l) => l.includes('csi said no'));
      expect(error).toBeDefined();
      expect(queue.numRequeues('c')).toBe(1);
      expect(queue.numRequeues('e')).toBe(1);
    } finally {
      await workers.stop();
    }
    const verbose = capturingLogger(3);
    const queue2 = new WorkQueue({ name: 'q2', baseDelayMs: 1000 });
    let done = false;
    const w2 = runWorkers({
      queue: queue2,
      workers: 1,
      log: verbose.log,
      classify: reconcileErrorSeverity,
      reconcile: async () => {
        done = true;
        return { type: 'retry', error: conflict };
      },
    });
    try {
      queue2.add('c');
      await until(() => done && queue2.inFlight() === 0, 'conflict reconciled');
      await verbose.log.flush();
      expect(verbose.lines.some((l) => l.includes('the object has been modified') && l.includes('"v":3'))).toBe(true);
    } finally {
      await w2.stop();
    }
  });

  test('without a classify option every error, a conflict too, is logged as an error', async () => {
    const queue = new WorkQueue({ name: 'q', baseDelayMs: 1000 });
    const { lines, log } = capturingLogger(0);
    let calls = 0;
    const workers = runWorkers({
      queue,
      workers: 1,
      log,
      reconcile: async () => {
        calls++;
        return { type: 'retry', error: new ApiError(409, 'Conflict', 'the object has been modified', undefined, undefined) };
      },
    });
    try {
      queue.add('c');
      await until(() => calls === 1 && queue.inFlight() === 0, 'conflict reconciled');
      await log.flush();
      // At verbosity 0 only errors (and v0 info) are written: a conflict logged quietly would not be here.
      expect(lines.some((l) => l.includes('the object has been modified'))).toBe(true);
    } finally {
      await workers.stop();
    }
  });

  test('zero workers process nothing and say so', async () => {
    const queue = new WorkQueue({ name: 'idle' });
    const { lines, log } = capturingLogger();
    let calls = 0;
    const workers = runWorkers({ queue, workers: 0, log, reconcile: async () => (calls++, { type: 'done' }) });
    queue.add('a');
    await new Promise((resolve) => setImmediate(resolve));
    await workers.stop();
    await log.flush();
    expect(calls).toBe(0);
    expect(lines.some((l) => l.includes('never be processed'))).toBe(true);
  });
});
