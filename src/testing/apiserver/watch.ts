import type { ServerResponse } from 'node:http';
import { gone } from './errors.js';
import { toJson } from './json.js';
import { buildFilter, type ObjectFilter } from './lists.js';
import { apiVersionOf, renderStored } from './render.js';
import type { Scope } from './rest.js';
import type { EventType, Storage, StoreEvent, StoredObject, Subscriber } from './storage.js';
import { watchEventTable } from './table.js';

export interface WatchOptions {
  /** How often a watch with allowWatchBookmarks gets a BOOKMARK (the real server: about a minute). */
  bookmarkIntervalMs: number;
  /** Watch duration when the client gives no timeoutSeconds. */
  defaultTimeoutSeconds: number;
  /** Injected lag of live events (see Faults.setWatchLag). */
  lag?: WatchLag;
}

export interface WatchLag {
  ms(): number;
  onChange(listener: () => void): () => void;
}

/** The open watches, so tests can close them all at once (and the server on shutdown). */
export class WatchHub {
  private readonly open = new Set<() => void>();

  add(close: () => void): () => void {
    this.open.add(close);
    return () => this.open.delete(close);
  }

  closeAll(): number {
    const closers = [...this.open];
    this.open.clear();
    closers.forEach((close) => close());
    return closers.length;
  }

  get count(): number {
    return this.open.size;
  }
}

/**
 * What a watcher with selectors sees for one change: an object moving into the selection is ADDED,
 * one moving out is DELETED, as the API server's watch cache reports them.
 */
function visibleType(event: StoreEvent, filter: ObjectFilter, namespaced: boolean): EventType | undefined {
  const inScope = (s: StoredObject | undefined) => !!s && (!namespaced || !filter.namespace || s.namespace === filter.namespace) && filter.matches(s);
  const now = event.type !== 'DELETED' && inScope(event.current);
  const before = event.type === 'ADDED' ? false : inScope(event.previous ?? (event.type === 'DELETED' ? event.current : undefined));
  if (event.type === 'DELETED') return inScope(event.previous ?? event.current) ? 'DELETED' : undefined;
  if (now && before) return 'MODIFIED';
  if (now) return 'ADDED';
  if (before) return 'DELETED';
  return undefined;
}

/**
 * Serves `?watch=true`: initial state or history replay, live events, bookmarks, timeout. With
 * `asTable` (an `Accept: application/json;as=Table;...` watch, as kubectl get -w sends) each
 * event's object is a one-row Table, ERROR events excepted.
 */
export function serveWatch(storage: Storage, hub: WatchHub, scope: Scope, res: ServerResponse, options: WatchOptions, asTable = false): void {
  const { def, query } = scope;
  const collection = storage.collection(def.storageKey);
  const filter = buildFilter(scope);
  const rvParam = query.get('resourceVersion') ?? '';
  const sendInitial = query.get('sendInitialEvents');
  const bookmarks = query.get('allowWatchBookmarks') === 'true';
  const timeoutParam = Number(query.get('timeoutSeconds') ?? '');
  const timeoutSeconds = Number.isFinite(timeoutParam) && timeoutParam > 0 ? timeoutParam : options.defaultTimeoutSeconds;

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();

  let headersSent = false;
  const writeNow = (type: string, objectText: string) => {
    if (res.writableEnded) return;
    let text = objectText;
    if (asTable && type !== 'ERROR') {
      text = watchEventTable(def, objectText, !headersSent);
      headersSent = true;
    }
    res.write(`{"type":"${type}","object":${text}}\n`);
  };
  // Events (and bookmarks, which must not overtake them) pass through a queue that holds each one
  // for the injected lag, so a lagging watch delivers late but never out of order.
  const held: Array<{ arrived: number; type: string; text: string }> = [];
  let heldTimer: NodeJS.Timeout | undefined;
  const release = () => {
    if (heldTimer) clearTimeout(heldTimer);
    heldTimer = undefined;
    const lag = options.lag?.ms() ?? 0;
    const now = Date.now();
    for (let head = held[0]; head && head.arrived + lag <= now; head = held[0]) {
      held.shift();
      writeNow(head.type, head.text);
    }
    const head = held[0];
    if (head) heldTimer = setTimeout(release, head.arrived + lag - now);
  };
  const write = (type: string, objectText: string) => {
    if (held.length === 0 && (options.lag?.ms() ?? 0) <= 0) {
      writeNow(type, objectText);
      return;
    }
    held.push({ arrived: Date.now(), type, text: objectText });
    if (!heldTimer) release();
  };
  const stopLag = options.lag?.onChange(release);
  const emit = (type: EventType, stored: StoredObject) => write(type, renderStored(def, stored, scope.version));
  const bookmark = (initialEventsEnd = false) => {
    const metadata: Record<string, unknown> = { resourceVersion: String(storage.resourceVersion) };
    if (!def.custom) metadata.creationTimestamp = null;
    if (initialEventsEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
    const object = def.custom
      ? { apiVersion: apiVersionOf(def, scope.version), kind: def.kind, metadata }
      : { kind: def.kind, apiVersion: apiVersionOf(def, scope.version), metadata };
    write('BOOKMARK', toJson(object));
  };

  const initialState = sendInitial === 'true' || (sendInitial !== 'false' && (rvParam === '' || rvParam === '0'));
  let backlog: StoreEvent[] = [];
  if (!initialState && rvParam !== '' && rvParam !== '0') {
    const rv = Number(rvParam);
    const since = Number.isInteger(rv) ? collection.watchCache.eventsSince(rv) : undefined;
    if (!since) {
      // The real server's words: the version asked for, and the oldest one it could resume from.
      const error = gone(`too old resource version: ${rvParam} (${collection.watchCache.floor})`);
      writeNow('ERROR', toJson(error.toStatus()));
      stopLag?.();
      res.end();
      return;
    }
    backlog = since;
  }

  const subscriber: Subscriber = (event) => {
    const type = visibleType(event, filter, def.namespaced);
    if (type) emit(type, event.current);
  };
  let closed = false;
  const timers: NodeJS.Timeout[] = [];
  const close = () => {
    if (closed) return;
    closed = true;
    collection.subscribers.delete(subscriber);
    timers.forEach((t) => clearTimeout(t));
    if (heldTimer) clearTimeout(heldTimer);
    stopLag?.();
    unregister();
    if (!res.writableEnded) res.end();
  };
  const unregister = hub.add(close);
  res.on('close', close);

  if (initialState) {
    const keys = collection.sortedKeys(def.namespaced && filter.namespace ? filter.namespace : undefined);
    for (const key of keys) {
      const stored = collection.get(key);
      if (stored && filter.matches(stored)) emit('ADDED', stored);
    }
    if (sendInitial === 'true' && bookmarks) bookmark(true);
  }
  for (const event of backlog) subscriber(event);
  collection.subscribers.add(subscriber);

  if (bookmarks) {
    const tick = () => {
      if (closed) return;
      bookmark();
      timers[0] = setTimeout(tick, options.bookmarkIntervalMs);
    };
    timers[0] = setTimeout(tick, options.bookmarkIntervalMs);
  }
  timers[1] = setTimeout(() => {
    if (bookmarks) bookmark();
    close();
  }, timeoutSeconds * 1000);
}
