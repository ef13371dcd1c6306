import { describe, expect, test } from '@jest/globals';
import { applyJsonPatch } from '../../../src/testing/apiserver/patch.js';
import { addAnnotation, errorStatusUpdate, pointer, removeAnnotation, removeFinalizer, type PatchOp } from '../../../src/sidecar/engine/patches.js';
import { clearedStatus, contentStatusUpdate } from '../../../src/sidecar/snapshot/status.js';
import { FINALIZER_CONTENT } from '../../../src/sidecar/keys.js';
import { ANN_BEING_CREATED, content } from '../snapshot/fixtures.js';

const T = 1_763_773_512_123_456_789n;
// Applied with the test API server's JSON patch, which follows the real API server's rules.
const apply = <O extends object>(obj: O, ops: PatchOp[]): O => applyJsonPatch(structuredClone(obj) as never, ops as never) as unknown as O;

describe('status updates', () => {
  test('F-02: no status → the whole status with handle, readiness, time and size', () => {
    const ops = contentStatusUpdate(undefined, { snapshotHandle: 'snapuid1-2', readyToUse: true, creationTime: T, sizeBytes: 1000n, groupSnapshotHandle: '' });
    expect(ops).toEqual([{ op: 'add', path: '/status', value: { snapshotHandle: 'snapuid1-2', readyToUse: true, creationTime: T, restoreSize: 1000n } }]);
  });

  test('F-01: an existing handle, size and time are never overwritten; readiness follows the driver', () => {
    const current = { snapshotHandle: 'sid1-1', restoreSize: 1000, readyToUse: false };
    const ops = contentStatusUpdate(current, { snapshotHandle: 'snapuid1-1', readyToUse: true, creationTime: T, sizeBytes: 0n, groupSnapshotHandle: '' });
    expect(apply({ status: current }, ops).status).toEqual({ snapshotHandle: 'sid1-1', restoreSize: 1000, readyToUse: true, creationTime: T });
  });

  test('F-08: nothing changed → no write at all', () => {
    const current = { snapshotHandle: 's', restoreSize: 1000, readyToUse: false, creationTime: T };
    expect(contentStatusUpdate(current, { snapshotHandle: 's', readyToUse: false, creationTime: T + 5n, sizeBytes: 1000n, groupSnapshotHandle: '' })).toEqual([]);
  });

  test('a stale error is kept while not ready and dropped when the snapshot turns ready', () => {
    const current = { snapshotHandle: 's', readyToUse: false, creationTime: T, error: { message: 'old', time: 't' } };
    expect(contentStatusUpdate(current, { snapshotHandle: 's', readyToUse: false, creationTime: T, sizeBytes: 0n, groupSnapshotHandle: '' })).toEqual([]);
    const ready = apply({ status: current }, contentStatusUpdate(current, { snapshotHandle: 's', readyToUse: true, creationTime: T, sizeBytes: 0n, groupSnapshotHandle: '' }));
    expect(ready.status).toEqual({ snapshotHandle: 's', readyToUse: true, creationTime: T });
  });

  test('K-28/Z-37: size 0 is not written; a group id is written once', () => {
    const ops = contentStatusUpdate({}, { snapshotHandle: 's', readyToUse: false, creationTime: 0n, sizeBytes: 0n, groupSnapshotHandle: 'g' });
    expect(apply({ status: {} }, ops).status).toEqual({ snapshotHandle: 's', creationTime: 0n, volumeGroupSnapshotHandle: 'g', readyToUse: false });
    // Once recorded it is not written again, even when the driver reports another one.
    const recorded = apply({ status: {} }, ops).status;
    expect(contentStatusUpdate(recorded, { snapshotHandle: 's', readyToUse: false, creationTime: 0n, sizeBytes: 0n, groupSnapshotHandle: 'g' })).toEqual([]);
    expect(contentStatusUpdate(recorded, { snapshotHandle: 's', readyToUse: false, creationTime: 0n, sizeBytes: 0n, groupSnapshotHandle: 'other' })).toEqual([]);
  });

  test('F-03: an error status on an object without status, then on one with status; the same message is not written twice (Z-36)', () => {
    const now = new Date('2026-11-22T01:02:03.456Z');
    expect(errorStatusUpdate(undefined, 'boom', now)).toEqual([{ op: 'add', path: '/status', value: { readyToUse: false, error: { time: '2026-11-22T01:02:03Z', message: 'boom' } } }]);
    const current = { snapshotHandle: 'sid1-6', restoreSize: 1000, readyToUse: false };
    const after = apply({ status: current }, errorStatusUpdate(current, 'boom', now));
    expect(after.status).toEqual({ snapshotHandle: 'sid1-6', restoreSize: 1000, readyToUse: false, error: { time: '2026-11-22T01:02:03Z', message: 'boom' } });
    expect(errorStatusUpdate(after.status, 'boom', now)).toEqual([]);
  });

  test('G-01: after DeleteSnapshot, handle/readiness/time/size are removed; error and group handle stay', () => {
    const current = { snapshotHandle: 's', readyToUse: true, creationTime: T, restoreSize: 5, error: { message: 'e' }, volumeGroupSnapshotHandle: 'g' };
    expect(apply({ status: current }, clearedStatus(current)).status).toEqual({ error: { message: 'e' }, volumeGroupSnapshotHandle: 'g' });
    expect(clearedStatus(undefined)).toEqual([]);
  });
});

describe('metadata patches', () => {
  test('being-created is added to existing annotations or as the first one, and removed by key', () => {
    const none = content({ name: 'c' });
    expect(apply(none, addAnnotation(none.metadata, ANN_BEING_CREATED, 'yes')).metadata.annotations).toEqual({ [ANN_BEING_CREATED]: 'yes' });
    const some = content({ name: 'c', annotations: { other: 'x' } });
    const added = apply(some, addAnnotation(some.metadata, ANN_BEING_CREATED, 'yes'));
    expect(added.metadata.annotations).toEqual({ other: 'x', [ANN_BEING_CREATED]: 'yes' });
    expect(addAnnotation(added.metadata, ANN_BEING_CREATED, 'yes')).toEqual([]);
    expect(apply(added, removeAnnotation(added.metadata, ANN_BEING_CREATED)).metadata.annotations).toEqual({ other: 'x' });
    expect(removeAnnotation(some.metadata, ANN_BEING_CREATED)).toEqual([]);
    expect(pointer('metadata', 'annotations', ANN_BEING_CREATED)).toBe('/metadata/annotations/snapshot.storage.kubernetes.io~1volumesnapshot-being-created');
  });

  test('the first annotation is added under a guard that the map is still absent: annotations written since by someone else are never replaced', () => {
    const none = content({ name: 'c' });
    const ops = addAnnotation(none.metadata, ANN_BEING_CREATED, 'yes');
    expect(ops).toEqual([
      { op: 'test', path: '/metadata/annotations', value: null },
      { op: 'add', path: '/metadata/annotations', value: { [ANN_BEING_CREATED]: 'yes' } },
    ]);
    // The stored object got the controller's being-deleted mark after this copy was read.
    const stored = content({ name: 'c', annotations: { 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted': 'yes' } });
    expect(() => apply(stored, ops)).toThrow('testing value /metadata/annotations failed');
  });

  test('K-01: the finalizer is removed by position under a test guard; others stay in order', () => {
    const c = content({ name: 'c', finalizer: true });
    c.metadata.finalizers = ['a', FINALIZER_CONTENT, 'b'];
    const ops = removeFinalizer(c.metadata, FINALIZER_CONTENT);
    expect(ops[0]).toEqual({ op: 'test', path: '/metadata/finalizers/1', value: FINALIZER_CONTENT });
    expect(apply(c, ops).metadata.finalizers).toEqual(['a', 'b']);
    // If the list moved meanwhile, the guard makes the patch fail instead of removing someone else's finalizer.
    const moved = { ...c, metadata: { ...c.metadata, finalizers: ['x', 'a', FINALIZER_CONTENT] } };
    expect(() => apply(moved, ops)).toThrow();
    expect(removeFinalizer(content({ name: 'c' }).metadata, FINALIZER_CONTENT)).toEqual([]);
  });
});
