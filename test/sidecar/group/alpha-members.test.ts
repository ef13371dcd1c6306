import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SnapshotInfo } from '../../../src/csi/snapshotter.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import { collectionPath, objectPath, PERSISTENT_VOLUMES, statusPath, VOLUME_SNAPSHOT_CONTENTS, VOLUME_SNAPSHOTS, volumeGroupSnapshotContents } from '../../../src/kube/resources.js';
import { RestClient } from '../../../src/kube/rest.js';
import {
  ensureMembers,
  MemberError,
  memberContentName,
  memberIdsAnnotation,
  memberSnapshotHandle,
  memberSnapshotName,
  persistentVolumesByHandle,
  restMemberObjects,
} from '../../../src/sidecar/group/members.js';
import type { VolumeGroupSnapshotContent } from '../../../src/sidecar/group/types.js';
import {
  ANN_DELETION_SECRET_NAME,
  ANN_DELETION_SECRET_NAMESPACE,
  ANN_GROUP_BEING_CREATED,
  ANN_GROUP_DELETION_SECRET_NAME,
  ANN_GROUP_DELETION_SECRET_NAMESPACE,
  ANN_MEMBER_SNAPSHOT_IDS,
  FINALIZER_IN_GROUP,
  LABEL_GROUP_NAME,
} from '../../../src/sidecar/keys.js';
import { sha256Hex } from '../../../src/testing/sample-driver/index.js';
import { waitFor } from '../../helpers/process.js';
import { uidFor } from '../../helpers/uid.js';
import { DRIVER, GroupHarness } from './harness.js';

// What only the v1alpha1 era has: the sidecar creates the member VolumeSnapshotContents and
// VolumeSnapshots itself. Each member exactly once, whatever fails in between; what exists under a
// member's name is adopted when it is that member and left alone when it is not.
describe.each(['v1alpha1-v8', 'v1alpha1-v7'] as const)('member objects in mode %s', (mode) => {
  let h: GroupHarness;
  let n = 0;
  const unique = (base: string) => `${base}-${++n}`;

  beforeAll(async () => {
    h = await GroupHarness.start(mode);
    await h.createClass('class-a', { tier: 'gold' });
  });
  afterAll(async () => {
    await h?.stop();
  });
  beforeEach(async () => {
    await h.reset();
  });

  /** Every member content and snapshot named after this group content's UID and its volumes. */
  async function memberObjects(uid: string, volumes: string[]): Promise<{ contents: number; snapshots: number; all: { contents: number; snapshots: number } }> {
    const contents = (await h.rest.request<{ items: Array<{ metadata: { name: string } }> }>({ method: 'GET', path: collectionPath(VOLUME_SNAPSHOT_CONTENTS) })).items;
    const snapshots = (await h.rest.request<{ items: Array<{ metadata: { name: string } }> }>({ method: 'GET', path: collectionPath(VOLUME_SNAPSHOTS, 'default') })).items;
    const contentNames = new Set(volumes.map((v) => memberContentName(uid, v)));
    const snapshotNames = new Set(volumes.map((v) => memberSnapshotName(uid, v)));
    return {
      contents: contents.filter((c) => contentNames.has(c.metadata.name)).length,
      snapshots: snapshots.filter((s) => snapshotNames.has(s.metadata.name)).length,
      all: { contents: contents.length, snapshots: snapshots.length },
    };
  }

  test('a write failing between the first and the last member: the being-created mark stays, the retry cuts nothing new and completes exactly one set', async () => {
    const volumes = await h.createVolumes(3);
    const name = unique('interrupted');
    const created = await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: uidFor(name) });
    const uid = created.metadata.uid ?? '';
    const before = await memberObjects(uid, volumes);
    // The first member's content is created, then its VolumeSnapshot fails.
    h.server.faults.fail({ verb: 'create', resource: 'volumesnapshots', code: 500, times: 1 });
    expect((await h.syncByName(name)).type).toBe('retry');
    const failed = await h.wire(name);
    expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
    expect(failed.status?.volumeGroupSnapshotHandle).toBeUndefined();
    expect((failed.status?.error as { message: string }).message).toContain(`failed to create member VolumeSnapshot default/${memberSnapshotName(uid, volumes[0] as string)} of group snapshot content ${name}`);
    expect(await memberObjects(uid, volumes)).toMatchObject({ contents: 1, snapshots: 0 });

    expect(await h.syncByName(name)).toEqual({ type: 'done' });
    const creates = await h.calls('CreateVolumeGroupSnapshot');
    expect(creates).toHaveLength(2);
    expect(creates[1]?.name).toBe(creates[0]?.name);
    const after = await memberObjects(uid, volumes);
    expect(after).toMatchObject({ contents: 3, snapshots: 3 });
    expect(after.all).toEqual({ contents: before.all.contents + 3, snapshots: before.all.snapshots + 3 });
    const ready = await h.wire(name);
    expect(ready.status?.readyToUse).toBe(true);
    expect(ready.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();
    expect(h.events.map((e) => e.reason)).toEqual(['GroupSnapshotCreationFailed']);
  });

  test('members adopted after a resync of a group not ready yet: the group status write failed after the members were made, so the next sync cuts again under the same name, adopts every member and records them once', async () => {
    await h.driver.setFaults({ readyDelayMs: 60_000 });
    const volumes = await h.createVolumes(2);
    const name = unique('adopt');
    const uid = (await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: uidFor(name) })).metadata.uid ?? '';
    // The members are made; the group's status write that would list them fails.
    h.server.faults.fail({ verb: 'patch', resource: 'volumegroupsnapshotcontents', subresource: 'status', code: 500, times: 1 });
    expect((await h.syncByName(name)).type).toBe('retry');
    const first = await memberObjects(uid, volumes);
    expect(first).toMatchObject({ contents: 2, snapshots: 2 });
    const unlisted = await h.wire(name);
    expect(unlisted.status?.[h.adapter.membersField]).toBeUndefined();
    expect(unlisted.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');

    expect((await h.syncByName(name)).type).toBe('after');
    const listed = await h.wire(name);
    expect(listed.status?.readyToUse).toBe(false);
    expect(listed.status?.[h.adapter.membersField]).toHaveLength(2);
    expect((await memberObjects(uid, volumes)).all).toEqual(first.all);
    // Later resyncs of the group that is still not ready poll it and make nothing.
    expect((await h.syncByName(name)).type).toBe('after');
    expect((await memberObjects(uid, volumes)).all).toEqual(first.all);
    const creates = await h.calls('CreateVolumeGroupSnapshot');
    expect(creates).toHaveLength(2);
    expect(new Set(creates.map((c) => c.name)).size).toBe(1);
    expect(await h.calls('GetVolumeGroupSnapshot')).toHaveLength(1);
  });

  test('a group that is not ready yet is polled, never re-created: resyncs add no member', async () => {
    await h.driver.setFaults({ readyDelayMs: 1500 });
    const volumes = await h.createVolumes(2);
    const name = unique('slow');
    const uid = (await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: uidFor(name) })).metadata.uid ?? '';
    expect((await h.syncByName(name)).type).toBe('after');
    const first = await memberObjects(uid, volumes);
    expect(first).toMatchObject({ contents: 2, snapshots: 2 });
    await waitFor('the group to turn ready', async () => ((await h.syncByName(name)).type === 'done' ? true : undefined), 20_000);
    expect(await h.calls('CreateVolumeGroupSnapshot')).toHaveLength(1);
    expect((await memberObjects(uid, volumes)).all).toEqual(first.all);
    expect((await h.wire(name)).status?.readyToUse).toBe(true);
  });

  test('an object of another snapshot under a member\'s name is left alone, and the error says so', async () => {
    const volumes = await h.createVolumes(1);
    const name = unique('taken');
    const uid = (await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: uidFor(name) })).metadata.uid ?? '';
    const taken = memberContentName(uid, volumes[0] as string);
    await h.rest.request({
      method: 'POST',
      path: collectionPath(VOLUME_SNAPSHOT_CONTENTS),
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', metadata: { name: taken }, spec: { volumeSnapshotRef: { name: 'someone-else', namespace: 'default' }, deletionPolicy: 'Retain', driver: DRIVER, source: { snapshotHandle: 'other-snapshot' } } },
    });
    expect((await h.syncByName(name)).type).toBe('retry');
    const failed = await h.wire(name);
    expect((failed.status?.error as { message: string }).message).toContain(`member VolumeSnapshotContent ${taken} of group snapshot content ${name} already exists for snapshot other-snapshot, not `);
    expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
    const foreign = await h.members.getContent(taken);
    expect(foreign?.spec.volumeSnapshotRef.name).toBe('someone-else');
    expect(foreign?.status).toBeUndefined();
  });

  /** A ready group of three members; returns its name, UID, volumes, group id and member ids in volume order. */
  async function readyGroup(base: string, annotations?: Record<string, string>) {
    const volumes = await h.createVolumes(3);
    const name = unique(base);
    const uid = (await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: uidFor(name), ...(annotations ? { annotations } : {}) })).metadata.uid ?? '';
    expect(await h.syncByName(name)).toEqual({ type: 'done' });
    const ids = await Promise.all(volumes.map(async (v) => memberSnapshotHandle(await h.members.getContent(memberContentName(uid, v))) ?? ''));
    const groupId = (await h.wire(name)).status?.volumeGroupSnapshotHandle as string;
    return { name, uid, volumes, ids, groupId };
  }

  /** Takes the member-ids record off a group, as a group cut by another sidecar (or an older version of this one) has none. */
  async function withoutIdsRecord(name: string): Promise<void> {
    await h.rest.request({ method: 'PATCH', path: objectPath(volumeGroupSnapshotContents('v1alpha1'), name), contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_MEMBER_SNAPSHOT_IDS]: null } } } });
    expect((await h.wire(name)).metadata.annotations?.[ANN_MEMBER_SNAPSHOT_IDS]).toBeUndefined();
  }

  test('the member ids are recorded on the group content, by source volume, before the first member object exists', async () => {
    const volumes = await h.createVolumes(2);
    const name = unique('record');
    const uid = (await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: uidFor(name) })).metadata.uid ?? '';
    h.server.faults.fail({ verb: 'create', resource: 'volumesnapshotcontents', code: 500, times: 1 });
    expect((await h.syncByName(name)).type).toBe('retry');
    const failed = await h.wire(name);
    expect(await memberObjects(uid, volumes)).toMatchObject({ contents: 0, snapshots: 0 });
    const [create] = await h.calls('CreateVolumeGroupSnapshot');
    expect(create).toBeDefined();
    const recorded = JSON.parse(failed.metadata.annotations?.[ANN_MEMBER_SNAPSHOT_IDS] ?? '{}') as Record<string, string>;
    expect(Object.keys(recorded)).toEqual(volumes);
    expect(Object.values(recorded).every((id) => id !== '')).toBe(true);

    // The retry finds the same group and the same ids: the record is not written again.
    const writesBefore = h.server.requests.all({ resource: 'volumegroupsnapshotcontents', name, verb: 'patch', subresource: '' }).length;
    expect(await h.syncByName(name)).toEqual({ type: 'done' });
    const ready = await h.wire(name);
    expect(ready.metadata.annotations?.[ANN_MEMBER_SNAPSHOT_IDS]).toBe(failed.metadata.annotations?.[ANN_MEMBER_SNAPSHOT_IDS]);
    // Only the being-created mark came off.
    expect(h.server.requests.all({ resource: 'volumegroupsnapshotcontents', name, verb: 'patch', subresource: '' }).length - writesBefore).toBe(1);
    for (const volume of volumes) expect(memberSnapshotHandle(await h.members.getContent(memberContentName(uid, volume)))).toBe(recorded[volume]);
  });

  test('the member ids cannot be recorded: no member object is made, the mark stays, status.error says which write failed, and the retry completes one set', async () => {
    const volumes = await h.createVolumes(2);
    const name = unique('unrecorded');
    const uid = (await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: uidFor(name) })).metadata.uid ?? '';
    // A first attempt the driver refuses puts the being-created mark on, so the next write to the
    // group content itself is the member-ids record.
    await h.driver.setFaults({ errors: { CreateVolumeGroupSnapshot: { code: 'UNAVAILABLE', times: 1 } } });
    expect((await h.syncByName(name)).type).toBe('retry');
    expect((await h.wire(name)).metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
    h.server.faults.fail({ verb: 'patch', resource: 'volumegroupsnapshotcontents', subresource: '', name, code: 500, times: 1, message: 'etcd is on fire' });
    expect((await h.syncByName(name)).type).toBe('retry');
    const failed = await h.wire(name);
    expect(failed.metadata.annotations?.[ANN_MEMBER_SNAPSHOT_IDS]).toBeUndefined();
    expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
    const message = (failed.status?.error as { message: string }).message;
    expect(message).toContain(`failed to record the member snapshot ids on group snapshot content ${name}: `);
    expect(message).toContain('etcd is on fire');
    expect(await memberObjects(uid, volumes)).toMatchObject({ contents: 0, snapshots: 0 });

    expect(await h.syncByName(name)).toEqual({ type: 'done' });
    expect(await memberObjects(uid, volumes)).toMatchObject({ contents: 2, snapshots: 2 });
    const creates = await h.calls('CreateVolumeGroupSnapshot');
    expect(new Set(creates.map((c) => c.name)).size).toBe(1);
  });

  test('Z-44: member contents deleted before the group (gone, or their ids cleared): DeleteVolumeGroupSnapshot still gets every id and no storage snapshot is left', async () => {
    const g = await readyGroup('members-first');
    // One member content keeps existing with its handles cleared, the others are gone.
    const cleared = memberContentName(g.uid, g.volumes[0] as string);
    await h.rest.request({ method: 'PATCH', path: statusPath(VOLUME_SNAPSHOT_CONTENTS, cleared), contentType: 'application/merge-patch+json', body: { status: { snapshotHandle: null } } });
    for (const volume of g.volumes.slice(1)) await h.rest.request({ method: 'DELETE', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, memberContentName(g.uid, volume)) });
    await h.deleteAsController(g.name);
    expect(await h.syncByName(g.name)).toEqual({ type: 'done' });
    expect(await h.calls('DeleteVolumeGroupSnapshot')).toEqual([{ group_snapshot_id: g.groupId, snapshot_ids: g.ids, secrets: {} }]);
    expect(await h.exists(g.name)).toBe(false);
    expect(await h.groupExists(g.groupId, g.ids)).toBe(false);
    for (const volume of g.volumes) expect(await h.volumeSnapshots(volume)).toEqual([]);
    expect(h.events).toEqual([]);
  });

  test('a member-ids record edited into something unreadable is ignored, not a crash: the ids come from the member contents', async () => {
    const g = await readyGroup('unreadable');
    await h.rest.request({ method: 'PATCH', path: objectPath(volumeGroupSnapshotContents('v1alpha1'), g.name), contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_MEMBER_SNAPSHOT_IDS]: '{not json' } } } });
    await h.deleteAsController(g.name);
    expect(await h.syncByName(g.name)).toEqual({ type: 'done' });
    expect(await h.calls('DeleteVolumeGroupSnapshot')).toEqual([{ group_snapshot_id: g.groupId, snapshot_ids: g.ids, secrets: {} }]);
    expect(await h.exists(g.name)).toBe(false);
  });

  test('without the ids record (a group cut by another sidecar), deletion reads every member id from the member contents; a member whose status handle was cleared gives the one in its spec', async () => {
    const g = await readyGroup('delete');
    await withoutIdsRecord(g.name);
    await h.rest.request({ method: 'PATCH', path: statusPath(VOLUME_SNAPSHOT_CONTENTS, memberContentName(g.uid, g.volumes[0] as string)), contentType: 'application/merge-patch+json', body: { status: { snapshotHandle: null } } });
    await h.deleteAsController(g.name);
    expect(await h.syncByName(g.name)).toEqual({ type: 'done' });
    expect(await h.calls('DeleteVolumeGroupSnapshot')).toEqual([{ group_snapshot_id: g.groupId, snapshot_ids: g.ids, secrets: {} }]);
    expect(await h.exists(g.name)).toBe(false);
    expect(h.events).toEqual([]);
  });

  test('without the ids record, a member content already gone is left out of the request, not a crash: a driver that needs every id refuses, the finalizer stays and the refusal is announced', async () => {
    const g = await readyGroup('member-gone');
    await withoutIdsRecord(g.name);
    await h.rest.request({ method: 'DELETE', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, memberContentName(g.uid, g.volumes[2] as string)) });
    await h.deleteAsController(g.name);
    const outcome = await h.syncByName(g.name);
    expect(outcome.type).toBe('retry');
    expect(String((outcome as { error?: unknown }).error)).toContain('snapshot_ids do not match the members of group snapshot');
    expect(await h.calls('DeleteVolumeGroupSnapshot')).toEqual([{ group_snapshot_id: g.groupId, snapshot_ids: [g.ids[0], g.ids[1]], secrets: {} }]);
    expect(h.events.map((e) => e.reason)).toEqual(['GroupSnapshotDeleteError']);
    expect(await h.exists(g.name)).toBe(true);
  });

  test('the group content\'s Secret annotations of this era only (v7.0: snapshot.storage.kubernetes.io/deletion-secret-*, v8.0-8.1: groupsnapshot.storage.kubernetes.io/deletion-secret-*): create and delete carry that Secret, never the other era\'s', async () => {
    const single = unique('single-secret');
    const group = unique('group-secret');
    await h.createSecret(single, { from: 'single-snapshot keys' });
    await h.createSecret(group, { from: 'group keys' });
    const g = await readyGroup('era-secret', {
      [ANN_DELETION_SECRET_NAME]: single,
      [ANN_DELETION_SECRET_NAMESPACE]: 'default',
      [ANN_GROUP_DELETION_SECRET_NAME]: group,
      [ANN_GROUP_DELETION_SECRET_NAMESPACE]: 'default',
    });
    await h.deleteAsController(g.name);
    expect(await h.syncByName(g.name)).toEqual({ type: 'done' });
    const expected = { from: sha256Hex(mode === 'v1alpha1-v7' ? 'single-snapshot keys' : 'group keys') };
    expect((await h.calls('CreateVolumeGroupSnapshot')).map((c) => c.secrets)).toEqual([expected]);
    expect((await h.calls('DeleteVolumeGroupSnapshot')).map((c) => c.secrets)).toEqual([expected]);
  });

  test('GetVolumeGroupSnapshot of a pre-provisioned group takes its Secret from this era\'s class keys only', async () => {
    const volumes = await h.createVolumes(1);
    const pre = await h.cutGroup(unique('pre'), volumes);
    // The keys of v8.2 and later name a Secret this era's sidecar never read.
    const className = unique('later-keys');
    await h.createClass(className, { 'csi.storage.k8s.io/group-snapshotter-get-secret-name': 'nope', 'csi.storage.k8s.io/group-snapshotter-get-secret-namespace': 'default' });
    const later = unique('pre-later');
    await h.createContent({ name: later, pre, className });
    expect(await h.syncByName(later)).toEqual({ type: 'done' });
    expect((await h.calls('GetVolumeGroupSnapshot')).map((c) => c.secrets)).toEqual([{}]);
  });

  test('v8.0-8.1 name each member\'s PersistentVolume (the one of this driver with the source volume\'s handle, else empty); v7.0 lists no PersistentVolumes', async () => {
    const volumes = await h.createVolumes(3);
    const pv = (name: string, driver: string, volumeHandle: string) =>
      h.rest.request({ method: 'POST', path: '/api/v1/persistentvolumes', body: { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name }, spec: { csi: { driver, volumeHandle } } } });
    const [pvA, pvB] = [unique('pv-a'), unique('pv-b')];
    await pv(pvA, DRIVER, volumes[0] as string);
    await pv(pvB, DRIVER, volumes[1] as string);
    // The third volume's handle, but another driver's volume.
    await pv(unique('pv-other'), 'other.csi.example.com', volumes[2] as string);
    const name = unique('with-pvs');
    const uid = (await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: uidFor(name) })).metadata.uid ?? '';
    const pvLists = () => h.server.requests.all({ resource: 'persistentvolumes', verb: 'list' }).length;
    const listsBefore = pvLists();
    expect(await h.syncByName(name)).toEqual({ type: 'done' });
    const list = (await h.wire(name)).status?.[h.adapter.membersField] as Array<Record<string, unknown>>;
    const lists = pvLists() - listsBefore;
    if (mode === 'v1alpha1-v8') {
      expect(list).toEqual(expect.arrayContaining([
        { volumeSnapshotContentRef: { name: memberContentName(uid, volumes[0] as string) }, persistentVolumeRef: { name: pvA } },
        { volumeSnapshotContentRef: { name: memberContentName(uid, volumes[1] as string) }, persistentVolumeRef: { name: pvB } },
        { volumeSnapshotContentRef: { name: memberContentName(uid, volumes[2] as string) }, persistentVolumeRef: { name: '' } },
      ]));
      expect(lists).toBe(1);
    } else {
      expect(list).toHaveLength(3);
      expect(lists).toBe(0);
    }
  });
});

// ensureMembers and the REST member objects called directly against the API test server: what
// each member object holds, and every failure named in the error, with the API error as its cause.
describe('ensureMembers and the member objects, directly', () => {
  let h: GroupHarness;
  let n = 0;
  const VOLUMES = ['vol-a', 'vol-b'];
  beforeAll(async () => {
    h = await GroupHarness.start('v1alpha1-v8');
  });
  afterAll(async () => {
    await h?.stop();
  });
  beforeEach(async () => {
    await h.reset();
  });

  function info(volume: string, id: string, extra: Partial<SnapshotInfo> = {}): SnapshotInfo {
    return { snapshotId: id, sourceVolumeId: volume, creationTime: 1_763_773_512_123_456_789n, sizeBytes: 4096n, readyToUse: true, groupSnapshotId: 'group-1', ...extra };
  }

  /** A group content (in memory; created in the API server too when `stored`) whose member-ids record already matches `snapshots`, so no annotation is written unless asked. */
  async function groupOf(snapshots: SnapshotInfo[], options: { annotations?: Record<string, string>; ref?: { name?: string; namespace?: string }; uid?: string | null; stored?: boolean } = {}) {
    const name = `direct-${++n}`;
    const annotations = { [ANN_MEMBER_SNAPSHOT_IDS]: memberIdsAnnotation(snapshots), ...options.annotations };
    const uid = options.uid === null ? undefined : (options.uid ?? uidFor(name));
    if (options.stored) await h.createContent({ name, volumeHandles: VOLUMES, annotations, ...(uid ? { uid } : {}) });
    return {
      metadata: { name, ...(uid !== undefined ? { uid } : {}), annotations },
      spec: { driver: DRIVER, deletionPolicy: 'Delete', source: { volumeHandles: VOLUMES }, volumeGroupSnapshotRef: options.ref ?? { name: `vgs-${name}`, namespace: 'default' } },
    } as unknown as VolumeGroupSnapshotContent;
  }

  async function memberError(promise: Promise<unknown>): Promise<MemberError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MemberError);
    return err as MemberError;
  }

  function causeOf(err: MemberError): unknown {
    return (err as Error & { cause?: unknown }).cause;
  }

  test('each member: a content with the group\'s deletion Secret, its status with restoreSize and creationTime, and a labelled snapshot with the in-group finalizer', async () => {
    const snapshots = [info('vol-a', 'snap-a'), info('vol-b', 'snap-b', { sizeBytes: 0n, readyToUse: false })];
    const group = await groupOf(snapshots, { annotations: { [ANN_GROUP_DELETION_SECRET_NAME]: 'group-secret', [ANN_GROUP_DELETION_SECRET_NAMESPACE]: 'secrets-ns' } });
    const uid = group.metadata.uid as string;
    await ensureMembers(h.members, group, 'group-1', snapshots);
    const a = await h.members.getContent(memberContentName(uid, 'vol-a'));
    expect(a?.metadata.annotations).toEqual({ [ANN_DELETION_SECRET_NAME]: 'group-secret', [ANN_DELETION_SECRET_NAMESPACE]: 'secrets-ns' });
    expect(a?.spec).toEqual({ volumeSnapshotRef: { kind: 'VolumeSnapshot', name: memberSnapshotName(uid, 'vol-a'), namespace: 'default' }, deletionPolicy: 'Delete', driver: DRIVER, source: { snapshotHandle: 'snap-a' } });
    expect(a?.status).toEqual({ snapshotHandle: 'snap-a', readyToUse: true, volumeGroupSnapshotHandle: 'group-1', creationTime: 1_763_773_512_123_456_789n, restoreSize: 4096 });
    // A size of 0 is unknown: no restoreSize.
    expect((await h.members.getContent(memberContentName(uid, 'vol-b')))?.status).toEqual({ snapshotHandle: 'snap-b', readyToUse: false, volumeGroupSnapshotHandle: 'group-1', creationTime: 1_763_773_512_123_456_789n });
    const snapshot = await h.members.getSnapshot('default', memberSnapshotName(uid, 'vol-b'));
    expect(snapshot?.metadata).toMatchObject({ labels: { [LABEL_GROUP_NAME]: `vgs-${group.metadata.name}` }, finalizers: [FINALIZER_IN_GROUP] });
    expect(snapshot?.spec).toEqual({ source: { volumeSnapshotContentName: memberContentName(uid, 'vol-b') } });
  });

  test.each([
    ['only the Secret\'s name', { [ANN_GROUP_DELETION_SECRET_NAME]: 'group-secret' }, { [ANN_DELETION_SECRET_NAME]: 'group-secret' }],
    ['only the Secret\'s namespace', { [ANN_GROUP_DELETION_SECRET_NAMESPACE]: 'secrets-ns' }, { [ANN_DELETION_SECRET_NAMESPACE]: 'secrets-ns' }],
    ['no Secret', {}, undefined],
  ])('a group with %s gives its members exactly that', async (_label, groupAnnotations, expected) => {
    const snapshots = [info('vol-a', `snap-${n}`)];
    const group = await groupOf(snapshots, { annotations: groupAnnotations });
    await ensureMembers(h.members, group, 'group-1', snapshots);
    expect((await h.members.getContent(memberContentName(group.metadata.uid as string, 'vol-a')))?.metadata.annotations).toEqual(expected);
  });

  test('a group content without a UID: no member is made, and the error says why', async () => {
    const snapshots = [info('vol-a', 'snap-no-uid')];
    const group = await groupOf(snapshots, { uid: null });
    const creates = () => h.server.requests.all({ resource: 'volumesnapshotcontents', verb: 'create' }).length;
    const before = creates();
    const err = await memberError(ensureMembers(h.members, group, 'group-1', snapshots));
    expect(err.message).toBe(`cannot create the members of group snapshot content ${group.metadata.name}: it has no UID to derive their names from`);
    expect(creates()).toBe(before);
  });

  test('a group reference without a namespace: the members are asked for in namespace ""', async () => {
    const snapshots = [info('vol-a', 'snap-no-ns')];
    const group = await groupOf(snapshots, { ref: { name: 'vgs' } });
    const uid = group.metadata.uid as string;
    expect((await memberError(ensureMembers(h.members, group, 'group-1', snapshots))).message).toMatch(
      new RegExp(`^failed to create member VolumeSnapshot /${memberSnapshotName(uid, 'vol-a')} of group snapshot content ${group.metadata.name}: `),
    );
    expect((await h.members.getContent(memberContentName(uid, 'vol-a')))?.spec.volumeSnapshotRef).toEqual({ kind: 'VolumeSnapshot', name: memberSnapshotName(uid, 'vol-a'), namespace: '' });
  });

  test('a group reference without a name: the member snapshot is labelled with an empty group name', async () => {
    const snapshots = [info('vol-a', 'snap-no-name')];
    const group = await groupOf(snapshots, { ref: { namespace: 'default' } });
    await ensureMembers(h.members, group, 'group-1', snapshots);
    expect((await h.members.getSnapshot('default', memberSnapshotName(group.metadata.uid as string, 'vol-a')))?.metadata.labels).toEqual({ [LABEL_GROUP_NAME]: '' });
  });

  test('the member-ids record cannot be written: the error names the group and carries the API error', async () => {
    const snapshots = [info('vol-a', 'snap-rec')];
    const group = await groupOf(snapshots, { stored: true });
    group.metadata.annotations = {};
    h.server.faults.fail({ verb: 'patch', resource: 'volumegroupsnapshotcontents', name: group.metadata.name, code: 500, message: 'etcd is on fire' });
    const err = await memberError(ensureMembers(h.members, group, 'group-1', snapshots));
    expect(err.message).toBe(`failed to record the member snapshot ids on group snapshot content ${group.metadata.name}: etcd is on fire`);
    expect(causeOf(err)).toMatchObject({ statusCode: 500 });
  });

  test.each([
    ['create', 'volumesnapshotcontents', '', (what: { content: string }) => `failed to create ${what.content}: etcd is on fire`],
    ['patch', 'volumesnapshotcontents', 'status', (what: { content: string }) => `failed to update the status of ${what.content}: etcd is on fire`],
    ['create', 'volumesnapshots', '', (what: { snapshot: string }) => `failed to create ${what.snapshot}: etcd is on fire`],
  ])('a failed %s of %s %s: the error names the member object and carries the API error', async (verb, resource, subresource, message) => {
    const snapshots = [info('vol-a', `snap-fail-${n}`)];
    const group = await groupOf(snapshots);
    const uid = group.metadata.uid as string;
    h.server.faults.fail({ verb, resource, subresource, code: 500, message: 'etcd is on fire' });
    const err = await memberError(ensureMembers(h.members, group, 'group-1', snapshots));
    const names = {
      content: `member VolumeSnapshotContent ${memberContentName(uid, 'vol-a')} of group snapshot content ${group.metadata.name}`,
      snapshot: `member VolumeSnapshot default/${memberSnapshotName(uid, 'vol-a')} of group snapshot content ${group.metadata.name}`,
    };
    expect(err.message).toBe(message(names));
    expect(causeOf(err)).toMatchObject({ statusCode: 500 });
  });

  test('a member content that exists (a conflict) but cannot be read, or is gone when read: each said so', async () => {
    const snapshots = [info('vol-a', 'snap-read')];
    const group = await groupOf(snapshots);
    const what = `member VolumeSnapshotContent ${memberContentName(group.metadata.uid as string, 'vol-a')} of group snapshot content ${group.metadata.name}`;
    h.server.faults.fail({ verb: 'create', resource: 'volumesnapshotcontents', code: 409 });
    h.server.faults.fail({ verb: 'get', resource: 'volumesnapshotcontents', code: 500, message: 'etcd is on fire' });
    const unreadable = await memberError(ensureMembers(h.members, group, 'group-1', snapshots));
    expect(unreadable.message).toBe(`failed to read ${what}: etcd is on fire`);
    expect(causeOf(unreadable)).toMatchObject({ statusCode: 500 });
    // The conflict is injected: nothing is stored under the name, so the read finds nothing.
    h.server.faults.fail({ verb: 'create', resource: 'volumesnapshotcontents', code: 409 });
    expect((await memberError(ensureMembers(h.members, group, 'group-1', snapshots))).message).toBe(`failed to create ${what}: it exists, then could not be found`);
  });

  test('a member content of another pre-provisioned source (a volume, no snapshot handle) is left alone: "(none)"', async () => {
    const snapshots = [info('vol-a', 'snap-theirs')];
    const group = await groupOf(snapshots);
    const name = memberContentName(group.metadata.uid as string, 'vol-a');
    await h.rest.request({
      method: 'POST',
      path: collectionPath(VOLUME_SNAPSHOT_CONTENTS),
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', metadata: { name }, spec: { volumeSnapshotRef: { name: 'other', namespace: 'default' }, deletionPolicy: 'Retain', driver: DRIVER, source: { volumeHandle: 'vol-a' } } },
    });
    const err = await memberError(ensureMembers(h.members, group, 'group-1', snapshots));
    expect(err.message).toBe(`member VolumeSnapshotContent ${name} of group snapshot content ${group.metadata.name} already exists for snapshot (none), not snap-theirs: it is left alone`);
  });

  test('an adopted member content whose status already has the handle is not written again', async () => {
    const snapshots = [info('vol-a', 'snap-adopt')];
    const group = await groupOf(snapshots);
    const uid = group.metadata.uid as string;
    await ensureMembers(h.members, group, 'group-1', snapshots);
    const statusWrites = () => h.server.requests.all({ resource: 'volumesnapshotcontents', verb: 'patch', subresource: 'status' }).length;
    const before = statusWrites();
    await ensureMembers(h.members, group, 'group-1', [info('vol-a', 'snap-adopt', { readyToUse: false, sizeBytes: 1n })]);
    expect(statusWrites()).toBe(before);
    expect((await h.members.getContent(memberContentName(uid, 'vol-a')))?.status).toMatchObject({ readyToUse: true, restoreSize: 4096 });
  });

  test('a member snapshot that exists: adopted when it is this member, refused when it has another source, and said so when it cannot be read or is gone', async () => {
    const snapshots = [info('vol-a', 'snap-vs')];
    const group = await groupOf(snapshots);
    const uid = group.metadata.uid as string;
    const snapshotName = memberSnapshotName(uid, 'vol-a');
    const what = `member VolumeSnapshot default/${snapshotName} of group snapshot content ${group.metadata.name}`;
    await ensureMembers(h.members, group, 'group-1', snapshots);
    // Itself: adopted.
    await ensureMembers(h.members, group, 'group-1', snapshots);
    h.server.faults.fail({ verb: 'get', resource: 'volumesnapshots', code: 500, message: 'etcd is on fire' });
    const unreadable = await memberError(ensureMembers(h.members, group, 'group-1', snapshots));
    expect(unreadable.message).toBe(`failed to read ${what}: etcd is on fire`);
    expect(causeOf(unreadable)).toMatchObject({ statusCode: 500 });
  });

  test('a member snapshot of another source under the member\'s name, or a conflict and then nothing there: refused, left alone', async () => {
    const snapshots = [info('vol-a', 'snap-vs-other')];
    const group = await groupOf(snapshots);
    const snapshotName = memberSnapshotName(group.metadata.uid as string, 'vol-a');
    const what = `member VolumeSnapshot default/${snapshotName} of group snapshot content ${group.metadata.name}`;
    await h.rest.request({ method: 'POST', path: collectionPath(VOLUME_SNAPSHOTS, 'default'), body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name: snapshotName }, spec: { source: { volumeSnapshotContentName: 'someone-elses' } } } });
    expect((await memberError(ensureMembers(h.members, group, 'group-1', snapshots))).message).toBe(`${what} already exists for another source: it is left alone`);
    const gone = await groupOf(snapshots);
    h.server.faults.fail({ verb: 'create', resource: 'volumesnapshots', code: 409 });
    const goneName = `member VolumeSnapshot default/${memberSnapshotName(gone.metadata.uid as string, 'vol-a')} of group snapshot content ${gone.metadata.name}`;
    expect((await memberError(ensureMembers(h.members, gone, 'group-1', snapshots))).message).toBe(`${goneName} already exists for another source: it is left alone`);
  });

  test('reads: a 404 is undefined, any other failure is an error with the request in its message, never "gone"', async () => {
    expect(await h.members.getContent('no-such-content')).toBeUndefined();
    expect(await h.members.getSnapshot('default', 'no-such-snapshot')).toBeUndefined();
    // A proxy in front of the API server that answers in plain text.
    const proxy = createServer((_req, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream down'));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (proxy.address() as AddressInfo).port;
      const members = restMemberObjects(new RestClient({ kubeConfig: { ...loadKubeConfig(h.server.kubeconfigPath), server: new URL(`http://127.0.0.1:${port}/`) } }));
      const down = (path: string) => new Error(`GET ${path}: the server responded with 503 ServiceUnavailable: upstream down`);
      await expect(members.getContent('c')).rejects.toThrow(down(objectPath(VOLUME_SNAPSHOT_CONTENTS, 'c')));
      await expect(members.getSnapshot('default', 's')).rejects.toThrow(down(objectPath(VOLUME_SNAPSHOTS, 's', 'default')));
      await expect(members.listPersistentVolumes()).rejects.toThrow(down(collectionPath(PERSISTENT_VOLUMES)));
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  test('persistentVolumesByHandle: the CSI volumes of this driver only, by handle; volumes of other kinds are skipped', async () => {
    const pv = (name: string, spec: Record<string, unknown> | undefined) =>
      h.rest.request({ method: 'POST', path: '/api/v1/persistentvolumes', body: { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name }, ...(spec ? { spec } : {}) } });
    const tag = `byhandle-${++n}`;
    await pv(`${tag}-mine`, { csi: { driver: DRIVER, volumeHandle: `${tag}-h1` } });
    await pv(`${tag}-other-driver`, { csi: { driver: 'other.csi.example.com', volumeHandle: `${tag}-h2` } });
    await pv(`${tag}-no-handle`, { csi: { driver: DRIVER } });
    await pv(`${tag}-hostpath`, { hostPath: { path: '/data' } });
    await pv(`${tag}-no-spec`, undefined);
    const byHandle = await persistentVolumesByHandle(h.members, DRIVER);
    expect([...byHandle].filter(([handle]) => handle.startsWith(tag))).toEqual([[`${tag}-h1`, `${tag}-mine`]]);
  });
});
