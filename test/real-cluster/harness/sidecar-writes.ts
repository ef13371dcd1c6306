import type { DriverHandle, RealCluster } from './harness.js';
import {
  getObject,
  GROUP_SNAPSHOT_API,
  GROUP_SNAPSHOT_BOUND_FINALIZER,
  SNAPSHOT_API,
  SNAPSHOT_BOUND_FINALIZER,
  waitForFinalizer,
  waitForGone,
  waitForReady,
  type KubeObject,
} from './snapshot-api.js';
import { pollUntil } from './wait.js';

/** The fields of a core/v1 Event the checks look at. */
export interface RecordedEvent {
  type: string;
  reason: string;
  message: string;
  involvedObject: { kind?: string; name: string };
  source?: { component?: string };
}

export interface SidecarWrites {
  /** Warning Events the sidecar recorded about the content whose Secret was missing at first. */
  events: RecordedEvent[];
  /** The single snapshot's content once ready (before its deletion). */
  content: KubeObject;
  /** The group snapshot's content once ready (before its deletion). */
  groupContent: KubeObject;
}

/**
 * Makes a sidecar use every right manifests/rbac.yaml grants it, on its own objects and through the
 * real snapshot-controller, so that "no permission error in its log" means something whatever else
 * ran before:
 *
 * - a VolumeSnapshot whose class names a Secret that does not exist yet: the sidecar reads the
 *   Secret (get), fails, writes the error to the content status and records a Warning Event; once
 *   the Secret exists it cuts the snapshot (content annotations and status), and the deletion
 *   releases the content (finalizer);
 * - a VolumeGroupSnapshot of two labelled PVCs: the group content's annotations and status, then
 *   its deletion.
 */
export async function exerciseSidecarWrites(cluster: RealCluster, driver: DriverHandle, prefix: string, timeoutMs: number, diagnostics: () => string): Promise<SidecarWrites> {
  const namespace = await cluster.createNamespace(prefix);
  const secretName = `${prefix}-secret`;
  const className = cluster.uniqueName(`${prefix}-class`);
  await cluster.admin.json('POST', `${SNAPSHOT_API}/volumesnapshotclasses`, {
    body: {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotClass',
      metadata: { name: className },
      driver: driver.driverName,
      deletionPolicy: 'Delete',
      parameters: { 'csi.storage.k8s.io/snapshotter-secret-name': secretName, 'csi.storage.k8s.io/snapshotter-secret-namespace': namespace },
    },
  });
  const volume = await cluster.createBoundPvc(driver, namespace, `${prefix}-pvc`);
  const snapshotPath = `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${prefix}-snap`;
  const snapshot = await cluster.admin.json<KubeObject>('POST', `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots`, {
    body: {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: `${prefix}-snap` },
      spec: { volumeSnapshotClassName: className, source: { persistentVolumeClaimName: volume.pvcName } },
    },
  });
  const contentName = `snapcontent-${snapshot.metadata.uid}`;
  const events = await pollUntil(
    async () => {
      const list = await cluster.admin.json<{ items: RecordedEvent[] }>('GET', `/api/v1/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${contentName}`)}`);
      const fromSidecar = list.items.filter((e) => e.type === 'Warning' && e.source?.component === `csi-snapshotter ${driver.driverName}`);
      return fromSidecar.length > 0 ? fromSidecar : undefined;
    },
    { description: `a Warning Event from the sidecar about ${contentName}, whose Secret is missing`, timeoutMs, intervalMs: 250, diagnostics },
  );

  await cluster.admin.json('POST', `/api/v1/namespaces/${namespace}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName }, data: { user: Buffer.from('admin').toString('base64') } },
  });
  await waitForReady(cluster.admin, snapshotPath, timeoutMs, diagnostics);
  const contentPath = `${SNAPSHOT_API}/volumesnapshotcontents/${contentName}`;
  const content = await waitForReady(cluster.admin, contentPath, timeoutMs, diagnostics);
  await waitForFinalizer(cluster.admin, snapshotPath, SNAPSHOT_BOUND_FINALIZER, timeoutMs, diagnostics);
  await cluster.admin.json('DELETE', snapshotPath);
  await waitForGone(cluster.admin, contentPath, timeoutMs, diagnostics);

  const groupClass = cluster.uniqueName(`${prefix}-groupclass`);
  await cluster.admin.json('POST', `${GROUP_SNAPSHOT_API}/volumegroupsnapshotclasses`, {
    body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1', kind: 'VolumeGroupSnapshotClass', metadata: { name: groupClass }, driver: driver.driverName, deletionPolicy: 'Delete' },
  });
  const labels = { app: `${prefix}-grouped` };
  await cluster.createBoundPvc(driver, namespace, `${prefix}-member-a`, { labels });
  await cluster.createBoundPvc(driver, namespace, `${prefix}-member-b`, { labels });
  const groupPath = `${GROUP_SNAPSHOT_API}/namespaces/${namespace}/volumegroupsnapshots/${prefix}-group`;
  await cluster.admin.json('POST', `${GROUP_SNAPSHOT_API}/namespaces/${namespace}/volumegroupsnapshots`, {
    body: {
      apiVersion: 'groupsnapshot.storage.k8s.io/v1',
      kind: 'VolumeGroupSnapshot',
      metadata: { name: `${prefix}-group` },
      spec: { volumeGroupSnapshotClassName: groupClass, source: { selector: { matchLabels: labels } } },
    },
  });
  const group = await waitForReady(cluster.admin, groupPath, timeoutMs, diagnostics);
  const groupContentPath = `${GROUP_SNAPSHOT_API}/volumegroupsnapshotcontents/${group.status?.boundVolumeGroupSnapshotContentName as string}`;
  const groupContent = (await getObject(cluster.admin, groupContentPath)) as KubeObject;
  await waitForFinalizer(cluster.admin, groupPath, GROUP_SNAPSHOT_BOUND_FINALIZER, timeoutMs, diagnostics);
  await cluster.admin.json('DELETE', groupPath);
  await waitForGone(cluster.admin, groupContentPath, timeoutMs, diagnostics);
  return { events, content, groupContent };
}
