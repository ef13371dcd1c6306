import { ANN_BEING_CREATED, ANN_BEING_DELETED, ANN_GROUP_MEMBER, FINALIZER_CONTENT } from '../../../src/sidecar/keys.js';
import type { DeletionPolicy, VolumeSnapshotContent, VolumeSnapshotContentStatus } from '../../../src/sidecar/types.js';

/** F-VSC of the conformance scenarios: a content of driver csi-mock-plugin, built field by field. */
export interface ContentFixture {
  name: string;
  refUid?: string;
  refName?: string;
  statusHandle?: string;
  className?: string;
  specSnapshotHandle?: string;
  volumeHandle?: string;
  policy?: DeletionPolicy;
  finalizer?: boolean;
  deleting?: boolean;
  /** undefined: no status at all; {} : an empty status. */
  status?: VolumeSnapshotContentStatus;
  annotations?: Record<string, string>;
  member?: boolean;
}

export function content(f: ContentFixture): VolumeSnapshotContent {
  const annotations: Record<string, string> = { ...(f.annotations ?? {}) };
  if (f.deleting) annotations[ANN_BEING_DELETED] = 'yes';
  if (f.member) annotations[ANN_GROUP_MEMBER] = 'group-handle';
  const c: VolumeSnapshotContent = {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name: f.name, resourceVersion: '1', ...(Object.keys(annotations).length ? { annotations } : {}) },
    spec: {
      volumeSnapshotRef: f.refName ? { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', uid: f.refUid ?? '', namespace: 'default', name: f.refName } : {},
      deletionPolicy: f.policy ?? 'Delete',
      driver: 'csi-mock-plugin',
      source: f.specSnapshotHandle ? { snapshotHandle: f.specSnapshotHandle } : { volumeHandle: f.volumeHandle ?? `volume-handle-${f.name}` },
    },
  };
  if (f.className) c.spec.volumeSnapshotClassName = f.className;
  if (f.finalizer) c.metadata.finalizers = [FINALIZER_CONTENT];
  if (f.deleting) c.metadata.deletionTimestamp = '2026-11-22T00:00:00Z';
  if (f.status !== undefined || f.statusHandle) c.status = { ...(f.status ?? {}), ...(f.statusHandle ? { snapshotHandle: f.statusHandle } : {}) };
  return c;
}

export { ANN_BEING_CREATED, ANN_BEING_DELETED };
