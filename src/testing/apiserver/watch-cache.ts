import type { StoreEvent } from './storage.js';

/** How much change history one resource keeps for watches that resume from a resourceVersion. */
export interface WatchCacheOptions {
  /** Events always kept (the smallest capacity of the window). */
  lowerBoundEvents: number;
  /** Events never exceeded (the largest capacity). */
  upperBoundEvents: number;
  /**
   * The window doubles while every event in it is younger than this, and halves once even the
   * newest quarter is older; 0 keeps it at `lowerBoundEvents`.
   */
  eventFreshMs: number;
}

/**
 * kube-apiserver's own values (k8s.io/apiserver, storage/cacher): each resource's watch cache keeps
 * a ring of change events that starts at 100 and holds at least 100, doubles up to 100 × 1024 while
 * its oldest event is younger than the events history window, and shrinks back once the newest
 * quarter has aged past it. That window is 75 s in a default kube-apiserver (its minimum, which is
 * also the default 60 s request timeout plus 15 s). So a client resuming a watch from a version
 * older than the last 100 changes of a resource, and older than 75 s, is answered 410 Expired; so
 * is one resuming from before the server started, since the cache starts empty then.
 */
export const DEFAULT_WATCH_CACHE: WatchCacheOptions = { lowerBoundEvents: 100, upperBoundEvents: 100 * 1024, eventFreshMs: 75_000 };

/** Throws on a window that cannot work, so a bad option fails the server's start, not a request. */
export function checkWatchCacheOptions(options: WatchCacheOptions): void {
  const { lowerBoundEvents: lower, upperBoundEvents: upper, eventFreshMs: fresh } = options;
  if (!(Number.isInteger(lower) && Number.isInteger(upper) && lower >= 1 && upper >= lower && fresh >= 0)) {
    throw new Error(`invalid watch cache window ${JSON.stringify(options)}: need integers 1 <= lowerBoundEvents <= upperBoundEvents, and eventFreshMs >= 0`);
  }
}

interface Entry {
  event: StoreEvent;
  atMs: number;
}

/**
 * One resource's watch cache window, sized as the real server sizes it. `floor` is the oldest
 * resourceVersion a watch can resume from: the server's start until the first event is pushed out,
 * then the version just before the oldest event kept.
 */
export class WatchCache {
  private entries: Entry[] = [];
  /** Index of the oldest kept entry (evicted ones stay in front until the array is compacted). */
  private head = 0;
  private capacity: number;
  private floorRv: number;

  constructor(
    private readonly options: WatchCacheOptions,
    startRv: number,
    private readonly now: () => number,
  ) {
    checkWatchCacheOptions(options);
    this.capacity = options.lowerBoundEvents;
    this.floorRv = startRv;
  }

  /** The oldest resourceVersion a watch can resume from without 410. */
  get floor(): number {
    return this.floorRv;
  }

  private get size(): number {
    return this.entries.length - this.head;
  }

  private at(i: number): Entry {
    return this.entries[this.head + i] as Entry;
  }

  add(event: StoreEvent): void {
    const atMs = this.now();
    this.resize(atMs);
    const full = this.size >= this.capacity;
    if (full) this.evict(this.size - this.capacity + 1);
    this.entries.push({ event, atMs });
    // Once events have been pushed out, a watch can resume from just before the oldest one kept.
    if (full) this.floorRv = Math.max(this.floorRv, this.at(0).event.rv - 1);
  }

  /** The events after `rv`, or undefined when the window no longer reaches back that far (410). */
  eventsSince(rv: number): StoreEvent[] | undefined {
    if (rv < this.floorRv) return undefined;
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.entries[mid] as Entry).event.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.entries.slice(lo).map((e) => e.event);
  }

  /** Forgets everything up to `rv` (the test helper `compact()`). */
  compact(rv: number): void {
    let n = 0;
    while (n < this.size && this.at(n).event.rv <= rv) n++;
    this.evict(n);
    this.floorRv = Math.max(this.floorRv, rv);
  }

  /** Grows a full window whose events are all fresh; shrinks a full one whose newest quarter is stale. */
  private resize(nowMs: number): void {
    if (this.size < this.capacity) return;
    if (nowMs - this.at(0).atMs < this.options.eventFreshMs) {
      this.capacity = Math.min(this.capacity * 2, this.options.upperBoundEvents);
      return;
    }
    // The oldest of the newest quarter (below 4 events the quarter is empty and, as in the real
    // ring's modulo arithmetic, the oldest event stands in for it).
    const newestQuarter = this.at((this.size - Math.floor(this.capacity / 4)) % this.size);
    if (nowMs - newestQuarter.atMs > this.options.eventFreshMs) {
      // The events beyond the new capacity go, as the real ring's start index moves up.
      this.capacity = Math.max(Math.floor(this.capacity / 2), this.options.lowerBoundEvents);
    }
  }

  private evict(n: number): void {
    if (n <= 0) return;
    this.head += n;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
