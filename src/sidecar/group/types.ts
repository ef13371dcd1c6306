/**
 * VolumeGroupSnapshotContents in the sidecar's own, version-free shape. The served API versions
 * (v1alpha1 in two schemas, v1beta1, v1beta2, v1) agree on metadata and spec and differ in how status lists the member
 * snapshots; `versions.ts` converts between this model and each of them, so nothing else in
 * the sidecar knows which version the cluster speaks.
 */
import type { KubeObject } from '../../kube/resources.js';
import type { DeletionPolicy, ObjectMeta, ObjectReference, SnapshotError } from '../types.js';

export interface GroupSnapshotHandles {
  volumeGroupSnapshotHandle: string;
  volumeSnapshotHandles: string[];
}

export interface VolumeGroupSnapshotContentSpec {
  volumeGroupSnapshotRef: ObjectReference;
  deletionPolicy: DeletionPolicy;
  driver: string;
  volumeGroupSnapshotClassName?: string;
  /** Exactly one of the two: volumes to snapshot (dynamic) or an existing group (pre-provisioned). */
  source: { volumeHandles?: string[]; groupSnapshotHandles?: GroupSnapshotHandles };
}

/** One member snapshot of a group. Fields a version cannot hold are dropped when written there. */
export interface GroupSnapshotMember {
  volumeHandle: string;
  snapshotHandle: string;
  /** Unix nanoseconds. */
  creationTime?: bigint;
  readyToUse?: boolean;
  /** Bytes. */
  restoreSize?: bigint;
  /**
   * v1alpha1 only: the member VolumeSnapshotContent's name. There the status lists members by this
   * name alone, so a member read back from the API has empty handles until its content is read.
   */
  contentName?: string;
  /** v1alpha1 v8.0–8.1 only: the PersistentVolume the member was cut from. */
  persistentVolumeName?: string;
}

export interface GroupContentStatus {
  volumeGroupSnapshotHandle?: string;
  /**
   * Unix nanoseconds, exact: v1alpha1 stores them as they are (int64); from v1beta1 on the API keeps
   * an RFC 3339 time of whole seconds, so a value read back from there is a whole second.
   */
  creationTime?: bigint;
  readyToUse?: boolean;
  error?: SnapshotError;
  /** The member snapshots as the driver reported them on the first successful create. */
  members?: GroupSnapshotMember[];
}

export interface VolumeGroupSnapshotContent {
  metadata: ObjectMeta;
  spec: VolumeGroupSnapshotContentSpec;
  status?: GroupContentStatus;
}

/** A VolumeGroupSnapshotContent as one API version serves it. */
export interface WireGroupContent extends KubeObject {
  metadata: ObjectMeta;
  spec: VolumeGroupSnapshotContentSpec;
  status?: Record<string, unknown>;
}

export interface VolumeGroupSnapshotClass extends KubeObject {
  metadata: ObjectMeta;
  driver: string;
  deletionPolicy: DeletionPolicy;
  parameters?: Record<string, string>;
}
