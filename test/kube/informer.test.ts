import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { loadKubeConfig } from '../../src/kube/config.js';
import { Informer, type InformerOptions } from '../../src/kube/informer.js';
import { collectionPath, objectPath, statusPath, VOLUME_SNAPSHOT_CLASSES, VOLUME_SNAPSHOT_CONTENTS, type KubeObject } from '../../src/kube/resources.js';
import { RestClient } from '../../src/kube/rest.js';
import { createLogger } from '../../src/observe/logger.js';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';

const NANOS = 1763773512123456789n;

let server: TestApiServer;
let client: RestClient;
const running: Informer<KubeObject>[] = [];

beforeAll(async () => {
  server = await startTestApiServer({ bookmarkIntervalMs: 100 });
  client = new RestClient({ kubeConfig: loadKubeConfig(server.kubeconfigPath) });
});
afterEach(async () => {
  server.faults.clear();
  await Promise.all(running.splice(0).map((i) => i.stop()));
});
afterAll(async () => {
  client?.close();
  await server?.stop();
});

async function until<T>(check: () => T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Records handler calls as short strings: `add a`, `update a 12→13`, `delete a`, `resync a`. */
function startInformer(options: Partial<InformerOptions<KubeObject>> = {}) {
  const log: string[] = [];
  const name = (o: KubeObject) => o.metadata?.name ?? '?';
  const informer = new Informer<KubeObject>({
    client,
    resource: VOLUME_SNAPSHOT_CONTENTS,
    backoff: { initialMs: 20, maxMs: 200 },
    watchTimeoutSeconds: 60,
    handlers: {
      onAdd: (o) => log.push(`add ${name(o)}`),
      onUpdate: (a, b) => log.push(a === b ? `resync ${name(b)}` : `update ${name(b)}`),
      onDelete: (o) => log.push(`delete ${name(o)}`),
    },
    ...options,
  });
  running.push(informer);
  informer.start();
  return { informer, log };
}

function vsc(name: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name, labels },
    spec: { deletionPolicy: 'Delete', driver: 'hostpath.csi.k8s.io', source: { volumeHandle: `vol-${name}` }, volumeSnapshotRef: { name: `vs-${name}`, namespace: 'default' } },
  };
}

const create = (obj: KubeObject) => client.request<KubeObject>({ method: 'POST', path: collectionPath(VOLUME_SNAPSHOT_CONTENTS), body: obj });
const remove = (name: string) => client.request({ method: 'DELETE', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, name) });
const label = (name: string, value: string) =>
  client.request<KubeObject>({ method: 'PATCH', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, name), contentType: 'application/merge-patch+json', body: { metadata: { labels: { step: value } } } });

async function deleteAll(): Promise<void> {
  const list = await client.request<{ items: KubeObject[] }>({ method: 'GET', path: collectionPath(VOLUME_SNAPSHOT_CONTENTS) });
  for (const item of list.items) await remove(item.metadata?.name ?? '');
}

describe('Informer', () => {
  beforeEach(deleteAll);

  test('lists in pages, syncs, then follows changes through the watch', async () => {
    for (let i = 0; i < 7; i++) await create(vsc(`page-${i}`));
    const lists = server.requests.count({ verb: 'list', resource: 'volumesnapshotcontents' });
    const { informer, log } = startInformer({ pageSize: 3 });
    expect(await informer.waitForSync()).toBe(true);
    expect(informer.hasSynced()).toBe(true);
    expect(server.requests.count({ verb: 'list', resource: 'volumesnapshotcontents' }) - lists).toBe(3);
    expect(informer.list().map((o) => o.metadata?.name).sort()).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4', 'page-5', 'page-6']);
    expect(log.filter((l) => l.startsWith('add'))).toHaveLength(7);
    expect(informer.get('page-3')?.kind).toBe('VolumeSnapshotContent');

    await create(vsc('live'));
    await label('page-0', 'one');
    await remove('page-1');
    await until(() => log.includes('delete page-1'), 'the delete');
    expect(log.slice(7)).toEqual(['add live', 'update page-0', 'delete page-1']);
    expect(informer.get('page-0')?.metadata?.labels).toEqual({ step: 'one' });
    expect(informer.get('page-1')).toBeUndefined();
    expect(informer.lastResourceVersion()).toBe(String(server.resourceVersion()));
  });

  test('keeps int64 status values exact in the cache', async () => {
    await create(vsc('exact'));
    const { informer } = startInformer();
    await informer.waitForSync();
    await client.request({
      method: 'PATCH',
      path: statusPath(VOLUME_SNAPSHOT_CONTENTS, 'exact'),
      contentType: 'application/json-patch+json',
      body: [{ op: 'add', path: '/status', value: { creationTime: NANOS, readyToUse: true } }],
    });
    const status = await until(() => informer.get('exact')?.status as Record<string, unknown> | undefined, 'the status in the cache');
    expect(status.creationTime).toBe(NANOS);
  });

  test('after closeWatches() it watches again from the last resourceVersion, without relisting', async () => {
    const { informer, log } = startInformer();
    await informer.waitForSync();
    await until(() => server.openWatches() === 1, 'the first watch');
    const lists = server.requests.count({ verb: 'list', resource: 'volumesnapshotcontents' });
    const watches = server.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents' });
    expect(server.closeWatches()).toBe(1);
    // Changes made while no watch is open are replayed from the resume point.
    await create(vsc('during-gap'));
    await until(() => log.includes('add during-gap'), 'the change made during the gap');
    await until(() => server.openWatches() === 1, 'the watch again');
    expect(server.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents' })).toBeGreaterThan(watches);
    expect(server.requests.count({ verb: 'list', resource: 'volumesnapshotcontents' })).toBe(lists);
    await create(vsc('after-gap'));
    await until(() => log.includes('add after-gap'), 'a change after reconnecting');
  });

  test('410 Expired: relists and reports deletes, updates and adds it missed', async () => {
    await create(vsc('stays'));
    await create(vsc('changes'));
    await create(vsc('vanishes'));
    const { informer, log } = startInformer();
    await informer.waitForSync();
    await until(() => server.openWatches() === 1, 'the watch');
    // Keep the informer from watching while the world changes and history is dropped.
    const outage = server.faults.fail({ verb: 'watch', resource: 'volumesnapshotcontents', code: 500, times: 1_000_000 });
    server.closeWatches();
    await remove('vanishes');
    await label('changes', 'x');
    await create(vsc('appears'));
    await until(() => server.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents', injected: true }) > 0, 'a refused watch');
    const lists = server.requests.count({ verb: 'list', resource: 'volumesnapshotcontents' });
    server.compact();
    server.faults.remove(outage);
    await until(() => log.includes('delete vanishes') && log.includes('add appears') && log.includes('update changes'), 'the relist');
    expect(server.requests.count({ verb: 'list', resource: 'volumesnapshotcontents' })).toBeGreaterThan(lists);
    expect(log.filter((l) => l.includes('stays'))).toEqual(['add stays']);
    expect(informer.list().map((o) => o.metadata?.name).sort()).toEqual(['appears', 'changes', 'stays']);
    await until(() => server.openWatches() === 1, 'the watch after relisting');
    await create(vsc('later'));
    await until(() => log.includes('add later'), 'events after the relist');
  });

  test('bookmarks move the resume point forward', async () => {
    const { informer } = startInformer();
    await informer.waitForSync();
    const before = Number(informer.lastResourceVersion());
    // A change to another resource moves the server's resourceVersion, which only a bookmark reports here.
    await client.request({
      method: 'POST',
      path: collectionPath(VOLUME_SNAPSHOT_CLASSES),
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: `class-${before}` }, driver: 'd', deletionPolicy: 'Delete' },
    });
    const target = server.resourceVersion();
    expect(target).toBeGreaterThan(before);
    await until(() => Number(informer.lastResourceVersion()) >= target, 'a bookmark');
  });

  test('resync delivers every cached object as an update with old === new', async () => {
    await create(vsc('r1'));
    await create(vsc('r2'));
    const { informer, log } = startInformer({ resyncPeriodMs: 50 });
    await informer.waitForSync();
    await until(() => log.filter((l) => l === 'resync r1').length >= 2 && log.filter((l) => l === 'resync r2').length >= 2, 'two resyncs');
  });

  test('the filter limits what handlers hear, not what the cache holds', async () => {
    await create(vsc('mine', { owner: 'me' }));
    await create(vsc('theirs', { owner: 'you' }));
    const { informer, log } = startInformer({ filter: (o) => o.metadata?.labels?.owner === 'me' });
    await informer.waitForSync();
    expect(informer.list()).toHaveLength(2);
    expect(log).toEqual(['add mine']);
    await client.request({ method: 'PATCH', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'theirs'), contentType: 'application/merge-patch+json', body: { metadata: { labels: { owner: 'me' } } } });
    await client.request({ method: 'PATCH', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'mine'), contentType: 'application/merge-patch+json', body: { metadata: { labels: { owner: 'you' } } } });
    await until(() => log.length === 3, 'two filtered changes');
    expect(log).toEqual(['add mine', 'add theirs', 'delete mine']);
  });

  test('the transform is applied to listed and watched objects before they are cached or handed to the handlers', async () => {
    await create(vsc('listed'));
    const seen: KubeObject[] = [];
    const { informer } = startInformer({
      transform: (o) => ({ ...o, metadata: { ...o.metadata, labels: { transformed: 'yes' } } }),
      handlers: { onAdd: (o) => seen.push(o), onUpdate: (_a, b) => seen.push(b) },
    });
    await informer.waitForSync();
    await create(vsc('watched'));
    await until(() => seen.length === 2, 'the watched object');
    await label('watched', 'one');
    await until(() => seen.length === 3, 'the update');
    expect(seen.map((o) => [o.metadata?.name, o.metadata?.labels])).toEqual([
      ['listed', { transformed: 'yes' }],
      ['watched', { transformed: 'yes' }],
      ['watched', { transformed: 'yes' }],
    ]);
    expect(informer.list().map((o) => o.metadata?.labels)).toEqual([{ transformed: 'yes' }, { transformed: 'yes' }]);
    expect(informer.get('watched')).toBe(seen[2]);
  });

  test('a label selector limits the cache to matching objects', async () => {
    await create(vsc('node-a', { 'snapshot.storage.kubernetes.io/managed-by': 'node-a' }));
    await create(vsc('node-b', { 'snapshot.storage.kubernetes.io/managed-by': 'node-b' }));
    const { informer, log } = startInformer({ labelSelector: 'snapshot.storage.kubernetes.io/managed-by=node-a' });
    await informer.waitForSync();
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['node-a']);
    await create(vsc('node-a-2', { 'snapshot.storage.kubernetes.io/managed-by': 'node-a' }));
    await create(vsc('node-b-2', { 'snapshot.storage.kubernetes.io/managed-by': 'node-b' }));
    await until(() => log.includes('add node-a-2'), 'the matching add');
    expect(log).toEqual(['add node-a', 'add node-a-2']);
  });

  test('a failing list is retried with backoff until it succeeds', async () => {
    server.faults.fail({ verb: 'list', resource: 'volumesnapshotcontents', code: 503, times: 2, retryAfterSeconds: 0 });
    server.faults.fail({ verb: 'list', resource: 'volumesnapshotcontents', code: 500, times: 1 });
    await create(vsc('eventually'));
    const { informer } = startInformer();
    expect(await informer.waitForSync()).toBe(true);
    expect(server.faults.pending()).toEqual([]);
    expect(informer.get('eventually')).toBeDefined();
  });

  test('waitForSync answers false when stopped first or aborted', async () => {
    server.faults.fail({ verb: 'list', resource: 'volumesnapshotcontents', code: 500, times: 1_000_000 });
    const { informer } = startInformer();
    const abort = new AbortController();
    const aborted = informer.waitForSync(abort.signal);
    abort.abort();
    expect(await aborted).toBe(false);
    const pending = informer.waitForSync();
    await informer.stop();
    expect(await pending).toBe(false);
    expect(informer.hasSynced()).toBe(false);
  });
});

describe('Informer against a server with a small watch cache window', () => {
  // As in production: the informer's watch breaks, more changes happen than the server's watch
  // cache keeps, and resuming from its last resourceVersion is answered 410 by the window itself
  // (no compaction helper involved). The informer must relist and report what it missed.
  let small: TestApiServer;
  let smallClient: RestClient;
  beforeAll(async () => {
    small = await startTestApiServer({ watchCache: { lowerBoundEvents: 4, eventFreshMs: 0 } });
    smallClient = new RestClient({ kubeConfig: loadKubeConfig(small.kubeconfigPath) });
  });
  afterAll(async () => {
    smallClient?.close();
    await small?.stop();
  });

  test('an outage longer than the window: the resume is 410, the informer relists and converges', async () => {
    const post = (obj: KubeObject) => smallClient.request<KubeObject>({ method: 'POST', path: collectionPath(VOLUME_SNAPSHOT_CONTENTS), body: obj });
    for (const name of ['stays', 'changes', 'vanishes']) await post(vsc(name));
    let logText = '';
    const stream = new PassThrough();
    stream.setEncoding('utf8').on('data', (d: string) => (logText += d));
    const seen: string[] = [];
    const name = (o: KubeObject) => o.metadata?.name ?? '?';
    const informer = new Informer<KubeObject>({
      client: smallClient,
      resource: VOLUME_SNAPSHOT_CONTENTS,
      backoff: { initialMs: 20, maxMs: 200 },
      watchTimeoutSeconds: 60,
      log: createLogger({ verbosity: 2, stream }),
      handlers: {
        onAdd: (o) => seen.push(`add ${name(o)}`),
        onUpdate: (_a, b) => seen.push(`update ${name(b)}`),
        onDelete: (o) => seen.push(`delete ${name(o)}`),
      },
    });
    running.push(informer);
    informer.start();
    await informer.waitForSync();
    await until(() => small.openWatches() === 1, 'the watch');
    const resumeFrom = Number(informer.lastResourceVersion());

    const outage = small.faults.fail({ verb: 'watch', resource: 'volumesnapshotcontents', code: 500, times: 1_000_000 });
    small.closeWatches();
    await smallClient.request({ method: 'DELETE', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'vanishes') });
    await smallClient.request({ method: 'PATCH', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'changes'), contentType: 'application/merge-patch+json', body: { metadata: { labels: { step: 'x' } } } });
    for (let i = 0; i < 4; i++) await post(vsc(`appears-${i}`));
    await until(() => small.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents', injected: true }) > 0, 'a refused watch');
    const lists = small.requests.count({ verb: 'list', resource: 'volumesnapshotcontents' });
    small.faults.remove(outage);
    // The informer's resume point has left the window: the server itself answers it 410.
    const answer: unknown[] = [];
    await smallClient.watch<KubeObject>({
      path: collectionPath(VOLUME_SNAPSHOT_CONTENTS),
      query: { resourceVersion: String(resumeFrom), timeoutSeconds: 1 },
      signal: AbortSignal.timeout(10_000),
      onEvent: (event) => answer.push(event),
    });
    expect(answer).toEqual([expect.objectContaining({ type: 'ERROR', object: expect.objectContaining({ code: 410, reason: 'Expired' }) })]);

    await until(() => seen.includes('delete vanishes') && seen.includes('update changes') && seen.includes('add appears-3'), 'the relist');
    expect(logText).toMatch(new RegExp(`watch resourceVersion expired, listing again .*resourceVersion="${resumeFrom}"`));
    expect(small.requests.count({ verb: 'list', resource: 'volumesnapshotcontents' })).toBeGreaterThan(lists);
    expect(informer.list().map((o) => o.metadata?.name).sort()).toEqual(['appears-0', 'appears-1', 'appears-2', 'appears-3', 'changes', 'stays']);
    expect(seen.filter((l) => l.includes('stays'))).toEqual(['add stays']);
    // And it follows changes again from the relist on.
    await until(() => small.openWatches() === 1, 'the watch after relisting');
    await post(vsc('later'));
    await until(() => seen.includes('add later'), 'events after the relist');
  });
});
