import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGroupSnapshotVersions, startTestApiServer, type GroupVersion, type TestApiServer } from '../../src/testing/apiserver/index.js';
import { packageRoot } from '../../src/util/package-root.js';
import { raw, startHarness, type Harness, type Obj } from './helpers.js';

// The two schemas that were both published as groupsnapshot.storage.k8s.io/v1alpha1: the test
// server serves the one of external-snapshotter v8.0–8.1 as `v1alpha1` and v7.0's as `v1alpha1-v7`
// (spec sections 1.1 and 1.2).

let h: Harness | undefined;
afterEach(async () => {
  await h?.server.stop();
  h = undefined;
});

const BASE = '/apis/groupsnapshot.storage.k8s.io/v1alpha1';
const CONTENTS = `${BASE}/volumegroupsnapshotcontents`;

const flavours: Array<{ served: GroupVersion; content: string; otherContent: string; group: string; otherGroup: string; member: unknown }> = [
  {
    served: 'v1alpha1',
    content: 'pvVolumeSnapshotContentList',
    otherContent: 'volumeSnapshotContentRefList',
    group: 'pvcVolumeSnapshotRefList',
    otherGroup: 'volumeSnapshotRefList',
    member: { persistentVolumeRef: { name: 'pv-1' }, volumeSnapshotContentRef: { name: 'snapcontent-1' } },
  },
  {
    served: 'v1alpha1-v7',
    content: 'volumeSnapshotContentRefList',
    otherContent: 'pvVolumeSnapshotContentList',
    group: 'volumeSnapshotRefList',
    otherGroup: 'pvcVolumeSnapshotRefList',
    member: { kind: 'VolumeSnapshotContent', name: 'snapcontent-1' },
  },
];

function contentBody(name: string, source: Obj = { volumeHandles: ['vol-1'] }, uid = 'uid-1'): string {
  return JSON.stringify({
    apiVersion: 'groupsnapshot.storage.k8s.io/v1alpha1',
    kind: 'VolumeGroupSnapshotContent',
    metadata: { name },
    spec: { deletionPolicy: 'Delete', driver: 'd', source, volumeGroupSnapshotRef: { name: 'g', namespace: 'default', uid } },
  });
}

/** The served OpenAPI v3 document of a group version, found through the root as clients find it. */
async function openApi(server: TestApiServer, gv: string): Promise<Obj> {
  const root = (await raw(server, 'GET', '/openapi/v3')).json() as { paths: Record<string, { serverRelativeURL: string }> };
  const entry = root.paths[gv];
  expect(entry).toBeDefined();
  return (await raw(server, 'GET', entry?.serverRelativeURL ?? '')).json();
}

type OpenApiSchema = { properties?: Record<string, OpenApiSchema>; type?: string; format?: string; items?: OpenApiSchema; 'x-kubernetes-validations'?: unknown[] };
const schemaOf = (doc: Obj, kind: string): OpenApiSchema =>
  ((doc.components as { schemas: Record<string, OpenApiSchema> }).schemas[`io.k8s.storage.groupsnapshot.v1alpha1.${kind}`] ?? {});

describe.each(flavours)('--group-snapshot-versions $served', ({ served, content, otherContent, group, otherGroup, member }) => {
  test('discovery shows the one version v1alpha1 with the three resources, as the CRDs of that era were served', async () => {
    h = await startHarness({ groupSnapshotVersions: [served] });
    const info = (await raw(h.server, 'GET', '/apis/groupsnapshot.storage.k8s.io')).json();
    expect(info).toMatchObject({ name: 'groupsnapshot.storage.k8s.io', versions: [{ groupVersion: 'groupsnapshot.storage.k8s.io/v1alpha1', version: 'v1alpha1' }], preferredVersion: { version: 'v1alpha1' } });
    const list = (await raw(h.server, 'GET', BASE)).json();
    expect((list.resources as Obj[]).map((r) => r.name)).toEqual([
      'volumegroupsnapshotclasses',
      'volumegroupsnapshotcontents',
      'volumegroupsnapshotcontents/status',
      'volumegroupsnapshots',
      'volumegroupsnapshots/status',
    ]);
    expect((await raw(h.server, 'GET', '/apis/groupsnapshot.storage.k8s.io/v1')).status).toBe(404);
    expect((await raw(h.server, 'GET', '/apis/groupsnapshot.storage.k8s.io/v1beta1/volumegroupsnapshotcontents')).status).toBe(404);
  });

  test('the OpenAPI v3 document names this flavour\'s member lists and an int64 creationTime', async () => {
    h = await startHarness({ groupSnapshotVersions: [served] });
    const doc = await openApi(h.server, 'apis/groupsnapshot.storage.k8s.io/v1alpha1');
    const vgsc = schemaOf(doc, 'VolumeGroupSnapshotContent');
    const status = vgsc.properties?.status?.properties ?? {};
    expect(Object.keys(status).sort()).toEqual(['creationTime', 'error', 'readyToUse', 'volumeGroupSnapshotHandle', content].sort());
    expect(status.creationTime).toEqual({ type: 'integer', format: 'int64' });
    expect(Object.keys(vgsc.properties ?? {}).sort()).toEqual(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    const vgs = schemaOf(doc, 'VolumeGroupSnapshot');
    expect(Object.keys(vgs.properties?.status?.properties ?? {})).toContain(group);
    expect(Object.keys(vgs.properties?.status?.properties ?? {})).not.toContain(otherGroup);
    expect(schemaOf(doc, 'VolumeGroupSnapshotClass').properties?.driver).toEqual({ type: 'string' });
    // The v7 schema has no CEL rule anywhere; v8.0's content reference is immutable as a whole.
    const refRules = vgsc.properties?.spec?.properties?.volumeGroupSnapshotRef?.['x-kubernetes-validations'];
    if (served === 'v1alpha1-v7') expect(JSON.stringify(doc)).not.toContain('x-kubernetes-validations');
    else expect(refRules).toEqual(expect.arrayContaining([{ message: 'volumeGroupSnapshotRef is immutable' }]));
  });

  test('the status keeps this flavour\'s member list and int64 nanoseconds, and prunes the other flavour\'s list', async () => {
    h = await startHarness({ groupSnapshotVersions: [served] });
    expect((await raw(h.server, 'POST', CONTENTS, contentBody('c'))).status).toBe(201);
    // Written as text: JSON.stringify would round the int64 nanoseconds.
    const members = JSON.stringify([member]);
    const other = otherContent === 'pvVolumeSnapshotContentList' ? '[{"volumeSnapshotContentRef":{"name":"x"}}]' : '[{"name":"x"}]';
    const body = `{"status":{"volumeGroupSnapshotHandle":"group-1","readyToUse":true,"creationTime":1763773512123456789,"${content}":${members},"${otherContent}":${other}}}`;
    const patched = await raw(h.server, 'PATCH', `${CONTENTS}/c/status`, body, { 'Content-Type': 'application/merge-patch+json' });
    expect(patched.status).toBe(200);
    const stored = await raw(h.server, 'GET', `${CONTENTS}/c`);
    expect(stored.text).toContain('"creationTime":1763773512123456789');
    const status = stored.json().status as Obj;
    expect(status[content]).toEqual([member]);
    expect(status[otherContent]).toBeUndefined();
    // A date-time, as v1beta1 and later write it, is refused: the field is an integer here.
    const wrong = await raw(h.server, 'PATCH', `${CONTENTS}/c/status`, '{"status":{"creationTime":"2025-11-22T01:05:12Z"}}', { 'Content-Type': 'application/merge-patch+json' });
    expect(wrong.status).toBe(422);
    expect(wrong.json().message).toContain('status.creationTime');
  });
});

describe('CEL rules differ between the two v1alpha1 schemas', () => {
  test('v8.0 (v1alpha1): the whole group snapshot reference is immutable (uid included) and exactly one source must be set', async () => {
    h = await startHarness({ groupSnapshotVersions: ['v1alpha1'] });
    expect((await raw(h.server, 'POST', CONTENTS, contentBody('c'))).status).toBe(201);
    const merge = { 'Content-Type': 'application/merge-patch+json' };
    const changed = await raw(h.server, 'PATCH', `${CONTENTS}/c`, '{"spec":{"volumeGroupSnapshotRef":{"uid":"uid-2"}}}', merge);
    expect(changed.status).toBe(422);
    expect(changed.json().message).toContain('volumeGroupSnapshotRef is immutable');
    const both = await raw(h.server, 'POST', CONTENTS, contentBody('both', { volumeHandles: ['v'], groupSnapshotHandles: { volumeGroupSnapshotHandle: 'g', volumeSnapshotHandles: ['s'] } }));
    expect(both.status).toBe(422);
    expect(both.json().message).toContain('exactly one of volumeHandles and groupSnapshotHandles must be set');
  });

  test('v7 (v1alpha1-v7): no CEL rules, so the same writes are accepted (the checks lived in an optional webhook)', async () => {
    h = await startHarness({ groupSnapshotVersions: ['v1alpha1-v7'] });
    expect((await raw(h.server, 'POST', CONTENTS, contentBody('c'))).status).toBe(201);
    const changed = await raw(h.server, 'PATCH', `${CONTENTS}/c`, '{"spec":{"volumeGroupSnapshotRef":{"uid":"uid-2"}}}', { 'Content-Type': 'application/merge-patch+json' });
    expect(changed.status).toBe(200);
    const both = await raw(h.server, 'POST', CONTENTS, contentBody('both', { volumeHandles: ['v'], groupSnapshotHandles: { volumeGroupSnapshotHandle: 'g', volumeSnapshotHandles: ['s'] } }));
    expect(both.status).toBe(201);
  });
});

describe('choosing what to serve', () => {
  test('each v1alpha1 flavour is served alone; the flag parser names both values', async () => {
    expect(parseGroupSnapshotVersions('v1alpha1')).toEqual(['v1alpha1']);
    expect(parseGroupSnapshotVersions(' v1alpha1-v7 ')).toEqual(['v1alpha1-v7']);
    expect(() => parseGroupSnapshotVersions('v1alpha1,v1')).toThrow('group snapshot version v1alpha1 is served alone (its CRDs had one version), not with v1');
    expect(() => parseGroupSnapshotVersions('v1alpha1,v1alpha1-v7')).toThrow('served alone');
    expect(() => parseGroupSnapshotVersions('v1alpha2')).toThrow('or v1alpha1 (v8.0-v8.1 schema) or v1alpha1-v7 (v7.0 schema) alone');
    await expect(startTestApiServer({ groupSnapshotVersions: ['v1beta1', 'v1alpha1-v7'] })).rejects.toThrow('served alone');
  });

  test('the OpenAPI document of the beta and GA versions keeps their own member lists', async () => {
    h = await startHarness({ groupSnapshotVersions: ['v1beta1', 'v1'] });
    const doc = await openApi(h.server, 'apis/groupsnapshot.storage.k8s.io/v1beta1');
    const contents = (doc.components as { schemas: Record<string, OpenApiSchema> }).schemas['io.k8s.storage.groupsnapshot.v1beta1.VolumeGroupSnapshotContent'];
    expect(Object.keys(contents?.properties?.status?.properties ?? {})).toContain('volumeSnapshotHandlePairList');
    expect(contents?.properties?.status?.properties?.creationTime).toEqual({ type: 'string', format: 'date-time' });
  });

  test('kube-test-apiserver --group-snapshot-versions v1alpha1-v7 serves the v7 schema', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kta-alpha-'));
    const proc = spawn(process.execPath, [join(packageRoot(), 'dist/src/testing/bin/kube-test-apiserver.js'), '--port', '0', '--kubeconfig-out', join(dir, 'kc'), '--group-snapshot-versions', 'v1alpha1-v7', '--token', 't0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        proc.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /^ready (https:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
          if (m) resolve(m[1] as string);
        });
        proc.on('exit', (code) => reject(new Error(`exited early with ${code}`)));
      });
      // raw() needs only the address, the CA (from the kubeconfig the program wrote) and the token.
      const ca = /certificate-authority-data: (\S+)/.exec(readFileSync(join(dir, 'kc'), 'utf8'))?.[1] ?? '';
      const server = { url, caPem: Buffer.from(ca, 'base64').toString('utf8'), token: 't0' } as TestApiServer;
      const doc = await openApi(server, 'apis/groupsnapshot.storage.k8s.io/v1alpha1');
      expect(Object.keys(schemaOf(doc, 'VolumeGroupSnapshotContent').properties?.status?.properties ?? {})).toContain('volumeSnapshotContentRefList');
    } finally {
      const exit = new Promise((resolve) => proc.on('exit', resolve));
      proc.kill('SIGTERM');
      await exit;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
