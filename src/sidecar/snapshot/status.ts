import { readinessUpdate, removedStatusFields, type PatchOp } from '../engine/patches.js';
import type { VolumeSnapshotContentStatus } from '../types.js';

/** What a CSI call said about the snapshot, as the status update takes it. */
export interface SnapshotObservation {
  snapshotHandle: string;
  readyToUse: boolean;
  /** Unix nanoseconds. */
  creationTime: bigint;
  sizeBytes: bigint;
  groupSnapshotHandle: string;
}

/**
 * The status update of a VolumeSnapshotContent after a successful CSI call: a new status when there
 * is none; otherwise only missing fields are filled (handle, creation time and size are never
 * overwritten), readyToUse follows the driver, and a stale error is dropped when the snapshot turns
 * ready. Returns no operations when nothing changes (so no write is sent).
 */
export function contentStatusUpdate(current: VolumeSnapshotContentStatus | undefined, seen: SnapshotObservation): PatchOp[] {
  if (!current) {
    const status: VolumeSnapshotContentStatus = {
      snapshotHandle: seen.snapshotHandle,
      readyToUse: seen.readyToUse,
      creationTime: seen.creationTime,
    };
    if (seen.sizeBytes > 0n) status.restoreSize = seen.sizeBytes;
    if (seen.groupSnapshotHandle) status.volumeGroupSnapshotHandle = seen.groupSnapshotHandle;
    return [{ op: 'add', path: '/status', value: status }];
  }
  const ops: PatchOp[] = [];
  if (current.snapshotHandle === undefined) ops.push({ op: 'add', path: '/status/snapshotHandle', value: seen.snapshotHandle });
  if (current.creationTime === undefined) ops.push({ op: 'add', path: '/status/creationTime', value: seen.creationTime });
  if (current.restoreSize === undefined && seen.sizeBytes > 0n) ops.push({ op: 'add', path: '/status/restoreSize', value: seen.sizeBytes });
  if (current.volumeGroupSnapshotHandle === undefined && seen.groupSnapshotHandle) {
    ops.push({ op: 'add', path: '/status/volumeGroupSnapshotHandle', value: seen.groupSnapshotHandle });
  }
  ops.push(...readinessUpdate(current, seen.readyToUse));
  return ops;
}

/** After DeleteSnapshot: the snapshot is gone, so its handle, readiness, time and size go too. */
export function clearedStatus(current: VolumeSnapshotContentStatus | undefined): PatchOp[] {
  return removedStatusFields(current, ['snapshotHandle', 'readyToUse', 'creationTime', 'restoreSize']);
}
