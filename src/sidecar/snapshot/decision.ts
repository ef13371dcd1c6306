import { ANN_BEING_CREATED, ANN_BEING_DELETED, ANN_GROUP_MEMBER } from '../keys.js';
import type { VolumeSnapshotContent } from '../types.js';

/**
 * The one next step for a VolumeSnapshotContent, decided from the object alone (and what the driver
 * can do). Level-triggered: the same object always gives the same step, so a crash or a leader change
 * anywhere resumes from the API server's state.
 */
export type ContentStep =
  /** Deletion path: DeleteSnapshot when the policy says so, clear status, release the finalizer. */
  | { kind: 'delete' }
  /** Call CreateSnapshot (first create, or the Go-style readiness poll). `reason` labels a failure. */
  | { kind: 'create'; reason: 'SnapshotCreationFailed' | 'SnapshotContentCheckandUpdateFailed' }
  /** The snapshot is recorded in status; the being-created mark has done its job. */
  | { kind: 'remove-being-created' }
  /** Refresh status with ListSnapshots (pre-provisioned or group member). */
  | { kind: 'refresh' }
  /** A dynamic snapshot with a recorded handle that is not ready yet: ask ListSnapshots, write only on change. */
  | { kind: 'poll' }
  /** A group member whose status the snapshot-controller has not written yet: look again later. */
  | { kind: 'wait-for-controller' }
  /** Ready, or deleted without the controller's go-ahead: nothing to do until the object changes. */
  | { kind: 'nothing' };

export interface DriverAbilities {
  /** The driver advertises LIST_SNAPSHOTS. */
  listSnapshots: boolean;
}

export function isGroupMember(content: VolumeSnapshotContent): boolean {
  return ANN_GROUP_MEMBER in (content.metadata.annotations ?? {});
}

/**
 * May the sidecar run the deletion path? Only with a deletionTimestamp, and then: at once for an
 * unbound pre-provisioned content; never while a create may still be cutting a snapshot (the
 * being-created mark); otherwise only once the snapshot-controller has said so (being-deleted).
 */
export function shouldDelete(content: VolumeSnapshotContent): boolean {
  if (!content.metadata.deletionTimestamp) return false;
  if (content.spec.source.snapshotHandle && !content.spec.volumeSnapshotRef.uid) return true;
  const annotations = content.metadata.annotations ?? {};
  if (ANN_BEING_CREATED in annotations) return false;
  return ANN_BEING_DELETED in annotations;
}

export function decideContent(content: VolumeSnapshotContent, driver: DriverAbilities): ContentStep {
  if (shouldDelete(content)) return { kind: 'delete' };
  const status = content.status;
  const member = isGroupMember(content);
  if (content.spec.source.volumeHandle && !status && !member) return { kind: 'create', reason: 'SnapshotCreationFailed' };

  const beingCreated = ANN_BEING_CREATED in (content.metadata.annotations ?? {});
  if (status?.readyToUse === true) return beingCreated ? { kind: 'remove-being-created' } : { kind: 'nothing' };

  if (content.spec.source.snapshotHandle || (status?.volumeGroupSnapshotHandle && status.snapshotHandle)) return { kind: 'refresh' };
  if (member) return { kind: 'wait-for-controller' };

  // A dynamic snapshot that is not ready. Once its handle is in status, the storage snapshot is
  // tracked: the being-created mark can go (so a deletion is never blocked by a slow upload), and a
  // driver with LIST_SNAPSHOTS can be asked about readiness without any API write.
  if (status?.snapshotHandle) {
    if (beingCreated) return { kind: 'remove-being-created' };
    if (driver.listSnapshots) return { kind: 'poll' };
  }
  return { kind: 'create', reason: 'SnapshotContentCheckandUpdateFailed' };
}
