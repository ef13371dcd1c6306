import { ANN_GROUP_BEING_CREATED, ANN_GROUP_BEING_DELETED } from '../keys.js';
import type { VolumeGroupSnapshotContent } from './types.js';

/**
 * The one next step for a VolumeGroupSnapshotContent, decided from the object alone. Level-triggered
 * like the single-snapshot decision: a crash or a leader change resumes from the stored object.
 */
export type GroupStep =
  /** DeleteVolumeGroupSnapshot, clear status, release the finalizer. */
  | { kind: 'delete' }
  /** Deletion without storage work (policy Retain, or nothing was ever cut): release the finalizer. */
  | { kind: 'release' }
  /** CreateVolumeGroupSnapshot (first create, or again while nothing usable is recorded). */
  | { kind: 'create'; reason: GroupFailureReason }
  /** The group is recorded in status; the being-created mark has done its job. */
  | { kind: 'remove-being-created' }
  /** Pre-provisioned: read the group with GetVolumeGroupSnapshot. */
  | { kind: 'refresh' }
  /** A dynamic group recorded but not ready: GetVolumeGroupSnapshot, write only on change. */
  | { kind: 'poll' }
  /** Ready, or deleted without the controller's go-ahead: nothing to do until the object changes. */
  | { kind: 'nothing' };

export type GroupFailureReason = 'GroupSnapshotCreationFailed' | 'GroupSnapshotContentCheckandUpdateFailed';

function annotated(content: VolumeGroupSnapshotContent, key: string): boolean {
  return key in (content.metadata.annotations ?? {});
}

/**
 * May the group deletion path run? Only with a deletionTimestamp, and then: at once for an unbound
 * pre-provisioned group; never while a create may still be cutting the group; otherwise once the
 * snapshot-controller has set its being-deleted mark.
 */
export function shouldDeleteGroup(content: VolumeGroupSnapshotContent): boolean {
  if (!content.metadata.deletionTimestamp) return false;
  if (content.spec.source.groupSnapshotHandles && !content.spec.volumeGroupSnapshotRef.uid) return true;
  if (annotated(content, ANN_GROUP_BEING_CREATED)) return false;
  return annotated(content, ANN_GROUP_BEING_DELETED);
}

/** The group id the storage knows this content by, if any. */
export function recordedGroupHandle(content: VolumeGroupSnapshotContent): string | undefined {
  return content.status?.volumeGroupSnapshotHandle || content.spec.source.groupSnapshotHandles?.volumeGroupSnapshotHandle || undefined;
}

export function decideGroup(content: VolumeGroupSnapshotContent): GroupStep {
  if (shouldDeleteGroup(content)) {
    // A pre-provisioned group names its storage in spec even before its status was first written;
    // with policy Delete that group must go too.
    return content.spec.deletionPolicy === 'Delete' && recordedGroupHandle(content) ? { kind: 'delete' } : { kind: 'release' };
  }
  const status = content.status;
  const dynamic = (content.spec.source.volumeHandles?.length ?? 0) > 0;
  if (dynamic && !status) return { kind: 'create', reason: 'GroupSnapshotCreationFailed' };

  const beingCreated = annotated(content, ANN_GROUP_BEING_CREATED);
  if (status?.readyToUse === true) return beingCreated ? { kind: 'remove-being-created' } : { kind: 'nothing' };
  if (content.spec.source.groupSnapshotHandles) return { kind: 'refresh' };

  // A dynamic group that is not ready. Once its handle and members are recorded, the storage group
  // is tracked: the mark can go (a slow group never blocks a deletion) and readiness is read with
  // GetVolumeGroupSnapshot, which writes nothing while nothing changes.
  if (status?.volumeGroupSnapshotHandle && (status.members?.length ?? 0) > 0) {
    return beingCreated ? { kind: 'remove-being-created' } : { kind: 'poll' };
  }
  return { kind: 'create', reason: 'GroupSnapshotContentCheckandUpdateFailed' };
}
