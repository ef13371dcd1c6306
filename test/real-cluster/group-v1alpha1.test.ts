import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { memberContentName } from '../../src/sidecar/group/members.js';
import { sidecarEntry } from '../../src/util/package-root.js';
import { KubeHttp } from './kube/http.js';
import { createBoundVolume, type BoundVolume } from './harness/bound-volumes.js';
import type { ControlPlane } from './harness/control-plane.js';
import { DRIVER_KINDS, RealCluster, type DriverHandle } from './harness/harness.js';
import type { ManagedProcess } from './harness/managed-process.js';
import { getObject, listObjects, waitForFinalizer, waitForGone, waitForReady, type KubeObject } from './harness/snapshot-api.js';
import { pollUntil } from './harness/wait.js';

// A cluster of the era that served group snapshots only at groupsnapshot.storage.k8s.io/v1alpha1
// (the schema of external-snapshotter v8.0-8.1): its CRDs (client/v8 v8.0.0) on the real
// kube-apiserver, the real snapshot-controller of v8.1.0 with --enable-volume-group-snapshots, and
// this project's sidecar, which in that era creates the member VolumeSnapshotContents and
// VolumeSnapshots itself. A VolumeGroupSnapshot of labelled PVCs goes to ready with its members
// bound and ready, and is deleted without leaving anything on storage. On both drivers.
const TIMEOUT_MS = 180_000;
const SIDECAR = sidecarEntry();
const GROUP_API = '/apis/groupsnapshot.storage.k8s.io/v1alpha1';
const SNAPSHOT_API = '/apis/snapshot.storage.k8s.io/v1';

type Entry = { volumeSnapshotContentRef: { name: string }; persistentVolumeRef: { name: string } };

describe.each(DRIVER_KINDS)('v1alpha1 era: snapshot-controller v8.1.0, its CRDs and this project\'s sidecar, on the %s driver', (kind) => {
  let cluster: RealCluster;
  let plane: ControlPlane;
  let admin: KubeHttp;
  let driver: DriverHandle;
  let sidecar: ManagedProcess;
  let namespace: string;
  const diagnostics = (): string =>
    [sidecar.logTail(40), ...plane.processes.slice(-1).map((controller) => controller.logTail(20)), driver.process.logTail(10)].join('\n');

  beforeAll(async () => {
    cluster = await RealCluster.connect();
    plane = await cluster.startV1alpha1ControlPlane(`v1alpha1-${kind}`);
    admin = await KubeHttp.fromKubeconfig(plane.adminKubeconfig);
    driver = await cluster.startDriver(kind, `v1alpha1-${kind}`, { driverName: `v1alpha1.${kind}.csi.example.com` });
    // The chart of that era passed the old switch; the sidecar runs under manifests/ with the optional v1alpha1 component.
    sidecar = cluster.startSidecarCommand('ts-csi-snapshotter-v1alpha1', process.execPath, driver, {
      kubeconfig: plane.sidecarKubeconfig,
      args: ['--v=5', '--enable-volume-group-snapshots', '--retry-interval-max=5s'],
    }, [SIDECAR]);
    await sidecar.waitForLog(/VolumeGroupSnapshotContent caches synced/, TIMEOUT_MS);
    namespace = `v1alpha1-${kind}`;
    await admin.json('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } });
  }, TIMEOUT_MS * 2);

  afterAll(async () => {
    await cluster?.stop();
  });

  test('a VolumeGroupSnapshot of two labelled PVCs becomes ready with both members bound and ready, and policy Delete removes everything, on storage too', async () => {
    expect(sidecar.logTail(400)).toMatch(/Serving VolumeGroupSnapshotContents.*groupsnapshot\.storage\.k8s\.io\/v1alpha1.*pvVolumeSnapshotContentList/);
    await admin.json('POST', `${GROUP_API}/volumegroupsnapshotclasses`, {
      body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1alpha1', kind: 'VolumeGroupSnapshotClass', metadata: { name: `group-${kind}` }, driver: driver.driverName, deletionPolicy: 'Delete' },
    });
    const labels = { app: 'grouped' };
    const bound = async (name: string, podLabels: Record<string, string>): Promise<BoundVolume> => {
      const volumeHandle = await driver.csi.createVolume(`${namespace}-${name}`, 1024 * 1024);
      return createBoundVolume(admin, { namespace, name, driverName: driver.driverName, volumeHandle, sizeBytes: 1024 * 1024, labels: podLabels });
    };
    const volumes = [await bound('a', labels), await bound('b', labels)];
    const outsider = await bound('outsider', { app: 'other' });
    for (const v of volumes) await driver.writeVolumeFile(v.volumeHandle, 'data.txt', `data of ${v.pvcName}`);

    await admin.json('POST', `${GROUP_API}/namespaces/${namespace}/volumegroupsnapshots`, {
      body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1alpha1', kind: 'VolumeGroupSnapshot', metadata: { name: 'group' }, spec: { volumeGroupSnapshotClassName: `group-${kind}`, source: { selector: { matchLabels: labels } } } },
    });
    const groupPath = `${GROUP_API}/namespaces/${namespace}/volumegroupsnapshots/group`;
    const group = await waitForReady(admin, groupPath, TIMEOUT_MS, diagnostics);
    const contentPath = `${GROUP_API}/volumegroupsnapshotcontents/${group.status?.boundVolumeGroupSnapshotContentName as string}`;
    const content = await pollUntil(
      async () => {
        const c = await getObject(admin, contentPath);
        const annotations = (c?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations ?? {};
        return c?.status?.readyToUse === true && annotations['groupsnapshot.storage.kubernetes.io/volumegroupsnapshot-being-created'] === undefined ? c : undefined;
      },
      { description: `${contentPath} ready and unmarked`, timeoutMs: TIMEOUT_MS, intervalMs: 250, diagnostics },
    );

    // The group content lists one member content per volume under the derived names, with each volume's PV.
    const entries = content.status?.pvVolumeSnapshotContentList as Entry[];
    const expected = volumes.map((v) => ({ volumeSnapshotContentRef: { name: memberContentName(content.metadata.uid, v.volumeHandle) }, persistentVolumeRef: { name: v.pvName } }));
    expect([...entries].sort((x, y) => x.persistentVolumeRef.name.localeCompare(y.persistentVolumeRef.name))).toEqual(expected);
    expect(typeof content.status?.creationTime).toBe('number');
    expect(content.status?.creationTime as number).toBeGreaterThan(1.7e18);
    const groupHandle = content.status?.volumeGroupSnapshotHandle as string;

    // Each member: the content ready with the group's handle, bound to its VolumeSnapshot, which the
    // controller marks ready and as part of the group.
    const memberContents: KubeObject[] = [];
    const memberSnapshots: KubeObject[] = [];
    for (const entry of expected) {
      const memberContent = await waitForReady(admin, `${SNAPSHOT_API}/volumesnapshotcontents/${entry.volumeSnapshotContentRef.name}`, TIMEOUT_MS, diagnostics);
      expect(memberContent.status?.volumeGroupSnapshotHandle).toBe(groupHandle);
      const ref = memberContent.spec?.volumeSnapshotRef as { name: string; namespace: string };
      expect(ref.namespace).toBe(namespace);
      const memberPath = `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${ref.name}`;
      const member = await pollUntil(
        async () => {
          const m = await getObject(admin, memberPath);
          return m?.status?.readyToUse === true && m.status.boundVolumeSnapshotContentName === entry.volumeSnapshotContentRef.name ? m : undefined;
        },
        { description: `${memberPath} bound and ready`, timeoutMs: TIMEOUT_MS, intervalMs: 250, diagnostics },
      );
      expect(member.metadata.labels).toEqual({ volumeGroupSnapshotName: 'group' });
      expect(member.metadata.finalizers).toContain('snapshot.storage.kubernetes.io/volumesnapshot-in-group-protection');
      memberContents.push(memberContent);
      memberSnapshots.push(member);
    }
    // The controller of that era lists the members in the group's status, by PVC.
    const ready = await pollUntil(
      async () => {
        const g = await getObject(admin, groupPath);
        return (g?.status?.pvcVolumeSnapshotRefList as unknown[] | undefined)?.length === 2 ? g : undefined;
      },
      { description: `${groupPath} to list its members`, timeoutMs: TIMEOUT_MS, intervalMs: 250, diagnostics },
    );
    const refs = ready.status?.pvcVolumeSnapshotRefList as Array<{ persistentVolumeClaimRef: { name: string }; volumeSnapshotRef: { name: string } }>;
    expect(refs.map((r) => r.persistentVolumeClaimRef.name).sort()).toEqual(['a', 'b']);
    expect(refs.map((r) => r.volumeSnapshotRef.name).sort()).toEqual(memberSnapshots.map((m) => m.metadata.name).sort());
    // Exactly one snapshot on storage per grouped volume, none of the outsider, and no other member objects.
    for (const [i, v] of volumes.entries()) expect(await driver.csi.snapshotsOf(v.volumeHandle)).toEqual([memberContents[i]?.status?.snapshotHandle]);
    expect(await driver.csi.snapshotsOf(outsider.volumeHandle)).toEqual([]);
    expect((await listObjects(admin, `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots`)).map((m) => m.metadata.name).sort()).toEqual(memberSnapshots.map((m) => m.metadata.name).sort());
    expect((await listObjects(admin, `${SNAPSHOT_API}/volumesnapshotcontents`)).length).toBe(2);

    // Deleting only after the controller's protection is on: a group deleted before it would leave its content behind.
    await waitForFinalizer(admin, groupPath, 'groupsnapshot.storage.kubernetes.io/volumegroupsnapshot-bound-protection', TIMEOUT_MS, diagnostics);
    await admin.request('DELETE', groupPath);
    await waitForGone(admin, groupPath, TIMEOUT_MS, diagnostics);
    await waitForGone(admin, contentPath, TIMEOUT_MS, diagnostics);
    for (const m of memberSnapshots) await waitForGone(admin, `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${m.metadata.name}`, TIMEOUT_MS, diagnostics);
    for (const c of memberContents) await waitForGone(admin, `${SNAPSHOT_API}/volumesnapshotcontents/${c.metadata.name}`, TIMEOUT_MS, diagnostics);
    for (const v of volumes) expect(await driver.csi.snapshotsOf(v.volumeHandle)).toEqual([]);
  });
});
