import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CsiConnection } from '../../../src/csi/connection.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import { RestClient } from '../../../src/kube/rest.js';
import { silentLogger } from '../../../src/observe/logger.js';
import { contentController } from '../../../src/sidecar/snapshot/kind.js';
import { ANN_BEING_DELETED, FINALIZER_CONTENT, LABEL_MANAGED_BY } from '../../../src/sidecar/keys.js';
import type { VolumeSnapshotContent } from '../../../src/sidecar/types.js';
import { startTestApiServer, type TestApiServer } from '../../../src/testing/apiserver/index.js';
import { startSampleDriver, type SampleDriverProcess } from '../../../src/testing/sample-driver/index.js';
import { capturingLogger } from '../../helpers/logger.js';
import { waitFor } from '../../helpers/process.js';

// The informer's cache lags behind what the sidecar itself wrote whenever the API server's watch is
// slow (a busy watch cache, a reconnect). A sync must act on the newest copy it knows, not on the
// stale cached one: otherwise it cuts the snapshot again, rewrites what it wrote, or loses an update.
// The API test server holds back watch events here; reconciles are run by hand, so no timing decides.

const DRIVER = 'sample.csi.example.com';
const VSC = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
const NAME = 'fresh-1';

let api: TestApiServer;
let driver: SampleDriverProcess;
let rest: RestClient;
let csi: CsiConnection;
let controller: ReturnType<typeof contentController>;
/** The names the controller's work queue registered under (the workqueue_* metrics' label). */
const queues: string[] = [];

beforeAll(async () => {
  api = await startTestApiServer();
  driver = await startSampleDriver();
  rest = new RestClient({ kubeConfig: loadKubeConfig(api.kubeconfigPath) });
  csi = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger });
  controller = contentController({
    client: rest,
    driverName: DRIVER,
    // No workers: each reconcile below is run by the test, one at a time.
    workers: 0,
    resyncPeriodMs: 3_600_000,
    retryIntervalStartMs: 100,
    retryIntervalMaxMs: 1000,
    log: silentLogger,
    csi,
    events: { warning: () => undefined },
    registerQueue: (progress) => queues.push(progress.name),
    settings: { snapshotNamePrefix: 'snapshot', snapshotNameUuidLength: -1, extraCreateMetadata: false, timeoutMs: 10_000, listSnapshots: true, maxPollIntervalMs: 1000, retryIntervalMaxMs: 1000 },
  });
});
afterAll(async () => {
  await controller?.stop();
  csi?.close();
  await driver?.dispose();
  await api?.stop();
});

const cached = (): VolumeSnapshotContent | undefined => controller.objects.get(NAME);
const methods = async (): Promise<string[]> => (await driver.calls()).map((c) => c.method);
const writes = () => api.requests.writes({ resource: 'volumesnapshotcontents', name: NAME });

describe('an informer that lags behind the sidecar\'s own writes', () => {
  test('no second CreateSnapshot, no repeated write, and an update from another client is not lost', async () => {
    await rest.request({
      method: 'POST',
      path: '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses',
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'gold' }, driver: DRIVER, deletionPolicy: 'Delete' },
    });
    const reply = await csi.call('/csi.v1.Controller/CreateVolume', { name: 'vol-fresh', volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, new Date(Date.now() + 10_000));
    const volume = reply.volume?.volume_id as string;
    await controller.start();
    expect(queues).toEqual(['csi-snapshotter-content']);
    await rest.request({
      method: 'POST',
      path: VSC,
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        metadata: { name: NAME, finalizers: [FINALIZER_CONTENT] },
        spec: {
          volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', name: 'vs-fresh', namespace: 'default', uid: 'b7c6d5e4-f3a2-4190-8e7d-6c5b4a392817' },
          deletionPolicy: 'Delete',
          driver: DRIVER,
          volumeSnapshotClassName: 'gold',
          source: { volumeHandle: volume },
        },
      },
    });
    await waitFor('the informer to see the new content', () => cached() !== undefined);
    const original = cached() as VolumeSnapshotContent;

    // From here on, the watch holds every event back: the cache keeps the content as first seen.
    api.faults.setWatchLag({ resource: 'volumesnapshotcontents', ms: 3_600_000 });
    await driver.setFaults({ readyDelayMs: 3_600_000 });
    await driver.clearCalls();
    api.requests.reset();

    // The create: mark, CreateSnapshot (not ready yet), status, unmark.
    expect((await controller.reconcile(NAME)).type).toBe('after');
    expect(await methods()).toEqual(['CreateSnapshot']);
    const afterCreate = writes().length;
    expect(afterCreate).toBe(3);
    expect(cached()?.metadata.resourceVersion).toBe(original.metadata.resourceVersion);
    expect(cached()?.status).toBeUndefined();

    // The next sync still has only the stale copy in the cache: it must poll by handle, not cut again.
    await driver.clearCalls();
    expect((await controller.reconcile(NAME)).type).toBe('after');
    expect(await methods()).toEqual(['ListSnapshots']);
    expect(writes()).toHaveLength(afterCreate);

    // Another client deletes the snapshot while the watch still lags; once the watch delivers, the
    // deletion is acted on even though the sidecar's own copy was newer than the cache's for a while.
    await rest.request({ method: 'PATCH', path: `${VSC}/${NAME}`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_BEING_DELETED]: 'yes' } } } });
    await rest.request({ method: 'DELETE', path: `${VSC}/${NAME}` });
    api.faults.setWatchLag({ resource: 'volumesnapshotcontents', ms: 0 });
    await waitFor('the informer to catch up with the deletion', () => cached()?.metadata.deletionTimestamp !== undefined);
    expect(cached()?.status?.snapshotHandle).toMatch(/\S/);

    await driver.clearCalls();
    expect(await controller.reconcile(NAME)).toEqual({ type: 'done' });
    expect(await methods()).toEqual(['DeleteSnapshot']);
    await expect(rest.request({ method: 'GET', path: `${VSC}/${NAME}` })).rejects.toMatchObject({ statusCode: 404 });
    const list = await csi.call('/csi.v1.Controller/ListSnapshots', { source_volume_id: volume }, new Date(Date.now() + 10_000));
    expect(list.entries).toEqual([]);
    // Fault-free figures: 3 writes to create, then (after this test's own patch and delete) 1 to
    // clear the status and 1 to release the finalizer; no conflicts.
    expect(writes().map((w) => `${w.verb} ${w.subresource}`.trim())).toEqual(['patch', 'patch status', 'patch', 'patch', 'delete', 'patch status', 'patch']);
    expect(api.requests.all({ resource: 'volumesnapshotcontents', code: 409 })).toEqual([]);
  });
});

describe('the content controller of a node deployment', () => {
  test('Z-47 for single contents: with the node label selector only contents labelled for this node are cached and cut; the controller logs its caches synced by kind', async () => {
    const content = (name: string, volume: string, labels?: Record<string, string>) =>
      rest.request({
        method: 'POST',
        path: VSC,
        body: {
          apiVersion: 'snapshot.storage.k8s.io/v1',
          kind: 'VolumeSnapshotContent',
          metadata: { name, finalizers: [FINALIZER_CONTENT], ...(labels ? { labels } : {}) },
          spec: {
            volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', name: `vs-${name}`, namespace: 'default', uid: `0c1d2e3f-4a5b-4c6d-8e7f-${name.length.toString().padStart(12, '0')}` },
            deletionPolicy: 'Delete',
            driver: DRIVER,
            volumeSnapshotClassName: 'node-class',
            source: { volumeHandle: volume },
          },
        },
      });
    await rest.request({
      method: 'POST',
      path: '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses',
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'node-class' }, driver: DRIVER, deletionPolicy: 'Delete' },
    });
    // The test above leaves the driver's snapshots unready.
    await driver.clearFaults();
    const volumeOf = async (name: string) => (await csi.call('/csi.v1.Controller/CreateVolume', { name, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, new Date(Date.now() + 10_000))).volume?.volume_id as string;
    const volumes = { mine: await volumeOf('vol-node-a'), other: await volumeOf('vol-node-b') };
    await content('node-a-content', volumes.mine, { [LABEL_MANAGED_BY]: 'node-a' });
    await content('node-b-content-x', volumes.other, { [LABEL_MANAGED_BY]: 'node-b' });
    const { log, records } = capturingLogger(2);
    const nodeController = contentController({
      client: rest,
      driverName: DRIVER,
      workers: 1,
      resyncPeriodMs: 3_600_000,
      retryIntervalStartMs: 100,
      retryIntervalMaxMs: 1000,
      log,
      csi,
      events: { warning: () => undefined },
      registerQueue: () => undefined,
      labelSelector: `${LABEL_MANAGED_BY}=node-a`,
      settings: { snapshotNamePrefix: 'snapshot', snapshotNameUuidLength: -1, extraCreateMetadata: false, timeoutMs: 10_000, listSnapshots: true, maxPollIntervalMs: 1000, retryIntervalMaxMs: 1000 },
    });
    await nodeController.start();
    try {
      expect(nodeController.objects.list().map((c) => c.metadata.name)).toEqual(['node-a-content']);
      await waitFor('the node\'s content to be ready', async () => (await rest.request<VolumeSnapshotContent>({ method: 'GET', path: `${VSC}/node-a-content` })).status?.readyToUse === true);
      const cuts = (await driver.calls()).filter((c) => c.method === 'CreateSnapshot').map((c) => c.request.source_volume_id);
      expect(cuts).toContain(volumes.mine);
      expect(cuts).not.toContain(volumes.other);
      expect((await rest.request<VolumeSnapshotContent>({ method: 'GET', path: `${VSC}/node-b-content-x` })).status).toBeUndefined();
      expect((await records()).filter((r) => r.msg === 'VolumeSnapshotContent caches synced').map((r) => r.objects)).toEqual([1]);
    } finally {
      await nodeController.stop();
    }
  });
});
