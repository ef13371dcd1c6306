import { describe, expect, test } from '@jest/globals';
import { VersionStore } from '../../../src/sidecar/engine/updates.js';
import { clearedGroupStatus, groupStatusUpdate, type GroupObservation } from '../../../src/sidecar/group/status.js';
import { memberFromSnapshot } from '../../../src/sidecar/group/kind.js';
import type { VolumeGroupSnapshotContent, WireGroupContent } from '../../../src/sidecar/group/types.js';
import { groupVersionAdapter, preferredGroupVersion, type GroupSnapshotVersion } from '../../../src/sidecar/group/versions.js';
import { errorStatusUpdate, type PatchOp } from '../../../src/sidecar/engine/patches.js';
import { applyJsonPatch } from '../../../src/testing/apiserver/patch.js';

const T = 1_763_773_512_123_456_789n;
// 2025-01-01T00:00:00Z
const OLD = 1_735_689_600_000_000_000n;
const apply = <O extends object>(obj: O, ops: PatchOp[]): O => applyJsonPatch(structuredClone(obj) as never, ops as never) as unknown as O;

describe('preferred served version', () => {
  test.each<[string[], GroupSnapshotVersion | undefined]>([
    [['v1beta1', 'v1beta2', 'v1'], 'v1'],
    [['v1beta1', 'v1beta2'], 'v1beta2'],
    [['v1beta1'], 'v1beta1'],
    [['v1alpha1'], undefined],
    [[], undefined],
  ])('%j → %s', (served, expected) => expect(preferredGroupVersion(served)).toBe(expected));
});

const members = [
  { volumeHandle: 'vol-1', snapshotHandle: 'snap-1', creationTime: T, readyToUse: false, restoreSize: 1024n },
  { volumeHandle: 'vol-2', snapshotHandle: 'snap-2', readyToUse: false },
];
// 2025-11-22T01:05:12.123456789Z: the group's time from the driver, with every digit.
const seenNotReady: GroupObservation = { groupSnapshotHandle: 'group-1', readyToUse: false, creationTime: T, members };

// Each version's expected wire layout of the member list.
const layouts: Array<[GroupSnapshotVersion, string, unknown[]]> = [
  ['v1beta1', 'volumeSnapshotHandlePairList', [{ volumeHandle: 'vol-1', snapshotHandle: 'snap-1' }, { volumeHandle: 'vol-2', snapshotHandle: 'snap-2' }]],
  ['v1beta2', 'volumeSnapshotInfoList', [{ volumeHandle: 'vol-1', snapshotHandle: 'snap-1', creationTime: T, readyToUse: false, restoreSize: 1024n }, { volumeHandle: 'vol-2', snapshotHandle: 'snap-2', readyToUse: false }]],
  ['v1', 'volumeSnapshotInfoList', [{ volumeHandle: 'vol-1', snapshotHandle: 'snap-1', creationTime: T, readyToUse: false, restoreSize: 1024n }, { volumeHandle: 'vol-2', snapshotHandle: 'snap-2', readyToUse: false }]],
];

describe.each(layouts)('group status in %s', (version, field, wireMembers) => {
  const adapter = groupVersionAdapter(version);

  test('Z-40 / H-25: no status → the whole status, members in this version\'s layout', () => {
    const ops = groupStatusUpdate(undefined, seenNotReady, adapter);
    expect(apply({ spec: {} }, ops)).toEqual({
      spec: {},
      status: { volumeGroupSnapshotHandle: 'group-1', readyToUse: false, creationTime: '2025-11-22T01:05:12Z', [field]: wireMembers },
    });
  });

  test('the wire object converts back to the same model (members lose only what the version cannot hold)', () => {
    const wire = apply({ metadata: { name: 'g' }, spec: { source: { volumeHandles: ['vol-1'] } } } as unknown as WireGroupContent, groupStatusUpdate(undefined, seenNotReady, adapter));
    const model = adapter.toModel(wire);
    expect(model.status?.volumeGroupSnapshotHandle).toBe('group-1');
    // Read back from RFC 3339: the whole second, which is all these versions keep.
    expect(model.status?.creationTime).toBe(1_763_773_512_000_000_000n);
    expect(model.status?.members).toEqual(version === 'v1beta1' ? members.map(({ volumeHandle, snapshotHandle }) => ({ volumeHandle, snapshotHandle })) : members);
  });

  test('int64 member values read as numbers become bigint in the model', () => {
    const model = adapter.toModel({ metadata: { name: 'g' }, spec: { source: {} }, status: { [field]: [{ volumeHandle: 'v', snapshotHandle: 's', creationTime: 5, restoreSize: 7 }] } } as unknown as WireGroupContent);
    expect(model.status?.members?.[0]).toEqual({ volumeHandle: 'v', snapshotHandle: 's', creationTime: 5n, restoreSize: 7n });
  });

  test('J-06: an existing handle is not overwritten, the empty member list is filled, readiness follows', () => {
    const current = { volumeGroupSnapshotHandle: 'old-handle', readyToUse: false, creationTime: OLD };
    const seen: GroupObservation = { groupSnapshotHandle: 'new-handle', readyToUse: true, creationTime: T, members: [{ volumeHandle: 'vol-1', snapshotHandle: 'snap-1', restoreSize: 1024n, readyToUse: true }] };
    const after = apply({ status: { ...current, creationTime: '2025-01-01T00:00:00Z' } }, groupStatusUpdate(current, seen, adapter));
    expect(after.status).toEqual({
      volumeGroupSnapshotHandle: 'old-handle',
      readyToUse: true,
      creationTime: '2025-01-01T00:00:00Z',
      [field]: adapter.membersToWire(seen.members),
    });
  });

  test('J-07: identical values and no members → no write at all (Go writes one PUT per poll)', () => {
    const current = { volumeGroupSnapshotHandle: 'h', readyToUse: true, creationTime: OLD };
    expect(groupStatusUpdate(current, { groupSnapshotHandle: 'h', readyToUse: true, creationTime: OLD, members: [] }, adapter)).toEqual([]);
  });

  test('Z-42: turning ready sets the group flag and drops a stale error; recorded members keep their first readiness', () => {
    const current = { volumeGroupSnapshotHandle: 'h', readyToUse: false, creationTime: OLD, error: { message: 'old' }, members: [{ volumeHandle: 'vol-1', snapshotHandle: 'snap-1', readyToUse: false }] };
    const ops = groupStatusUpdate(current, { groupSnapshotHandle: 'h', readyToUse: true, creationTime: OLD, members: [{ volumeHandle: 'vol-1', snapshotHandle: 'snap-1', readyToUse: true }] }, adapter);
    expect(ops).toEqual([{ op: 'add', path: '/status/readyToUse', value: true }, { op: 'remove', path: '/status/error' }]);
  });

  test('H-24: clearing after deletion removes handle, readiness, time and error, and keeps the members', () => {
    const wire = { status: { volumeGroupSnapshotHandle: 'group-handle-123', readyToUse: true, creationTime: '2025-01-01T00:00:00Z', error: { message: 'x' }, [field]: wireMembers } };
    const current = adapter.toModel({ metadata: { name: 'g' }, spec: { source: {} }, ...wire } as unknown as WireGroupContent).status;
    expect(apply(wire, clearedGroupStatus(current))).toEqual({ status: { [field]: wireMembers } });
  });

  test('H-01 / H-17 / H-18: the controller\'s store takes a new, an equal and a newer group content, refuses an older one, and forgets a deleted one', () => {
    const store = new VersionStore<VolumeGroupSnapshotContent>();
    const at = (rv: string) => adapter.toModel({ metadata: { name: 'g', resourceVersion: rv }, spec: { source: { volumeHandles: ['vol-1'] } } } as unknown as WireGroupContent);
    expect(store.offer(at('1')).stale).toBe(false);
    expect(store.get('g')?.metadata.resourceVersion).toBe('1');
    expect(store.offer(at('1')).stale).toBe(false);
    expect(store.offer(at('2')).stale).toBe(false);
    const older = store.offer(at('1'));
    expect(older.stale).toBe(true);
    expect(older.newest.metadata.resourceVersion).toBe('2');
    store.delete('g');
    expect(store.get('g')).toBeUndefined();
  });

  test('H-26: the error status of a content without status is the error and readyToUse false', () => {
    const now = new Date('2025-11-22T01:05:12.345Z');
    expect(apply({ spec: {} }, errorStatusUpdate(undefined, 'test error message', now))).toEqual({
      spec: {},
      status: { readyToUse: false, error: { time: '2025-11-22T01:05:12Z', message: 'test error message' } },
    });
  });
});

describe('members from CSI snapshots', () => {
  test('Z-41: size 0 and no creation time leave those fields out; readyToUse is always present', () => {
    expect(memberFromSnapshot({ snapshotId: 's', sourceVolumeId: 'v', creationTime: undefined, sizeBytes: 0n, readyToUse: false, groupSnapshotId: 'g' }))
      .toEqual({ volumeHandle: 'v', snapshotHandle: 's', readyToUse: false });
    expect(memberFromSnapshot({ snapshotId: 's', sourceVolumeId: 'v', creationTime: T, sizeBytes: 10n, readyToUse: true, groupSnapshotId: 'g' }))
      .toEqual({ volumeHandle: 'v', snapshotHandle: 's', readyToUse: true, creationTime: T, restoreSize: 10n });
  });
});

describe('the group creationTime each version stores', () => {
  test.each(['v1alpha1-v7', 'v1alpha1-v8'] as const)('%s: int64 nanoseconds with every digit the driver sent, written and read back unchanged', (mode) => {
    const adapter = groupVersionAdapter(mode);
    const wire = apply({ metadata: { name: 'g' }, spec: { source: { volumeHandles: ['vol-1'] } } } as unknown as WireGroupContent, groupStatusUpdate(undefined, seenNotReady, adapter));
    expect(wire.status?.creationTime).toBe(T);
    expect(adapter.toModel(wire).status?.creationTime).toBe(T);
    // A status without a time gains the exact value too.
    expect(groupStatusUpdate({ readyToUse: false, volumeGroupSnapshotHandle: 'group-1' }, { ...seenNotReady, members: [] }, adapter)).toEqual([{ op: 'add', path: '/status/creationTime', value: T }]);
    // Read as a plain number (small enough to be one), still the same integer.
    expect(adapter.toModel({ metadata: { name: 'g' }, spec: { source: {} }, status: { creationTime: 1_000_000_123 } } as unknown as WireGroupContent).status?.creationTime).toBe(1_000_000_123n);
  });

  test.each<[string, bigint, string]>([
    ['a time with a fraction: the second it falls in, never the next', T, '2025-11-22T01:05:12Z'],
    ['a whole second', 1_763_773_512_000_000_000n, '2025-11-22T01:05:12Z'],
    ['the last nanosecond of a second', 1_763_773_512_999_999_999n, '2025-11-22T01:05:12Z'],
    ['the epoch (no time from the driver)', 0n, '1970-01-01T00:00:00Z'],
    ['one nanosecond before 1970', -1n, '1969-12-31T23:59:59Z'],
    ['1.5 s before 1970', -1_500_000_000n, '1969-12-31T23:59:58Z'],
    ['a whole second before 1970', -1_000_000_000n, '1969-12-31T23:59:59Z'],
  ])('v1beta1, v1beta2 and v1: %s (RFC 3339 of whole seconds, as metav1.Time)', (_title, nanos, text) => {
    for (const version of ['v1beta1', 'v1beta2', 'v1'] as const) expect(groupVersionAdapter(version).timeToWire(nanos)).toBe(text);
  });
});
