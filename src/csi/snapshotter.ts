import type { CsiConnection } from './connection.js';
import type { csi } from './proto.js';
import { nowNanos, timestampToNanos } from './timestamps.js';

/** What the driver said about one snapshot, in plain values. */
export interface SnapshotInfo {
  snapshotId: string;
  sourceVolumeId: string;
  /** Unix nanoseconds; undefined when the driver sent no creation time. */
  creationTime: bigint | undefined;
  /** Bytes; 0 when the driver does not know. */
  sizeBytes: bigint;
  readyToUse: boolean;
  /** Non-empty for a member of a group snapshot. */
  groupSnapshotId: string;
}

export function snapshotInfo(snapshot: csi.Snapshot__Output): SnapshotInfo {
  return {
    snapshotId: snapshot.snapshot_id,
    sourceVolumeId: snapshot.source_volume_id,
    creationTime: timestampToNanos(snapshot.creation_time),
    // Stryker disable next-line StringLiteral: BigInt('') is 0n as well.
    sizeBytes: BigInt(snapshot.size_bytes || '0'),
    readyToUse: snapshot.ready_to_use,
    groupSnapshotId: snapshot.group_snapshot_id,
  };
}

/** What every create call (single or group) sends besides its source. */
export interface CreateRequest {
  /** The idempotency key: the same name returns the snapshot already cut. */
  name: string;
  parameters: Record<string, string>;
  secrets: Record<string, string>;
}

export interface CreateSnapshotInput extends CreateRequest {
  sourceVolumeId: string;
}

/**
 * Cuts (or, repeated with the same name, re-reads) a snapshot. Unlike the Go sidecar, GetPluginInfo
 * is not asked first: the driver's identity is read at start-up, and a replaced driver process ends
 * the connection (and the sidecar).
 */
export async function createSnapshot(
  conn: CsiConnection,
  input: CreateSnapshotInput,
  deadline: Date,
): Promise<{ snapshot: SnapshotInfo }> {
  const reply = await conn.call(
    '/csi.v1.Controller/CreateSnapshot',
    { name: input.name, source_volume_id: input.sourceVolumeId, parameters: input.parameters, secrets: input.secrets },
    deadline,
  );
  if (!reply.snapshot) throw new Error(`the CSI driver answered CreateSnapshot for ${input.name} without a snapshot`);
  // snapshot_id is required by CSI. Without it the snapshot could never be read, restored or
  // deleted, so the answer is refused (the driver may still have cut it: the create stays open).
  if (!reply.snapshot.snapshot_id) throw new Error(`the CSI driver answered CreateSnapshot for ${input.name} without a snapshot id; the driver is at fault, report it to its vendor`);
  return { snapshot: snapshotInfo(reply.snapshot) };
}

export async function deleteSnapshot(
  conn: CsiConnection,
  input: { snapshotId: string; secrets: Record<string, string> },
  deadline: Date,
): Promise<void> {
  await conn.call('/csi.v1.Controller/DeleteSnapshot', { snapshot_id: input.snapshotId, secrets: input.secrets }, deadline);
}

export interface SnapshotStatus {
  readyToUse: boolean;
  /** Unix nanoseconds; undefined when unknown. */
  creationTime: bigint | undefined;
  sizeBytes: bigint;
  groupSnapshotId: string;
}

/**
 * The current state of an existing snapshot. With LIST_SNAPSHOTS the driver is asked by id; a driver
 * without it cannot be asked, so the snapshot is taken as ready now (the CSI rule for such drivers).
 * `listSnapshotsSupported` skips the capability query when the caller already knows the answer.
 */
export async function getSnapshotStatus(
  conn: CsiConnection,
  input: { snapshotId: string; secrets: Record<string, string>; listSnapshotsSupported?: boolean },
  deadline: Date,
): Promise<SnapshotStatus> {
  let supported = input.listSnapshotsSupported;
  if (supported === undefined) {
    const caps = await conn.call('/csi.v1.Controller/ControllerGetCapabilities', {}, deadline);
    supported = caps.capabilities.some((c) => c.rpc?.type === 'LIST_SNAPSHOTS');
  }
  if (!supported) return { readyToUse: true, creationTime: nowNanos(), sizeBytes: 0n, groupSnapshotId: '' };
  const reply = await conn.call('/csi.v1.Controller/ListSnapshots', { snapshot_id: input.snapshotId, secrets: input.secrets }, deadline);
  const first = reply.entries[0]?.snapshot;
  if (!first) throw new Error(`can not find snapshot for snapshotID ${input.snapshotId}`);
  const info = snapshotInfo(first);
  return { readyToUse: info.readyToUse, creationTime: info.creationTime, sizeBytes: info.sizeBytes, groupSnapshotId: info.groupSnapshotId };
}
