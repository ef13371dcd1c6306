import type { JsonObject } from './json.js';
import { checkWatchCacheOptions, DEFAULT_WATCH_CACHE, WatchCache, type WatchCacheOptions } from './watch-cache.js';

/** One version of one object, in the storage form. Never mutated once stored. */
export interface StoredObject {
  readonly object: JsonObject;
  readonly rv: number;
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  /** Serialised views of this version, per API version (filled lazily by render.ts). */
  readonly rendered: Map<string, string>;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  readonly type: EventType;
  readonly rv: number;
  /** The new state; for DELETED the last state, stamped with the deletion's resourceVersion. */
  readonly current: StoredObject;
  readonly previous?: StoredObject;
}

export type Subscriber = (event: StoreEvent) => void;

export function storedKey(namespace: string, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function makeStored(object: JsonObject, rv: number): StoredObject {
  const meta = (object.metadata ?? {}) as JsonObject;
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : '';
  const name = typeof meta.name === 'string' ? meta.name : '';
  return { object, rv, key: storedKey(namespace, name), namespace, name, rendered: new Map() };
}

/**
 * The objects of one resource, indexed by key and by namespace, with two histories: the one lists
 * at an old resourceVersion read (as etcd keeps it; `horizon` is the resourceVersion at and below
 * which it is gone), and the watch cache window watches resume from (`watchCache`), which is
 * shorter, as on a real server.
 */
export class Collection {
  readonly byKey = new Map<string, StoredObject>();
  private readonly byNamespace = new Map<string, Map<string, StoredObject>>();
  private sortedCache = new Map<string, string[]>();
  readonly log: StoreEvent[] = [];
  horizon = 0;
  readonly subscribers = new Set<Subscriber>();
  readonly watchCache: WatchCache;

  constructor(
    private readonly historyLimit: number,
    watchCache: WatchCacheOptions = DEFAULT_WATCH_CACHE,
    startRv = 0,
    now: () => number = () => performance.now(),
  ) {
    this.watchCache = new WatchCache(watchCache, startRv, now);
  }

  get(key: string): StoredObject | undefined {
    return this.byKey.get(key);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Keys in etcd order (namespace/name), optionally limited to one namespace. */
  sortedKeys(namespace: string | undefined): string[] {
    const cacheKey = namespace ?? '\u0000all';
    let keys = this.sortedCache.get(cacheKey);
    if (!keys) {
      const source = namespace === undefined ? this.byKey : this.byNamespace.get(namespace);
      keys = source ? [...source.keys()].sort() : [];
      this.sortedCache.set(cacheKey, keys);
    }
    return keys;
  }

  apply(event: StoreEvent): void {
    const { current } = event;
    if (event.type === 'DELETED') {
      this.byKey.delete(current.key);
      this.byNamespace.get(current.namespace)?.delete(current.key);
      this.sortedCache.clear();
    } else {
      if (!this.byKey.has(current.key)) this.sortedCache.clear();
      this.byKey.set(current.key, current);
      let ns = this.byNamespace.get(current.namespace);
      if (!ns) this.byNamespace.set(current.namespace, (ns = new Map()));
      ns.set(current.key, current);
    }
    this.log.push(event);
    this.watchCache.add(event);
    if (this.log.length > this.historyLimit * 1.25) {
      const dropped = this.log.splice(0, this.log.length - this.historyLimit);
      this.horizon = Math.max(this.horizon, (dropped[dropped.length - 1] as StoreEvent).rv);
    }
    for (const subscriber of this.subscribers) subscriber(event);
  }

  /** Events after `rv` in the list history, or undefined when that part of it is gone. */
  private historySince(rv: number): StoreEvent[] | undefined {
    if (rv < this.horizon) return undefined;
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.log[mid] as StoreEvent).rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.log.slice(lo);
  }

  /** The objects as they were at `rv` (undefined when history no longer reaches back that far). */
  snapshotAt(rv: number): Map<string, StoredObject> | undefined {
    const later = this.historySince(rv);
    if (!later) return undefined;
    if (later.length === 0) return this.byKey;
    const snapshot = new Map(this.byKey);
    for (let i = later.length - 1; i >= 0; i--) {
      const event = later[i] as StoreEvent;
      if (event.previous) snapshot.set(event.current.key, event.previous);
      else snapshot.delete(event.current.key);
    }
    return snapshot;
  }

  compact(rv: number): void {
    this.watchCache.compact(rv);
    this.horizon = Math.max(this.horizon, rv);
    const keep = this.log.findIndex((e) => e.rv > rv);
    this.log.splice(0, keep === -1 ? this.log.length : keep);
  }
}

/** All collections and the one cluster-wide resourceVersion counter. */
export class Storage {
  private counter: number;
  private readonly startRv: number;
  private readonly collections = new Map<string, Collection>();

  constructor(
    private readonly historyLimit = 10_000,
    firstResourceVersion = 1000,
    private readonly watchCacheOptions: WatchCacheOptions = DEFAULT_WATCH_CACHE,
    private readonly now: () => number = () => performance.now(),
  ) {
    checkWatchCacheOptions(watchCacheOptions);
    this.counter = firstResourceVersion;
    this.startRv = firstResourceVersion;
  }

  get resourceVersion(): number {
    return this.counter;
  }

  collection(storageKey: string): Collection {
    let c = this.collections.get(storageKey);
    // Every resource's watch cache starts with the server (as a real server's cachers do), also one
    // first used later: a watch from before the start is 410, one from any later version is served.
    if (!c) this.collections.set(storageKey, (c = new Collection(this.historyLimit, this.watchCacheOptions, this.startRv, this.now)));
    return c;
  }

  /** Stores a new state of an object under the next resourceVersion and notifies watchers. */
  commit(storageKey: string, type: EventType, object: JsonObject, previous?: StoredObject): StoredObject {
    const rv = ++this.counter;
    const meta = object.metadata as JsonObject;
    meta.resourceVersion = String(rv);
    const current = makeStored(object, rv);
    this.collection(storageKey).apply({ type, rv, current, ...(previous ? { previous } : {}) });
    return current;
  }

  /** Forgets all history up to now: watches resuming from an older resourceVersion get 410. */
  compact(): number {
    for (const c of this.collections.values()) c.compact(this.counter);
    return this.counter;
  }

  /** Total stored objects (for capacity reporting). */
  objectCount(): number {
    let n = 0;
    for (const c of this.collections.values()) n += c.size;
    return n;
  }
}
