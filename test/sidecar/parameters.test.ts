import { describe, expect, test } from '@jest/globals';
import { driverParameters, groupMetadataParameters, snapshotMetadataParameters } from '../../src/sidecar/parameters.js';

// Every reserved key that names a Secret configures Kubernetes, not the driver: it is removed from
// what CreateSnapshot / CreateVolumeGroupSnapshot receive. A class holding one must still work.
const SECRET_KEYS = [
  'csi.storage.k8s.io/snapshotter-secret-name',
  'csi.storage.k8s.io/snapshotter-secret-namespace',
  'csi.storage.k8s.io/snapshotter-list-secret-name',
  'csi.storage.k8s.io/snapshotter-list-secret-namespace',
  'csi.storage.k8s.io/group-snapshotter-secret-name',
  'csi.storage.k8s.io/group-snapshotter-secret-namespace',
  'csi.storage.k8s.io/group-snapshotter-get-secret-name',
  'csi.storage.k8s.io/group-snapshotter-get-secret-namespace',
];

describe('class parameters sent to the driver', () => {
  test.each(SECRET_KEYS)('%s is removed, everything else is kept exactly', (key) => {
    expect(driverParameters({ [key]: 'secret-value', tier: 'gold', 'vendor.example.com/x': 'y' })).toEqual({ tier: 'gold', 'vendor.example.com/x': 'y' });
  });

  test('a group class with all four group secret keys and ordinary parameters', () => {
    const klass = Object.fromEntries(SECRET_KEYS.slice(4).map((k) => [k, k.endsWith('namespace') ? 'default' : 'group-secret']));
    expect(driverParameters({ ...klass, consistency: 'crash' })).toEqual({ consistency: 'crash' });
  });

  test('no parameters and an empty map both give an empty map (never undefined)', () => {
    expect(driverParameters(undefined)).toEqual({});
    expect(driverParameters({})).toEqual({});
  });

  test('the result is a new object: the class is never changed', () => {
    const params = { 'csi.storage.k8s.io/snapshotter-secret-name': 's', a: 'b' };
    const copy = { ...params };
    driverParameters(params);
    expect(params).toEqual(copy);
  });

  test('other reserved keys are refused by name; near-misses of the prefix pass through', () => {
    expect(() => driverParameters({ 'csi.storage.k8s.io/group-snapshotter-secret': 'x' })).toThrow(
      'found unknown parameter key "csi.storage.k8s.io/group-snapshotter-secret" with reserved namespace csi.storage.k8s.io/',
    );
    expect(driverParameters({ 'csi.storage.k8s.io-x/secret-name': 'a', 'xcsi.storage.k8s.io/y': 'b' })).toEqual({
      'csi.storage.k8s.io-x/secret-name': 'a',
      'xcsi.storage.k8s.io/y': 'b',
    });
  });

  test('extra-create-metadata keys for snapshots and for groups', () => {
    expect(snapshotMetadataParameters('vs', 'ns', 'vsc')).toEqual({
      'csi.storage.k8s.io/volumesnapshot/name': 'vs',
      'csi.storage.k8s.io/volumesnapshot/namespace': 'ns',
      'csi.storage.k8s.io/volumesnapshotcontent/name': 'vsc',
    });
    expect(groupMetadataParameters('vgs', 'ns', 'vgsc')).toEqual({
      'csi.storage.k8s.io/volumegroupsnapshot/name': 'vgs',
      'csi.storage.k8s.io/volumegroupsnapshot/namespace': 'ns',
      'csi.storage.k8s.io/volumegroupsnapshotcontent/name': 'vgsc',
    });
  });
});
