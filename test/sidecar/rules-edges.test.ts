import { describe, expect, test } from '@jest/globals';
import { decideContent, shouldDelete } from '../../src/sidecar/snapshot/decision.js';
import { shouldEnqueueUpdate, VersionStore } from '../../src/sidecar/engine/updates.js';
import { isForDriver } from '../../src/sidecar/snapshot/filter.js';
import { decideGroup, shouldDeleteGroup } from '../../src/sidecar/group/decision.js';
import { isGroupForDriver } from '../../src/sidecar/group/filter.js';
import { clearedGroupStatus, groupStatusUpdate } from '../../src/sidecar/group/status.js';
import type { VolumeGroupSnapshotContent } from '../../src/sidecar/group/types.js';
import { groupVersionAdapter } from '../../src/sidecar/group/versions.js';
import { ANN_BEING_CREATED, ANN_BEING_DELETED, ANN_GROUP_BEING_CREATED, ANN_GROUP_BEING_DELETED } from '../../src/sidecar/keys.js';
import { pointer, removeFinalizer } from '../../src/sidecar/engine/patches.js';
import { clearedStatus, contentStatusUpdate } from '../../src/sidecar/snapshot/status.js';
import type { VolumeSnapshotContent } from '../../src/sidecar/types.js';
import { content } from './snapshot/fixtures.js';
import { groupContent } from './group/fixtures.js';

// The edges of the pure rules: objects a real cluster can hold but the scenario tables do not name
// (malformed contents, partial statuses, a finalizer at the front of the list, key order).

const DRIVER = 'd.example.com';
const noClasses = () => undefined;

describe('which objects are this driver\'s', () => {
  test('a content without spec or source is not (and is not a crash)', () => {
    expect(isForDriver({ metadata: { name: 'x' } } as unknown as VolumeSnapshotContent, DRIVER, noClasses)).toBe(false);
    expect(isForDriver({ metadata: { name: 'x' }, spec: { driver: DRIVER } } as unknown as VolumeSnapshotContent, DRIVER, noClasses)).toBe(false);
    expect(isForDriver({ metadata: { name: 'x' }, spec: { driver: DRIVER, source: {} } } as unknown as VolumeSnapshotContent, DRIVER, noClasses)).toBe(false);
    expect(isForDriver({ metadata: { name: 'x' }, spec: { driver: DRIVER, source: { snapshotHandle: 'h' }, volumeSnapshotRef: {} } } as unknown as VolumeSnapshotContent, DRIVER, noClasses)).toBe(true);
    expect(isForDriver({ metadata: { name: 'x' }, spec: { driver: DRIVER, source: { volumeHandle: 'v' }, volumeSnapshotRef: {} } } as unknown as VolumeSnapshotContent, DRIVER, noClasses)).toBe(true);
  });

  test('a group content without spec, source, or with an empty volume list is not', () => {
    const g = (spec: unknown) => ({ metadata: { name: 'g' }, ...(spec === undefined ? {} : { spec }) }) as unknown as VolumeGroupSnapshotContent;
    expect(isGroupForDriver(g(undefined), DRIVER, noClasses)).toBe(false);
    expect(isGroupForDriver(g({ driver: DRIVER }), DRIVER, noClasses)).toBe(false);
    expect(isGroupForDriver(g({ driver: DRIVER, source: {} }), DRIVER, noClasses)).toBe(false);
    expect(isGroupForDriver(g({ driver: DRIVER, source: { volumeHandles: [] } }), DRIVER, noClasses)).toBe(false);
    expect(isGroupForDriver(g({ driver: DRIVER, source: { volumeHandles: ['v'] } }), DRIVER, noClasses)).toBe(true);
    expect(isGroupForDriver(g({ driver: DRIVER, source: { groupSnapshotHandles: { volumeGroupSnapshotHandle: 'h', volumeSnapshotHandles: ['s'] } } }), DRIVER, noClasses)).toBe(true);
    expect(isGroupForDriver(g({ driver: 'other', source: { volumeHandles: ['v'] } }), DRIVER, noClasses)).toBe(false);
  });
});

describe('what an update is worth', () => {
  const vsc = (rv: string, spec: Record<string, unknown>): VolumeSnapshotContent =>
    ({ metadata: { name: 'c', resourceVersion: rv }, spec }) as unknown as VolumeSnapshotContent;

  test('the same content with its keys in another order is no change', () => {
    const a = vsc('1', { driver: DRIVER, deletionPolicy: 'Delete', source: { volumeHandle: 'v' } });
    const b = vsc('2', { source: { volumeHandle: 'v' }, deletionPolicy: 'Delete', driver: DRIVER });
    expect(shouldEnqueueUpdate(a, b)).toBe(false);
  });

  test('int64 values that arrive as bigint are compared, not a crash; lists keep their order', () => {
    const a = vsc('1', { driver: DRIVER, source: { volumeHandle: 'v' }, big: 9007199254740993n, list: ['a', 'b'] });
    expect(shouldEnqueueUpdate(a, vsc('2', { driver: DRIVER, source: { volumeHandle: 'v' }, big: 9007199254740993n, list: ['a', 'b'] }))).toBe(false);
    expect(shouldEnqueueUpdate(a, vsc('2', { driver: DRIVER, source: { volumeHandle: 'v' }, big: 9007199254740995n, list: ['a', 'b'] }))).toBe(true);
    expect(shouldEnqueueUpdate(a, vsc('2', { driver: DRIVER, source: { volumeHandle: 'v' }, big: '9007199254740993', list: ['a', 'b'] }))).toBe(true);
    expect(shouldEnqueueUpdate(a, vsc('2', { driver: DRIVER, source: { volumeHandle: 'v' }, big: 9007199254740993n, list: ['b', 'a'] }))).toBe(true);
  });

  test('a resourceVersion that is not a decimal integer is refused, whatever the position of the stray character', () => {
    const store = new VersionStore<{ metadata: { name: string; resourceVersion?: string } }>();
    for (const rv of ['12a', 'a12', '1 2', '', '-1']) {
      expect(() => store.offer({ metadata: { name: 'c', resourceVersion: rv } })).toThrow(`object c has resourceVersion ${JSON.stringify(rv)}, which is not a decimal integer`);
    }
    expect(() => store.offer({ metadata: { name: 'c' } })).toThrow('object c has resourceVersion "", which is not a decimal integer');
    expect(store.offer({ metadata: { name: 'c', resourceVersion: '10' } }).stale).toBe(false);
    expect(store.offer({ metadata: { name: 'c', resourceVersion: '9' } })).toEqual({ newest: { metadata: { name: 'c', resourceVersion: '10' } }, stale: true });
    expect(store.offer({ metadata: { name: 'c', resourceVersion: '10' } }).stale).toBe(false);
  });
});

describe('decisions on objects the tables do not name', () => {
  test('a dynamic content with no UID yet, being created and being deleted, waits for the create', () => {
    const c = content({ name: 'c', refName: 's', deleting: true, annotations: { [ANN_BEING_CREATED]: 'yes', [ANN_BEING_DELETED]: 'yes' } });
    expect(c.spec.volumeSnapshotRef.uid).toBeFalsy();
    expect(shouldDelete(c)).toBe(false);
  });

  test('a content with neither source nor status is asked to create, not a crash', () => {
    const c = { metadata: { name: 'c' }, spec: { driver: DRIVER, deletionPolicy: 'Delete', volumeSnapshotRef: { uid: 'u' }, source: {} } } as unknown as VolumeSnapshotContent;
    expect(decideContent(c, { listSnapshots: true })).toEqual({ kind: 'create', reason: 'SnapshotContentCheckandUpdateFailed' });
  });

  test('a dynamic group with no UID yet, being created and being deleted, waits for the create', () => {
    const g = groupContent({ name: 'g', deleting: true, annotations: { [ANN_GROUP_BEING_CREATED]: 'yes', [ANN_GROUP_BEING_DELETED]: 'yes' } });
    expect(g.spec.volumeGroupSnapshotRef.uid).toBeFalsy();
    expect(shouldDeleteGroup(g)).toBe(false);
  });

  test('a group content with no source and no status is asked to create, not a crash', () => {
    const g = { metadata: { name: 'g' }, spec: { driver: DRIVER, deletionPolicy: 'Delete', volumeGroupSnapshotRef: { uid: 'u' }, source: {} } } as unknown as VolumeGroupSnapshotContent;
    expect(decideGroup(g)).toEqual({ kind: 'create', reason: 'GroupSnapshotContentCheckandUpdateFailed' });
  });
});

describe('patch edges', () => {
  test('JSON pointer segments escape ~ and / (in that order)', () => {
    expect(pointer('metadata', 'annotations', 'a~b/c')).toBe('/metadata/annotations/a~0b~1c');
    expect(pointer('x~1')).toBe('/x~01');
  });

  test('the finalizer at the front of the list is removed by position 0', () => {
    expect(removeFinalizer({ name: 'c', finalizers: ['f', 'g'] }, 'f')).toEqual([
      { op: 'test', path: '/metadata/finalizers/0', value: 'f' },
      { op: 'remove', path: '/metadata/finalizers/0' },
    ]);
    expect(removeFinalizer({ name: 'c', finalizers: ['g'] }, 'f')).toEqual([]);
    expect(removeFinalizer({ name: 'c' }, 'f')).toEqual([]);
  });

  const seen = { snapshotHandle: 'h', readyToUse: false, creationTime: 5n, sizeBytes: 0n, groupSnapshotHandle: '' };
  test('a size of 0 is never written and an empty group handle never recorded', () => {
    expect(contentStatusUpdate(undefined, seen)).toEqual([{ op: 'add', path: '/status', value: { snapshotHandle: 'h', readyToUse: false, creationTime: 5n } }]);
    expect(contentStatusUpdate({ snapshotHandle: 'h', creationTime: 5, readyToUse: false }, seen)).toEqual([]);
  });

  test('a group handle and a size are added to a status that lacks them', () => {
    expect(contentStatusUpdate(undefined, { ...seen, sizeBytes: 1n, groupSnapshotHandle: 'gh' })).toEqual([
      { op: 'add', path: '/status', value: { snapshotHandle: 'h', readyToUse: false, creationTime: 5n, restoreSize: 1n, volumeGroupSnapshotHandle: 'gh' } },
    ]);
    expect(contentStatusUpdate({ snapshotHandle: 'h', creationTime: 5, readyToUse: false }, { ...seen, sizeBytes: 7n, groupSnapshotHandle: 'gh' })).toEqual([
      { op: 'add', path: '/status/restoreSize', value: 7n },
      { op: 'add', path: '/status/volumeGroupSnapshotHandle', value: 'gh' },
    ]);
  });

  test('clearing a status removes exactly the fields it has', () => {
    expect(clearedStatus(undefined)).toEqual([]);
    expect(clearedStatus({ snapshotHandle: 'h', restoreSize: 3, error: { message: 'x' } })).toEqual([
      { op: 'remove', path: '/status/snapshotHandle' },
      { op: 'remove', path: '/status/restoreSize' },
    ]);
  });

  const adapter = groupVersionAdapter('v1');
  const group = { groupSnapshotHandle: 'gh', readyToUse: false, creationTime: 1_767_225_600_000_000_000n, members: [] };
  test('a group status missing its handle or time gains them; present ones are kept', () => {
    expect(groupStatusUpdate({ readyToUse: false }, group, adapter)).toEqual([
      { op: 'add', path: '/status/volumeGroupSnapshotHandle', value: 'gh' },
      { op: 'add', path: '/status/creationTime', value: '2026-01-01T00:00:00Z' },
    ]);
    expect(groupStatusUpdate({ readyToUse: false, volumeGroupSnapshotHandle: 'old', creationTime: 1_735_689_600_000_000_000n }, group, adapter)).toEqual([]);
  });

  test('clearing a group status removes exactly the fields it has, and keeps the members', () => {
    expect(clearedGroupStatus(undefined)).toEqual([]);
    expect(clearedGroupStatus({ readyToUse: true, error: { message: 'x' }, members: [{ volumeHandle: 'v', snapshotHandle: 's' }] })).toEqual([
      { op: 'remove', path: '/status/readyToUse' },
      { op: 'remove', path: '/status/error' },
    ]);
  });
});
