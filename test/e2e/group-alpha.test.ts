import { afterEach, describe, expect, test } from '@jest/globals';
import { collectionPath, objectPath, VOLUME_SNAPSHOT_CONTENTS, VOLUME_SNAPSHOTS, volumeGroupSnapshotClasses, volumeGroupSnapshotContents } from '../../src/kube/resources.js';
import { memberContentName, memberSnapshotName } from '../../src/sidecar/group/members.js';
import type { WireGroupContent } from '../../src/sidecar/group/types.js';
import { ANN_GROUP_BEING_CREATED, FINALIZER_GROUP_CONTENT } from '../../src/sidecar/keys.js';
import { waitFor } from '../helpers/process.js';
import { uidFor } from '../helpers/uid.js';
import { Env } from './env.js';

// The sidecar as a separate process against the API test server serving one of the two v1alpha1
// group snapshot schemas: which API and schema it says it uses, the old switch, and single
// snapshots served whatever happens to the group API.
let env: Env | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

/** Starts the sidecar with `flags` and cuts one single snapshot: single snapshots never wait on the group API. */
async function singleSnapshotServed(e: Env, flags: string[]): Promise<string> {
  await e.createClass('gold');
  e.startSidecar(flags);
  await e.sidecar?.waitForOutput(/VolumeSnapshotContent caches synced/);
  const volume = await e.createVolume('single-1');
  await e.createContent({ name: 'snapcontent-single', volumeHandle: volume, className: 'gold' });
  await e.waitForContent('snapcontent-single', 'readyToUse', (c) => c.status?.readyToUse === true);
  return e.sidecar?.output ?? '';
}

describe('v1alpha1 clusters', () => {
  test.each([
    ['v1alpha1-v7' as const, /Serving VolumeGroupSnapshotContents.*groupsnapshot\.storage\.k8s\.io\/v1alpha1.*external-snapshotter v7\.0.*volumeSnapshotContentRefList/],
    ['v1alpha1' as const, /Serving VolumeGroupSnapshotContents.*groupsnapshot\.storage\.k8s\.io\/v1alpha1.*external-snapshotter v8\.0-v8\.1.*pvVolumeSnapshotContentList/],
  ])('served %s: the sidecar logs once which API and schema it uses and serves group contents there', async (served, line) => {
    env = await Env.start({ groupSnapshotVersions: [served] });
    const output = await singleSnapshotServed(env, []);
    await env.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    expect(output.match(/Serving VolumeGroupSnapshotContents/g)).toHaveLength(1);
    expect(output).toMatch(line);
    expect(output).not.toMatch(/disabling the VolumeGroupSnapshot feature/);
  });

  test('--enable-volume-group-snapshots (the switch charts of that era pass) turns group snapshots on, =false off; single snapshots are served either way', async () => {
    env = await Env.start({ groupSnapshotVersions: ['v1alpha1-v7'] });
    const on = await singleSnapshotServed(env, ['--enable-volume-group-snapshots']);
    await env.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    expect(on).toMatch(/Serving VolumeGroupSnapshotContents.*v1alpha1/);
    await env.stop();

    env = await Env.start({ groupSnapshotVersions: ['v1alpha1-v7'] });
    const off = await singleSnapshotServed(env, ['--enable-volume-group-snapshots=false']);
    expect(off).toMatch(/Deprecated flag: --enable-volume-group-snapshots/);
    expect(off).not.toMatch(/Serving VolumeGroupSnapshotContents/);
    expect(off).not.toMatch(/VolumeGroupSnapshotContent caches synced/);
    // No group request at all: the switch is off before discovery.
    expect(env.api.requests.all({ group: 'groupsnapshot.storage.k8s.io' })).toEqual([]);
  });

  test('v1alpha1 the sidecar may not list: one warning, single snapshots served', async () => {
    env = await Env.start({ groupSnapshotVersions: ['v1alpha1'], api: { deny: [{ verb: 'list', group: 'groupsnapshot.storage.k8s.io', resource: 'volumegroupsnapshotclasses' }] } });
    const output = await singleSnapshotServed(env, []);
    expect(output.match(/disabling the VolumeGroupSnapshot feature/g)).toHaveLength(1);
    expect(output).not.toMatch(/VolumeGroupSnapshotContent caches synced/);
  });

  test('the sidecar killed between the first and the last member: after the restart each member exists exactly once and the group is ready', async () => {
    env = await Env.start({ groupSnapshotVersions: ['v1alpha1-v7'] });
    const e = env;
    const VGSC = volumeGroupSnapshotContents('v1alpha1');
    await e.rest.request({
      method: 'POST',
      path: collectionPath(volumeGroupSnapshotClasses('v1alpha1')),
      body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1alpha1', kind: 'VolumeGroupSnapshotClass', metadata: { name: 'group-gold' }, driver: e.driverName, deletionPolicy: 'Delete' },
    });
    const volumes = [await e.createVolume('alpha-1'), await e.createVolume('alpha-2'), await e.createVolume('alpha-3')];
    // The first member's VolumeSnapshot is held by the API server, so the sidecar is caught with one member content made.
    e.api.faults.addLatency({ verb: 'create', resource: 'volumesnapshots', ms: 120_000 });
    e.startSidecar();
    await e.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    const created = await e.rest.request<WireGroupContent>({
      method: 'POST',
      path: collectionPath(VGSC),
      body: {
        apiVersion: 'groupsnapshot.storage.k8s.io/v1alpha1',
        kind: 'VolumeGroupSnapshotContent',
        metadata: { name: 'groupsnapcontent-restart', finalizers: [FINALIZER_GROUP_CONTENT] },
        spec: {
          volumeGroupSnapshotRef: { kind: 'VolumeGroupSnapshot', name: 'vgs-restart', namespace: 'default', uid: uidFor('vgs-restart') },
          deletionPolicy: 'Delete',
          driver: e.driverName,
          volumeGroupSnapshotClassName: 'group-gold',
          source: { volumeHandles: volumes },
        },
      },
    });
    const uid = created.metadata.uid ?? '';
    const contentNames = volumes.map((v) => memberContentName(uid, v));
    const snapshotNames = volumes.map((v) => memberSnapshotName(uid, v));
    const existing = async (path: (name: string) => string, names: string[]) => {
      let count = 0;
      for (const name of names) {
        try {
          await e.rest.request({ method: 'GET', path: path(name) });
          count++;
        } catch {
          // Not there (yet).
        }
      }
      return count;
    };
    const contentPath = (name: string) => objectPath(VOLUME_SNAPSHOT_CONTENTS, name);
    const snapshotPath = (name: string) => objectPath(VOLUME_SNAPSHOTS, name, 'default');
    await waitFor('the first member content', async () => ((await existing(contentPath, contentNames)) === 1 ? true : undefined));
    expect(await existing(snapshotPath, snapshotNames)).toBe(0);
    await e.sidecar?.stop();
    expect((await e.rest.request<WireGroupContent>({ method: 'GET', path: objectPath(VGSC, 'groupsnapcontent-restart') })).metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');

    e.api.faults.clear();
    e.startSidecar();
    const ready = await waitFor('the group to be ready', async () => {
      const c = await e.rest.request<WireGroupContent>({ method: 'GET', path: objectPath(VGSC, 'groupsnapcontent-restart') });
      return c.status?.readyToUse === true && !c.metadata.annotations?.[ANN_GROUP_BEING_CREATED] ? c : undefined;
    }, 60_000);
    expect(ready.status?.volumeSnapshotContentRefList).toEqual(expect.arrayContaining(contentNames.map((name) => ({ kind: 'VolumeSnapshotContent', name }))));
    expect(ready.status?.volumeSnapshotContentRefList).toHaveLength(3);
    expect(await existing(contentPath, contentNames)).toBe(3);
    expect(await existing(snapshotPath, snapshotNames)).toBe(3);
    // Nothing else was created: every content and snapshot in the cluster is one of these members.
    const all = await e.rest.request<{ items: unknown[] }>({ method: 'GET', path: collectionPath(VOLUME_SNAPSHOT_CONTENTS) });
    const snapshots = await e.rest.request<{ items: unknown[] }>({ method: 'GET', path: collectionPath(VOLUME_SNAPSHOTS, 'default') });
    expect([all.items.length, snapshots.items.length]).toEqual([3, 3]);
    // One storage group: the second sidecar's create found the first one's by name.
    const creates = (await e.driver.calls()).filter((c) => c.method === 'CreateVolumeGroupSnapshot').map((c) => c.request.name);
    expect(creates.length).toBeGreaterThanOrEqual(2);
    expect(new Set(creates).size).toBe(1);
  });

  test('without the optional RBAC rule for member objects: status.error and a Warning Event name the verb and resource refused, and nothing of the group is released', async () => {
    env = await Env.start({ groupSnapshotVersions: ['v1alpha1'], api: { deny: [{ verb: 'create', group: 'snapshot.storage.k8s.io', resource: 'volumesnapshots' }] } });
    const e = env;
    const VGSC = volumeGroupSnapshotContents('v1alpha1');
    await e.rest.request({
      method: 'POST',
      path: collectionPath(volumeGroupSnapshotClasses('v1alpha1')),
      body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1alpha1', kind: 'VolumeGroupSnapshotClass', metadata: { name: 'group-gold' }, driver: e.driverName, deletionPolicy: 'Delete' },
    });
    e.startSidecar();
    await e.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    const volumes = [await e.createVolume('rbac-1'), await e.createVolume('rbac-2')];
    await e.rest.request({
      method: 'POST',
      path: collectionPath(VGSC),
      body: {
        apiVersion: 'groupsnapshot.storage.k8s.io/v1alpha1',
        kind: 'VolumeGroupSnapshotContent',
        metadata: { name: 'groupsnapcontent-rbac', finalizers: [FINALIZER_GROUP_CONTENT] },
        spec: {
          volumeGroupSnapshotRef: { kind: 'VolumeGroupSnapshot', name: 'vgs-rbac', namespace: 'default', uid: uidFor('vgs-rbac') },
          deletionPolicy: 'Delete',
          driver: e.driverName,
          volumeGroupSnapshotClassName: 'group-gold',
          source: { volumeHandles: volumes },
        },
      },
    });
    const failed = await waitFor('the failure in status', async () => {
      const c = await e.rest.request<WireGroupContent>({ method: 'GET', path: objectPath(VGSC, 'groupsnapcontent-rbac') });
      return (c.status?.error as { message?: string } | undefined)?.message ? c : undefined;
    });
    const message = (failed.status?.error as { message: string }).message;
    expect(message).toContain('failed to create member VolumeSnapshot default/snapshot-');
    expect(message).toContain('cannot create resource "volumesnapshots" in API group "snapshot.storage.k8s.io"');
    expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
    expect(failed.status?.volumeGroupSnapshotHandle).toBeUndefined();
    const events = await waitFor('the Warning Event', async () => {
      const list = await e.rest.request<{ items: Array<{ reason: string; message: string; involvedObject: { name: string } }> }>({ method: 'GET', path: '/api/v1/namespaces/default/events' });
      const mine = list.items.filter((ev) => ev.involvedObject.name === 'groupsnapcontent-rbac');
      return mine.length > 0 ? mine : undefined;
    });
    expect(events[0]?.reason).toBe('GroupSnapshotCreationFailed');
    expect(events[0]?.message).toContain('cannot create resource "volumesnapshots"');
  });
});
