import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { request } from 'node:https';
import { makeInformer, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { eventually, SNAP, startHarness, vscBody, type Harness, type Obj } from './helpers.js';

const VSC = { ...SNAP, plural: 'volumesnapshotcontents' };
const PATH = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ bookmarkIntervalMs: 200 });
});
afterAll(async () => {
  await h?.server.stop();
});

interface Seen {
  type: string;
  object: Obj;
}

/** A client-node watch collecting events; `done` resolves when the server ends it. */
async function watch(query: Record<string, string | number | boolean>) {
  const events: Seen[] = [];
  let ended: unknown = 'open';
  const controller = await new Watch(h.kc).watch(
    PATH,
    query,
    (type, object) => events.push({ type, object: object as Obj }),
    (err) => {
      ended = err ?? null;
    },
  );
  return { events, ended: () => ended, stop: () => controller.abort() };
}

describe('watch', () => {
  test('from a resourceVersion: ADDED, MODIFIED, DELETED in order, with their resourceVersions', async () => {
    const start = h.server.resourceVersion();
    const w = await watch({ resourceVersion: String(start) });
    try {
      await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('w1') });
      await h.custom.patchClusterCustomObject({ ...VSC, name: 'w1', body: [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }] });
      await h.custom.deleteClusterCustomObject({ ...VSC, name: 'w1' });
      await eventually(() => (w.events.length >= 3 ? true : undefined), 'three events');
      expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
      const rvs = w.events.map((e) => Number(e.object.metadata.resourceVersion));
      expect(rvs).toEqual([start + 1, start + 2, start + 3]);
    } finally {
      w.stop();
    }
  });

  test('replays history after an old resourceVersion, and sends synthetic ADDED without one', async () => {
    const start = h.server.resourceVersion();
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('w2') });
    const replay = await watch({ resourceVersion: String(start) });
    const initial = await watch({});
    try {
      await eventually(() => replay.events.find((e) => e.object.metadata.name === 'w2'), 'replayed ADDED');
      await eventually(() => initial.events.find((e) => e.object.metadata.name === 'w2' && e.type === 'ADDED'), 'initial ADDED');
    } finally {
      replay.stop();
      initial.stop();
    }
  });

  test('BOOKMARK events when allowWatchBookmarks, and timeoutSeconds ends the watch', async () => {
    const w = await watch({ resourceVersion: String(h.server.resourceVersion()), allowWatchBookmarks: true, timeoutSeconds: 1 });
    const bookmark = await eventually(() => w.events.find((e) => e.type === 'BOOKMARK'), 'a bookmark');
    expect(bookmark.object).toEqual({
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotContent',
      metadata: { resourceVersion: expect.stringMatching(/^\d+$/) },
    });
    await eventually(() => (w.ended() !== 'open' ? true : undefined), 'the watch to end after timeoutSeconds');
  });

  test('a compacted resourceVersion answers an ERROR event with 410 Expired', async () => {
    const old = h.server.resourceVersion();
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('w3') });
    h.server.compact();
    const w = await watch({ resourceVersion: String(old) });
    const error = await eventually(() => w.events.find((e) => e.type === 'ERROR'), 'an ERROR event');
    expect(error.object).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 });
    expect(error.object.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
  });

  test('label-selected watches see objects leave the selection as DELETED', async () => {
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('w4', { metadata: { labels: { pick: 'me' } } }) });
    const w = await watch({ resourceVersion: String(h.server.resourceVersion()), labelSelector: 'pick=me' });
    try {
      await h.custom.patchClusterCustomObject({ ...VSC, name: 'w4', body: [{ op: 'replace', path: '/metadata/labels', value: { pick: 'not-me' } }] });
      const ev = await eventually(() => w.events[0], 'an event');
      expect(ev.type).toBe('DELETED');
    } finally {
      w.stop();
    }
  });

  test('informers relist after closeWatches + compaction and converge', async () => {
    const informer = makeInformer(h.kc, PATH, () => h.custom.listClusterCustomObject({ ...VSC }) as never);
    const names = new Set<string>();
    informer.on('add', (o: KubernetesObject) => names.add(o.metadata?.name ?? ''));
    informer.on('delete', (o: KubernetesObject) => names.delete(o.metadata?.name ?? ''));
    await informer.start();
    try {
      await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('inf-1') });
      await eventually(() => (names.has('inf-1') ? true : undefined), 'informer add');
      await eventually(() => (h.server.openWatches() > 0 ? true : undefined), 'the informer watch');
      await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('inf-2') });
      await h.custom.deleteClusterCustomObject({ ...VSC, name: 'inf-1' });
      await eventually(() => (names.has('inf-2') && !names.has('inf-1') ? true : undefined), 'informer to follow events');
      const listsBefore = h.server.requests.count({ verb: 'list', resource: 'volumesnapshotcontents' });
      // Move the cluster resourceVersion past the informer's, forget history, then cut the watch:
      // the informer resumes from a compacted resourceVersion, gets 410 and must relist.
      await h.core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'bump' } } });
      h.server.compact();
      expect(h.server.closeWatches()).toBeGreaterThan(0);
      await eventually(
        () => (h.server.requests.count({ verb: 'list', resource: 'volumesnapshotcontents' }) > listsBefore ? true : undefined),
        'the informer to relist',
      );
      await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('inf-3') });
      await eventually(() => (names.has('inf-3') ? true : undefined), 'informer to resume watching');
    } finally {
      await informer.stop();
    }
  });

  test('raw watch stream lines are complete JSON events', async () => {
    const lines = await new Promise<string[]>((resolve, reject) => {
      const req = request(new URL(`${PATH}?watch=true&timeoutSeconds=1`, h.server.url), { ca: h.server.caPem, headers: { Authorization: `Bearer ${h.server.token}` } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text.split('\n').filter((l) => l.length > 0)));
      });
      req.on('error', reject);
      req.end();
    });
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(['ADDED', 'MODIFIED', 'DELETED']).toContain((JSON.parse(line) as { type: string }).type);
  });
});
