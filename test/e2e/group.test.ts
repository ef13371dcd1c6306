import { afterEach, describe, expect, test } from '@jest/globals';
import { collectionPath, objectPath, volumeGroupSnapshotClasses, volumeGroupSnapshotContents } from '../../src/kube/resources.js';
import { ANN_GROUP_BEING_CREATED, FINALIZER_GROUP_CONTENT } from '../../src/sidecar/keys.js';
import type { WireGroupContent } from '../../src/sidecar/group/types.js';
import type { DeletionPolicy } from '../../src/sidecar/types.js';
import { waitFor } from '../helpers/process.js';
import { uidFor } from '../helpers/uid.js';
import { Env } from './env.js';

// The sidecar, the sample driver and the API test server as separate processes, exercising the
// group snapshot outcomes end to end at the version the sidecar picks (v1 when all are served).
const VGSC = volumeGroupSnapshotContents('v1');
// The class as users write them: the group secret keys (the controller's and the sidecar's) beside
// the driver's own parameter. Only the driver's parameter may reach CreateVolumeGroupSnapshot.
const CLASS_PARAMETERS = {
  tier: 'fast',
  'csi.storage.k8s.io/group-snapshotter-secret-name': 'group-secret',
  'csi.storage.k8s.io/group-snapshotter-secret-namespace': 'default',
  'csi.storage.k8s.io/group-snapshotter-get-secret-name': 'get-${volumegroupsnapshotcontent.name}',
  'csi.storage.k8s.io/group-snapshotter-get-secret-namespace': 'default',
};
let env: Env;
afterEach(async () => {
  await env?.stop();
});

async function startReady(options: Parameters<typeof Env.start>[0] = {}): Promise<Env> {
  env = await Env.start(options);
  await env.rest.request({
    method: 'POST',
    path: collectionPath(volumeGroupSnapshotClasses('v1')),
    body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1', kind: 'VolumeGroupSnapshotClass', metadata: { name: 'group-gold' }, driver: env.driverName, deletionPolicy: 'Delete', parameters: CLASS_PARAMETERS },
  });
  env.startSidecar(['--extra-create-metadata']);
  await env.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
  return env;
}

const createGroupContent = (name: string, volumeHandles: string[], policy: DeletionPolicy = 'Delete', uid = uidFor(name)): Promise<void> =>
  env.createGroupContent(name, volumeHandles, { policy, uid });

const getGroupContent = (name: string) => env.rest.request<WireGroupContent>({ method: 'GET', path: objectPath(VGSC, name) });

async function waitForGroup(name: string, what: string, predicate: (c: WireGroupContent) => boolean, timeoutMs = 60_000): Promise<WireGroupContent> {
  return waitFor(`${name}: ${what}`, async () => {
    const c = await getGroupContent(name);
    return predicate(c) ? c : undefined;
  }, timeoutMs);
}

/** Waits for a 404; any other failed read is an error at once, never taken for "gone". */
async function waitForGroupGone(name: string): Promise<void> {
  await waitFor(`${name} to be deleted`, async () => {
    try {
      await getGroupContent(name);
      return false;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return true;
      throw err;
    }
  });
}

const deleteAsController = (name: string): Promise<void> => env.deleteGroupAsController(name);

const readyAndUnmarked = (c: WireGroupContent) => c.status?.readyToUse === true && c.metadata.annotations?.[ANN_GROUP_BEING_CREATED] === undefined;

async function volumes(prefix: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await env.createVolume(`${prefix}-${i}`, 'y'.repeat(100 + i)));
  return ids;
}

type Info = { volumeHandle: string; snapshotHandle: string; creationTime: number | bigint; readyToUse: boolean; restoreSize: number | bigint };

function expectComplete(content: WireGroupContent, volumeIds: string[]): Info[] {
  const list = content.status?.volumeSnapshotInfoList as Info[];
  expect(list.map((m) => m.volumeHandle).sort()).toEqual([...volumeIds].sort());
  volumeIds.forEach((id, i) => {
    const entry = list.find((m) => m.volumeHandle === id) as Info;
    expect(entry.snapshotHandle).toMatch(/\S/);
    expect(BigInt(entry.restoreSize)).toBe(BigInt(100 + i));
    expect(BigInt(entry.creationTime)).toBeGreaterThan(1_700_000_000_000_000_000n);
    expect(entry.readyToUse).toBe(true);
  });
  expect(new Set(list.map((m) => m.snapshotHandle)).size).toBe(volumeIds.length);
  expect(content.status?.creationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  return list;
}

describe('dynamic group snapshots', () => {
  test('a group over 3 volumes and one over 50 volumes become ready with every member handle, size and time', async () => {
    await startReady();
    expect(env.sidecar?.output).toMatch(/Serving VolumeGroupSnapshotContents.*groupsnapshot\.storage\.k8s\.io\/v1\b/);
    const three = await volumes('three', 3);
    const fifty = await volumes('fifty', 50);
    await createGroupContent('groupsnapcontent-3', three);
    await createGroupContent('groupsnapcontent-50', fifty);
    const small = await waitForGroup('groupsnapcontent-3', 'ready', readyAndUnmarked);
    const large = await waitForGroup('groupsnapcontent-50', 'ready', readyAndUnmarked);
    expectComplete(small, three);
    expectComplete(large, fifty);

    const creates = (await env.driver.calls()).filter((c) => c.method === 'CreateVolumeGroupSnapshot').map((c) => c.request);
    const sent = (content: string, volumeIds: string[]) => ({
      name: `groupsnapshot-${uidFor(content)}`,
      source_volume_ids: volumeIds,
      parameters: {
        tier: 'fast',
        'csi.storage.k8s.io/volumegroupsnapshot/name': `vgs-${content}`,
        'csi.storage.k8s.io/volumegroupsnapshot/namespace': 'default',
        'csi.storage.k8s.io/volumegroupsnapshotcontent/name': content,
      },
      secrets: {},
    });
    const byName = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.name).localeCompare(String(b.name));
    expect([...creates].sort(byName)).toEqual([sent('groupsnapcontent-3', three), sent('groupsnapcontent-50', fifty)].sort(byName));
  });

  test('a sidecar killed during CreateVolumeGroupSnapshot leaves exactly one group after its restart', async () => {
    // The driver holds the call far longer than the test runs, so the sidecar is surely killed while waiting for it.
    await startReady({ faults: { latencyMs: { CreateVolumeGroupSnapshot: 600_000 } } });
    const ids = await volumes('crash', 3);
    await createGroupContent('groupsnapcontent-crash', ids);
    await waitForGroup('groupsnapcontent-crash', 'being-created', (c) => c.metadata.annotations?.[ANN_GROUP_BEING_CREATED] === 'yes');
    const held = await waitFor('CreateVolumeGroupSnapshot to reach the driver', async () => (await env.driver.calls()).find((c) => c.method === 'CreateVolumeGroupSnapshot'));
    await env.sidecar?.stop();
    expect((await env.driver.calls()).filter((c) => c.method === 'CreateVolumeGroupSnapshot').map((c) => c.code)).toEqual([undefined]);
    const killed = await getGroupContent('groupsnapcontent-crash');
    expect(killed.status).toBeUndefined();
    expect(killed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');

    // Storage finishes the cut the dead sidecar asked for (here by the same request, sent again).
    await env.driver.clearFaults();
    const cut = await env.csi.call(
      '/csi.v1.GroupController/CreateVolumeGroupSnapshot',
      { name: held.request.name as string, source_volume_ids: ids, parameters: held.request.parameters as Record<string, string>, secrets: {} },
      new Date(Date.now() + 10_000),
    );
    const groupId = cut.group_snapshot?.group_snapshot_id;
    expect(groupId).toMatch(/\S/);

    env.startSidecar(['--extra-create-metadata']);
    const ready = await waitForGroup('groupsnapcontent-crash', 'ready and unmarked', readyAndUnmarked);
    // The restarted sidecar asked again under the same name, so it found the cut instead of making a second group.
    expect(ready.status?.volumeGroupSnapshotHandle).toBe(groupId);
    const list = expectComplete(ready, ids);
    // Every volume has exactly one snapshot, and it is the recorded member of the recorded group.
    for (const id of ids) {
      expect(await env.driverSnapshots(id)).toEqual([list.find((m) => m.volumeHandle === id)?.snapshotHandle]);
    }
    expect(list.map((m) => m.snapshotHandle).sort()).toEqual((cut.group_snapshot?.snapshots ?? []).map((m) => m.snapshot_id).sort());
    const names = (await env.driver.calls()).filter((c) => c.method === 'CreateVolumeGroupSnapshot').map((c) => c.request.name);
    expect(names.length).toBeGreaterThanOrEqual(3);
    expect(new Set(names)).toEqual(new Set([`groupsnapshot-${uidFor('groupsnapcontent-crash')}`]));
  });
});

describe('group deletion', () => {
  test('policy Delete deletes the group on the driver, then releases the content', async () => {
    await startReady();
    const ids = await volumes('del', 2);
    await createGroupContent('groupsnapcontent-del', ids, 'Delete');
    await waitForGroup('groupsnapcontent-del', 'ready', readyAndUnmarked);
    await deleteAsController('groupsnapcontent-del');
    await waitForGroupGone('groupsnapcontent-del');
    for (const id of ids) expect(await env.driverSnapshots(id)).toEqual([]);
    const journal = await env.driver.calls();
    expect(journal.filter((c) => c.method === 'DeleteVolumeGroupSnapshot')).toHaveLength(1);
    expect(journal.filter((c) => c.method === 'DeleteSnapshot')).toHaveLength(0);
  });

  test('policy Retain keeps the group on the driver and releases the content', async () => {
    await startReady();
    const ids = await volumes('retain', 2);
    await createGroupContent('groupsnapcontent-retain', ids, 'Retain');
    const ready = await waitForGroup('groupsnapcontent-retain', 'ready', readyAndUnmarked);
    await deleteAsController('groupsnapcontent-retain');
    await waitForGroupGone('groupsnapcontent-retain');
    const list = ready.status?.volumeSnapshotInfoList as Info[];
    for (const id of ids) expect(await env.driverSnapshots(id)).toEqual([list.find((m) => m.volumeHandle === id)?.snapshotHandle]);
    expect((await env.driver.calls()).filter((c) => c.method === 'DeleteVolumeGroupSnapshot')).toHaveLength(0);
  });
});

describe('start-up', () => {
  test('Z-11: without the group API the sidecar warns once and serves single snapshots', async () => {
    env = await Env.start({ groupSnapshotVersions: [] });
    await env.createClass('gold');
    env.startSidecar();
    await env.sidecar?.waitForOutput(/VolumeSnapshotContent caches synced/);
    const volume = await env.createVolume('single-1');
    await env.createContent({ name: 'snapcontent-single', volumeHandle: volume, className: 'gold' });
    await env.waitForContent('snapcontent-single', 'readyToUse', (c) => c.status?.readyToUse === true);
    const output = env.sidecar?.output ?? '';
    expect(output.match(/disabling the VolumeGroupSnapshot feature/g)).toHaveLength(1);
    expect(output).not.toMatch(/VolumeGroupSnapshotContent caches synced/);
  });

  test('v1beta1 only: group contents are served at v1beta1 with the handle pair list', async () => {
    env = await Env.start({ groupSnapshotVersions: ['v1beta1'] });
    await env.rest.request({
      method: 'POST',
      path: collectionPath(volumeGroupSnapshotClasses('v1beta1')),
      body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1beta1', kind: 'VolumeGroupSnapshotClass', metadata: { name: 'group-gold' }, driver: env.driverName, deletionPolicy: 'Delete' },
    });
    env.startSidecar();
    await env.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    const ids = await volumes('beta', 2);
    const path = collectionPath(volumeGroupSnapshotContents('v1beta1'));
    await env.rest.request({
      method: 'POST',
      path,
      body: {
        apiVersion: 'groupsnapshot.storage.k8s.io/v1beta1',
        kind: 'VolumeGroupSnapshotContent',
        metadata: { name: 'groupsnapcontent-beta', finalizers: [FINALIZER_GROUP_CONTENT] },
        spec: {
          volumeGroupSnapshotRef: { name: 'vgs', namespace: 'default', uid: uidFor('groupsnapcontent-beta') },
          deletionPolicy: 'Delete',
          driver: env.driverName,
          volumeGroupSnapshotClassName: 'group-gold',
          source: { volumeHandles: ids },
        },
      },
    });
    const ready = await waitFor('the v1beta1 group to be ready', async () => {
      const c = await env.rest.request<WireGroupContent>({ method: 'GET', path: `${path}/groupsnapcontent-beta` });
      return readyAndUnmarked(c) ? c : undefined;
    });
    expect((await env.driver.calls()).filter((c) => c.method === 'CreateVolumeGroupSnapshot').map((c) => c.request)).toEqual([
      { name: `groupsnapshot-${uidFor('groupsnapcontent-beta')}`, source_volume_ids: ids, parameters: {}, secrets: {} },
    ]);
    const pairs = ready.status?.volumeSnapshotHandlePairList as Array<{ volumeHandle: string; snapshotHandle: string }>;
    expect(pairs.map((p) => p.volumeHandle).sort()).toEqual([...ids].sort());
    expect(pairs.every((p) => p.snapshotHandle.length > 0)).toBe(true);
  });

  test('a driver without the group capability: a warning, and group contents are never listed or watched', async () => {
    env = await Env.start({ faults: { withhold: { groupController: ['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT'] } } });
    env.startSidecar();
    await env.sidecar?.waitForOutput(/VolumeSnapshotContent caches synced/);
    expect(env.sidecar?.output).toMatch(/does not advertise CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT/);
    expect(env.api.requests.all({ resource: 'volumegroupsnapshotcontents' })).toEqual([]);
  });
});
