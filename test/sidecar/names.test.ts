import { describe, expect, test } from '@jest/globals';
import { csiSnapshotName, validateUuidLength } from '../../src/sidecar/names.js';

// Real Kubernetes UIDs are 36 characters with dashes at 8, 13, 18 and 23. The name sent to the
// driver keeps the first N characters of the UID *without* its dashes, so every N past 8 would go
// wrong if the dashes were kept.
const UID = '6f1d2c3a-9b8e-4d7c-a6b5-0123456789ab';
const COMPACT = '6f1d2c3a9b8e4d7ca6b50123456789ab';

describe('the name sent in CreateSnapshot / CreateVolumeGroupSnapshot', () => {
  test('-1 keeps the whole UID, dashes included', () => {
    expect(csiSnapshotName('snapshot', UID, -1)).toBe(`snapshot-${UID}`);
    expect(csiSnapshotName('groupsnapshot', UID, -1)).toBe(`groupsnapshot-${UID}`);
  });

  test.each(Array.from({ length: 33 }, (_, n) => n))('%i keeps that many characters of the dash-less UID', (n) => {
    const name = csiSnapshotName('snapshot', UID, n);
    expect(name).toBe(`snapshot-${COMPACT.slice(0, n)}`);
    expect(name.slice('snapshot-'.length)).not.toContain('-');
    expect(name).toHaveLength('snapshot-'.length + n);
  });

  test('lengths past the dash-less UID, or below -1, are refused with the UID named', () => {
    expect(() => csiSnapshotName('snapshot', UID, 33)).toThrow(`cannot build a snapshot name from UID ${UID}: a UID length of 33 is outside 0..32 (or -1)`);
    expect(() => csiSnapshotName('snapshot', UID, -2)).toThrow('a UID length of -2 is outside 0..32 (or -1)');
    expect(() => csiSnapshotName('snapshot', 'abc', 4)).toThrow('outside 0..3 (or -1)');
    expect(csiSnapshotName('snapshot', 'abc', 3)).toBe('snapshot-abc');
  });

  test('the flag accepts -1 and 0..32 only, naming itself in the refusal', () => {
    for (const n of [-1, 0, 1, 8, 31, 32]) expect(() => validateUuidLength('snapshot-name-uuid-length', n)).not.toThrow();
    expect(() => validateUuidLength('snapshot-name-uuid-length', -2)).toThrow('--snapshot-name-uuid-length=-2 is invalid: use -1 (whole UID) or 0..32');
    expect(() => validateUuidLength('groupsnapshot-name-uuid-length', 33)).toThrow('--groupsnapshot-name-uuid-length=33 is invalid: use -1 (whole UID) or 0..32');
  });
});
