import { describe, expect, test } from '@jest/globals';
import { parseJson } from '../../src/kube/json.js';
import { slimObject, StringPool } from '../../src/kube/slim.js';

/** A content as a real API server sends it: managedFields, generation and all. */
function wireContent(name: string): string {
  return JSON.stringify({
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: {
      annotations: { 'snapshot.storage.kubernetes.io/volumesnapshot-being-created': 'yes' },
      creationTimestamp: '2026-12-07T10:00:00Z',
      finalizers: ['snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection'],
      generation: 1,
      labels: { team: 'a' },
      managedFields: [{ apiVersion: 'snapshot.storage.k8s.io/v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} }, manager: 'snapshot-controller', operation: 'Update' }],
      name,
      resourceVersion: '123',
      selfLink: `/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/${name}`,
      uid: `uid-${name}`,
    },
    spec: {
      deletionPolicy: 'Delete',
      driver: 'hostpath.csi.k8s.io',
      source: { volumeHandle: `vol-${name}` },
      volumeSnapshotClassName: 'csi-hostpath-snapclass',
      volumeSnapshotRef: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', name: `vs-${name}`, namespace: 'default', uid: `vs-uid-${name}` },
    },
    status: { creationTime: 'NANOS', readyToUse: true, restoreSize: 1073741824, snapshotHandle: `snap-${name}` },
  }).replace('"NANOS"', '1796562948884123456');
}

describe('slimObject: what an informer cache keeps', () => {
  test('drops managedFields, selfLink and generation, and keeps every other field as it was', () => {
    const text = wireContent('a');
    const slim = slimObject(parseJson<Record<string, unknown>>(text));
    const expected = parseJson<{ metadata: Record<string, unknown> }>(text);
    delete expected.metadata.managedFields;
    delete expected.metadata.selfLink;
    delete expected.metadata.generation;
    expect(slim).toEqual(expected);
    expect(Object.keys(slim.metadata as object)).toEqual(['annotations', 'creationTimestamp', 'finalizers', 'labels', 'name', 'resourceVersion', 'uid']);
    expect((slim.status as { creationTime: unknown }).creationTime).toBe(1796562948884123456n);
  });

  test('an object without those fields keeps its own metadata object', () => {
    const obj = { apiVersion: 'v1', kind: 'X', metadata: { name: 'n', resourceVersion: '1' } };
    const meta = obj.metadata;
    expect(slimObject(obj).metadata).toBe(meta);
    expect(slimObject(undefined)).toBeUndefined();
    expect(slimObject(['a'])).toEqual(['a']);
  });

  test('repeating values of different objects become one shared string; values that identify an object do not', () => {
    const pool = new StringPool();
    const a = slimObject(parseJson<Record<string, never>>(wireContent('a')), pool) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const b = slimObject(parseJson<Record<string, never>>(wireContent('b')), pool) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    // The pool holds exactly the repeating values, each once (the objects now point at those copies).
    expect(pool.size).toBe(new Set([a.apiVersion, a.kind, a.spec.driver, a.spec.deletionPolicy, a.spec.volumeSnapshotClassName, a.spec.volumeSnapshotRef.namespace, a.spec.volumeSnapshotRef.kind, ...a.metadata.finalizers, 'yes', 'a']).size);
    expect(b.spec.driver).toBe('hostpath.csi.k8s.io');
    expect(a.metadata.uid).toBe('uid-a');
    expect(b.spec.source.volumeHandle).toBe('vol-b');
  });

  test('the pool is bounded: past its limit new strings are left as they are, known ones are still shared', () => {
    const pool = new StringPool(2);
    expect(pool.share('one')).toBe('one');
    pool.share('two');
    pool.share('three');
    expect(pool.size).toBe(2);
    pool.share('x'.repeat(300));
    expect(pool.size).toBe(2);
    expect(pool.share('two')).toBe('two');
  });
});
