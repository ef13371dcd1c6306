import { describe, expect, test } from '@jest/globals';
import { decideContent, shouldDelete, type ContentStep } from '../../../src/sidecar/snapshot/decision.js';
import { ANN_BEING_CREATED, content, type ContentFixture } from './fixtures.js';

const withList = { listSnapshots: true };
const withoutList = { listSnapshots: false };

describe('shouldDelete (E-03..E-06, H-style predicate for single contents)', () => {
  test.each<[string, ContentFixture, boolean]>([
    ['E-03: no deletionTimestamp', { name: 'c', refUid: 'u', refName: 's' }, false],
    ['E-04: unbound pre-provisioned content deleted directly', { name: 'c', refName: 's', specSnapshotHandle: 'h', deleting: false, annotations: {} }, false],
    ['E-05: bound, being-deleted set', { name: 'c', refUid: 'u', refName: 's', deleting: true }, true],
    ['being-created wins over being-deleted', { name: 'c', refUid: 'u', refName: 's', deleting: true, annotations: { [ANN_BEING_CREATED]: 'yes' } }, false],
  ])('%s → %s', (_name, fixture, expected) => expect(shouldDelete(content(fixture))).toBe(expected));

  test('E-04: an unbound pre-provisioned content with a deletionTimestamp is deleted at once', () => {
    const c = content({ name: 'c', refName: 's', specSnapshotHandle: 'h' });
    c.metadata.deletionTimestamp = '2026-11-22T00:00:00Z';
    expect(shouldDelete(c)).toBe(true);
  });

  test('E-06 / Z-34: a deletionTimestamp alone (no being-deleted) does not delete', () => {
    const c = content({ name: 'c', refUid: 'u', refName: 's', statusHandle: 'h', status: { readyToUse: true } });
    c.metadata.deletionTimestamp = '2026-11-22T00:00:00Z';
    expect(shouldDelete(c)).toBe(false);
    expect(decideContent(c, withList)).toEqual({ kind: 'nothing' });
  });
});

describe('decideContent', () => {
  const cases: Array<[string, ContentFixture, ContentStep, ContentStep?]> = [
    // [scenario, fixture, step with LIST_SNAPSHOTS, step without it (when it differs)]
    ['F-02 / rule C: dynamic, no status', { name: 'c', refUid: 'u', refName: 's', className: 'gold' }, { kind: 'create', reason: 'SnapshotCreationFailed' }],
    ['F-03: dynamic with an empty status (after a failure) re-creates', { name: 'c', refUid: 'u', refName: 's', status: {} }, { kind: 'create', reason: 'SnapshotContentCheckandUpdateFailed' }],
    ['F-01: not ready with a recorded handle → poll by ListSnapshots (Go: CreateSnapshot again)', { name: 'c', refUid: 'u', refName: 's', statusHandle: 'sid', status: { readyToUse: false } }, { kind: 'poll' }, { kind: 'create', reason: 'SnapshotContentCheckandUpdateFailed' }],
    ['F-09: ready → nothing', { name: 'c', refUid: 'u', refName: 's', statusHandle: 'sid', status: { readyToUse: true } }, { kind: 'nothing' }],
    ['Z-33: ready with being-created → remove it', { name: 'c', statusHandle: 'sid', status: { readyToUse: true }, annotations: { [ANN_BEING_CREATED]: 'yes' } }, { kind: 'remove-being-created' }],
    ['not ready, handle recorded, being-created still set (crash after the status write) → remove it', { name: 'c', statusHandle: 'sid', status: { readyToUse: false }, annotations: { [ANN_BEING_CREATED]: 'yes' } }, { kind: 'remove-being-created' }],
    ['rule S1: pre-provisioned → refresh', { name: 'c', refName: 's', specSnapshotHandle: 'sid', status: {} }, { kind: 'refresh' }],
    ['rule S1: pre-provisioned without status → refresh', { name: 'c', refName: 's', specSnapshotHandle: 'sid' }, { kind: 'refresh' }],
    ['Z-31: group member without status → wait', { name: 'c', member: true }, { kind: 'wait-for-controller' }],
    ['Z-32: group member with both handles, not ready → refresh', { name: 'c', member: true, statusHandle: 'sid', status: { volumeGroupSnapshotHandle: 'g', readyToUse: false } }, { kind: 'refresh' }],
    ['G-01: being deleted → delete', { name: 'c', refUid: 'u', refName: 's', statusHandle: 'sid', deleting: true, finalizer: true }, { kind: 'delete' }],
    ['Z-22: being deleted but a create may be running → keep creating', { name: 'c', refUid: 'u', refName: 's', deleting: true, status: { readyToUse: false, error: { message: 'x' } }, annotations: { [ANN_BEING_CREATED]: 'yes' } }, { kind: 'create', reason: 'SnapshotContentCheckandUpdateFailed' }],
  ];
  test.each(cases)('%s', (_name, fixture, expectedWithList, ...withoutListCase) => {
    expect(decideContent(content(fixture), withList)).toEqual(expectedWithList);
    expect(decideContent(content(fixture), withoutList)).toEqual(withoutListCase[0] ?? expectedWithList);
  });
});
