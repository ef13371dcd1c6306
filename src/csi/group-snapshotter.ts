import type { CsiConnection } from './connection.js';
import type { csi } from './proto.js';
import { snapshotInfo, type CreateRequest, type SnapshotInfo } from './snapshotter.js';
import { timestampToNanos } from './timestamps.js';

/** What the driver said about one group snapshot, in plain values. */
export interface GroupSnapshotInfo {
  groupSnapshotId: string;
  snapshots: SnapshotInfo[];
  /** Unix nanoseconds; undefined when the driver sent no creation time. */
  creationTime: bigint | undefined;
  readyToUse: boolean;
}

function groupInfo(group: csi.VolumeGroupSnapshot__Output): GroupSnapshotInfo {
  return {
    groupSnapshotId: group.group_snapshot_id,
    snapshots: group.snapshots.map(snapshotInfo),
    creationTime: timestampToNanos(group.creation_time),
    readyToUse: group.ready_to_use,
  };
}

export interface CreateGroupSnapshotInput extends CreateRequest {
  sourceVolumeIds: string[];
}

/**
 * Cuts (or, repeated with the same name, re-reads) a group snapshot. As for single snapshots,
 * GetPluginInfo is not asked first: the driver's identity is read at start-up, and a replaced
 * driver ends the connection.
 */
export async function createGroupSnapshot(
  conn: CsiConnection,
  input: CreateGroupSnapshotInput,
  deadline: Date,
): Promise<{ group: GroupSnapshotInfo }> {
  const reply = await conn.call(
    '/csi.v1.GroupController/CreateVolumeGroupSnapshot',
    { name: input.name, source_volume_ids: input.sourceVolumeIds, parameters: input.parameters, secrets: input.secrets },
    deadline,
  );
  if (!reply.group_snapshot) throw new Error(`the CSI driver answered CreateVolumeGroupSnapshot for ${input.name} without a group snapshot`);
  // As for CreateSnapshot: ids are required, and a group or member without one could never be read or deleted.
  const group = reply.group_snapshot;
  if (!group.group_snapshot_id || group.snapshots.some((s) => !s.snapshot_id)) {
    throw new Error(`the CSI driver answered CreateVolumeGroupSnapshot for ${input.name} without a group snapshot id or a member snapshot id; the driver is at fault, report it to its vendor`);
  }
  return { group: groupInfo(group) };
}

export async function deleteGroupSnapshot(
  conn: CsiConnection,
  input: { groupSnapshotId: string; snapshotIds: string[]; secrets: Record<string, string> },
  deadline: Date,
): Promise<void> {
  await conn.call(
    '/csi.v1.GroupController/DeleteVolumeGroupSnapshot',
    { group_snapshot_id: input.groupSnapshotId, snapshot_ids: input.snapshotIds, secrets: input.secrets },
    deadline,
  );
}

export async function getGroupSnapshot(
  conn: CsiConnection,
  input: { groupSnapshotId: string; snapshotIds: string[]; secrets: Record<string, string> },
  deadline: Date,
): Promise<GroupSnapshotInfo> {
  const reply = await conn.call(
    '/csi.v1.GroupController/GetVolumeGroupSnapshot',
    { group_snapshot_id: input.groupSnapshotId, snapshot_ids: input.snapshotIds, secrets: input.secrets },
    deadline,
  );
  if (!reply.group_snapshot) throw new Error(`the CSI driver answered GetVolumeGroupSnapshot for ${input.groupSnapshotId} without a group snapshot`);
  return groupInfo(reply.group_snapshot);
}
