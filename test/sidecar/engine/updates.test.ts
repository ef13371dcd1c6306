import { describe, expect, test } from '@jest/globals';
import { shouldEnqueueUpdate, VersionStore } from '../../../src/sidecar/engine/updates.js';
import { isForDriver } from '../../../src/sidecar/snapshot/filter.js';
import { ANN_BEING_CREATED, ANN_BEING_DELETED } from '../../../src/sidecar/keys.js';
import type { VolumeSnapshotClass, VolumeSnapshotContent } from '../../../src/sidecar/types.js';
import { content } from '../snapshot/fixtures.js';

const base = (): VolumeSnapshotContent => ({ ...content({ name: 'c', refUid: 'u', refName: 's', className: 'gold' }), metadata: { name: 'c', resourceVersion: '1' } });
const next = (edit: (c: VolumeSnapshotContent) => void, from: VolumeSnapshotContent = base()): VolumeSnapshotContent => {
  const c = structuredClone(from);
  c.metadata.resourceVersion = String(Number(c.metadata.resourceVersion) + 1);
  edit(c);
  return c;
};

describe('shouldEnqueueUpdate (K-14..K-27, Z-38)', () => {
  const withAnn = (key: string, value: string) => next((c) => (c.metadata.annotations = { [key]: value }));
  test.each<[string, VolumeSnapshotContent, VolumeSnapshotContent, boolean]>([
    ['K-14 basic no change (new RV only)', base(), next(() => undefined), false],
    ['K-15 class name changed', base(), next((c) => (c.spec.volumeSnapshotClassName = 'silver')), true],
    ['K-16 status.error changed', base(), next((c) => (c.status = { error: { message: 'x' } })), false],
    ['K-17 finalizers changed', base(), next((c) => (c.metadata.finalizers = ['f'])), false],
    ['K-18 managedFields changed', base(), next((c) => ((c.metadata as Record<string, unknown>).managedFields = [{ manager: 'm' }])), false],
    ['K-19 being-created value changed', withAnn(ANN_BEING_CREATED, 'yes'), next((c) => (c.metadata.annotations = { [ANN_BEING_CREATED]: 'no' }), withAnn(ANN_BEING_CREATED, 'yes')), false],
    ['K-20 other annotation changed', withAnn('other', 'a'), next((c) => (c.metadata.annotations = { other: 'b' }), withAnn('other', 'a')), true],
    ['K-21 being-created added', base(), withAnn(ANN_BEING_CREATED, 'yes'), false],
    ['K-22 other annotation added', base(), withAnn('other', 'a'), true],
    ['K-23 being-created removed', withAnn(ANN_BEING_CREATED, 'yes'), next((c) => delete c.metadata.annotations, withAnn(ANN_BEING_CREATED, 'yes')), false],
    ['K-24 other annotation removed', withAnn('other', 'a'), next((c) => delete c.metadata.annotations, withAnn('other', 'a')), true],
    ['K-25 being-deleted changed', base(), withAnn(ANN_BEING_DELETED, 'yes'), true],
    ['K-26 resync (same RV)', base(), base(), true],
    ['K-27 readyToUse false → true', next((c) => (c.status = { readyToUse: false })), next((c) => (c.status = { readyToUse: true }), next((c) => (c.status = { readyToUse: false }))), true],
    ['a deletionTimestamp appearing', base(), next((c) => (c.metadata.deletionTimestamp = '2026-11-22T00:00:00Z')), true],
  ])('%s → %s', (_name, oldObj, newObj, expected) => expect(shouldEnqueueUpdate(oldObj, newObj)).toBe(expected));
});

describe('shouldEnqueueUpdate compares content, not the order of keys', () => {
  // The API server and the sidecar's own writes may serialise the same object with its keys in a
  // different order; that alone is not a change.
  const reordered = (c: VolumeSnapshotContent): VolumeSnapshotContent => {
    const reverse = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).reverse()) as T;
    const copy = structuredClone(c);
    return { ...reverse({ ...copy, spec: reverse({ ...copy.spec, source: reverse(copy.spec.source), volumeSnapshotRef: reverse(copy.spec.volumeSnapshotRef) }) }), metadata: reverse(copy.metadata) };
  };
  const withAnnotations = (c: VolumeSnapshotContent, annotations: Record<string, string>): VolumeSnapshotContent => ({ ...c, metadata: { ...c.metadata, annotations } });

  test('the same object with every key in reverse order needs no sync', () => {
    const oldObj = withAnnotations(base(), { a: '1', b: '2', c: '3' });
    const newObj = next((c) => (c.metadata.annotations = { c: '3', b: '2', a: '1' }), reordered(oldObj));
    expect(Object.keys(newObj.spec)).not.toEqual(Object.keys(oldObj.spec));
    expect(shouldEnqueueUpdate(oldObj, newObj)).toBe(false);
    // And back again: a later version with the keys in their first order.
    const later = next(() => undefined, next(() => undefined, oldObj));
    expect(shouldEnqueueUpdate(newObj, later)).toBe(false);
  });

  test('a changed value among reordered keys still does', () => {
    const oldObj = withAnnotations(base(), { a: '1', b: '2', c: '3' });
    const newObj = next((c) => (c.metadata.annotations = { c: '3', b: 'changed', a: '1' }), reordered(oldObj));
    expect(shouldEnqueueUpdate(oldObj, newObj)).toBe(true);
  });
});

describe('VersionStore (E-01, E-02)', () => {
  test('E-01: equal and newer versions are taken, an older one is stale; 10 > 2 numerically', () => {
    const store = new VersionStore<VolumeSnapshotContent>();
    const at = (rv: string): VolumeSnapshotContent => ({ ...base(), metadata: { name: 'c', resourceVersion: rv } });
    expect(store.offer(at('1')).stale).toBe(false);
    expect(store.offer(at('1')).stale).toBe(false);
    expect(store.offer(at('2')).stale).toBe(false);
    const old = store.offer(at('1'));
    expect(old.stale).toBe(true);
    expect(old.newest.metadata.resourceVersion).toBe('2');
    expect(store.offer(at('10')).stale).toBe(false);
    expect(store.get('c')?.metadata.resourceVersion).toBe('10');
  });

  test('E-02: a resourceVersion that is not a decimal integer is refused', () => {
    const store = new VersionStore<VolumeSnapshotContent>();
    store.offer({ ...base(), metadata: { name: 'c', resourceVersion: '1' } });
    expect(() => store.offer({ ...base(), metadata: { name: 'c', resourceVersion: 'xxx' } })).toThrow(/not a decimal integer/);
  });
});

describe('driver match (Z-35)', () => {
  const classes: Record<string, VolumeSnapshotClass> = {
    gold: { metadata: { name: 'gold' }, driver: 'csi-mock-plugin', deletionPolicy: 'Delete' },
    other: { metadata: { name: 'other' }, driver: 'other-driver', deletionPolicy: 'Delete' },
  };
  const lookup = (n: string): VolumeSnapshotClass | undefined => classes[n];
  test('this driver, a class of this driver, or a class not (yet) known → acted on', () => {
    expect(isForDriver(content({ name: 'c', className: 'gold' }), 'csi-mock-plugin', lookup)).toBe(true);
    expect(isForDriver(content({ name: 'c', className: 'unknown' }), 'csi-mock-plugin', lookup)).toBe(true);
    expect(isForDriver(content({ name: 'c' }), 'csi-mock-plugin', lookup)).toBe(true);
  });
  test('Z-35: a class of another driver, another spec.driver, or no source → ignored', () => {
    expect(isForDriver(content({ name: 'c', className: 'other' }), 'csi-mock-plugin', lookup)).toBe(false);
    expect(isForDriver(content({ name: 'c' }), 'other-driver', lookup)).toBe(false);
    const noSource = content({ name: 'c' });
    noSource.spec.source = {};
    expect(isForDriver(noSource, 'csi-mock-plugin', lookup)).toBe(false);
  });
});
