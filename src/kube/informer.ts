import { silentLogger, type Logger } from '../observe/logger.js';
import { collectionPath, objectKey, apiVersionOf, type KubeList, type KubeObject, type ResourceDescriptor } from './resources.js';
import { ApiError, isExpired, type RestClient, type WatchEvent } from './rest.js';

/**
 * List + watch of one resource into an in-memory cache, with change notifications.
 *
 * The loop: list everything (paged), then watch from the list's resourceVersion. A watch that the
 * server ends normally (timeoutSeconds) resumes from the last resourceVersion seen, bookmarks
 * included. When that version is too old (410 / Expired) the informer lists again and reconciles
 * the cache with what it finds, reporting vanished objects as deletes and changed ones as updates.
 * Any other failure is retried with capped, jittered exponential backoff. The cached objects are
 * exactly what the server sent, parsed losslessly (int64 values stay bigint).
 */

export interface InformerHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<T extends KubeObject> {
  client: RestClient;
  resource: ResourceDescriptor;
  /** Only for namespaced resources; all namespaces when unset. */
  namespace?: string;
  labelSelector?: string;
  /** Every period, each cached object is delivered as onUpdate(obj, obj). 0 = never. */
  resyncPeriodMs?: number;
  /** Items per list page (default 500). */
  pageSize?: number;
  /** Server-side watch duration; default a random 5-10 minutes per watch, so clients do not reconnect in step. */
  watchTimeoutSeconds?: number;
  /** Reconnect backoff after failures (defaults 800 ms doubling to 30 s), each delay jittered down by up to half. */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * Which objects the handlers hear about. The cache always holds every object. An object that
   * starts matching is reported as an add, one that stops matching as a delete.
   */
  filter?(obj: T): boolean;
  /**
   * Applied to every object as it arrives (listed or watched), before it is cached or handed to the
   * handlers: what the cache keeps of it (slim.ts drops the metadata nobody reads).
   */
  transform?(obj: T): T;
  handlers?: InformerHandlers<T>;
  log?: Logger;
}

// A watch shorter than this that delivered nothing counts as a failure, so a server that keeps
// closing watches at once is retried with backoff instead of in a tight loop.
const SHORT_WATCH_MS = 1000;

function resourceVersionOf(obj: KubeObject | undefined): string {
  return obj?.metadata?.resourceVersion ?? '';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export class Informer<T extends KubeObject> {
  private cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T> | undefined;
  private readonly log: Logger;
  private readonly path: string;
  private readonly stopSignal = new AbortController();
  private resumeVersion = '';
  private synced = false;
  private syncWaiters: Array<(synced: boolean) => void> = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: InformerOptions<T>) {
    this.log = (options.log ?? silentLogger).with({ resource: options.resource.plural });
    this.path = collectionPath(options.resource, options.namespace);
    this.handlers = options.handlers;
  }

  /** Starts listing and watching in the background. An informer runs once: after stop() it stays stopped. */
  start(): void {
    if (this.running || this.stopSignal.signal.aborted) return;
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopSignal.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    this.settleWaiters(false);
    await this.running;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once the first list has been delivered; false if stopped or aborted first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.stopSignal.signal.aborted || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== settle);
        resolve(false);
      };
      const settle = (synced: boolean) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(synced);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(settle);
    });
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** The resourceVersion the next watch resumes from (list, event or bookmark). */
  lastResourceVersion(): string {
    return this.resumeVersion;
  }

  private async run(): Promise<void> {
    const signal = this.stopSignal.signal;
    let needList = true;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.listAndReplace(signal);
          needList = false;
        }
        await this.watchOnce(signal);
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        const listing = err instanceof ListError;
        const cause = listing ? err.cause : err;
        if (isExpired(cause)) {
          needList = true;
          // A watch whose version is too old relists at once; a list whose continue token
          // expired is retried after a pause like any other failure.
          if (!listing) {
            this.log.v(2).info('watch resourceVersion expired, listing again', { resourceVersion: this.resumeVersion });
            continue;
          }
        }
        failures++;
        const delayMs = this.backoffMs(failures, cause);
        const refused = refusalAdvice(cause, listing ? 'list' : 'watch', this.options.resource.plural);
        if (refused) this.log.error(refused, { retryInMs: Math.round(delayMs) });
        else this.log.warn(listing ? 'listing failed, will retry' : 'watch failed, will retry', { error: cause, retryInMs: Math.round(delayMs) });
        await sleep(delayMs, signal);
      }
    }
  }

  private backoffMs(failures: number, err: unknown): number {
    const initial = this.options.backoff?.initialMs ?? 800;
    const max = this.options.backoff?.maxMs ?? 30_000;
    const base = Math.min(max, initial * 2 ** Math.min(failures - 1, 30));
    const jittered = base * (0.5 + Math.random() * 0.5);
    const retryAfterMs = err instanceof ApiError && err.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
    return Math.max(jittered, retryAfterMs);
  }

  private async listAndReplace(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let listVersion = '';
    let continueToken: string | undefined;
    const apiVersion = apiVersionOf(this.options.resource);
    const kind = this.options.resource.kind;
    try {
      do {
        const page = await this.options.client.request<KubeList<T>>({
          method: 'GET',
          path: this.path,
          query: { labelSelector: this.options.labelSelector, limit: this.options.pageSize ?? 500, continue: continueToken },
          signal,
        });
        for (const item of page.items ?? []) {
          // Lists of built-in kinds leave these out of each item; fill them so cached objects look the same however they arrived.
          item.apiVersion ??= apiVersion;
          item.kind ??= kind;
          items.push(this.transform(item));
        }
        listVersion = page.metadata?.resourceVersion ?? listVersion;
        continueToken = page.metadata?.continue || undefined;
      } while (continueToken);
    } catch (err) {
      throw new ListError(err);
    }
    if (signal.aborted) return;
    this.replace(items, listVersion);
  }

  /** Swaps in a fresh list, reporting what disappeared, appeared or changed since the cache was filled. */
  private replace(items: T[], listVersion: string): void {
    const previous = this.cache;
    const fresh = new Map<string, T>();
    for (const item of items) fresh.set(objectKey(item), item);
    this.cache = fresh;
    this.resumeVersion = listVersion;
    for (const [key, old] of previous) if (!fresh.has(key)) this.notifyDelete(old);
    for (const [key, obj] of fresh) {
      const old = previous.get(key);
      if (!old) this.notifyAdd(obj);
      else if (resourceVersionOf(old) !== resourceVersionOf(obj)) this.notifyUpdate(old, obj);
    }
    this.log.v(4).info('listed', { objects: fresh.size, resourceVersion: listVersion });
    if (!this.synced) this.markSynced();
  }

  private markSynced(): void {
    this.synced = true;
    this.settleWaiters(true);
    const period = this.options.resyncPeriodMs ?? 0;
    if (period > 0 && !this.stopSignal.signal.aborted) this.resyncTimer = setInterval(() => this.resync(), period);
  }

  private settleWaiters(synced: boolean): void {
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    waiters.forEach((settle) => settle(synced));
  }

  private resync(): void {
    for (const obj of this.cache.values()) this.notifyUpdate(obj, obj);
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const started = performance.now();
    let events = 0;
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? Math.floor(300 + Math.random() * 300);
    await this.options.client.watch<T>({
      path: this.path,
      query: {
        labelSelector: this.options.labelSelector,
        resourceVersion: this.resumeVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
      },
      signal,
      onEvent: (event) => {
        events++;
        this.apply(event);
      },
    });
    if (!signal.aborted && events === 0 && performance.now() - started < SHORT_WATCH_MS) {
      throw new Error(`the watch of ${this.path} ended immediately without any event`);
    }
    this.log.v(4).info('watch ended, resuming', { resourceVersion: this.resumeVersion, events });
  }

  private apply(event: WatchEvent<T>): void {
    if (event.type === 'ERROR') throw ApiError.fromStatus(event.object);
    const version = resourceVersionOf(event.object);
    if (event.type === 'BOOKMARK') {
      if (version) this.resumeVersion = version;
      return;
    }
    const obj = this.transform(event.object);
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.notifyDelete(obj);
    } else {
      this.cache.set(key, obj);
      if (old) this.notifyUpdate(old, obj);
      else this.notifyAdd(obj);
    }
    if (version) this.resumeVersion = version;
  }

  private transform(obj: T): T {
    return this.options.transform ? this.options.transform(obj) : obj;
  }

  private matches(obj: T): boolean {
    return this.options.filter ? this.options.filter(obj) : true;
  }

  private notifyAdd(obj: T): void {
    if (this.matches(obj)) this.each((h) => h.onAdd?.(obj));
  }

  private notifyUpdate(oldObj: T, newObj: T): void {
    const before = this.matches(oldObj);
    const after = oldObj === newObj ? before : this.matches(newObj);
    if (before && after) this.each((h) => h.onUpdate?.(oldObj, newObj));
    else if (after) this.each((h) => h.onAdd?.(newObj));
    else if (before) this.each((h) => h.onDelete?.(oldObj));
  }

  private notifyDelete(obj: T): void {
    if (this.matches(obj)) this.each((h) => h.onDelete?.(obj));
  }

  /** A handler that throws must not break the watch. */
  private each(call: (handlers: InformerHandlers<T>) => void): void {
    if (!this.handlers) return;
    try {
      call(this.handlers);
    } catch (err) {
      this.log.error('event handler failed', { error: err });
    }
  }
}

/** Marks a failure of the list phase, so it is retried with backoff rather than at once. */
class ListError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/**
 * Rejected credentials or a missing grant do not heal by retrying: they are errors that say what to
 * fix, not warnings. (Retrying still goes on, as a rotated token or a new RBAC rule takes effect
 * without a restart.)
 */
function refusalAdvice(err: unknown, verb: 'list' | 'watch', resource: string): string | undefined {
  if (!(err instanceof ApiError)) return undefined;
  if (err.statusCode === 401) {
    return `The API server rejected the sidecar's credentials (401 Unauthorized) to ${verb} ${resource}: check the kubeconfig or the pod's service account token; "csi-snapshotter doctor" with the same flags checks them`;
  }
  if (err.statusCode === 403) {
    return `The sidecar may not ${verb} ${resource} (403 Forbidden: ${err.message}): grant it to the sidecar's service account (manifests/rbac.yaml has every rule it needs); "csi-snapshotter doctor" lists what is missing`;
  }
  return undefined;
}
