import { kubeTime } from './messages.js';
import type { GroupContentStatus } from './group-types.js';
import type { ObjectMeta, VolumeSnapshotContentStatus } from './types.js';

/**
 * RFC 6902 operations, built from the object as last read. Every write touches only the fields it
 * changes (`add`/`remove` of single members), so values the sidecar did not set (creationTime
 * written by someone else, fields of newer API versions) are never sent back and stay bit-exact.
 */
export type PatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string };

export function pointer(...segments: string[]): string {
  return segments.map((s) => `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

export function addAnnotation(meta: ObjectMeta, key: string, value: string): PatchOp[] {
  if (meta.annotations?.[key] === value) return [];
  if (!meta.annotations) return [{ op: 'add', path: '/metadata/annotations', value: { [key]: value } }];
  return [{ op: 'add', path: pointer('metadata', 'annotations', key), value }];
}

export function removeAnnotation(meta: ObjectMeta, key: string): PatchOp[] {
  if (!meta.annotations || !(key in meta.annotations)) return [];
  return [{ op: 'remove', path: pointer('metadata', 'annotations', key) }];
}

/**
 * Removes one finalizer by position, guarded by a `test` of that position: if another controller
 * changed the list meanwhile the patch fails (and is retried from a fresh read) instead of
 * overwriting the list with a stale copy.
 */
export function removeFinalizer(meta: ObjectMeta, finalizer: string): PatchOp[] {
  const index = meta.finalizers?.indexOf(finalizer) ?? -1;
  if (index < 0) return [];
  const path = pointer('metadata', 'finalizers', String(index));
  return [{ op: 'test', path, value: finalizer }, { op: 'remove', path }];
}

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
  if (current.readyToUse !== seen.readyToUse) {
    ops.push({ op: 'add', path: '/status/readyToUse', value: seen.readyToUse });
    if (seen.readyToUse && current.error !== undefined) ops.push({ op: 'remove', path: '/status/error' });
  }
  return ops;
}

/**
 * Records a failed attempt: the error with its time, and readyToUse false. No operations when the
 * same message is already recorded, so a failure that repeats on every retry is written (and
 * announced by an Event) once. Shared by VolumeSnapshotContents and VolumeGroupSnapshotContents,
 * whose error fields have the same shape.
 */
export function errorStatusUpdate(current: VolumeSnapshotContentStatus | GroupContentStatus | undefined, message: string, now: Date): PatchOp[] {
  if (current?.error?.message === message) return [];
  const error = { time: kubeTime(now), message };
  if (!current) return [{ op: 'add', path: '/status', value: { readyToUse: false, error } }];
  return [
    { op: 'add', path: '/status/error', value: error },
    { op: 'add', path: '/status/readyToUse', value: false },
  ];
}

/** After DeleteSnapshot: the snapshot is gone, so its handle, readiness, time and size go too. */
export function clearedStatus(current: VolumeSnapshotContentStatus | undefined): PatchOp[] {
  if (!current) return [];
  return (['snapshotHandle', 'readyToUse', 'creationTime', 'restoreSize'] as const)
    .filter((field) => current[field] !== undefined)
    .map((field) => ({ op: 'remove', path: `/status/${field}` }));
}
