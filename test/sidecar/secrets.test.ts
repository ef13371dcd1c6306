import { describe, expect, test } from '@jest/globals';
import { silentLogger } from '../../src/observe/logger.js';
import { capturingLogger } from '../helpers/logger.js';
import { ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE } from '../../src/sidecar/keys.js';
import { annotationSecretData, secretData, secretRefFromAnnotations, secretRefFromParameters } from '../../src/sidecar/secrets.js';

const keys = { name: ANN_DELETION_SECRET_NAME, namespace: ANN_DELETION_SECRET_NAMESPACE };
const what = { kind: 'snapshot content' as const, name: 'vsc-1' };
const prefix = 'csi.storage.k8s.io/snapshotter-list';
const vars = { 'volumesnapshotcontent.name': 'vsc-1' };
const params = (name: string, namespace: string) => ({ [`${prefix}-secret-name`]: name, [`${prefix}-secret-namespace`]: namespace });

describe('the Secret named by deletion-secret annotations', () => {
  test.each([
    ['an empty name', '', 'ns'],
    ['an empty namespace', 'secret', ''],
  ])('%s alone is an error', (_n, name, namespace) => {
    expect(() => secretRefFromAnnotations({ [keys.name]: name, [keys.namespace]: namespace }, keys, what)).toThrow(
      'cannot retrieve secrets for snapshot content "vsc-1", err: secret name or namespace not specified',
    );
  });

  test('its data is read with the reference; no reference reads nothing', async () => {
    const asked: unknown[] = [];
    const getSecret = async (ref: unknown) => {
      asked.push(ref);
      return { user: 'u' };
    };
    await expect(annotationSecretData({ annotations: { [keys.name]: 's', [keys.namespace]: 'ns' }, keys, what, getSecret, log: silentLogger })).resolves.toEqual({ user: 'u' });
    expect(asked).toEqual([{ name: 's', namespace: 'ns' }]);
    await expect(annotationSecretData({ annotations: {}, keys, what, getSecret, log: silentLogger })).resolves.toEqual({});
    expect(asked).toHaveLength(1);
  });

  test('a Secret that cannot be read is reported without its name (the Go wording)', async () => {
    const getSecret = async () => {
      throw new Error('secrets "s" is forbidden: User cannot get resource');
    };
    await expect(annotationSecretData({ annotations: { [keys.name]: 's', [keys.namespace]: 'ns' }, keys, what, getSecret, log: silentLogger })).rejects.toThrow(
      new Error('cannot get credentials for snapshot content "vsc-1"'),
    );
  });
});

describe('a Secret that cannot be read, for the operator', () => {
  const logAt = (verbosity: number) => capturingLogger(verbosity);
  const failing = async () => {
    throw new Error('secrets "s" is forbidden: User cannot get resource');
  };

  test('at verbosity 4 the log names the Secret and the API error (status never does)', async () => {
    const { log, lines } = logAt(4);
    await expect(annotationSecretData({ annotations: { [keys.name]: 's', [keys.namespace]: 'ns' }, keys, what, getSecret: failing, log })).rejects.toThrow();
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(entry).toMatchObject({ msg: 'Cannot read the Secret named by the deletion-secret annotations', secret: 'ns/s', error: 'secrets "s" is forbidden: User cannot get resource' });
  });

  test('below verbosity 4 nothing is logged', async () => {
    const { log, lines } = logAt(3);
    await expect(annotationSecretData({ annotations: { [keys.name]: 's', [keys.namespace]: 'ns' }, keys, what, getSecret: failing, log })).rejects.toThrow();
    expect(lines).toEqual([]);
  });
});

describe('Secret references from class parameters', () => {
  test.each([
    ['an empty name template', '', 'ns'],
    ['an empty namespace template', 'name', ''],
  ])('%s is an error', (_n, name, namespace) => {
    expect(() => secretRefFromParameters(params(name, namespace), prefix, 'SnapshotterList', vars)).toThrow(
      'failed to get name and namespace template from params: SnapshotterList secrets specified in parameters but value of either namespace or name is empty',
    );
  });

  test('namespace: a DNS-1123 label of at most 63 characters, checked whole', () => {
    expect(secretRefFromParameters(params('s', 'a'.repeat(63)), prefix, 'SnapshotterList', vars)).toEqual({ name: 's', namespace: 'a'.repeat(63) });
    expect(() => secretRefFromParameters(params('s', 'a'.repeat(64)), prefix, 'SnapshotterList', vars)).toThrow(`"${'a'.repeat(64)}" is not a valid namespace name`);
    for (const bad of ['-ns', 'ns-', 'Ns', 'n_s', 'n.s']) {
      expect(() => secretRefFromParameters(params('s', bad), prefix, 'SnapshotterList', vars)).toThrow(`"${bad}" is not a valid namespace name`);
    }
    expect(secretRefFromParameters(params('s', 'n'), prefix, 'SnapshotterList', vars)).toEqual({ name: 's', namespace: 'n' });
  });

  test('a namespace that a template resolves to something invalid names both', () => {
    expect(() => secretRefFromParameters(params('s', 'X${volumesnapshotcontent.name}'), prefix, 'SnapshotterList', vars)).toThrow(
      '"X${volumesnapshotcontent.name}" resolved to "Xvsc-1" which is not a valid namespace name',
    );
  });

  test('name: a DNS-1123 subdomain of at most 253 characters, checked whole and per label', () => {
    const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(long).toHaveLength(253);
    expect(secretRefFromParameters(params(long, 'ns'), prefix, 'SnapshotterList', vars)).toEqual({ name: long, namespace: 'ns' });
    expect(() => secretRefFromParameters(params(`${long}e`, 'ns'), prefix, 'SnapshotterList', vars)).toThrow('is not a valid secret name');
    for (const good of ['a', 'a.b', 'a-b.c-d', 'ab.c']) expect(secretRefFromParameters(params(good, 'ns'), prefix, 'SnapshotterList', vars)?.name).toBe(good);
    for (const bad of ['a.', '.a', 'a..b', 'a.-b', 'a.b-', 'a.B', 'a_b', 'a-.b']) {
      expect(() => secretRefFromParameters(params(bad, 'ns'), prefix, 'SnapshotterList', vars)).toThrow(`"${bad}" is not a valid secret name`);
    }
  });

  test('a name that a template resolves to something invalid names both', () => {
    expect(() => secretRefFromParameters(params('S-${volumesnapshotcontent.name}', 'ns'), prefix, 'SnapshotterList', vars)).toThrow(
      '"S-${volumesnapshotcontent.name}" resolved to "S-vsc-1" which is not a valid secret name',
    );
  });
});

describe('a Secret\'s data', () => {
  test('base64 values are decoded as UTF-8; no data is an empty map', () => {
    expect(secretData({ user: Buffer.from('ünïcode').toString('base64'), empty: '' })).toEqual({ user: 'ünïcode', empty: '' });
    expect(secretData(undefined)).toEqual({});
  });
});
