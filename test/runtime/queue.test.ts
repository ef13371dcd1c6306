import { describe, expect, test } from '@jest/globals';
import { WorkQueue, type QueueClock } from '../../src/runtime/queue.js';
import type { QueueMetricsSink } from '../../src/runtime/queue-metrics.js';

/** Time moved by hand: delays are asserted exactly, without sleeping. */
class ManualClock implements QueueClock {
  private time = 0;
  private nextId = 1;
  private timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  pending(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = until;
  }
}

function newQueue(clock = new ManualClock(), metrics?: QueueMetricsSink) {
  return { clock, queue: new WorkQueue({ name: 'test', baseDelayMs: 100, maxDelayMs: 1000, clock, metrics }) };
}

/** Resolves to the key if get() has already settled, else 'pending'. */
async function peek(promise: Promise<string | undefined>): Promise<string | undefined | 'pending'> {
  return Promise.race([promise, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
}

describe('WorkQueue', () => {
  test('de-duplicates keys while they wait, in FIFO order', async () => {
    const { queue } = newQueue();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.len()).toBe(2);
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    expect(queue.len()).toBe(0);
  });

  test('a key being processed is not handed out again; a re-add is queued after done()', async () => {
    const { queue } = newQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    queue.add('a');
    expect(queue.len()).toBe(0);
    const second = queue.get();
    expect(await peek(second)).toBe('pending');
    queue.done('a');
    expect(await second).toBe('a');
    queue.done('a');
    expect(queue.len()).toBe(0);
  });

  test('waiting getters are served in order as keys arrive', async () => {
    const { queue } = newQueue();
    const first = queue.get();
    const second = queue.get();
    queue.add('x');
    queue.add('y');
    expect(await first).toBe('x');
    expect(await second).toBe('y');
  });

  test('addRateLimited doubles the delay per failure up to the cap; forget resets it', async () => {
    const { queue, clock } = newQueue();
    const observed: number[] = [];
    for (let i = 0; i < 6; i++) {
      queue.addRateLimited('k');
      let waited = 0;
      while (queue.len() === 0) {
        clock.advance(1);
        waited++;
      }
      observed.push(waited);
      expect(await queue.get()).toBe('k');
      queue.done('k');
    }
    expect(observed).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(queue.numRequeues('k')).toBe(6);
    queue.forget('k');
    expect(queue.numRequeues('k')).toBe(0);
    expect(queue.nextBackoffMs('k')).toBe(100);
  });

  test('backoff is per key', () => {
    const { queue } = newQueue();
    queue.addRateLimited('a');
    queue.addRateLimited('a');
    queue.addRateLimited('b');
    expect(queue.numRequeues('a')).toBe(2);
    expect(queue.numRequeues('b')).toBe(1);
    expect(queue.nextBackoffMs('a')).toBe(400);
    expect(queue.nextBackoffMs('b')).toBe(200);
  });

  test('addAfter delays the key; a second addAfter keeps the earlier time', () => {
    const { queue, clock } = newQueue();
    queue.addAfter('a', 500);
    queue.addAfter('a', 300);
    queue.addAfter('a', 900);
    expect(clock.pending()).toBe(1);
    clock.advance(299);
    expect(queue.len()).toBe(0);
    clock.advance(1);
    expect(queue.len()).toBe(1);
    clock.advance(1000);
    expect(queue.len()).toBe(1);
    queue.addAfter('b', 0);
    expect(queue.len()).toBe(2);
  });

  test('a key added while it waits out a delay is processed now and once more later', async () => {
    const { queue, clock } = newQueue();
    queue.addAfter('a', 100);
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.done('a');
    clock.advance(100);
    expect(await queue.get()).toBe('a');
  });

  test('shutdown wakes waiting getters with undefined and ignores later adds', async () => {
    const { queue, clock } = newQueue();
    const waiting = queue.get();
    queue.addAfter('later', 100);
    queue.shutdown();
    expect(await waiting).toBeUndefined();
    expect(clock.pending()).toBe(0);
    queue.add('x');
    expect(await queue.get()).toBeUndefined();
    expect(queue.len()).toBe(0);
  });

  test('reports metrics and progress', async () => {
    const calls: string[] = [];
    const depths: number[] = [];
    const latencies: number[] = [];
    const durations: number[] = [];
    const metrics: QueueMetricsSink = {
      added: (name) => calls.push(`added ${name}`),
      depth: (_name, depth) => depths.push(depth),
      queueLatency: (_name, s) => latencies.push(s),
      workDuration: (_name, s) => durations.push(s),
      retried: (name) => calls.push(`retried ${name}`),
    };
    const { queue, clock } = newQueue(new ManualClock(), metrics);
    queue.add('a');
    queue.add('a');
    clock.advance(250);
    expect(await queue.get()).toBe('a');
    clock.advance(1500);
    expect(queue.unfinishedWorkSeconds()).toBeCloseTo(1.5);
    expect(queue.longestRunningProcessorSeconds()).toBeCloseTo(1.5);
    queue.addRateLimited('a');
    queue.done('a');
    clock.advance(100);
    expect(calls).toEqual(['added test', 'retried test', 'added test']);
    expect(depths).toEqual([1, 0, 1]);
    expect(latencies).toEqual([0.25]);
    expect(durations).toEqual([1.5]);
    expect(queue.unfinishedWorkSeconds()).toBe(0);
  });

  test('rejects a nonsensical backoff configuration; a maximum equal to the base is a fixed delay', () => {
    expect(() => new WorkQueue({ name: 'q', baseDelayMs: 0 })).toThrow(/must be positive/);
    expect(() => new WorkQueue({ name: 'q', baseDelayMs: 10, maxDelayMs: 5 })).toThrow('work queue q: the maximum retry delay (5 ms) is below the base delay (10 ms)');
    const fixed = new WorkQueue({ name: 'q', baseDelayMs: 10, maxDelayMs: 10, clock: new ManualClock() });
    fixed.addRateLimited('k');
    expect(fixed.nextBackoffMs('k')).toBe(10);
  });

  test('queue latency is measured from the first add, not from the clock\'s zero', async () => {
    const latencies: number[] = [];
    const metrics: QueueMetricsSink = { added: () => undefined, depth: () => undefined, queueLatency: (_n, s) => latencies.push(s), workDuration: () => undefined, retried: () => undefined };
    const { queue, clock } = newQueue(new ManualClock(), metrics);
    clock.advance(1000);
    queue.add('a');
    clock.advance(300);
    queue.add('a');
    clock.advance(200);
    expect(await queue.get()).toBe('a');
    expect(latencies).toEqual([0.5]);
  });

  test('done() for a key that is not being processed changes nothing (no second copy queued)', async () => {
    const durations: number[] = [];
    const metrics: QueueMetricsSink = { added: () => undefined, depth: () => undefined, queueLatency: () => undefined, workDuration: (_n, s) => durations.push(s), retried: () => undefined };
    const { queue } = newQueue(new ManualClock(), metrics);
    queue.add('a');
    queue.done('a');
    expect(queue.len()).toBe(1);
    expect(queue.inFlight()).toBe(0);
    expect(durations).toEqual([]);
    expect(await queue.get()).toBe('a');
    expect(queue.len()).toBe(0);
  });

  test('after shutdown, delayed and rate-limited adds schedule nothing and count no retry', () => {
    const retried: string[] = [];
    const metrics: QueueMetricsSink = { added: () => undefined, depth: () => undefined, queueLatency: () => undefined, workDuration: () => undefined, retried: (n) => retried.push(n) };
    const { queue, clock } = newQueue(new ManualClock(), metrics);
    queue.shutdown();
    queue.addAfter('a', 50);
    queue.addRateLimited('b');
    expect(clock.pending()).toBe(0);
    expect(queue.numRequeues('b')).toBe(0);
    expect(retried).toEqual([]);
    queue.shutdown();
    expect(queue.isShuttingDown()).toBe(true);
  });

  test('a long queue is worked off in order while its storage is compacted', async () => {
    const { queue } = newQueue();
    for (let i = 0; i < 3000; i++) queue.add(`k${i}`);
    const taken: string[] = [];
    for (let i = 0; i < 2500; i++) taken.push((await queue.get()) as string);
    for (let i = 3000; i < 3100; i++) queue.add(`k${i}`);
    expect(queue.len()).toBe(600);
    while (queue.len() > 0) taken.push((await queue.get()) as string);
    expect(taken).toEqual(Array.from({ length: 3100 }, (_, i) => `k${i}`));
  });
});

describe('WorkQueue with real timers', () => {
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  test('an earlier delayed add replaces the later one: its timer is cancelled, not left running', async () => {
    const queue = new WorkQueue({ name: 'real', baseDelayMs: 20, maxDelayMs: 40 });
    // Run alone, jest's reporter shares this process and debounces its output with a 100 ms timer
    // after each test; let that one fire first, or it would be counted here and be gone below.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const before = timers();
    queue.addAfter('k', 600_000);
    queue.addAfter('k', 1);
    expect(timers()).toBe(before + 1);
    expect(await queue.get()).toBe('k');
    expect(timers()).toBe(before);
    queue.done('k');
    queue.shutdown();
  });

  test('a rate-limited key comes back after its backoff', async () => {
    const queue = new WorkQueue({ name: 'real', baseDelayMs: 20, maxDelayMs: 40 });
    const started = performance.now();
    queue.addRateLimited('k');
    expect(await queue.get()).toBe('k');
    expect(performance.now() - started).toBeGreaterThanOrEqual(19);
    queue.done('k');
    queue.shutdown();
  });
});

describe('the real clock', () => {
  // Node's own count of live timers: a replaced or dropped delayed add must not leave its timer
  // running (it would add the key again later, and keep the process alive until it fires).
  const liveTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  test('a delayed add moved earlier, and shutdown, leave no timer behind', () => {
    const queue = new WorkQueue({ name: 'real-clock' });
    const before = liveTimers();
    queue.addAfter('k', 60_000);
    queue.addAfter('k', 30_000);
    expect(liveTimers()).toBe(before + 1);
    queue.addAfter('other', 60_000);
    expect(liveTimers()).toBe(before + 2);
    queue.shutdown();
    expect(liveTimers()).toBe(before);
  });
});
