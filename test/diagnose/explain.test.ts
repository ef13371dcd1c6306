import { afterEach, describe, expect, test } from '@jest/globals';
import { memberContentName } from '../../src/sidecar/group/members.js';
import { ANN_BEING_CREATED, ANN_BEING_DELETED, ANN_GROUP_MEMBER, ANN_MEMBER_SNAPSHOT_IDS, FINALIZER_GROUP_CONTENT } from '../../src/sidecar/keys.js';
import { Env, VSC_PATH } from '../e2e/env.js';
import { startSidecar } from '../helpers/process.js';
import { uidFor } from '../helpers/uid.js';

/**
 * `csi-snapshotter explain NAME`, run as the program users run, for each state a content gets stuck
 * in: the step the sidecar takes next (from its own decision), what holds the object, the last
 * driver answer and what a human can do.
 */
let env: Env | undefined;

afterEach(async () => {
  await env?.stop();
  env = undefined;
});

async function explain(e: Env, name: string): Promise<{ code: number | null; out: string; err: string }> {
  const run = startSidecar(['explain', name, `--csi-address=${e.driver.socketPath}`, `--kubeconfig=${e.api.kubeconfigPath}`, '--retry-interval-start=1s', '--retry-interval-max=5m']);
  const { code } = await run.waitForExit(60_000);
  return { code, out: run.stdout, err: run.stderr };
}

async function setStatus(e: Env, name: string, status: Record<string, unknown>): Promise<void> {
  await e.rest.request({ method: 'PATCH', path: `${VSC_PATH}/${name}/status`, contentType: 'application/merge-patch+json', body: { status } });
}

describe('csi-snapshotter explain', () => {
  test('a dynamic content whose create failed: the error, the retry, the Event, and what to do', async () => {
    env = await Env.start();
    const e = env;
    await e.createContent({ name: 'failing', volumeHandle: 'vol-1', className: 'gold' });
    await setStatus(e, 'failing', { readyToUse: false, error: { message: 'Failed to check and update snapshot content: quota exceeded', time: new Date().toISOString() } });
    await e.rest.request({
      method: 'POST',
      path: '/api/v1/namespaces/default/events',
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'failing.1' },
        involvedObject: { kind: 'VolumeSnapshotContent', name: 'failing', apiVersion: 'snapshot.storage.k8s.io/v1' },
        type: 'Warning',
        reason: 'SnapshotContentCheckandUpdateFailed',
        message: 'quota exceeded',
        count: 3,
        lastTimestamp: new Date().toISOString(),
      },
    });
    const { code, out } = await explain(e, 'failing');
    const lines = out.split('\n');
    expect(lines[0]).toBe('VolumeSnapshotContent failing');
    expect(lines).toContain('  driver: sample.csi.example.com; deletionPolicy: Delete; class: gold');
    expect(lines).toContain('  source: dynamic, from volume vol-1; bound to VolumeSnapshot default/vs-failing');
    expect(lines).toContain('  status: not ready');
    expect(out).toMatch(/ {2}last error \(\d+s ago\): Failed to check and update snapshot content: quota exceeded\n/);
    expect(lines).toContain('  next step of the sidecar: call CreateSnapshot again to learn whether the snapshot is ready');
    expect(out).toMatch(/ {2}next retry: (in about|within) /);
    expect(out).toMatch(/ {4}\d+s ago {2}Warning SnapshotContentCheckandUpdateFailed \(x3\): quota exceeded\n/);
    expect(lines).toContain('  what you can do: fix what the last error names (driver log, class parameters, Secrets); the sidecar retries by itself');
    expect(code).toBe(0);
  });

  test('a deleted content held by its finalizer while its VolumeSnapshot still exists', async () => {
    env = await Env.start();
    const e = env;
    const vs = await e.rest.request<{ metadata: { uid: string } }>({
      method: 'POST',
      path: '/apis/snapshot.storage.k8s.io/v1/namespaces/default/volumesnapshots',
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name: 'vs-held' }, spec: { source: { volumeSnapshotContentName: 'held' } } },
    });
    await e.createContent({ name: 'held', snapshotHandle: 'snap-1', uid: vs.metadata.uid });
    await setStatus(e, 'held', { readyToUse: true, snapshotHandle: 'snap-1' });
    await e.rest.request({ method: 'DELETE', path: `${VSC_PATH}/held` });
    const { code, out } = await explain(e, 'held');
    const lines = out.split('\n');
    expect(lines).toContain('  finalizers: snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection (removed by this sidecar once the storage side is done)');
    expect(out).toMatch(/ {2}deletion asked for \d+s ago\n/);
    expect(lines).toContain('  next step of the sidecar: nothing yet: the deletion is not cleared to go (see below)');
    expect(lines).toContain('  why: waiting for the snapshot-controller: it marks the content being-deleted once the VolumeSnapshot bound to it is gone');
    expect(lines).toContain('  why: the VolumeSnapshot default/vs-held still exists');
    expect(lines).toContain('  what you can do: delete the VolumeSnapshot default/vs-held, or wait for its own finalizers');
    expect(code).toBe(0);

    // Once the VolumeSnapshot is gone but the controller has not marked the content, the controller is the suspect.
    await e.rest.request({ method: 'DELETE', path: '/apis/snapshot.storage.k8s.io/v1/namespaces/default/volumesnapshots/vs-held' });
    const after = (await explain(e, 'held')).out.split('\n');
    expect(after).toContain('  why: the VolumeSnapshot default/vs-held is gone, yet the mark is missing');
    expect(after).toContain('  what you can do: check that the snapshot-controller is running and look at its log');
  });

  test('a deletion waiting for a create that may still be cutting storage, and one cleared to go', async () => {
    env = await Env.start();
    const e = env;
    await e.createContent({ name: 'creating', volumeHandle: 'vol-2', annotations: { [ANN_BEING_CREATED]: 'yes', [ANN_BEING_DELETED]: 'yes' } });
    await e.rest.request({ method: 'DELETE', path: `${VSC_PATH}/creating` });
    const creating = (await explain(e, 'creating')).out.split('\n');
    expect(creating).toContain(`  marks: ${ANN_BEING_CREATED}, ${ANN_BEING_DELETED}`);
    expect(creating).toContain('  why: a create may still be cutting storage (being-created mark): the sidecar keeps the content until that create has resolved, so no snapshot is leaked');

    await e.createContent({ name: 'going', snapshotHandle: 'snap-3', annotations: { [ANN_BEING_DELETED]: 'yes' } });
    await setStatus(e, 'going', { readyToUse: true, snapshotHandle: 'snap-3' });
    await e.rest.request({ method: 'DELETE', path: `${VSC_PATH}/going` });
    const going = (await explain(e, 'going')).out.split('\n');
    expect(going).toContain('  next step of the sidecar: delete the storage snapshot (DeleteSnapshot), then clear status and remove the finalizer');
    expect(going).toContain('  why: the deletion is cleared to go: the sidecar runs it (or retries it after a failure, see the last error)');
  });

  test('a content of another driver is named as such', async () => {
    env = await Env.start();
    const e = env;
    await e.createContent({ name: 'foreign', volumeHandle: 'v', policy: 'Retain', driver: 'other.csi.example.com' });
    const { out } = await explain(e, 'foreign');
    expect(out).toContain('  note: this content belongs to driver other.csi.example.com; this sidecar serves sample.csi.example.com and leaves it alone\n');
  });

  test('a group content: the group, then each member content', async () => {
    env = await Env.start({ groupSnapshotVersions: ['v1'] });
    const e = env;
    const groupPath = '/apis/groupsnapshot.storage.k8s.io/v1/volumegroupsnapshotcontents';
    await e.rest.request({
      method: 'POST',
      path: groupPath,
      body: {
        apiVersion: 'groupsnapshot.storage.k8s.io/v1',
        kind: 'VolumeGroupSnapshotContent',
        metadata: { name: 'grp', finalizers: [FINALIZER_GROUP_CONTENT] },
        spec: { volumeGroupSnapshotRef: { name: 'vgs', namespace: 'default', uid: uidFor('grp') }, deletionPolicy: 'Delete', driver: e.driverName, source: { volumeHandles: ['vol-a', 'vol-b'] } },
      },
    });
    await e.rest.request({
      method: 'PATCH',
      path: `${groupPath}/grp/status`,
      contentType: 'application/merge-patch+json',
      body: { status: { volumeGroupSnapshotHandle: 'group-1', readyToUse: false, volumeSnapshotInfoList: [{ volumeHandle: 'vol-a', snapshotHandle: 'snap-a' }, { volumeHandle: 'vol-b', snapshotHandle: 'snap-b' }] } },
    });
    await e.createContent({ name: 'member-a', snapshotHandle: 'snap-a', annotations: { [ANN_GROUP_MEMBER]: 'group-1' } });
    const { code, out } = await explain(e, 'grp');
    const lines = out.split('\n');
    expect(lines[0]).toBe('VolumeGroupSnapshotContent grp');
    expect(lines).toContain('  status: not ready; group group-1; 2 members');
    expect(lines).toContain('  next step of the sidecar: ask the driver with GetVolumeGroupSnapshot whether the group is ready, again after each readiness delay');
    expect(lines).toContain('  members:');
    expect(lines).toContain('    VolumeSnapshotContent member-a');
    expect(lines).toContain('      source: pre-provisioned, storage snapshot snap-a; bound to VolumeSnapshot default/vs-member-a');
    expect(lines).toContain('    snapshot snap-b of volume vol-b: no VolumeSnapshotContent yet (the snapshot-controller creates one per member)');
    expect(code).toBe(0);
  });

  test('a v1alpha1 group content (v7.0 schema): members are the contents its status names; one that is gone is said to be in the group\'s record of member ids when it is', async () => {
    env = await Env.start({ groupSnapshotVersions: ['v1alpha1-v7'] });
    const e = env;
    const groupPath = '/apis/groupsnapshot.storage.k8s.io/v1alpha1/volumegroupsnapshotcontents';
    await e.createGroupContent('v1alpha1', { name: 'grp', volumeHandles: ['vol-a', 'vol-b', 'vol-c'] });
    const uid = (await e.getGroupContent('v1alpha1', 'grp')).metadata.uid ?? '';
    const recorded = memberContentName(uid, 'vol-c');
    await e.rest.request({ method: 'PATCH', path: `${groupPath}/grp`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_MEMBER_SNAPSHOT_IDS]: JSON.stringify({ 'vol-c': 'snap-c' }) } } } });
    await e.rest.request({
      method: 'PATCH',
      path: `${groupPath}/grp/status`,
      contentType: 'application/merge-patch+json',
      body: { status: { volumeGroupSnapshotHandle: 'group-1', readyToUse: false, volumeSnapshotContentRefList: ['member-a', 'member-b', recorded].map((name) => ({ kind: 'VolumeSnapshotContent', name })) } },
    });
    await e.createContent({ name: 'member-a', snapshotHandle: 'snap-a' });
    const { code, out } = await explain(e, 'grp');
    const lines = out.split('\n');
    expect(lines[0]).toBe('VolumeGroupSnapshotContent grp');
    expect(lines).toContain('  status: not ready; group group-1; 3 members');
    expect(lines).toContain('    VolumeSnapshotContent member-a');
    expect(lines).toContain('    VolumeSnapshotContent member-b: listed by the group but not found (deleted, or not readable by this user)');
    expect(lines).toContain(
      `    VolumeSnapshotContent ${recorded}: listed by the group but not found (deleted, or not readable by this user); the group records its snapshot snap-c of volume vol-c (${ANN_MEMBER_SNAPSHOT_IDS}), so deleting the group still deletes it`,
    );
    expect(code).toBe(0);
  });

  test('a name no content has', async () => {
    env = await Env.start();
    const { code, err } = await explain(env, 'nothing-here');
    expect(err).toContain('csi-snapshotter explain: no VolumeSnapshotContent or VolumeGroupSnapshotContent is named nothing-here');
    expect(code).toBe(1);
  });
});
