import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIDECAR_PERMISSIONS } from '../../src/kube/permissions.js';
import type { TestApiServerOptions } from '../../src/testing/apiserver/index.js';
import type { Faults } from '../../src/testing/sample-driver/index.js';
import { Env, VSC_PATH } from '../e2e/env.js';
import { startSidecar, waitFor } from '../helpers/process.js';

/**
 * `csi-snapshotter doctor`, run as the program users run, against the API test server and the sample
 * driver with one problem injected at a time: each problem is named, with what to do, and the exit
 * code is 1; a healthy set-up exits 0.
 */
let env: Env | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await env?.stop();
  env = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: { faults?: Faults; api?: TestApiServerOptions } = {}): Promise<Env> {
  env = await Env.start(options);
  return env;
}

async function doctor(e: Env, extra: string[] = [], overrides: { csiAddress?: string; kubeconfig?: string } = {}): Promise<{ code: number | null; out: string; lines: string[] }> {
  const run = startSidecar(['doctor', `--csi-address=${overrides.csiAddress ?? e.driver.socketPath}`, `--kubeconfig=${overrides.kubeconfig ?? e.api.kubeconfigPath}`, '--timeout=10s', ...extra]);
  const { code } = await run.waitForExit(60_000);
  return { code, out: run.stdout, lines: run.stdout.split('\n') };
}

function problems(lines: string[]): string[] {
  return lines.filter((l) => l.startsWith('PROBLEM'));
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'doctor-'));
  dirs.push(dir);
  return dir;
}

describe('csi-snapshotter doctor', () => {
  test('a healthy set-up: every check ok, every permission the sidecar uses asked about, exit 0', async () => {
    const e = await start();
    await e.createClass('plain');
    const { code, out, lines } = await doctor(e);
    expect(problems(lines)).toEqual([]);
    expect(out).toContain(`ok       CSI socket: ${e.driver.socketPath} is a socket that accepts connections`);
    expect(out).toContain('ok       Probe: the driver is ready');
    expect(out).toMatch(/ok {7}capabilities: sample\.csi\.example\.com advertises .*CREATE_DELETE_SNAPSHOT/);
    expect(out).toContain('ok       snapshot API: snapshot.storage.k8s.io/v1 is served');
    expect(out).toContain('ok       VolumeSnapshotClass plain: names no Secrets');
    expect(out.trimEnd().endsWith('No problems found.')).toBe(true);
    // Without --leader-election the lease is not needed; secrets are checked per class.
    const asked = SIDECAR_PERMISSIONS.filter((p) => p.needed === 'always' || p.needed === 'group-snapshots');
    expect(lines.filter((l) => l.startsWith('ok       permission:'))).toHaveLength(asked.length);
    const reviews = e.api.requests.all({ resource: 'selfsubjectaccessreviews' });
    expect(reviews).toHaveLength(asked.reduce((n, p) => n + p.verbs.length, 0));
    expect(code).toBe(0);
  });

  test('a v1alpha1 cluster: the schema in use is named, the member-object grants are asked about too, and a missing one points at the optional component', async () => {
    const e = await start({ api: { groupSnapshotVersions: ['v1alpha1-v7'], deny: [{ verb: 'create', group: 'snapshot.storage.k8s.io', resource: 'volumesnapshots' }] } });
    const { code, out, lines } = await doctor(e);
    expect(out).toContain('ok       group snapshot API: groupsnapshot.storage.k8s.io serves v1alpha1; the sidecar uses v1alpha1 with the schema of external-snapshotter v7.0, creating the member objects itself');
    expect(problems(lines)).toEqual([
      'PROBLEM  permission: cannot create volumesnapshots (snapshot.storage.k8s.io API group), needed to create (or find again after a restart) the member snapshots of a v1alpha1 group',
    ]);
    expect(lines[lines.indexOf(problems(lines)[0] as string) + 1]).toContain('enable the component manifests/components/group-snapshots-v1alpha1');
    const asked = SIDECAR_PERMISSIONS.filter((p) => p.needed === 'always' || p.needed === 'group-snapshots' || p.needed === 'group-snapshots-v1alpha1');
    expect(e.api.requests.all({ resource: 'selfsubjectaccessreviews' })).toHaveLength(asked.reduce((n, p) => n + p.verbs.length, 0));
    expect(code).toBe(1);
  });

  test('no socket at --csi-address', async () => {
    const e = await start();
    const missing = join(tempDir(), 'csi.sock');
    const { code, lines } = await doctor(e, [], { csiAddress: missing });
    expect(problems(lines)[0]).toBe(`PROBLEM  CSI socket: nothing exists at ${missing}`);
    expect(lines[lines.indexOf(problems(lines)[0] as string) + 1]).toMatch(/fix: start the driver, and mount the directory its socket is in/);
    expect(code).toBe(1);
  });

  test('a path that is not a socket', async () => {
    const e = await start();
    const file = join(tempDir(), 'csi.sock');
    writeFileSync(file, '');
    const { code, lines } = await doctor(e, [], { csiAddress: file });
    expect(problems(lines)[0]).toBe(`PROBLEM  CSI socket: ${file} exists but is a regular file, not a socket`);
    expect(code).toBe(1);
  });

  test('Probe failing', async () => {
    const e = await start({ faults: { errors: { Probe: { code: 'FAILED_PRECONDITION', message: 'backend offline' } } } });
    const { code, lines } = await doctor(e);
    expect(problems(lines)).toEqual([expect.stringMatching(/^PROBLEM {2}Probe: Probe failed: .*FailedPrecondition.*backend offline/)]);
    expect(code).toBe(1);
  });

  test('a driver that does not advertise CREATE_DELETE_SNAPSHOT', async () => {
    const e = await start({ faults: { withhold: { controller: ['CREATE_DELETE_SNAPSHOT'] } } });
    const { code, lines } = await doctor(e);
    expect(problems(lines)).toEqual([expect.stringMatching(/^PROBLEM {2}capabilities: sample\.csi\.example\.com does not advertise CREATE_DELETE_SNAPSHOT \(it advertises: .*LIST_SNAPSHOTS/)]);
    expect(code).toBe(1);
  });

  test('a missing RBAC verb is named with its resource and what the sidecar needs it for', async () => {
    const e = await start({ api: { deny: [{ verb: 'patch', group: 'snapshot.storage.k8s.io', resource: 'volumesnapshotcontents', subresource: 'status' }] } });
    const { code, lines } = await doctor(e);
    expect(problems(lines)).toEqual([
      'PROBLEM  permission: cannot patch volumesnapshotcontents/status (snapshot.storage.k8s.io API group), needed to write snapshotHandle, readyToUse, restoreSize and errors',
    ]);
    expect(code).toBe(1);
  });

  test('the lease permission is checked in the lease namespace only with --leader-election', async () => {
    const e = await start({ api: { deny: [{ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'csi' }] } });
    expect(problems((await doctor(e)).lines)).toEqual([]);
    const { code, lines } = await doctor(e, ['--leader-election', '--leader-election-namespace=csi']);
    expect(problems(lines)).toEqual(['PROBLEM  permission: cannot update leases (coordination.k8s.io API group) in namespace csi, needed to hold the leader lease']);
    expect(code).toBe(1);
  });

  test('missing snapshot CRDs', async () => {
    const e = await start({ api: { snapshotApi: false } });
    const { code, lines } = await doctor(e);
    expect(problems(lines)).toEqual(['PROBLEM  snapshot API: snapshot.storage.k8s.io is not served: the VolumeSnapshot CRDs are not installed']);
    expect(code).toBe(1);
  });

  test('credentials the API server rejects', async () => {
    const e = await start();
    const wrong = join(tempDir(), 'kubeconfig');
    writeFileSync(wrong, readFileSync(e.api.kubeconfigPath, 'utf8').replace(e.api.token, 'not-the-token'));
    const { code, lines } = await doctor(e, [], { kubeconfig: wrong });
    expect(problems(lines)).toEqual(['PROBLEM  Kubernetes API: the API server rejected the credentials (401 Unauthorized)']);
    expect(code).toBe(1);
  });

  test('a class naming a Secret that does not exist; one that exists; a templated one', async () => {
    const e = await start();
    await e.rest.request({ method: 'POST', path: '/api/v1/namespaces/default/secrets', body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'present' }, data: { password: Buffer.from('hunter2').toString('base64') } } });
    await e.createClass('missing', { parameters: { 'csi.storage.k8s.io/snapshotter-secret-name': 'absent', 'csi.storage.k8s.io/snapshotter-secret-namespace': 'default' } });
    await e.createClass('found', { parameters: { 'csi.storage.k8s.io/snapshotter-list-secret-name': 'present', 'csi.storage.k8s.io/snapshotter-list-secret-namespace': 'default' } });
    await e.createClass('templated', {
      parameters: { 'csi.storage.k8s.io/snapshotter-secret-name': '${volumesnapshotcontent.name}', 'csi.storage.k8s.io/snapshotter-secret-namespace': 'default' },
    });
    await e.createClass('other-driver', { driver: 'other.csi.example.com', parameters: { 'csi.storage.k8s.io/snapshotter-secret-name': 'nope', 'csi.storage.k8s.io/snapshotter-secret-namespace': 'default' } });
    const { code, out, lines } = await doctor(e);
    expect(problems(lines)).toEqual(['PROBLEM  VolumeSnapshotClass missing: the snapshotter Secret default/absent does not exist']);
    expect(out).toContain('ok       VolumeSnapshotClass found: the snapshotter-list Secret default/present exists and can be read');
    expect(out).toContain('note     VolumeSnapshotClass templated: the snapshotter Secret is a template');
    expect(out).not.toContain('other-driver');
    expect(out).not.toContain('hunter2');
    expect(out).not.toContain(Buffer.from('hunter2').toString('base64'));
    expect(code).toBe(1);
  });

  test('a content not ready, and one not deleted because a finalizer holds it, past --stuck-after', async () => {
    const e = await start();
    await e.createContent({ name: 'slow', volumeHandle: 'vol-1' });
    await e.rest.request({
      method: 'PATCH',
      path: `${VSC_PATH}/slow/status`,
      contentType: 'application/merge-patch+json',
      body: { status: { readyToUse: false, error: { message: 'storage pool full', time: new Date().toISOString() } } },
    });
    await e.createContent({ name: 'held', snapshotHandle: 'snap-9' });
    await e.rest.request({ method: 'DELETE', path: `${VSC_PATH}/held` });
    const ready = await e.createContent({ name: 'done', snapshotHandle: 'snap-10' });
    await e.rest.request({ method: 'PATCH', path: `${VSC_PATH}/done/status`, contentType: 'application/merge-patch+json', body: { status: { readyToUse: true, snapshotHandle: 'snap-10' } } });
    // Wait until the clock has moved past the objects' whole-second timestamps, so 1s is exceeded.
    const created = Date.parse(ready.metadata.creationTimestamp ?? '');
    await waitFor('the objects to be more than 1s old', () => Date.now() - created > 2000, 10_000);
    const { code, lines } = await doctor(e, ['--stuck-after=1s']);
    expect(problems(lines)).toEqual([
      expect.stringMatching(/^PROBLEM {2}VolumeSnapshotContent held: not deleted \d+s after its deletion was asked for; held by snapshot\.storage\.kubernetes\.io\/volumesnapshotcontent-bound-protection; no error recorded$/),
      expect.stringMatching(/^PROBLEM {2}VolumeSnapshotContent slow: not ready \d+s after it was created; last error: storage pool full$/),
    ]);
    expect(lines).toContain('           fix: run csi-snapshotter explain slow');
    expect(code).toBe(1);
    // The same contents are not stuck under the default threshold of ten minutes.
    expect(problems((await doctor(e)).lines)).toEqual([]);
  });

  test('arguments other than flags are refused with the usage', async () => {
    const e = await start();
    const run = startSidecar(['doctor', 'extra', `--kubeconfig=${e.api.kubeconfigPath}`]);
    expect((await run.waitForExit()).code).toBe(2);
    expect(run.stderr).toContain('doctor takes no arguments besides flags, got extra');
  });
});
