import { ANN_GROUP_BEING_DELETED, FINALIZER_GROUP_CONTENT } from '../../../src/sidecar/keys.js';
import type { GroupContentStatus, VolumeGroupSnapshotContent } from '../../../src/sidecar/group/types.js';
import type { DeletionPolicy } from '../../../src/sidecar/types.js';

/** F-VGSC / F-VGSC-PRE of the conformance scenarios: a group content of driver csi-mock-plugin. */
export interface GroupFixture {
  name: string;
  uid?: string;
  className?: string;
  volumeHandles?: string[];
  /** Pre-provisioned: spec.source.groupSnapshotHandles. */
  preHandle?: string;
  preSnapshots?: string[];
  policy?: DeletionPolicy;
  finalizer?: boolean;
  /** deletionTimestamp plus the controller's being-deleted annotation. */
  deleting?: boolean;
  /** deletionTimestamp alone. */
  deletionTimestamp?: boolean;
  /** undefined: no status; {}: an empty one. */
  status?: GroupContentStatus;
  annotations?: Record<string, string>;
  driver?: string;
}

export function groupContent(f: GroupFixture): VolumeGroupSnapshotContent {
  const annotations: Record<string, string> = { ...(f.annotations ?? {}) };
  if (f.deleting) annotations[ANN_GROUP_BEING_DELETED] = 'yes';
  const c: VolumeGroupSnapshotContent = {
    metadata: { name: f.name, resourceVersion: '1', ...(Object.keys(annotations).length ? { annotations } : {}) },
    spec: {
      volumeGroupSnapshotRef: { kind: 'VolumeGroupSnapshot', apiVersion: 'groupsnapshot.storage.k8s.io/v1beta2', uid: f.uid ?? '', namespace: 'default', name: `vgs-${f.name}` },
      deletionPolicy: f.policy ?? 'Delete',
      driver: f.driver ?? 'csi-mock-plugin',
      source: f.preHandle !== undefined
        ? { groupSnapshotHandles: { volumeGroupSnapshotHandle: f.preHandle, volumeSnapshotHandles: f.preSnapshots ?? [] } }
        : { volumeHandles: f.volumeHandles ?? ['vol-1', 'vol-2'] },
    },
  };
  if (f.className) c.spec.volumeGroupSnapshotClassName = f.className;
  if (f.finalizer) c.metadata.finalizers = [FINALIZER_GROUP_CONTENT];
  if (f.deleting || f.deletionTimestamp) c.metadata.deletionTimestamp = '2026-11-22T00:00:00Z';
  if (f.status !== undefined) c.status = f.status;
  return c;
}
