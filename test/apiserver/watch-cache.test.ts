import { afterEach, describe, expect, test } from '@jest/globals';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';
import { makeStored, type StoreEvent } from '../../src/testing/apiserver/storage.js';
import { DEFAULT_WATCH_CACHE, WatchCache, type WatchCacheOptions } from '../../src/testing/apiserver/watch-cache.js';
import { raw, vscBody, type Obj } from './helpers.js';

// The API test server answers a watch from a resourceVersion older than its watch cache window with
// 410 Expired, as kube-apiserver does, so informers meet 410 in tests as they do in production.

const START = 1000;

/** A window on a clock the test moves; `push` adds events with the next resourceVersions. */
function window(options: Partial<WatchCacheOptions> = {}) {
  let nowMs = 0;
  let rv = START;
  const cache = new WatchCache({ ...DEFAULT_WATCH_CACHE, ...options }, START, () => nowMs);
  const push = (n: number, atMs = nowMs): number[] => {
    nowMs = atMs;
    const rvs: number[] = [];
    for (let i = 0; i < n; i++) {
      rv++;
      const event: StoreEvent = { type: 'ADDED', rv, current: makeStored({ metadata: { name: `o${rv}` } }, rv) };
      cache.add(event);
      rvs.push(rv);
    }
    return rvs;
  };
  const since = (from: number): number[] | undefined => cache.eventsSince(from)?.map((e) => e.rv);
  return { cache, push, since };
}

describe('the watch cache window (on a test clock)', () => {
  test('the real server keeps at least 100 events, up to 102,400 while they are younger than 75 s', () => {
    expect(DEFAULT_WATCH_CACHE).toEqual({ lowerBoundEvents: 100, upperBoundEvents: 102_400, eventFreshMs: 75_000 });
  });

  test('before anything is pushed out: from the server start on, everything; before it, 410', () => {
    const w = window();
    const rvs = w.push(3);
    expect(w.since(START)).toEqual(rvs);
    expect(w.since(rvs[0] as number)).toEqual(rvs.slice(1));
    expect(w.since(START - 1)).toBeUndefined();
    expect(w.cache.floor).toBe(START);
  });

  test('fresh events make the window grow: 1,000 events within 75 s are all kept', () => {
    const w = window();
    const rvs = w.push(1000, 1_000);
    expect(w.since(START)).toEqual(rvs);
  });

  test('once the window is full and its oldest event is older than 75 s, the oldest go; a watch from before them is 410', () => {
    const w = window();
    const old = w.push(100, 0);
    const later = w.push(1, 80_000);
    expect(w.since(START)).toBeUndefined();
    // The floor is just before the oldest event kept: from there nothing is missing.
    expect(w.cache.floor).toBe((old[1] as number) - 1);
    expect(w.since(old[0] as number)).toEqual([...old.slice(1), ...later]);
  });

  test('the window never grows past its upper bound, however fresh the events', () => {
    const w = window({ lowerBoundEvents: 4, upperBoundEvents: 8, eventFreshMs: 60_000 });
    const rvs = w.push(10, 0);
    expect(w.since(rvs[1] as number)).toEqual(rvs.slice(2));
    expect(w.since(rvs[0] as number)).toBeUndefined();
  });

  test('a grown window shrinks back once its newest quarter is stale, and keeps its lower bound', () => {
    const w = window({ lowerBoundEvents: 4, upperBoundEvents: 64, eventFreshMs: 1_000 });
    w.push(16, 0); // grown to 16 (4 → 8 → 16), all kept
    expect(w.since(START)).toHaveLength(16);
    const late = w.push(1, 5_000); // full and stale: halves to 8, then pushes the oldest out
    expect(w.since(START)).toBeUndefined();
    expect(w.cache.eventsSince(w.cache.floor)).toHaveLength(8);
    expect(w.cache.eventsSince(w.cache.floor)?.at(-1)?.rv).toBe(late[0]);
  });

  test('eventFreshMs 0 holds the window at its lower bound', () => {
    const w = window({ lowerBoundEvents: 3, eventFreshMs: 0 });
    const rvs = w.push(5);
    expect(w.since(rvs[1] as number)).toEqual(rvs.slice(2));
    expect(w.since(rvs[0] as number)).toBeUndefined();
  });

  test('a window that cannot work is refused when the server starts', async () => {
    await expect(startTestApiServer({ watchCache: { lowerBoundEvents: 0 } })).rejects.toThrow(/invalid watch cache window/);
    await expect(startTestApiServer({ watchCache: { lowerBoundEvents: 10, upperBoundEvents: 5 } })).rejects.toThrow(/invalid watch cache window/);
  });
});

describe('watches over HTTP', () => {
  const CLASSES = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
  const servers: TestApiServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });
  const start = async (watchCache?: Partial<WatchCacheOptions>): Promise<TestApiServer> => {
    const s = await startTestApiServer(watchCache ? { watchCache } : {});
    servers.push(s);
    return s;
  };
  const events = async (s: TestApiServer, rv: number | string): Promise<Obj[]> => {
    const res = await raw(s, 'GET', `${CLASSES}?watch=true&resourceVersion=${rv}&timeoutSeconds=1`);
    expect(res.status).toBe(200);
    return res.text.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Obj);
  };
  const create = async (s: TestApiServer, name: string): Promise<number> => {
    const res = await raw(s, 'POST', CLASSES, JSON.stringify(vscBody(name)));
    expect(res.status).toBe(201);
    return Number((res.json().metadata as Obj).resourceVersion);
  };

  test('by default a watch from before the server started is 410 Expired, with the real message', async () => {
    const s = await start();
    const first = await create(s, 'a');
    const [error] = await events(s, 1);
    expect(error).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: `too old resource version: 1 (${START})` } });
    // A version after the start is served, however early.
    expect((await events(s, START)).map((e) => [e.type, Number(e.object.metadata.resourceVersion)])).toEqual([['ADDED', first]]);
  });

  test('with a small window, a watch from a version that has left it is 410, one from inside is served', async () => {
    const s = await start({ lowerBoundEvents: 3, eventFreshMs: 0 });
    const rvs: number[] = [];
    for (const name of ['a', 'b', 'c', 'd', 'e']) rvs.push(await create(s, name));
    const [error] = await events(s, rvs[0] as number);
    expect(error).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired', message: `too old resource version: ${rvs[0]} (${(rvs[2] as number) - 1})` } });
    expect((await events(s, rvs[1] as number)).map((e) => e.object.metadata.name)).toEqual(['c', 'd', 'e']);
    // Lists still reach further back than watches, as etcd does behind a real server.
    const list = await raw(s, 'GET', `${CLASSES}?resourceVersion=${rvs[0]}&resourceVersionMatch=Exact`);
    expect(list.status).toBe(200);
    expect(((list.json().items as Obj[]) ?? []).map((o) => o.metadata.name)).toEqual(['a']);
  });
});
