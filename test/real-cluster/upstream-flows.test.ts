import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { DRIVER_KINDS, RealCluster, type DriverHandle } from './harness/harness.js';
import type { ManagedProcess } from './harness/managed-process.js';
import { exerciseSidecarWrites } from './harness/sidecar-writes.js';
import {
  createGroupSnapshotClass,
  createSnapshotClass,
  getObject,
  GROUP_SNAPSHOT_API,
  GROUP_SNAPSHOT_BOUND_FINALIZER,
  listObjects,
  SNAPSHOT_API,
  waitForFinalizer,
  waitForGone,
  waitForReady,
} from './harness/snapshot-api.js';

// Proves the harness with upstream components only on the sidecar side: a user's VolumeSnapshot
// and VolumeGroupSnapshot flow through the real snapshot-controller and the upstream Go
// csi-snapshotter (with the RBAC of manifests/rbac.yaml) to a CSI driver and back, once with this
// project's csi-sample-driver and once with the upstream hostpathplugin: the latter is an all-upstream
// stack, the reference the other flows are held to.
const FLOW_TIMEOUT_MS = 120_000;

describe.each(DRIVER_KINDS)('upstream Go csi-snapshotter with the real snapshot-controller, on the %s driver', (kind) => {
  let cluster: RealCluster;
  let driver: DriverHandle;
  let sidecar: ManagedProcess;
  let namespace: string;
  let snapshotClass: string;
  let groupSnapshotClass: string;

  const diagnostics = (): string => `${sidecar.logTail(30)}\n${driver.process.logTail(15)}`;

  beforeAll(async () => {
    cluster = await RealCluster.connect();
    driver = await cluster.startDriver(kind, `upstream-${kind}`, { driverName: `upstream-flows.${kind}.csi.example.com` });
    sidecar = await cluster.startGoSidecar(driver);
    namespace = await cluster.createNamespace(`upstream-flows-${kind}`);
    snapshotClass = cluster.uniqueName('snapclass');
    groupSnapshotClass = cluster.uniqueName('groupsnapclass');
    await createSnapshotClass(cluster.admin, snapshotClass, driver.driverName);
    await createGroupSnapshotClass(cluster.admin, groupSnapshotClass, driver.driverName);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('a VolumeSnapshot of a bound PVC becomes readyToUse and is deleted with its content', async () => {
    const volume = await cluster.createBoundPvc(driver, namespace, 'single');
    const path = `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/single-snap`;
    await cluster.admin.json('POST', `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots`, {
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshot',
        metadata: { name: 'single-snap' },
        spec: { volumeSnapshotClassName: snapshotClass, source: { persistentVolumeClaimName: volume.pvcName } },
      },
    });

    const snapshot = await waitForReady(cluster.admin, path, FLOW_TIMEOUT_MS, diagnostics);
    const contentName = `snapcontent-${snapshot.metadata.uid}`;
    expect(snapshot.status?.boundVolumeSnapshotContentName).toBe(contentName);
    expect(typeof snapshot.status?.creationTime).toBe('string');

    const content = await getObject(cluster.admin, `${SNAPSHOT_API}/volumesnapshotcontents/${contentName}`);
    expect(content?.spec?.driver).toBe(driver.driverName);
    expect(content?.spec?.source).toEqual({ volumeHandle: volume.volumeHandle });
    expect(content?.status?.readyToUse).toBe(true);
    expect(typeof content?.status?.snapshotHandle).toBe('string');

    await cluster.admin.json('DELETE', path);
    await waitForGone(cluster.admin, `${SNAPSHOT_API}/volumesnapshotcontents/${contentName}`, FLOW_TIMEOUT_MS, diagnostics);
    await waitForGone(cluster.admin, path, FLOW_TIMEOUT_MS, diagnostics);
  });

  test('a VolumeGroupSnapshot of two labelled PVCs becomes ready with one member VolumeSnapshot each', async () => {
    const labels = { app: `grouped-${kind}` };
    const members = [await cluster.createBoundPvc(driver, namespace, 'member-a', { labels }), await cluster.createBoundPvc(driver, namespace, 'member-b', { labels })];
    await cluster.createBoundPvc(driver, namespace, 'outsider', { labels: { app: 'other' } });

    const path = `${GROUP_SNAPSHOT_API}/namespaces/${namespace}/volumegroupsnapshots/group-snap`;
    await cluster.admin.json('POST', `${GROUP_SNAPSHOT_API}/namespaces/${namespace}/volumegroupsnapshots`, {
      body: {
        apiVersion: 'groupsnapshot.storage.k8s.io/v1',
        kind: 'VolumeGroupSnapshot',
        metadata: { name: 'group-snap' },
        spec: { volumeGroupSnapshotClassName: groupSnapshotClass, source: { selector: { matchLabels: labels } } },
      },
    });
    const group = await waitForReady(cluster.admin, path, FLOW_TIMEOUT_MS, diagnostics);
    const groupContentName = `groupsnapcontent-${group.metadata.uid}`;
    expect(group.status?.boundVolumeGroupSnapshotContentName).toBe(groupContentName);

    // Member names are snapshot-<sha256(group UID + volume handle)>, set by the controller.
    const memberName = (volumeHandle: string): string => `snapshot-${createHash('sha256').update(group.metadata.uid + volumeHandle).digest('hex')}`;
    const expectedMembers = members.map((member) => ({ name: memberName(member.volumeHandle), pvc: member.pvcName })).sort((a, b) => a.name.localeCompare(b.name));

    const memberSnapshots = await Promise.all(
      expectedMembers.map((member) => waitForReady(cluster.admin, `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${member.name}`, FLOW_TIMEOUT_MS, diagnostics)),
    );
    expect(memberSnapshots.map((snapshot) => ({ name: snapshot.metadata.name, pvc: (snapshot.spec?.source as { persistentVolumeClaimName?: string }).persistentVolumeClaimName }))).toEqual(expectedMembers);
    for (const snapshot of memberSnapshots) {
      expect(snapshot.status?.volumeGroupSnapshotName).toBe('group-snap');
      expect(snapshot.metadata.ownerReferences?.map((ref) => ({ kind: ref.kind, name: ref.name, uid: ref.uid }))).toEqual([{ kind: 'VolumeGroupSnapshot', name: 'group-snap', uid: group.metadata.uid }]);
    }
    const inNamespace = await listObjects(cluster.admin, `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots`);
    expect(inNamespace.filter((snapshot) => snapshot.status?.volumeGroupSnapshotName === 'group-snap')).toHaveLength(2);

    await waitForFinalizer(cluster.admin, path, GROUP_SNAPSHOT_BOUND_FINALIZER, FLOW_TIMEOUT_MS, diagnostics);
    await cluster.admin.json('DELETE', path);
    await waitForGone(cluster.admin, `${GROUP_SNAPSHOT_API}/volumegroupsnapshotcontents/${groupContentName}`, FLOW_TIMEOUT_MS, diagnostics);
    for (const member of expectedMembers) {
      await waitForGone(cluster.admin, `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${member.name}`, FLOW_TIMEOUT_MS, diagnostics);
    }
    await waitForGone(cluster.admin, path, FLOW_TIMEOUT_MS, diagnostics);
  });

  test('the Go sidecar ran on the RBAC-limited kubeconfig without permission errors', async () => {
    // Its own objects, so that every right the sidecar has is used even when this test runs alone.
    const writes = await exerciseSidecarWrites(cluster, driver, 'go-rbac', FLOW_TIMEOUT_MS, diagnostics);
    expect(writes.events.length).toBeGreaterThan(0);
    for (const event of writes.events) expect(event.message).toContain('cannot get credentials for snapshot content');
    expect(writes.content.status?.readyToUse).toBe(true);
    expect(writes.groupContent.status?.readyToUse).toBe(true);
    sidecar.assertRunning();
    expect(sidecar.log()).not.toMatch(/is forbidden/);
  });
});
