import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { CsiConnection } from '../../../src/csi/connection.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import { collectionPath, objectPath, volumeGroupSnapshotClasses, volumeGroupSnapshotContents } from '../../../src/kube/resources.js';
import { RestClient } from '../../../src/kube/rest.js';
import { silentLogger } from '../../../src/observe/logger.js';
import type { Outcome } from '../../../src/runtime/controller.js';
import { restObjectApi } from '../../../src/sidecar/engine/object-api.js';
import { restContentApi } from '../../../src/sidecar/snapshot/kind.js';
import { syncContent } from '../../../src/sidecar/snapshot/kind.js';
import { syncGroupContent } from '../../../src/sidecar/group/kind.js';
import type { VolumeGroupSnapshotClass, WireGroupContent } from '../../../src/sidecar/group/types.js';
import { groupVersionAdapter } from '../../../src/sidecar/group/versions.js';
import {
  ANN_BEING_CREATED,
  ANN_BEING_DELETED,
  ANN_GROUP_BEING_CREATED,
  ANN_GROUP_BEING_DELETED,
  FINALIZER_CONTENT,
  FINALIZER_GROUP_CONTENT,
} from '../../../src/sidecar/keys.js';
import type { VolumeSnapshotClass } from '../../../src/sidecar/types.js';
import { startTestApiServer, type RequestRecord, type TestApiServer } from '../../../src/testing/apiserver/index.js';
import { startSampleDriver, type CallRecord, type SampleDriverProcess } from '../../../src/testing/sample-driver/index.js';

// The two promises that keep storage and API objects consistent across a crash at any instant:
//  - the being-created mark is stored on the object before the driver is asked to cut a snapshot
//    (so a crash right after the call still leaves a record that a storage snapshot may exist), and
//  - the storage snapshot is deleted (the driver answered OK) before the finalizer leaves the object.
// The API test server's request log and the driver's call journal are stamped on the machine's one
// monotonic clock, so the order is checked from both sides' records, not inferred from timing. The
// step that must come first is slowed down (API writes while creating, the driver while deleting):
// code that ran the two steps side by side, instead of one after the other, then fails every time.

const DRIVER = 'sample.csi.example.com';
const VSC = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
const VGSC = volumeGroupSnapshotContents('v1');
const adapter = groupVersionAdapter('v1');

let api: TestApiServer;
let driver: SampleDriverProcess;
let rest: RestClient;
let csi: CsiConnection;

beforeAll(async () => {
  api = await startTestApiServer({ recordObjects: true });
  driver = await startSampleDriver();
  rest = new RestClient({ kubeConfig: loadKubeConfig(api.kubeconfigPath) });
  csi = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger });
});
afterAll(async () => {
  csi?.close();
  await driver?.dispose();
  await api?.stop();
});
beforeEach(async () => {
  api.faults.clear();
  await driver.clearFaults();
  await driver.clearCalls();
  api.requests.reset();
});

type Meta = { annotations?: Record<string, string>; finalizers?: string[] };
const metaOf = (record: RequestRecord): Meta => (record.object?.metadata ?? {}) as Meta;

/** The successful writes of one object, in the order the API server stored them. */
function writesOf(resource: string, name: string): RequestRecord[] {
  const writes = api.requests.writes({ resource, name }).filter((r) => r.code < 300 && r.object !== undefined);
  return writes.sort((a, b) => a.atUs - b.atUs);
}

/** The object as stored when `call` reached the driver: the newest write before that instant. */
function storedWhenCalled(writes: RequestRecord[], call: CallRecord): Meta | undefined {
  const before = writes.filter((w) => w.atUs < call.receivedUs);
  const last = before[before.length - 1];
  return last ? metaOf(last) : undefined;
}

async function volume(name: string): Promise<string> {
  const reply = await csi.call('/csi.v1.Controller/CreateVolume', { name, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, new Date(Date.now() + 10_000));
  const id = reply.volume?.volume_id as string;
  await driver.writeFile(id, 'data.bin', Buffer.alloc(512, 7));
  return id;
}

async function syncUntilSettled(run: () => Promise<Outcome>, settled: (o: Outcome) => boolean, limit = 10): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < limit; i++) {
    const outcome = await run();
    outcomes.push(outcome);
    if (settled(outcome)) return outcomes;
  }
  throw new Error(`not settled after ${limit} syncs: ${JSON.stringify(outcomes.map((o) => o.type))}`);
}

describe('VolumeSnapshotContent', () => {
  const klass: VolumeSnapshotClass = { metadata: { name: 'gold' }, driver: DRIVER, deletionPolicy: 'Delete', parameters: { tier: 'gold' } };
  const sync = async (name: string): Promise<Outcome> =>
    syncContent(await rest.request({ method: 'GET', path: `${VSC}/${name}` }), {
      api: restContentApi(rest),
      csi,
      classes: (n) => (n === 'gold' ? klass : undefined),
      events: { warning: () => undefined },
      settings: { snapshotNamePrefix: 'snapshot', snapshotNameUuidLength: -1, extraCreateMetadata: false, timeoutMs: 10_000, listSnapshots: true, maxPollIntervalMs: 1000, retryIntervalMaxMs: 300_000 },
      log: silentLogger,
    });

  async function createContent(name: string, volumeHandle: string, uid: string): Promise<void> {
    await rest.request({
      method: 'POST',
      path: VSC,
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        metadata: { name, finalizers: [FINALIZER_CONTENT] },
        spec: {
          volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', name: `vs-${name}`, namespace: 'default', uid },
          deletionPolicy: 'Delete',
          driver: DRIVER,
          volumeSnapshotClassName: 'gold',
          source: { volumeHandle },
        },
      },
    });
  }

  test('every CreateSnapshot reaches the driver after the being-created mark is stored, retries included; DeleteSnapshot is answered before the finalizer goes', async () => {
    const vol = await volume('vol-order-1');
    await createContent('order-1', vol, '9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a');
    // The first attempt is lost (the driver is unavailable): the retry must find the mark still stored.
    await driver.setFaults({ errors: { CreateSnapshot: { code: 'UNAVAILABLE', times: 1 } } });
    api.faults.addLatency({ verb: 'patch', resource: 'volumesnapshotcontents', ms: 150 });
    await syncUntilSettled(() => sync('order-1'), (o) => o.type === 'done');
    api.faults.clear();

    const creates = (await driver.calls()).filter((c) => c.method === 'CreateSnapshot');
    expect(creates.map((c) => c.codeName)).toEqual(['UNAVAILABLE', 'OK']);
    const created = writesOf('volumesnapshotcontents', 'order-1');
    for (const call of creates) {
      expect(storedWhenCalled(created, call)?.annotations?.[ANN_BEING_CREATED]).toBe('yes');
    }
    // The mark comes off only after the driver answered OK (and the handle is recorded).
    const unmarked = created.find((w) => w.atUs > (creates[0] as CallRecord).receivedUs && metaOf(w).annotations?.[ANN_BEING_CREATED] === undefined);
    expect(unmarked).toBeDefined();
    expect(unmarked?.atUs).toBeGreaterThan((creates[1] as CallRecord).answeredUs as number);

    await driver.clearCalls();
    api.requests.reset();
    await rest.request({ method: 'PATCH', path: `${VSC}/order-1`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_BEING_DELETED]: 'yes' } } } });
    await rest.request({ method: 'DELETE', path: `${VSC}/order-1` });
    await driver.setFaults({ latencyMs: { DeleteSnapshot: 150 } });
    await syncUntilSettled(() => sync('order-1'), (o) => o.type === 'done');

    const deletes = (await driver.calls()).filter((c) => c.method === 'DeleteSnapshot');
    expect(deletes.map((c) => c.codeName)).toEqual(['OK']);
    const deleted = writesOf('volumesnapshotcontents', 'order-1');
    const released = deleted.filter((w) => !(metaOf(w).finalizers ?? []).includes(FINALIZER_CONTENT));
    expect(released).toHaveLength(1);
    expect((released[0] as RequestRecord).atUs).toBeGreaterThan((deletes[0] as CallRecord).answeredUs as number);
  });

  test('a failed DeleteSnapshot keeps the finalizer', async () => {
    const vol = await volume('vol-order-2');
    await createContent('order-2', vol, '1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b');
    await syncUntilSettled(() => sync('order-2'), (o) => o.type === 'done');
    await rest.request({ method: 'PATCH', path: `${VSC}/order-2`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_BEING_DELETED]: 'yes' } } } });
    await rest.request({ method: 'DELETE', path: `${VSC}/order-2` });
    await driver.setFaults({ errors: { DeleteSnapshot: { code: 'INTERNAL' } } });
    api.requests.reset();
    expect((await sync('order-2')).type).toBe('retry');
    expect(writesOf('volumesnapshotcontents', 'order-2').every((w) => (metaOf(w).finalizers ?? []).includes(FINALIZER_CONTENT))).toBe(true);
    const stored = await rest.request<{ metadata: Meta }>({ method: 'GET', path: `${VSC}/order-2` });
    expect(stored.metadata.finalizers).toEqual([FINALIZER_CONTENT]);
    await driver.clearFaults();
    await syncUntilSettled(() => sync('order-2'), (o) => o.type === 'done');
  });
});

describe('VolumeGroupSnapshotContent', () => {
  let klass: VolumeGroupSnapshotClass;
  const groupApi = () => restObjectApi(rest, VGSC, (wire) => adapter.toModel(wire as WireGroupContent));
  const sync = async (name: string): Promise<Outcome> =>
    syncGroupContent(await groupApi().get(name), {
      api: groupApi(),
      csi,
      classes: (n) => (n === klass.metadata.name ? klass : undefined),
      events: { warning: () => undefined },
      settings: { groupSnapshotNamePrefix: 'groupsnapshot', groupSnapshotNameUuidLength: -1, extraCreateMetadata: false, timeoutMs: 10_000, maxPollIntervalMs: 1000, retryIntervalMaxMs: 300_000 },
      adapter,
      log: silentLogger,
    });

  beforeAll(async () => {
    klass = await rest.request<VolumeGroupSnapshotClass>({
      method: 'POST',
      path: collectionPath(volumeGroupSnapshotClasses('v1')),
      body: { apiVersion: adapter.apiVersion, kind: 'VolumeGroupSnapshotClass', metadata: { name: 'group-gold' }, driver: DRIVER, deletionPolicy: 'Delete' },
    });
  });

  test('every CreateVolumeGroupSnapshot reaches the driver after the mark is stored; DeleteVolumeGroupSnapshot is answered before the finalizer goes', async () => {
    const volumes = [await volume('vol-group-order-1'), await volume('vol-group-order-2')];
    await rest.request({
      method: 'POST',
      path: collectionPath(VGSC),
      body: {
        apiVersion: adapter.apiVersion,
        kind: 'VolumeGroupSnapshotContent',
        metadata: { name: 'group-order', finalizers: [FINALIZER_GROUP_CONTENT] },
        spec: {
          volumeGroupSnapshotRef: { kind: 'VolumeGroupSnapshot', apiVersion: adapter.apiVersion, name: 'vgs-group-order', namespace: 'default', uid: '5d4c3b2a-1908-4776-a5b4-c3d2e1f0a9b8' },
          deletionPolicy: 'Delete',
          driver: DRIVER,
          volumeGroupSnapshotClassName: 'group-gold',
          source: { volumeHandles: volumes },
        },
      },
    });
    await driver.setFaults({ errors: { CreateVolumeGroupSnapshot: { code: 'DEADLINE_EXCEEDED', times: 1 } } });
    api.faults.addLatency({ verb: 'patch', resource: 'volumegroupsnapshotcontents', ms: 150 });
    await syncUntilSettled(() => sync('group-order'), (o) => o.type === 'done');
    api.faults.clear();

    const creates = (await driver.calls()).filter((c) => c.method === 'CreateVolumeGroupSnapshot');
    expect(creates.map((c) => c.codeName)).toEqual(['DEADLINE_EXCEEDED', 'OK']);
    const created = writesOf('volumegroupsnapshotcontents', 'group-order');
    for (const call of creates) {
      expect(storedWhenCalled(created, call)?.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
    }

    await driver.clearCalls();
    api.requests.reset();
    const path = objectPath(VGSC, 'group-order');
    await rest.request({ method: 'PATCH', path, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_GROUP_BEING_DELETED]: 'yes' } } } });
    await rest.request({ method: 'DELETE', path });
    await driver.setFaults({ latencyMs: { DeleteVolumeGroupSnapshot: 150 } });
    await syncUntilSettled(() => sync('group-order'), (o) => o.type === 'done');

    const deletes = (await driver.calls()).filter((c) => c.method === 'DeleteVolumeGroupSnapshot');
    expect(deletes.map((c) => c.codeName)).toEqual(['OK']);
    const released = writesOf('volumegroupsnapshotcontents', 'group-order').filter((w) => !(metaOf(w).finalizers ?? []).includes(FINALIZER_GROUP_CONTENT));
    expect(released).toHaveLength(1);
    expect((released[0] as RequestRecord).atUs).toBeGreaterThan((deletes[0] as CallRecord).answeredUs as number);
  });
});
