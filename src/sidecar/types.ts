/**
 * The API objects the sidecar reads and writes, as they come from the lossless JSON layer: int64
 * fields that exceed JavaScript's safe integers arrive as bigint, smaller ones as number.
 */
import type { KubeObject, ObjectMeta as KubeObjectMeta } from '../kube/resources.js';

export type Int64 = number | bigint;

/** Metadata of a stored object: the runtime's view, where the name is always present. */
export interface ObjectMeta extends KubeObjectMeta {
  name: string;
  creationTimestamp?: string;
}

export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

export type DeletionPolicy = 'Delete' | 'Retain';

export interface SnapshotError {
  time?: string;
  message?: string;
}

export interface VolumeSnapshotContentStatus {
  snapshotHandle?: string;
  creationTime?: Int64;
  restoreSize?: Int64;
  readyToUse?: boolean;
  error?: SnapshotError;
  volumeGroupSnapshotHandle?: string;
}

export interface VolumeSnapshotContent extends KubeObject {
  metadata: ObjectMeta;
  spec: {
    volumeSnapshotRef: ObjectReference;
    deletionPolicy: DeletionPolicy;
    driver: string;
    volumeSnapshotClassName?: string;
    source: { volumeHandle?: string; snapshotHandle?: string };
    sourceVolumeMode?: string | null;
  };
  status?: VolumeSnapshotContentStatus;
}

export interface VolumeSnapshotClass extends KubeObject {
  metadata: ObjectMeta;
  driver: string;
  deletionPolicy: DeletionPolicy;
  parameters?: Record<string, string>;
}
