import { kubeTime } from '../messages.js';
import type { GroupContentStatus } from '../group/types.js';
import type { ObjectMeta, VolumeSnapshotContentStatus } from '../types.js';

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

/**
 * Adds one annotation. When the copy read has none, the whole map has to be added, and an `add` of
 * a map replaces the one stored: annotations another client wrote since (the snapshot-controller's
 * being-deleted mark, say) would be wiped. A `test` that the map is still absent guards it; the
 * patch then fails (HTTP 422) rather than overwrite, see `isStaleGuard`.
 */
export function addAnnotation(meta: ObjectMeta, key: string, value: string): PatchOp[] {
  if (meta.annotations?.[key] === value) return [];
  if (!meta.annotations) {
    return [
      { op: 'test', path: '/metadata/annotations', value: null },
      { op: 'add', path: '/metadata/annotations', value: { [key]: value } },
    ];
  }
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

/**
 * readyToUse following the driver; a stale error goes when the snapshot turns ready. The same rule
 * for single and group contents.
 */
export function readinessUpdate(current: { readyToUse?: boolean; error?: unknown }, ready: boolean): PatchOp[] {
  if (current.readyToUse === ready) return [];
  const ops: PatchOp[] = [{ op: 'add', path: '/status/readyToUse', value: ready }];
  if (ready && current.error !== undefined) ops.push({ op: 'remove', path: '/status/error' });
  return ops;
}

/** Removes the given status fields that are set (what a deletion clears). */
export function removedStatusFields<S extends object>(current: S | undefined, fields: readonly (keyof S & string)[]): PatchOp[] {
  if (!current) return [];
  return fields.filter((field) => current[field] !== undefined).map((field) => ({ op: 'remove', path: `/status/${field}` }));
}
