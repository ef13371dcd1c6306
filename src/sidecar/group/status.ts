/**
 * JSON patches of a VolumeGroupSnapshotContent's status. Like the single-snapshot patches they touch
 * only the members they change (the Go sidecar PUTs the whole object), so fields written by others
 * and int64 values are never sent back, and a write that changes nothing is not sent at all.
 * Member lists go out in the layout of the served version (see group-versions.ts).
 */
import type { GroupVersionAdapter } from './versions.js';
import type { GroupContentStatus, GroupSnapshotMember } from './types.js';
import { readinessUpdate, removedStatusFields, type PatchOp } from '../engine/patches.js';

/** What a CSI call said about the group, as the status update takes it. */
export interface GroupObservation {
  groupSnapshotHandle: string;
  readyToUse: boolean;
  /** Unix nanoseconds as the driver reported them (each version's adapter writes its own form). */
  creationTime: bigint;
  /** Empty when the call reports no members (GetVolumeGroupSnapshot of a pre-provisioned group). */
  members: GroupSnapshotMember[];
}

/**
 * The status after a successful create or read: a whole new status when there is none; otherwise
 * missing fields are filled (the handle and creation time are never overwritten), readiness follows
 * the driver (a stale error goes when it turns ready), and the member list is written once, the
 * first time the driver reports members. Later replies do not rewrite the list (as in Go).
 */
export function groupStatusUpdate(current: GroupContentStatus | undefined, seen: GroupObservation, adapter: GroupVersionAdapter): PatchOp[] {
  if (!current) {
    return [{
      op: 'add',
      path: '/status',
      value: adapter.statusToWire({
        volumeGroupSnapshotHandle: seen.groupSnapshotHandle,
        readyToUse: seen.readyToUse,
        creationTime: seen.creationTime,
        members: seen.members,
      }),
    }];
  }
  const ops: PatchOp[] = [];
  if (current.volumeGroupSnapshotHandle === undefined) ops.push({ op: 'add', path: '/status/volumeGroupSnapshotHandle', value: seen.groupSnapshotHandle });
  ops.push(...readinessUpdate(current, seen.readyToUse));
  if (current.creationTime === undefined) ops.push({ op: 'add', path: '/status/creationTime', value: adapter.timeToWire(seen.creationTime) });
  if ((current.members?.length ?? 0) === 0 && seen.members.length > 0) {
    ops.push({ op: 'add', path: `/status/${adapter.membersField}`, value: adapter.membersToWire(seen.members) });
  }
  return ops;
}

/**
 * After DeleteVolumeGroupSnapshot: the group is gone, so its handle, readiness, time and error go
 * too. The member list stays (as in Go), a record of what the group held.
 */
export function clearedGroupStatus(current: GroupContentStatus | undefined): PatchOp[] {
  return removedStatusFields(current, ['volumeGroupSnapshotHandle', 'readyToUse', 'creationTime', 'error']);
}
