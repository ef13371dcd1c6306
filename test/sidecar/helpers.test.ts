import { describe, expect, test } from '@jest/globals';
import { goQuote } from '../../src/sidecar/messages.js';
import { csiSnapshotName } from '../../src/sidecar/names.js';
import { driverParameters, snapshotMetadataParameters } from '../../src/sidecar/parameters.js';
import { expandTemplate, secretRefFromAnnotations, secretRefFromParameters } from '../../src/sidecar/secrets.js';
import { ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE } from '../../src/sidecar/keys.js';

describe('snapshot names', () => {
  test('defaults: prefix + whole UID; Z-24: 8 characters of the dash-less UID; D-05', () => {
    expect(csiSnapshotName('snapshot', 'snapuid1-1', -1)).toBe('snapshot-snapuid1-1');
    expect(csiSnapshotName('snapshot', '1b2c3d4e-aaaa-bbbb-cccc-dddddddddddd', 8)).toBe('snapshot-1b2c3d4e');
    expect(csiSnapshotName('group-snapshot', '12345678-1234', 8)).toBe('group-snapshot-12345678');
    expect(csiSnapshotName('grp-snap', 'my-uid-with-dashes', -1)).toBe('grp-snap-my-uid-with-dashes');
    expect(() => csiSnapshotName('snapshot', 'abc', 10)).toThrow(/outside 0\.\.3/);
  });
});

describe('class parameters (K-07..K-11, Z-26)', () => {
  test.each<[string, Record<string, string>, Record<string, string>]>([
    ['K-07 no prefix', { csiFoo: 'bar', bim: 'baz' }, { csiFoo: 'bar', bim: 'baz' }],
    ['K-08 one prefixed', { 'csi.storage.k8s.io/snapshotter-secret-name': 'bar', bim: 'baz' }, { bim: 'baz' }],
    ['K-09 all known prefixed', {
      'csi.storage.k8s.io/snapshotter-secret-name': 'a', 'csi.storage.k8s.io/snapshotter-secret-namespace': 'b',
      'csi.storage.k8s.io/snapshotter-list-secret-name': 'c', 'csi.storage.k8s.io/snapshotter-list-secret-namespace': 'd',
    }, {}],
    ['K-11 empty', {}, {}],
    ['annotation-like keys pass through (F-04)', { 'snapshot.storage.kubernetes.io/deletion-secret-name': 'secret' }, { 'snapshot.storage.kubernetes.io/deletion-secret-name': 'secret' }],
  ])('%s', (_n, input, output) => expect(driverParameters(input)).toEqual(output));

  test('K-10 / Z-26: other reserved keys are refused, including the extra-metadata keys', () => {
    expect(() => driverParameters({ 'csi.storage.k8s.io/bim': 'baz' })).toThrow('found unknown parameter key "csi.storage.k8s.io/bim" with reserved namespace csi.storage.k8s.io/');
    expect(() => driverParameters({ 'csi.storage.k8s.io/volumesnapshot/name': 'x' })).toThrow(/volumesnapshot\/name/);
  });

  test('EXTRA(vs, vsc)', () => {
    expect(snapshotMetadataParameters('snap1-1', 'default', 'content1-1')).toEqual({
      'csi.storage.k8s.io/volumesnapshot/name': 'snap1-1',
      'csi.storage.k8s.io/volumesnapshot/namespace': 'default',
      'csi.storage.k8s.io/volumesnapshotcontent/name': 'content1-1',
    });
  });
});

describe('secrets', () => {
  const keys = { name: ANN_DELETION_SECRET_NAME, namespace: ANN_DELETION_SECRET_NAMESPACE };
  const what = { kind: 'snapshot content' as const, name: 'content1-3' };
  test('annotation secrets: both keys → a reference; one or none → none; an empty value → the Go error (F-03)', () => {
    expect(secretRefFromAnnotations({ [ANN_DELETION_SECRET_NAME]: 'secret', [ANN_DELETION_SECRET_NAMESPACE]: 'default' }, keys, what)).toEqual({ name: 'secret', namespace: 'default' });
    expect(secretRefFromAnnotations({ [ANN_DELETION_SECRET_NAME]: 'secret' }, keys, what)).toBeUndefined();
    expect(secretRefFromAnnotations(undefined, keys, what)).toBeUndefined();
    expect(() => secretRefFromAnnotations({ [ANN_DELETION_SECRET_NAME]: '', [ANN_DELETION_SECRET_NAMESPACE]: '' }, keys, what)).toThrow(
      'cannot retrieve secrets for snapshot content "content1-3", err: secret name or namespace not specified',
    );
  });

  const prefix = 'csi.storage.k8s.io/snapshotter-list';
  const vars = { 'volumesnapshotcontent.name': 'vsc-1' };
  test.each<[string, Record<string, string>, unknown]>([
    ['K-02 no params', {}, undefined],
    ['K-04 simple', { [`${prefix}-secret-name`]: 'name', [`${prefix}-secret-namespace`]: 'ns' }, { name: 'name', namespace: 'ns' }],
    ['Z-27 template', { [`${prefix}-secret-name`]: 's-${volumesnapshotcontent.name}', [`${prefix}-secret-namespace`]: 'ns1' }, { name: 's-vsc-1', namespace: 'ns1' }],
  ])('list secret %s', (_n, params, expected) => expect(secretRefFromParameters(params, prefix, 'SnapshotterList', vars)).toEqual(expected));

  test.each<[string, Record<string, string>, RegExp]>([
    ['K-03 namespace without name', { [`${prefix}-secret-namespace`]: 'foo' }, /either name and namespace for SnapshotterList secrets specified, Both must be specified/],
    ['K-05 invalid name', { [`${prefix}-secret-name`]: 'bad name', [`${prefix}-secret-namespace`]: 'ns' }, /"bad name" is not a valid secret name/],
    ['K-06 / Z-28 unknown token', { [`${prefix}-secret-name`]: "${volumesnapshot.annotations['akey']}", [`${prefix}-secret-namespace`]: '${volumesnapshot.namespace}' }, /invalid tokens: \["volumesnapshot.namespace"\]/],
    ['empty values', { [`${prefix}-secret-name`]: '', [`${prefix}-secret-namespace`]: 'ns' }, /value of either namespace or name is empty/],
  ])('list secret %s is an error', (_n, params, message) => expect(() => secretRefFromParameters(params, prefix, 'SnapshotterList', vars)).toThrow(message));

  test('templates: $var and ${var}; unknown tokens sorted and quoted', () => {
    expect(expandTemplate('$volumesnapshotcontent.name-x', vars)).toBe('vsc-1-x');
    expect(() => expandTemplate('${b}${a}', vars)).toThrow('error resolving value "${b}${a}": invalid tokens: ["a" "b"]');
  });

  test('Go %q quoting', () => {
    expect(goQuote('cannot get credentials for snapshot content "c"')).toBe('"cannot get credentials for snapshot content \\"c\\""');
    expect(goQuote('a\nb\\c\u0001')).toBe('"a\\nb\\\\c\\x01"');
  });
});
