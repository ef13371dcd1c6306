import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CsiConnection } from '../../src/csi/connection.js';
import { silentLogger } from '../../src/observe/logger.js';
import { sidecarEntry } from '../../src/util/package-root.js';
import { DRIVER_KINDS, RealCluster, type DriverHandle, type DriverKind } from './harness/harness.js';
import type { ManagedProcess } from './harness/managed-process.js';
import { exerciseSidecarWrites } from './harness/sidecar-writes.js';
import { createHash } from 'node:crypto';
import { getObject, GROUP_SNAPSHOT_API, SNAPSHOT_API, waitForGone, waitForReady, type KubeObject } from './harness/snapshot-api.js';
import { pollUntil } from './harness/wait.js';

// This project's csi-snapshotter in place of the Go one: users' VolumeSnapshots flow through the real
// kube-apiserver and snapshot-controller to the sidecar (on the RBAC-limited kubeconfig of
// manifests/rbac.yaml) and a CSI driver, and back. Then the same flows run with the Go sidecar and
// the objects both leave behind are compared. Every flow runs twice: against this project's
// csi-sample-driver and against the upstream reference driver hostpathplugin.
const FLOW_TIMEOUT_MS = 120_000;

const annotationsOf = (o: KubeObject): Record<string, string> => (o.metadata as { annotations?: Record<string, string> }).annotations ?? {};
const finalizersOf = (o: KubeObject | undefined): string[] => o?.metadata.finalizers ?? [];

/**
 * Reads an object (and the content it is bound to) until `settled` holds for both. Readiness is not
 * the end of a flow: the snapshot-controller adds its bound-protection finalizers and the sidecar
 * removes its being-created mark after it, so objects compared at the moment they turned ready
 * would differ by how fast each flow happened to run.
 */
async function readSettled(
  cluster: RealCluster,
  path: string,
  contentPath: (o: KubeObject) => string,
  settled: (o: KubeObject, content: KubeObject) => boolean,
  diagnostics: () => string,
): Promise<{ object: KubeObject; content: KubeObject }> {
  return pollUntil(
    async () => {
      const object = await getObject(cluster.admin, path);
      const content = object?.status?.readyToUse === true ? await getObject(cluster.admin, contentPath(object)) : undefined;
      return object && content && settled(object, content) ? { object, content } : undefined;
    },
    { description: `${path} and its content to settle after readiness`, timeoutMs: FLOW_TIMEOUT_MS, intervalMs: 250, diagnostics },
  );
}

const boundContentPath = (s: KubeObject): string => `${SNAPSHOT_API}/volumesnapshotcontents/${s.status?.boundVolumeSnapshotContentName as string}`;
const boundGroupContentPath = (g: KubeObject): string => `${GROUP_SNAPSHOT_API}/volumegroupsnapshotcontents/${g.status?.boundVolumeGroupSnapshotContentName as string}`;
const SIDECAR = sidecarEntry();

async function snapshotClass(cluster: RealCluster, driver: string, policy: 'Delete' | 'Retain'): Promise<string> {
  const name = cluster.uniqueName(`class-${policy.toLowerCase()}`);
  await cluster.admin.json('POST', `${SNAPSHOT_API}/volumesnapshotclasses`, {
    body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name }, driver, deletionPolicy: policy },
  });
  return name;
}

async function createSnapshot(cluster: RealCluster, namespace: string, name: string, source: Record<string, string>, className?: string): Promise<string> {
  await cluster.admin.json('POST', `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots`, {
    body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name }, spec: { ...(className ? { volumeSnapshotClassName: className } : {}), source } },
  });
  return `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${name}`;
}

/** The driver's snapshots of one volume. */
function storageSnapshots(driver: DriverHandle, volumeId: string): Promise<string[]> {
  return driver.csi.snapshotsOf(volumeId);
}

async function groupClass(cluster: RealCluster, driver: string): Promise<string> {
  const name = cluster.uniqueName('groupclass');
  await cluster.admin.json('POST', `${GROUP_SNAPSHOT_API}/volumegroupsnapshotclasses`, {
    body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1', kind: 'VolumeGroupSnapshotClass', metadata: { name }, driver, deletionPolicy: 'Delete' },
  });
  return name;
}

interface GroupFlow {
  group: KubeObject;
  groupContent: KubeObject | undefined;
  members: KubeObject[];
  memberContents: Array<KubeObject | undefined>;
  volumes: Array<{ volumeHandle: string; pvcName: string }>;
  path: string;
}

/** A user's VolumeGroupSnapshot of two labelled PVCs (a third PVC is not selected), to ready. */
async function groupFlow(cluster: RealCluster, driver: DriverHandle, namespace: string, prefix: string, diagnostics: () => string): Promise<GroupFlow> {
  const className = await groupClass(cluster, driver.driverName);
  const labels = { app: `${prefix}-grouped` };
  const volumes = [
    await cluster.createBoundPvc(driver, namespace, `${prefix}-a`, { labels }),
    await cluster.createBoundPvc(driver, namespace, `${prefix}-b`, { labels }),
  ];
  await cluster.createBoundPvc(driver, namespace, `${prefix}-outsider`, { labels: { app: 'other' } });
  for (const v of volumes) await driver.writeVolumeFile(v.volumeHandle, 'data.txt', `data of ${v.pvcName}`);
  await cluster.admin.json('POST', `${GROUP_SNAPSHOT_API}/namespaces/${namespace}/volumegroupsnapshots`, {
    body: {
      apiVersion: 'groupsnapshot.storage.k8s.io/v1',
      kind: 'VolumeGroupSnapshot',
      metadata: { name: `${prefix}-group` },
      spec: { volumeGroupSnapshotClassName: className, source: { selector: { matchLabels: labels } } },
    },
  });
  const path = `${GROUP_SNAPSHOT_API}/namespaces/${namespace}/volumegroupsnapshots/${prefix}-group`;
  const { object: group, content: groupContent } = await readSettled(
    cluster,
    path,
    boundGroupContentPath,
    (g, c) =>
      finalizersOf(g).includes('groupsnapshot.storage.kubernetes.io/volumegroupsnapshot-bound-protection') &&
      c.status?.readyToUse === true &&
      finalizersOf(c).includes('groupsnapshot.storage.kubernetes.io/volumegroupsnapshotcontent-bound-protection') &&
      annotationsOf(c)['groupsnapshot.storage.kubernetes.io/volumegroupsnapshot-being-created'] === undefined,
    diagnostics,
  );
  const memberName = (handle: string): string => `snapshot-${createHash('sha256').update(group.metadata.uid + handle).digest('hex')}`;
  const settledMembers = await Promise.all(
    volumes.map((v) =>
      readSettled(
        cluster,
        `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${memberName(v.volumeHandle)}`,
        boundContentPath,
        (m, c) =>
          finalizersOf(m).includes('snapshot.storage.kubernetes.io/volumesnapshot-in-group-protection') &&
          c.status?.readyToUse === true &&
          finalizersOf(c).includes('snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection'),
        diagnostics,
      ),
    ),
  );
  return { group, groupContent, members: settledMembers.map((m) => m.object), memberContents: settledMembers.map((m) => m.content), volumes, path };
}

function startOurSidecar(cluster: RealCluster, driver: DriverHandle): ManagedProcess {
  return cluster.startSidecarCommand('ts-csi-snapshotter', process.execPath, driver, { args: ['--v=5', '--leader-election', '--leader-election-namespace=default', '--retry-interval-max=5s'] }, [SIDECAR]);
}

/** Driver names are unique per flow, so that no two sidecars of a run ever act on the same objects. */
const driverName = (kind: DriverKind, flow: string): string => `${flow}.${kind}.csi.example.com`;

/** The gRPC status code of a failed call, undefined when it succeeded. */
async function grpcCode(call: Promise<unknown>): Promise<number | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return (error as { code?: number }).code;
  }
}
const INVALID_ARGUMENT = 3;

describe.each(DRIVER_KINDS)("this project's csi-snapshotter with the real snapshot-controller, on the %s driver", (kind) => {
  let cluster: RealCluster;
  let driver: DriverHandle;
  let sidecar: ManagedProcess;
  let namespace: string;
  const diagnostics = (): string => `${sidecar.logTail(40)}\n${driver.process.logTail(10)}`;

  beforeAll(async () => {
    cluster = await RealCluster.connect();
    driver = await cluster.startDriver(kind, `ts-flows-${kind}`, { driverName: driverName(kind, 'ts-flows') });
    sidecar = startOurSidecar(cluster, driver);
    await sidecar.waitForLog(/VolumeSnapshotContent caches synced/, FLOW_TIMEOUT_MS);
    namespace = await cluster.createNamespace(`ts-flows-${kind}`);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('a dynamic VolumeSnapshot of a bound PVC becomes ready; policy Delete removes it from storage', async () => {
    const className = await snapshotClass(cluster, driver.driverName, 'Delete');
    const volume = await cluster.createBoundPvc(driver, namespace, 'dyn');
    const path = await createSnapshot(cluster, namespace, 'dyn-snap', { persistentVolumeClaimName: volume.pvcName }, className);
    const snapshot = await waitForReady(cluster.admin, path, FLOW_TIMEOUT_MS, diagnostics);
    const contentPath = `${SNAPSHOT_API}/volumesnapshotcontents/snapcontent-${snapshot.metadata.uid}`;
    const content = (await getObject(cluster.admin, contentPath)) as KubeObject;
    expect(content.status?.readyToUse).toBe(true);
    expect(typeof content.status?.snapshotHandle).toBe('string');
    expect(typeof content.status?.creationTime).toBe('number');
    expect(annotationsOf(content)['snapshot.storage.kubernetes.io/volumesnapshot-being-created']).toBeUndefined();
    expect(typeof snapshot.status?.creationTime).toBe('string');
    expect(await storageSnapshots(driver, volume.volumeHandle)).toEqual([content.status?.snapshotHandle]);

    await cluster.admin.json('DELETE', path);
    await waitForGone(cluster.admin, contentPath, FLOW_TIMEOUT_MS, diagnostics);
    await waitForGone(cluster.admin, path, FLOW_TIMEOUT_MS, diagnostics);
    expect(await storageSnapshots(driver, volume.volumeHandle)).toEqual([]);
  });

  test('policy Retain keeps the storage snapshot and the content when the VolumeSnapshot goes', async () => {
    const className = await snapshotClass(cluster, driver.driverName, 'Retain');
    const volume = await cluster.createBoundPvc(driver, namespace, 'ret');
    const path = await createSnapshot(cluster, namespace, 'ret-snap', { persistentVolumeClaimName: volume.pvcName }, className);
    const snapshot = await waitForReady(cluster.admin, path, FLOW_TIMEOUT_MS, diagnostics);
    const contentPath = `${SNAPSHOT_API}/volumesnapshotcontents/snapcontent-${snapshot.metadata.uid}`;
    const handle = (await getObject(cluster.admin, contentPath))?.status?.snapshotHandle;
    await cluster.admin.json('DELETE', path);
    await waitForGone(cluster.admin, path, FLOW_TIMEOUT_MS, diagnostics);
    expect((await getObject(cluster.admin, contentPath))?.spec?.deletionPolicy).toBe('Retain');
    // Deleting the retained content itself releases it without touching storage.
    await cluster.admin.json('DELETE', contentPath);
    await waitForGone(cluster.admin, contentPath, FLOW_TIMEOUT_MS, diagnostics);
    expect(await storageSnapshots(driver, volume.volumeHandle)).toEqual([handle]);
  });

  test('a pre-provisioned VolumeSnapshotContent and VolumeSnapshot pair becomes ready; Delete removes the storage snapshot', async () => {
    const volume = await cluster.createBoundPvc(driver, namespace, 'pre');
    const conn = await CsiConnection.connect({ address: driver.socketPath, log: silentLogger });
    const cut = await conn.call('/csi.v1.Controller/CreateSnapshot', { name: 'pre-existing', source_volume_id: volume.volumeHandle }, new Date(Date.now() + 10_000));
    conn.close();
    const handle = cut.snapshot?.snapshot_id as string;
    const contentName = cluster.uniqueName('pre-content');
    await cluster.admin.json('POST', `${SNAPSHOT_API}/volumesnapshotcontents`, {
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        metadata: { name: contentName },
        spec: { deletionPolicy: 'Delete', driver: driver.driverName, source: { snapshotHandle: handle }, volumeSnapshotRef: { name: 'pre-snap', namespace } },
      },
    });
    const path = await createSnapshot(cluster, namespace, 'pre-snap', { volumeSnapshotContentName: contentName });
    const snapshot = await waitForReady(cluster.admin, path, FLOW_TIMEOUT_MS, diagnostics);
    expect(snapshot.status?.boundVolumeSnapshotContentName).toBe(contentName);
    expect((await getObject(cluster.admin, `${SNAPSHOT_API}/volumesnapshotcontents/${contentName}`))?.status).toMatchObject({ snapshotHandle: handle, readyToUse: true });

    await cluster.admin.json('DELETE', path);
    await waitForGone(cluster.admin, `${SNAPSHOT_API}/volumesnapshotcontents/${contentName}`, FLOW_TIMEOUT_MS, diagnostics);
    expect(await storageSnapshots(driver, volume.volumeHandle)).toEqual([]);
  });

  test('a VolumeGroupSnapshot of labelled PVCs becomes ready; each member VolumeSnapshot is ready and restores its volume', async () => {
    const flow = await groupFlow(cluster, driver, namespace, 'grp', diagnostics);
    expect(flow.groupContent?.status?.readyToUse).toBe(true);
    expect(flow.members).toHaveLength(2);
    const conn = await CsiConnection.connect({ address: driver.socketPath, log: silentLogger });
    try {
      for (const content of flow.memberContents) {
        expect(content?.status?.readyToUse).toBe(true);
        expect(content?.status?.volumeGroupSnapshotHandle).toBe(flow.groupContent?.status?.volumeGroupSnapshotHandle);
        // Restore the member into a new volume of the member's restoreSize, as a PVC with the
        // snapshot as its dataSource would be sized, and read the data back.
        expect(typeof content?.status?.restoreSize).toBe('number');
        const restored = await conn.call(
          '/csi.v1.Controller/CreateVolume',
          {
            name: cluster.uniqueName('restored'),
            capacity_range: { required_bytes: String(content?.status?.restoreSize) },
            volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
            volume_content_source: { snapshot: { snapshot_id: content?.status?.snapshotHandle as string } },
          },
          new Date(Date.now() + 30_000),
        );
        const source = flow.volumes.find((v) => v.volumeHandle === (content?.spec?.source as { volumeHandle?: string } | undefined)?.volumeHandle);
        expect(source).toBeDefined();
        expect(await driver.readVolumeFile(restored.volume?.volume_id as string, 'data.txt')).toBe(`data of ${source?.pvcName}`);
      }
    } finally {
      conn.close();
    }
    await cluster.admin.json('DELETE', flow.path);
    await waitForGone(cluster.admin, `${GROUP_SNAPSHOT_API}/volumegroupsnapshotcontents/${flow.groupContent?.metadata.name as string}`, FLOW_TIMEOUT_MS, diagnostics);
    for (const member of flow.members) {
      await waitForGone(cluster.admin, `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${member.metadata.name}`, FLOW_TIMEOUT_MS, diagnostics);
    }
    for (const v of flow.volumes) expect(await storageSnapshots(driver, v.volumeHandle)).toEqual([]);
  });

  test("a member of a live group is not deleted on its own: the driver refuses, the controller holds it, the group's deletion takes it", async () => {
    const flow = await groupFlow(cluster, driver, namespace, 'live', diagnostics);
    const handles = flow.memberContents.map((c) => c?.status?.snapshotHandle as string);
    // The driver's rule (hostpathplugin's; the sample driver answers the same): a member snapshot
    // goes only with its group.
    const conn = await CsiConnection.connect({ address: driver.socketPath, log: silentLogger });
    try {
      for (const handle of handles) {
        expect(await grpcCode(conn.call('/csi.v1.Controller/DeleteSnapshot', { snapshot_id: handle }, new Date(Date.now() + 10_000)))).toBe(INVALID_ARGUMENT);
      }
    } finally {
      conn.close();
    }
    // A user deleting one member VolumeSnapshot: the snapshot-controller refuses while the group
    // lives, so the sidecar is never asked and the member stays ready on storage.
    const member = flow.members[0] as KubeObject;
    const memberPath = `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${member.metadata.name}`;
    await cluster.admin.json('DELETE', memberPath);
    await pollUntil(
      async () => {
        const list = await cluster.admin.json<{ items: Array<{ reason: string; type: string }> }>(
          'GET',
          `/api/v1/namespaces/${namespace}/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${member.metadata.name}`)}`,
        );
        return list.items.some((e) => e.type === 'Warning' && e.reason === 'SnapshotDeletePending') ? true : undefined;
      },
      { description: `the snapshot-controller's SnapshotDeletePending Event on ${member.metadata.name}`, timeoutMs: FLOW_TIMEOUT_MS, intervalMs: 250, diagnostics },
    );
    const held = await getObject(cluster.admin, memberPath);
    expect(held?.metadata.finalizers).toContain('snapshot.storage.kubernetes.io/volumesnapshot-in-group-protection');
    const memberContent = await getObject(cluster.admin, boundContentPath(member));
    expect(memberContent?.status?.readyToUse).toBe(true);
    expect(memberContent?.status?.error).toBeUndefined();
    expect((memberContent?.metadata as { deletionTimestamp?: string } | undefined)?.deletionTimestamp).toBeUndefined();
    for (const [i, v] of flow.volumes.entries()) expect(await storageSnapshots(driver, v.volumeHandle)).toEqual([handles[i]]);

    await cluster.admin.json('DELETE', flow.path);
    await waitForGone(cluster.admin, `${GROUP_SNAPSHOT_API}/volumegroupsnapshotcontents/${flow.groupContent?.metadata.name as string}`, FLOW_TIMEOUT_MS, diagnostics);
    for (const m of flow.members) await waitForGone(cluster.admin, `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${m.metadata.name}`, FLOW_TIMEOUT_MS, diagnostics);
    for (const v of flow.volumes) expect(await storageSnapshots(driver, v.volumeHandle)).toEqual([]);
  });

  test('a sidecar killed in the middle of a create and started again cuts one snapshot, and the content becomes ready', async () => {
    const className = await snapshotClass(cluster, driver.driverName, 'Delete');
    const volume = await cluster.createBoundPvc(driver, namespace, 'restart');
    // The driver is frozen, so the sidecar's CreateSnapshot cannot be answered: the sidecar is
    // killed after it marked the content being-created and asked the driver, before any reply.
    driver.process.signal('SIGSTOP');
    let contentPath: string;
    try {
      const path = await createSnapshot(cluster, namespace, 'restart-snap', { persistentVolumeClaimName: volume.pvcName }, className);
      const uid = ((await getObject(cluster.admin, path)) as KubeObject).metadata.uid;
      contentPath = `${SNAPSHOT_API}/volumesnapshotcontents/snapcontent-${uid}`;
      await pollUntil(
        async () => {
          const content = await getObject(cluster.admin, contentPath);
          return content && annotationsOf(content)['snapshot.storage.kubernetes.io/volumesnapshot-being-created'] === 'yes' ? content : undefined;
        },
        { description: `${contentPath} to be marked being-created`, timeoutMs: FLOW_TIMEOUT_MS, intervalMs: 100, diagnostics },
      );
      await sidecar.kill();
    } finally {
      driver.process.signal('SIGCONT');
    }
    const marked = (await getObject(cluster.admin, contentPath)) as KubeObject;
    expect(marked.status?.snapshotHandle).toBeUndefined();

    sidecar = startOurSidecar(cluster, driver);
    const content = await waitForReady(cluster.admin, contentPath, FLOW_TIMEOUT_MS, diagnostics);
    await waitForReady(cluster.admin, `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/restart-snap`, FLOW_TIMEOUT_MS, diagnostics);
    expect(await storageSnapshots(driver, volume.volumeHandle)).toEqual([content.status?.snapshotHandle]);
    await pollUntil(
      async () => {
        const c = await getObject(cluster.admin, contentPath);
        return c && annotationsOf(c)['snapshot.storage.kubernetes.io/volumesnapshot-being-created'] === undefined ? true : undefined;
      },
      { description: `the being-created mark to leave ${contentPath}`, timeoutMs: FLOW_TIMEOUT_MS, intervalMs: 250, diagnostics },
    );
  });

  test('the sidecar ran on the RBAC-limited kubeconfig without permission errors', async () => {
    // Its own objects, so that every right the sidecar has is used even when this test runs alone.
    const writes = await exerciseSidecarWrites(cluster, driver, 'ts-rbac', FLOW_TIMEOUT_MS, diagnostics);
    expect(writes.events.length).toBeGreaterThan(0);
    for (const event of writes.events) expect(event.message).toContain('cannot get credentials for snapshot content');
    expect(writes.content.status?.readyToUse).toBe(true);
    expect(writes.groupContent.status?.readyToUse).toBe(true);
    sidecar.assertRunning();
    expect(sidecar.log()).not.toMatch(/forbidden|Forbidden/);
  });
});

/** What a flow leaves on its objects, without names, ids, times and handles. */
function shape(content: KubeObject | undefined, snapshot: KubeObject | undefined): unknown {
  const keys = (o: unknown): string[] => (o && typeof o === 'object' ? Object.keys(o).sort() : []);
  return {
    contentAnnotations: keys(content ? annotationsOf(content) : undefined),
    contentFinalizers: content?.metadata.finalizers ?? [],
    contentStatusFields: keys(content?.status),
    contentReady: content?.status?.readyToUse,
    contentSpecSource: keys(content?.spec?.source),
    snapshotStatusFields: keys(snapshot?.status),
    snapshotReady: snapshot?.status?.readyToUse,
    snapshotFinalizers: snapshot?.metadata.finalizers ?? [],
  };
}

describe.each(DRIVER_KINDS)('side by side with the Go csi-snapshotter, on the %s driver', (kind) => {
  let cluster: RealCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  test('the same dynamic snapshot flow leaves the same objects (apart from names, ids, times and handles)', async () => {
    cluster ??= await RealCluster.connect();
    const namespace = await cluster.createNamespace('side-by-side');
    const results: Record<string, unknown> = {};
    for (const flavour of ['go', 'ts'] as const) {
      const driver = await cluster.startDriver(kind, `${flavour}-sbs-${kind}`, { driverName: driverName(kind, `${flavour}-sbs`) });
      const sidecar = flavour === 'go' ? await cluster.startGoSidecar(driver) : startOurSidecar(cluster, driver);
      if (flavour === 'ts') await sidecar.waitForLog(/VolumeSnapshotContent caches synced/, FLOW_TIMEOUT_MS);
      const className = await snapshotClass(cluster, driver.driverName, 'Delete');
      const volume = await cluster.createBoundPvc(driver, namespace, `${flavour}-pvc`);
      const path = await createSnapshot(cluster, namespace, `${flavour}-snap`, { persistentVolumeClaimName: volume.pvcName }, className);
      const { object: snapshot, content } = await readSettled(
        cluster,
        path,
        boundContentPath,
        (s, c) =>
          finalizersOf(s).includes('snapshot.storage.kubernetes.io/volumesnapshot-bound-protection') &&
          c.status?.readyToUse === true &&
          finalizersOf(c).includes('snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection') &&
          annotationsOf(c)['snapshot.storage.kubernetes.io/volumesnapshot-being-created'] === undefined,
        () => sidecar.logTail(40),
      );
      expect(content.metadata.name).toBe(`snapcontent-${snapshot.metadata.uid}`);
      results[flavour] = shape(content, snapshot);
    }
    // Two empty shapes would be equal too: both flows must have left a ready content behind.
    for (const flavour of ['go', 'ts']) expect(results[flavour]).toMatchObject({ contentReady: true, snapshotReady: true, contentSpecSource: ['volumeHandle'] });
    expect(results.ts).toEqual(results.go);
  });

  test('the same VolumeGroupSnapshot flow leaves the same objects', async () => {
    cluster ??= await RealCluster.connect();
    const namespace = await cluster.createNamespace('side-by-side-groups');
    const results: Record<string, unknown> = {};
    for (const flavour of ['go', 'ts'] as const) {
      const driver = await cluster.startDriver(kind, `${flavour}-sbsg-${kind}`, { driverName: driverName(kind, `${flavour}-sbsg`) });
      const sidecar = flavour === 'go' ? await cluster.startGoSidecar(driver) : startOurSidecar(cluster, driver);
      if (flavour === 'ts') await sidecar.waitForLog(/VolumeSnapshotContent caches synced/, FLOW_TIMEOUT_MS);
      const flow = await groupFlow(cluster, driver, namespace, flavour, () => sidecar.logTail(40));
      const keys = (o: unknown): string[] => (o && typeof o === 'object' ? Object.keys(o).sort() : []);
      const infoList = (flow.groupContent?.status as { volumeSnapshotInfoList?: unknown[] } | undefined)?.volumeSnapshotInfoList ?? [];
      results[flavour] = {
        group: { status: keys(flow.group.status), ready: flow.group.status?.readyToUse, finalizers: flow.group.metadata.finalizers ?? [] },
        groupContent: {
          status: keys(flow.groupContent?.status),
          annotations: keys(flow.groupContent ? annotationsOf(flow.groupContent) : undefined),
          finalizers: flow.groupContent?.metadata.finalizers ?? [],
          members: infoList.map((entry) => keys(entry)),
        },
        members: flow.members.map((m, i) => shape(flow.memberContents[i], m)),
      };
    }
    // Two empty shapes would be equal too: both flows must have left a ready group of two members.
    for (const flavour of ['go', 'ts']) {
      expect(results[flavour]).toMatchObject({ group: { ready: true }, groupContent: { members: [expect.anything(), expect.anything()] } });
      expect((results[flavour] as { members: unknown[] }).members).toHaveLength(2);
    }
    expect(results.ts).toEqual(results.go);
  });
});
