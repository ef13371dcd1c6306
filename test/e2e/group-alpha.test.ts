import { afterEach, describe, expect, test } from '@jest/globals';
import { collectionPath, objectPath, statusPath, VOLUME_SNAPSHOT_CONTENTS, VOLUME_SNAPSHOTS } from '../../src/kube/resources.js';
import { memberContentName, memberSnapshotName } from '../../src/sidecar/group/members.js';
import type { WireGroupContent } from '../../src/sidecar/group/types.js';
import { groupVersionAdapter, type GroupApiMode } from '../../src/sidecar/group/versions.js';
import { ANN_GROUP_BEING_CREATED, ANN_MEMBER_SNAPSHOT_IDS } from '../../src/sidecar/keys.js';
import type { GroupVersion } from '../../src/testing/apiserver/index.js';
import { waitFor } from '../helpers/process.js';
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

  test('Z-13: --enable-volume-group-snapshots (the switch charts of that era pass) turns group snapshots on, =false off (no group request at all); single snapshots are served either way', async () => {
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

  test('Z-11: v1alpha1 the sidecar may not list: one warning, single snapshots served', async () => {
    env = await Env.start({ groupSnapshotVersions: ['v1alpha1'], api: { deny: [{ verb: 'list', group: 'groupsnapshot.storage.k8s.io', resource: 'volumegroupsnapshotclasses' }] } });
    const output = await singleSnapshotServed(env, []);
    expect(output.match(/disabling the VolumeGroupSnapshot feature/g)).toHaveLength(1);
    expect(output).not.toMatch(/VolumeGroupSnapshotContent caches synced/);
  });

});

/** Both v1alpha1 schemas: what the API test server is told to serve, and the sidecar's mode there. */
const FLAVOURS: Array<[GroupVersion, GroupApiMode]> = [['v1alpha1', 'v1alpha1-v8'], ['v1alpha1-v7', 'v1alpha1-v7']];
const V = 'v1alpha1';
const readyAndUnmarked = (c: WireGroupContent) => c.status?.readyToUse === true && c.metadata.annotations?.[ANN_GROUP_BEING_CREATED] === undefined;

/** How many of `names` exist (a 404 is "not there"; any other failure is an error). */
async function existing(e: Env, path: (name: string) => string, names: string[]): Promise<number> {
  let count = 0;
  for (const name of names) {
    try {
      await e.rest.request({ method: 'GET', path: path(name) });
      count++;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }
  return count;
}
const contentPath = (name: string) => objectPath(VOLUME_SNAPSHOT_CONTENTS, name);
const snapshotPath = (name: string) => objectPath(VOLUME_SNAPSHOTS, name, 'default');

/** Every VolumeSnapshotContent and VolumeSnapshot in the cluster. */
async function allMemberObjects(e: Env): Promise<[number, number]> {
  const contents = await e.rest.request<{ items: unknown[] }>({ method: 'GET', path: collectionPath(VOLUME_SNAPSHOT_CONTENTS) });
  const snapshots = await e.rest.request<{ items: unknown[] }>({ method: 'GET', path: collectionPath(VOLUME_SNAPSHOTS, 'default') });
  return [contents.items.length, snapshots.items.length];
}

/** The API test server serving one v1alpha1 schema, a group class of this driver, and `count` volumes. */
async function startAlpha(served: GroupVersion, volumePrefix: string, count: number, options: Parameters<typeof Env.start>[0] = {}): Promise<{ e: Env; volumes: string[] }> {
  env = await Env.start({ ...options, groupSnapshotVersions: [served] });
  await env.createGroupClass(V, 'group-gold');
  const volumes: string[] = [];
  for (let i = 0; i < count; i++) volumes.push(await env.createVolume(`${volumePrefix}-${i}`));
  return { e: env, volumes };
}

describe.each(FLAVOURS)('v1alpha1 group snapshots, served %s (mode %s)', (served, mode) => {
  const adapter = groupVersionAdapter(mode);
  const listedContents = (wire: WireGroupContent) => (adapter.toModel(wire).status?.members ?? []).map((m) => m.contentName);

  test('the sidecar killed between the first and the last member: after the restart each member exists exactly once and the group is ready', async () => {
    const { e, volumes } = await startAlpha(served, 'alpha', 3);
    // The first member's VolumeSnapshot is held by the API server, so the sidecar is caught with one member content made.
    e.api.faults.addLatency({ verb: 'create', resource: 'volumesnapshots', ms: 120_000 });
    e.startSidecar();
    await e.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    const uid = (await e.createGroupContent(V, { name: 'groupsnapcontent-restart', volumeHandles: volumes, className: 'group-gold' })).metadata.uid ?? '';
    const contentNames = volumes.map((v) => memberContentName(uid, v));
    const snapshotNames = volumes.map((v) => memberSnapshotName(uid, v));
    await waitFor('the first member content', async () => ((await existing(e, contentPath, contentNames)) === 1 ? true : undefined));
    expect(await existing(e, snapshotPath, snapshotNames)).toBe(0);
    await e.sidecar?.stop();
    expect((await e.getGroupContent(V, 'groupsnapcontent-restart')).metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');

    e.api.faults.clear();
    e.startSidecar();
    const ready = await e.waitForGroup(V, 'groupsnapcontent-restart', 'ready', readyAndUnmarked);
    expect([...listedContents(ready)].sort()).toEqual([...contentNames].sort());
    expect(await existing(e, contentPath, contentNames)).toBe(3);
    expect(await existing(e, snapshotPath, snapshotNames)).toBe(3);
    // Nothing else was created: every content and snapshot in the cluster is one of these members.
    expect(await allMemberObjects(e)).toEqual([3, 3]);
    // One storage group: the second sidecar's create found the first one's by name.
    const creates = (await e.driver.calls()).filter((c) => c.method === 'CreateVolumeGroupSnapshot').map((c) => c.request.name);
    expect(creates.length).toBeGreaterThanOrEqual(2);
    expect(new Set(creates).size).toBe(1);
  });

  test('resyncs (--resync-period=1s) of a group that is not ready yet make no new members (the Go sidecars of that era left a set behind on each)', async () => {
    const { e, volumes } = await startAlpha(served, 'resync', 2, { faults: { readyDelayMs: 4000 } });
    e.startSidecar(['--resync-period=1s']);
    await e.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    await e.createGroupContent(V, { name: 'groupsnapcontent-resync', volumeHandles: volumes, className: 'group-gold' });
    const notReady = await e.waitForGroup(V, 'groupsnapcontent-resync', 'recorded, not ready', (c) => c.status?.readyToUse === false && listedContents(c).length === 2);
    await e.waitForGroup(V, 'groupsnapcontent-resync', 'ready', readyAndUnmarked);
    // The group was synced again and again while it was not ready (resyncs and readiness polls).
    expect((e.sidecar?.output.match(/Syncing VolumeGroupSnapshotContent.*groupsnapcontent-resync/g) ?? []).length).toBeGreaterThanOrEqual(3);
    expect(await allMemberObjects(e)).toEqual([2, 2]);
    expect(listedContents(await e.getGroupContent(V, 'groupsnapcontent-resync'))).toEqual(listedContents(notReady));
    expect((await e.driver.calls()).filter((c) => c.method === 'CreateVolumeGroupSnapshot')).toHaveLength(1);
  });

  test('Z-44: member contents deleted before the group (one gone, one with its ids cleared): DeleteVolumeGroupSnapshot still gets every member id and the driver keeps no snapshot', async () => {
    const { e, volumes } = await startAlpha(served, 'first', 3);
    e.startSidecar();
    await e.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    const uid = (await e.createGroupContent(V, { name: 'groupsnapcontent-first', volumeHandles: volumes, className: 'group-gold' })).metadata.uid ?? '';
    const ready = await e.waitForGroup(V, 'groupsnapcontent-first', 'ready', readyAndUnmarked);
    const recorded = JSON.parse(ready.metadata.annotations?.[ANN_MEMBER_SNAPSHOT_IDS] ?? '{}') as Record<string, string>;
    const ids = volumes.map((v) => recorded[v]);
    for (const [i, v] of volumes.entries()) expect(await e.driverSnapshots(v)).toEqual([ids[i]]);

    await e.rest.request({ method: 'PATCH', path: statusPath(VOLUME_SNAPSHOT_CONTENTS, memberContentName(uid, volumes[0] as string)), contentType: 'application/merge-patch+json', body: { status: { snapshotHandle: null } } });
    for (const v of volumes.slice(1)) await e.rest.request({ method: 'DELETE', path: contentPath(memberContentName(uid, v)) });
    await e.deleteGroupAsController(V, 'groupsnapcontent-first');
    await e.waitForGroupGone(V, 'groupsnapcontent-first');
    const deletes = (await e.driver.calls()).filter((c) => c.method === 'DeleteVolumeGroupSnapshot');
    expect(deletes.map((c) => c.request)).toEqual([{ group_snapshot_id: ready.status?.volumeGroupSnapshotHandle, snapshot_ids: ids, secrets: {} }]);
    // Code 0: the driver answered OK.
    expect(deletes.map((c) => c.code)).toEqual([0]);
    for (const v of volumes) expect(await e.driverSnapshots(v)).toEqual([]);
  });

  test('Z-43 / Z-45: a pre-provisioned group with policy Delete is read, then deleted on storage with the ids of its spec (the Go sidecars of that era could not)', async () => {
    const { e, volumes } = await startAlpha(served, 'pre', 2);
    const pre = await e.storageGroup('pre-existing', volumes);
    e.startSidecar();
    await e.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    await e.createGroupContent(V, { name: 'groupsnapcontent-pre', pre });
    const ready = await e.waitForGroup(V, 'groupsnapcontent-pre', 'ready', readyAndUnmarked);
    expect(ready.status?.volumeGroupSnapshotHandle).toBe(pre.groupId);
    // Nothing is made for a pre-provisioned group: its members are the user's business.
    expect(await allMemberObjects(e)).toEqual([0, 0]);
    await e.deleteGroupAsController(V, 'groupsnapcontent-pre');
    await e.waitForGroupGone(V, 'groupsnapcontent-pre');
    expect((await e.driver.calls()).filter((c) => c.method === 'DeleteVolumeGroupSnapshot').map((c) => c.request)).toEqual([{ group_snapshot_id: pre.groupId, snapshot_ids: pre.snapshotIds, secrets: {} }]);
    for (const v of volumes) expect(await e.driverSnapshots(v)).toEqual([]);
  });
});

describe('v1alpha1 without the optional RBAC rule for member objects', () => {
  test.each<[string, GroupVersion, { verb: string; group: string; resource: string }, RegExp]>([
    ['create volumesnapshots', 'v1alpha1', { verb: 'create', group: 'snapshot.storage.k8s.io', resource: 'volumesnapshots' }, /failed to create member VolumeSnapshot default\/snapshot-[0-9a-f]{64} of group snapshot content groupsnapcontent-rbac: .*cannot create resource "volumesnapshots" in API group "snapshot\.storage\.k8s\.io"/],
    ['create volumesnapshotcontents', 'v1alpha1-v7', { verb: 'create', group: 'snapshot.storage.k8s.io', resource: 'volumesnapshotcontents' }, /failed to create member VolumeSnapshotContent snapcontent-[0-9a-f]{64} of group snapshot content groupsnapcontent-rbac: .*cannot create resource "volumesnapshotcontents" in API group "snapshot\.storage\.k8s\.io"/],
    ['list persistentvolumes (v8.0-8.1 only)', 'v1alpha1', { verb: 'list', group: '', resource: 'persistentvolumes' }, /failed to list persistentvolumes to name the volumes of the members of group snapshot content groupsnapcontent-rbac: .*cannot list resource "persistentvolumes" in API group ""/],
  ])('without %s (served %s): status.error, a Warning Event and the log name the verb and resource refused, and the group stays marked being created', async (_title, served, deny, text) => {
    const { e, volumes } = await startAlpha(served, 'rbac', 2, { api: { deny: [deny] } });
    e.startSidecar();
    await e.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    await e.createGroupContent(V, { name: 'groupsnapcontent-rbac', volumeHandles: volumes, className: 'group-gold' });
    const failed = await e.waitForGroup(V, 'groupsnapcontent-rbac', 'the failure in status', (c) => Boolean((c.status?.error as { message?: string } | undefined)?.message));
    expect((failed.status?.error as { message: string }).message).toMatch(text);
    expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
    expect(failed.status?.volumeGroupSnapshotHandle).toBeUndefined();
    const events = await waitFor('the Warning Event', async () => {
      const list = await e.rest.request<{ items: Array<{ type: string; reason: string; message: string; involvedObject: { name: string } }> }>({ method: 'GET', path: '/api/v1/namespaces/default/events' });
      const mine = list.items.filter((ev) => ev.involvedObject.name === 'groupsnapcontent-rbac');
      return mine.length > 0 ? mine : undefined;
    });
    expect(events.map((ev) => [ev.type, ev.reason])).toEqual([['Warning', 'GroupSnapshotCreationFailed']]);
    expect(events[0]?.message).toMatch(text);
    await e.sidecar?.waitForOutput(new RegExp(`could not sync groupsnapcontent-rbac: .*${text.source.slice(text.source.indexOf('cannot '))}`));
  });
});
