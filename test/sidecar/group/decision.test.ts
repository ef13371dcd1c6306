import { describe, expect, test } from '@jest/globals';
import { decideGroup, shouldDeleteGroup, type GroupStep } from '../../../src/sidecar/group/decision.js';
import { isGroupForDriver } from '../../../src/sidecar/group/filter.js';
import { ANN_GROUP_BEING_CREATED } from '../../../src/sidecar/keys.js';
import type { VolumeGroupSnapshotClass } from '../../../src/sidecar/group/types.js';
import { groupContent, type GroupFixture } from './fixtures.js';

const member = { volumeHandle: 'vol-1', snapshotHandle: 'snap-1' };

describe('shouldDeleteGroup (H-02..H-06)', () => {
  test.each<[string, GroupFixture, boolean]>([
    ['H-02: DeletionTimestamp is nil', { name: 'g', uid: 'u' }, false],
    ['H-03: content is not bound (pre-provisioned)', { name: 'g', preHandle: 'gh', preSnapshots: ['s1'], deletionTimestamp: true }, true],
    ['H-04: being-created wins over being-deleted', { name: 'g', uid: 'u', deleting: true, annotations: { [ANN_GROUP_BEING_CREATED]: 'yes' } }, false],
    ['H-05: being-deleted set', { name: 'g', uid: 'u', deleting: true }, true],
    ['H-06: no other case matches', { name: 'g', uid: 'some-uid', deletionTimestamp: true }, false],
  ])('%s → %s', (_name, fixture, expected) => expect(shouldDeleteGroup(groupContent(fixture))).toBe(expected));
});

describe('decideGroup (rules GD, GF, GC, GR, GS1, GS2)', () => {
  test.each<[string, GroupFixture, GroupStep]>([
    ['GC / J-13: dynamic, no status → create', { name: 'g', uid: 'u', className: 'class-a' }, { kind: 'create', reason: 'GroupSnapshotCreationFailed' }],
    ['H-44 / GS2: dynamic with an empty status → create again', { name: 'g', uid: 'u', className: 'class-a', status: {} }, { kind: 'create', reason: 'GroupSnapshotContentCheckandUpdateFailed' }],
    ['GS2: after an error, nothing recorded → create again', { name: 'g', uid: 'u', status: { readyToUse: false, error: { message: 'x' } } }, { kind: 'create', reason: 'GroupSnapshotContentCheckandUpdateFailed' }],
    ['GS2: handle and members recorded, not ready → poll with GetVolumeGroupSnapshot', { name: 'g', uid: 'u', status: { volumeGroupSnapshotHandle: 'gh', readyToUse: false, members: [member] } }, { kind: 'poll' }],
    ['handle recorded but no members yet → create again', { name: 'g', uid: 'u', status: { volumeGroupSnapshotHandle: 'gh', readyToUse: false } }, { kind: 'create', reason: 'GroupSnapshotContentCheckandUpdateFailed' }],
    ['recorded, not ready, being-created left by a crash → remove it', { name: 'g', uid: 'u', status: { volumeGroupSnapshotHandle: 'gh', readyToUse: false, members: [member] }, annotations: { [ANN_GROUP_BEING_CREATED]: 'yes' } }, { kind: 'remove-being-created' }],
    ['H-30 / GR: ready with being-created → remove it', { name: 'g', uid: 'u', status: { readyToUse: true }, annotations: { [ANN_GROUP_BEING_CREATED]: 'yes' } }, { kind: 'remove-being-created' }],
    ['GR: ready → nothing', { name: 'g', uid: 'u', status: { readyToUse: true, volumeGroupSnapshotHandle: 'gh' } }, { kind: 'nothing' }],
    ['GS1 / J-08: pre-provisioned without status → refresh', { name: 'g', preHandle: 'gh', preSnapshots: ['s1'] }, { kind: 'refresh' }],
    ['GS1 / J-10: pre-provisioned not ready → refresh', { name: 'g', preHandle: 'gh', preSnapshots: ['s1'], status: { readyToUse: false } }, { kind: 'refresh' }],
    ['GD / Z-44 / J-04: Delete policy with a status handle → delete', { name: 'g', uid: 'u', deleting: true, finalizer: true, status: { volumeGroupSnapshotHandle: 'gh', members: [member] } }, { kind: 'delete' }],
    ['GD / Z-45: unbound pre-provisioned, Delete → delete (ids from spec)', { name: 'g', preHandle: 'gh', preSnapshots: ['s1'], deletionTimestamp: true, status: { volumeGroupSnapshotHandle: 'gh' } }, { kind: 'delete' }],
    ['pre-provisioned, Delete, never refreshed → delete by the spec handle', { name: 'g', preHandle: 'gh', preSnapshots: ['s1'], deletionTimestamp: true }, { kind: 'delete' }],
    ['GF / H-29: Retain policy → release the finalizer only', { name: 'g', uid: 'u', policy: 'Retain', deleting: true, finalizer: true, status: { volumeGroupSnapshotHandle: 'gh' } }, { kind: 'release' }],
    ['GF / Z-46: Delete policy, no status handle → release only', { name: 'g', uid: 'u', deleting: true, finalizer: true, status: {} }, { kind: 'release' }],
    ['H-06: deletionTimestamp without the go-ahead, ready → nothing', { name: 'g', uid: 'u', deletionTimestamp: true, status: { readyToUse: true, volumeGroupSnapshotHandle: 'gh' } }, { kind: 'nothing' }],
    ['H-04: being deleted while a create may run → keep creating', { name: 'g', uid: 'u', deleting: true, annotations: { [ANN_GROUP_BEING_CREATED]: 'yes' }, status: { readyToUse: false, error: { message: 'x' } } }, { kind: 'create', reason: 'GroupSnapshotContentCheckandUpdateFailed' }],
  ])('%s', (_name, fixture, expected) => expect(decideGroup(groupContent(fixture))).toEqual(expected));
});

describe('isGroupForDriver (H-32..H-37)', () => {
  const classes = new Map<string, VolumeGroupSnapshotClass>([
    ['class-match', { metadata: { name: 'class-match' }, driver: 'csi-mock-plugin', deletionPolicy: 'Delete' }],
    ['class-other', { metadata: { name: 'class-other' }, driver: 'other-driver', deletionPolicy: 'Delete' }],
  ]);
  const lookup = (name: string) => classes.get(name);
  test.each<[string, GroupFixture, string, boolean]>([
    ['H-32: no source', { name: 'g', volumeHandles: [] }, 'csi-mock-plugin', false],
    ['H-33: driver mismatch', { name: 'g' }, 'other-driver', false],
    ['H-34: volume handles, class of this driver', { name: 'g', className: 'class-match' }, 'csi-mock-plugin', true],
    ['H-35: class names another driver', { name: 'g', className: 'class-other' }, 'csi-mock-plugin', false],
    ['H-36: driver and class match (volume handles)', { name: 'g', className: 'class-match' }, 'csi-mock-plugin', true],
    ['H-37: driver and class match (group snapshot handles)', { name: 'g', className: 'class-match', preHandle: 'gh', preSnapshots: ['s'] }, 'csi-mock-plugin', true],
    ['a class not in the cache does not exclude the content', { name: 'g', className: 'unknown' }, 'csi-mock-plugin', true],
  ])('%s', (_name, fixture, driver, expected) => expect(isGroupForDriver(groupContent(fixture), driver, lookup)).toBe(expected));
});

