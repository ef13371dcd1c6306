/**
 * The name sent in CreateSnapshot / CreateVolumeGroupSnapshot: `<prefix>-<uid part>`. It is the
 * driver's idempotency key, so it depends only on the VolumeSnapshot (or group) UID: a retry after a
 * crash or a leader change finds the same storage snapshot instead of cutting a second one.
 *
 * uuidLength -1 keeps the UID as it is; N >= 0 keeps the first N characters of the UID without dashes.
 */
export function csiSnapshotName(prefix: string, uid: string, uuidLength: number): string {
  if (uuidLength === -1) return `${prefix}-${uid}`;
  const compact = uid.replace(/-/g, '');
  if (uuidLength < 0 || uuidLength > compact.length) {
    throw new Error(`cannot build a snapshot name from UID ${uid}: a UID length of ${uuidLength} is outside 0..${compact.length} (or -1)`);
  }
  return `${prefix}-${compact.slice(0, uuidLength)}`;
}

/** A UID without dashes has 32 characters; longer settings would fail on every create (Go panics). */
export function validateUuidLength(flag: string, value: number): void {
  if (value < -1 || value > 32) throw new Error(`--${flag}=${value} is invalid: use -1 (whole UID) or 0..32`);
}
