import type { QueueMetricsSink, QueueProgress } from './queue-metrics.js';

/**
 * A work queue of keys with the guarantees controllers depend on:
 *  - a key waiting in the queue is held once, however often it is added;
 *  - a key being processed is never handed to a second worker: adding it meanwhile marks it
 *    dirty, and it is queued again when the worker calls done();
 *  - per-key exponential backoff for failures (baseDelayMs × 2^n, capped at maxDelayMs, where n
 *    counts consecutive rate-limited adds until forget());
 *  - delayed adds, where a key already waiting for a later time is moved to the earlier one.
 */

/** Timers, injectable so tests can drive time by hand. */
export interface QueueClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: QueueClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface WorkQueueOptions {
  /** Also the `name` label of the workqueue metrics. */
  name: string;
  /** First retry delay (default 1 s, the sidecar's --retry-interval-start). */
  baseDelayMs?: number;
  /** Retry delay cap (default 5 min, --retry-interval-max). */
  maxDelayMs?: number;
  metrics?: QueueMetricsSink;
  clock?: QueueClock;
}

interface Delayed {
  readyAt: number;
  handle: unknown;
}

export class WorkQueue implements QueueProgress {
  readonly name: string;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly metrics: QueueMetricsSink | undefined;
  private readonly clock: QueueClock;

  private readonly ready: string[] = [];
  private readHead = 0;
  /** Keys that need processing: waiting in `ready`, or re-added while being processed. */
  private readonly dirty = new Set<string>();
  /** Key → when a worker took it. */
  private readonly processing = new Map<string, number>();
  /** Key → when it was added, for the queue latency metric. */
  private readonly addedAt = new Map<string, number>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly failures = new Map<string, number>();
  private readonly getters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 300_000;
    this.metrics = options.metrics;
    this.clock = options.clock ?? realClock;
    if (!(this.baseDelayMs > 0)) throw new Error(`work queue ${this.name}: the base retry delay must be positive, got ${this.baseDelayMs} ms`);
    if (this.maxDelayMs < this.baseDelayMs) {
      throw new Error(`work queue ${this.name}: the maximum retry delay (${this.maxDelayMs} ms) is below the base delay (${this.baseDelayMs} ms)`);
    }
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    // A key is timed from its first add while it waits (later adds of a waiting key return above).
    this.addedAt.set(key, this.clock.now());
    this.metrics?.added(this.name);
    this.reportDepth();
    if (this.processing.has(key)) return; // queued again by done()
    this.enqueue(key);
  }

  /** Adds the key after `delayMs`; a key already waiting keeps the earlier of the two times. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + delayMs;
    const waiting = this.delayed.get(key);
    if (waiting) {
      // Stryker disable next-line EqualityOperator: replacing a timer by one for the same instant changes nothing.
      if (waiting.readyAt <= readyAt) return;
      this.clock.clearTimeout(waiting.handle);
    }
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { readyAt, handle });
  }

  /** Adds the key after its backoff: baseDelayMs × 2^n capped at maxDelayMs, n = earlier consecutive failures. */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    const delay = this.nextBackoffMs(key);
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    this.metrics?.retried(this.name);
    this.addAfter(key, delay);
  }

  /** The delay the next addRateLimited(key) would use. */
  nextBackoffMs(key: string): number {
    const n = this.failures.get(key) ?? 0;
    // 2^n overflows to Infinity for huge n; min() still yields the cap.
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
  }

  /** Ends the key's backoff: its next failure starts again from baseDelayMs. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to work on; waits for one. undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** The worker finished with `key`; if it was added meanwhile, it is queued again now. */
  done(key: string): void {
    const started = this.processing.get(key);
    if (started === undefined) return;
    this.processing.delete(key);
    this.metrics?.workDuration(this.name, (this.clock.now() - started) / 1000);
    if (this.dirty.has(key) && !this.shuttingDown) this.enqueue(key);
  }

  /** Keys waiting for a worker (not those being processed or waiting out a delay). */
  len(): number {
    return this.ready.length - this.readHead;
  }

  /** Keys being processed now. */
  inFlight(): number {
    return this.processing.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops handing out keys and drops pending delayed adds; waiting get() calls resolve undefined. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const waiting of this.delayed.values()) this.clock.clearTimeout(waiting.handle);
    this.delayed.clear();
    const getters = this.getters.splice(0);
    getters.forEach((resolve) => resolve(undefined));
  }

  unfinishedWorkSeconds(): number {
    const now = this.clock.now();
    let total = 0;
    for (const started of this.processing.values()) total += now - started;
    return total / 1000;
  }

  longestRunningProcessorSeconds(): number {
    const now = this.clock.now();
    let longest = 0;
    for (const started of this.processing.values()) longest = Math.max(longest, now - started);
    return longest / 1000;
  }

  private enqueue(key: string): void {
    const getter = this.getters.shift();
    if (getter) {
      this.startProcessing(key);
      getter(key);
      return;
    }
    this.ready.push(key);
  }

  private take(): string | undefined {
    if (this.readHead >= this.ready.length) return undefined;
    const key = this.ready[this.readHead++] as string;
    // Compact now and then so the array does not grow without bound. Only memory depends on when:
    // the keys and their order are the same either way.
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,ArithmeticOperator,BlockStatement: when compaction runs is invisible to callers.
    if (this.readHead > 1024 && this.readHead * 2 > this.ready.length) {
      this.ready.splice(0, this.readHead);
      this.readHead = 0;
    }
    this.startProcessing(key);
    return key;
  }

  private startProcessing(key: string): void {
    const now = this.clock.now();
    this.dirty.delete(key);
    this.processing.set(key, now);
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    // Stryker disable next-line ConditionalExpression: every queued key went through add(), which timed it; the check only narrows the type.
    if (added !== undefined) this.metrics?.queueLatency(this.name, (now - added) / 1000);
    this.reportDepth();
  }

  private reportDepth(): void {
    this.metrics?.depth(this.name, this.dirty.size);
  }
}
