import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { silentLogger, type Logger } from '../../../src/observe/logger.js';
import { capturingLogger } from '../../helpers/logger.js';
import { objectPath, volumeGroupSnapshotContents } from '../../../src/kube/resources.js';
import type { WorkQueue } from '../../../src/runtime/queue.js';
import type { VersionStore } from '../../../src/sidecar/engine/updates.js';
import { groupContentController } from '../../../src/sidecar/group/kind.js';
import type { VolumeGroupSnapshotContent, WireGroupContent } from '../../../src/sidecar/group/types.js';
import { GROUP_API_MODES, groupVersionAdapter } from '../../../src/sidecar/group/versions.js';
import { memberContentName, memberSnapshotHandle, memberSnapshotName } from '../../../src/sidecar/group/members.js';
import {
  ANN_DELETION_SECRET_NAME,
  ANN_DELETION_SECRET_NAMESPACE,
  ANN_GROUP_BEING_CREATED,
  ANN_GROUP_BEING_DELETED,
  ANN_GROUP_DELETION_SECRET_NAME,
  ANN_GROUP_DELETION_SECRET_NAMESPACE,
  FINALIZER_GROUP_CONTENT,
  FINALIZER_IN_GROUP,
  LABEL_MANAGED_BY,
} from '../../../src/sidecar/keys.js';
import { sha256Hex } from '../../../src/testing/sample-driver/index.js';
import { waitFor } from '../../helpers/process.js';
import { uidFor } from '../../helpers/uid.js';
import { DRIVER, GroupHarness } from './harness.js';

// What the sidecar appends to the Go sidecar's text: what happens next (sidecar's nextStep()).
const RETRY = ' (retrying with backoff, at most every 5m0s)';
/** The error a sync ended in, as the retry logs it ('' when it did not end in a retry). */
const retryText = (outcome: { type: string; error?: unknown }): string => (outcome.type === 'retry' ? String(outcome.error instanceof Error ? outcome.error.message : outcome.error) : '');
const FINAL = ' (final for this attempt: the driver refused it; retrying with backoff, at most every 5m0s, in case the cause is fixed)';

// The reserved secret keys of a class in every era (single-snapshot keys, which v7.0 also read for
// groups, and the group keys of v8.0 on); none of them is ever a driver parameter.
const SECRET_PARAMETERS = {
  'csi.storage.k8s.io/snapshotter-secret-name': 'snapshot-secret',
  'csi.storage.k8s.io/snapshotter-secret-namespace': 'default',
  'csi.storage.k8s.io/snapshotter-list-secret-name': 'list-secret',
  'csi.storage.k8s.io/snapshotter-list-secret-namespace': 'default',
  'csi.storage.k8s.io/group-snapshotter-secret-name': 'group-secret',
  'csi.storage.k8s.io/group-snapshotter-secret-namespace': 'default',
  'csi.storage.k8s.io/group-snapshotter-get-secret-name': 'get-${volumegroupsnapshotcontent.name}',
  'csi.storage.k8s.io/group-snapshotter-get-secret-namespace': 'default',
};
const GROUP_EXTRA = (content: string): Record<string, string> => ({
  'csi.storage.k8s.io/volumegroupsnapshot/name': `vgs-${content}`,
  'csi.storage.k8s.io/volumegroupsnapshot/namespace': 'default',
  'csi.storage.k8s.io/volumegroupsnapshotcontent/name': content,
});

// The same group scenarios against each served version (v1alpha1 in both of its schemas): the API
// test server serves only that version, the sample driver answers over gRPC, and each test runs
// syncs one at a time and checks the stored object, the driver's journal and the Events. Where the
// eras differ (v1alpha1 lists member contents the sidecar creates, and keeps an int64 time), the
// expectation says so.
describe.each([...GROUP_API_MODES])('group contents in mode %s', (mode) => {
  const adapter = groupVersionAdapter(mode);
  const version = adapter.version;
  const alpha = adapter.membersByContent;
  /** A group content's creationTime as this version stores it: int64 nanoseconds in v1alpha1, RFC 3339 later. */
  const STORED_TIME = alpha ? expect.anything() : expect.stringMatching(/Z$/);
  let h: GroupHarness;
  let n = 0;
  const unique = (base: string) => `${base}-${++n}`;
  // A fresh VolumeGroupSnapshot UID, shaped like the API server's.
  const newUid = () => uidFor(`${mode}/${unique('uid')}`);
  const membersField = adapter.membersField;
  // The group content's Secret annotations of this era: v7.0 read the single-snapshot keys there.
  const SECRET_NAME = mode === 'v1alpha1-v7' ? ANN_DELETION_SECRET_NAME : ANN_GROUP_DELETION_SECRET_NAME;
  const SECRET_NAMESPACE = mode === 'v1alpha1-v7' ? ANN_DELETION_SECRET_NAMESPACE : ANN_GROUP_DELETION_SECRET_NAMESPACE;
  /** The storage ids of the members a stored group lists; v1alpha1 records them in the member contents. */
  const snapshotIdsOf = async (wire: WireGroupContent): Promise<string[]> => {
    const ids: string[] = [];
    for (const m of adapter.toModel(wire).status?.members ?? []) ids.push(alpha ? (memberSnapshotHandle(await h.members.getContent(m.contentName ?? '')) ?? '') : m.snapshotHandle);
    return ids;
  };
  /** The object an Event about this stored content names. */
  const subjectOf = async (name: string) => {
    const stored = await h.wire(name);
    return { apiVersion: adapter.apiVersion, kind: 'VolumeGroupSnapshotContent', name, uid: stored.metadata.uid, resourceVersion: expect.any(String) };
  };

  beforeAll(async () => {
    h = await GroupHarness.start(mode);
    await h.createClass('class-a', { tier: 'gold' });
    // A class as users write them: the controller's and the sidecar's secret keys beside the driver's own.
    await h.createClass('class-with-secrets', {
      tier: 'gold',
      replicas: '3',
      ...SECRET_PARAMETERS,
    });
    // The Secret for GetVolumeGroupSnapshot, under the class keys of each era.
    const getSecretKeys: Record<string, string> =
      mode === 'v1alpha1-v7'
        ? { 'csi.storage.k8s.io/snapshotter-list-secret-name': 'get-${volumesnapshotcontent.name}', 'csi.storage.k8s.io/snapshotter-list-secret-namespace': 'default' }
        : mode === 'v1alpha1-v8'
          ? { 'csi.storage.k8s.io/group-snapshotter-secret-name': 'get-${volumegroupsnapshotcontent.name}', 'csi.storage.k8s.io/group-snapshotter-secret-namespace': 'default' }
          : { 'csi.storage.k8s.io/group-snapshotter-get-secret-name': 'get-${volumegroupsnapshotcontent.name}', 'csi.storage.k8s.io/group-snapshotter-get-secret-namespace': 'default' };
    await h.createClass('class-get-secret', getSecretKeys);
    await h.createSecret('group-secret', { user: 'admin' });
  });
  afterAll(async () => {
    await h?.stop();
  });
  beforeEach(async () => {
    await h.reset();
  });

  /**
   * v1alpha1: the status lists one member content per volume under its derived name, in this
   * schema's layout, and each member content and snapshot exists as that era's controller binds them.
   */
  async function expectAlphaMembers(wire: WireGroupContent, volumes: string[], size?: number): Promise<void> {
    const uid = wire.metadata.uid ?? '';
    const status = wire.status as Record<string, unknown>;
    const names = volumes.map((v) => memberContentName(uid, v));
    const entries = names.map((name) => (mode === 'v1alpha1-v7' ? { kind: 'VolumeSnapshotContent', name } : { volumeSnapshotContentRef: { name }, persistentVolumeRef: { name: '' } }));
    expect(status[membersField]).toEqual(expect.arrayContaining(entries));
    expect(status[membersField]).toHaveLength(volumes.length);
    for (const volume of volumes) {
      const content = await h.members.getContent(memberContentName(uid, volume));
      const snapshotName = memberSnapshotName(uid, volume);
      expect(content?.spec).toEqual({
        volumeSnapshotRef: { kind: 'VolumeSnapshot', name: snapshotName, namespace: 'default' },
        deletionPolicy: wire.spec.deletionPolicy,
        driver: DRIVER,
        source: { snapshotHandle: expect.stringMatching(/\S/) },
      });
      expect(content?.status).toMatchObject({ snapshotHandle: content?.spec.source.snapshotHandle, volumeGroupSnapshotHandle: status.volumeGroupSnapshotHandle, readyToUse: true });
      if (size !== undefined) expect(BigInt(content?.status?.restoreSize ?? 0)).toBe(BigInt(size));
      const snapshot = await h.members.getSnapshot('default', snapshotName);
      expect(snapshot?.metadata.labels).toEqual({ volumeGroupSnapshotName: wire.spec.volumeGroupSnapshotRef.name });
      expect(snapshot?.metadata.finalizers).toEqual([FINALIZER_IN_GROUP]);
      expect(snapshot?.spec.source).toEqual({ volumeSnapshotContentName: memberContentName(uid, volume) });
    }
  }

  describe('create (rule GC) and readiness (GS2)', () => {
    test('Z-40 / J-11 / J-13 / D-04 / H-20 / H-11: a dynamic group is cut with its class parameters, extra metadata and no secrets (no secret annotations), and recorded with every member', async () => {
      const volumes = await h.createVolumes(3, 'x'.repeat(2048));
      const name = unique('create');
      const uid = newUid();
      await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid });
      expect(await h.syncByName(name)).toEqual({ type: 'done' });

      expect(await h.calls('CreateVolumeGroupSnapshot')).toEqual([{ name: `groupsnapshot-${uid}`, source_volume_ids: volumes, parameters: { tier: 'gold', ...GROUP_EXTRA(name) }, secrets: {} }]);
      expect(await h.calls('GetPluginInfo')).toEqual([]);

      const wire = await h.wire(name);
      expect(wire.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();
      const status = wire.status as Record<string, unknown>;
      expect(status.readyToUse).toBe(true);
      expect(status.volumeGroupSnapshotHandle).toMatch(/\S/);
      const list = status[membersField] as Array<Record<string, unknown>>;
      if (alpha) {
        expect(BigInt(status.creationTime as number | bigint)).toBeGreaterThan(1_700_000_000_000_000_000n);
        await expectAlphaMembers(wire, volumes, 2048);
        return;
      }
      expect(status.creationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(list.map((m) => m.volumeHandle).sort()).toEqual([...volumes].sort());
      for (const member of list) {
        expect(member.snapshotHandle).toMatch(/\S/);
        if (version === 'v1beta1') expect(Object.keys(member).sort()).toEqual(['snapshotHandle', 'volumeHandle']);
        else {
          expect(member).toEqual({ volumeHandle: expect.any(String), snapshotHandle: expect.any(String), readyToUse: true, restoreSize: 2048, creationTime: expect.anything() });
          expect(BigInt(member.creationTime as number | bigint)).toBeGreaterThan(1_700_000_000_000_000_000n);
        }
      }
    });

    test('the group creationTime is the driver\'s, exactly: int64 nanoseconds with every digit in v1alpha1, the second it falls in from v1beta1 on; member times are exact nanoseconds', async () => {
      const volumes = await h.createVolumes(2);
      const name = unique('time');
      await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: newUid() });
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      const wire = await h.wire(name);
      const status = wire.status as Record<string, unknown>;
      const ids = await snapshotIdsOf(wire);
      const reply = await h.csi.call('/csi.v1.GroupController/GetVolumeGroupSnapshot', { group_snapshot_id: status.volumeGroupSnapshotHandle as string, snapshot_ids: ids, secrets: {} }, new Date(Date.now() + 10_000));
      const nanosOf = (ts: { seconds: string | number; nanos: number } | null | undefined) => BigInt(ts?.seconds ?? 0) * 1_000_000_000n + BigInt(ts?.nanos ?? 0);
      const groupNanos = nanosOf(reply.group_snapshot?.creation_time);
      // The sample driver keeps microseconds: a time with a fraction, which any rounding would lose.
      expect(groupNanos % 1_000_000_000n).not.toBe(0n);
      if (alpha) expect(BigInt(status.creationTime as number | bigint)).toBe(groupNanos);
      else expect(status.creationTime).toBe(new Date(Number(groupNanos / 1_000_000_000n) * 1000).toISOString().replace('.000Z', 'Z'));

      const memberNanos = new Map((reply.group_snapshot?.snapshots ?? []).map((m) => [m.source_volume_id, nanosOf(m.creation_time)]));
      expect(memberNanos.size).toBe(2);
      for (const volume of volumes) {
        const expected = memberNanos.get(volume);
        if (alpha) {
          const member = await h.members.getContent(memberContentName(wire.metadata.uid ?? '', volume));
          expect(BigInt(member?.status?.creationTime ?? -1)).toBe(expected);
        } else if (membersField === 'volumeSnapshotInfoList') {
          const entry = (status[membersField] as Array<Record<string, unknown>>).find((m) => m.volumeHandle === volume);
          expect(BigInt(entry?.creationTime as number | bigint)).toBe(expected);
        } else {
          // v1beta1's pairs hold no time.
          expect(Object.keys((status[membersField] as Array<Record<string, unknown>>)[0] ?? {}).sort()).toEqual(['snapshotHandle', 'volumeHandle']);
        }
      }
    });

    /** One create with these name settings (no extra metadata); returns the volume and what reached the driver. */
    async function createNamed(prefix: string, uuidLength: number, uid: string): Promise<{ volume: string; creates: Array<Record<string, unknown>> }> {
      const [volume] = await h.createVolumes(1);
      const name = unique('uuid');
      await h.createContent({ name, volumeHandles: [volume as string], className: 'class-a', uid });
      const saved = h.settings;
      h.settings = { ...h.settings, groupSnapshotNamePrefix: prefix, groupSnapshotNameUuidLength: uuidLength, extraCreateMetadata: false };
      try {
        expect(await h.syncByName(name)).toEqual({ type: 'done' });
      } finally {
        h.settings = saved;
      }
      return { volume: volume as string, creates: await h.calls('CreateVolumeGroupSnapshot') };
    }

    // A UID as the API server makes them: a name cut from it with its dashes still in differs from
    // the right one from 9 characters on (at 12: 6f1d2c3a-9b8 instead of 6f1d2c3a9b8e).
    const NAME_UID = '6f1d2c3a-9b8e-4c7d-a5f4-e3d2c1b0a987';
    const NAME_UID_WITHOUT_DASHES = '6f1d2c3a9b8e4c7da5f4e3d2c1b0a987';

    test('D-05: uuid length -1 keeps the UID with dashes; a length of 8 keeps 8 characters without dashes', async () => {
      expect((await createNamed('grp-snap', -1, NAME_UID)).creates.map((c) => c.name)).toEqual(['grp-snap-6f1d2c3a-9b8e-4c7d-a5f4-e3d2c1b0a987']);
      await h.driver.clearCalls();
      expect((await createNamed('group-snapshot', 8, NAME_UID)).creates.map((c) => c.name)).toEqual(['group-snapshot-6f1d2c3a']);
      await h.driver.clearCalls();
      expect((await createNamed('group-snapshot', 12, NAME_UID)).creates.map((c) => c.name)).toEqual(['group-snapshot-6f1d2c3a9b8e']);
    });

    test.each([-1, ...Array.from({ length: 33 }, (_x, i) => i)])('D-05: --groupsnapshot-name-uuid-length=%i names the group after the whole UID (-1) or that many UID characters without dashes', async (length) => {
      expect(NAME_UID_WITHOUT_DASHES).toHaveLength(32);
      const expected = length === -1 ? `groupsnapshot-${NAME_UID}` : `groupsnapshot-${NAME_UID_WITHOUT_DASHES.slice(0, length)}`;
      const { volume, creates } = await createNamed('groupsnapshot', length, NAME_UID);
      expect(creates).toEqual([{ name: expected, source_volume_ids: [volume], parameters: { tier: 'gold' }, secrets: {} }]);
    });

    test('Z-40 / K-08 / K-09 / rule GC: the reserved secret keys of every era (snapshotter, snapshotter-list, group-snapshotter, group-snapshotter-get) are removed; the driver gets exactly the other parameters (plus the extra metadata when on)', async () => {
      const name = unique('secret-params');
      const volumes = await h.createVolumes(2);
      const uid = newUid();
      await h.createContent({ name, volumeHandles: volumes, className: 'class-with-secrets', uid });
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect((await h.wire(name)).status?.readyToUse).toBe(true);
      // The deletion secret is the controller's business (through annotations): this content has none.
      expect(await h.calls('CreateVolumeGroupSnapshot')).toEqual([
        { name: `groupsnapshot-${uid}`, source_volume_ids: volumes, parameters: { tier: 'gold', replicas: '3', ...GROUP_EXTRA(name) }, secrets: {} },
      ]);
      expect(h.events).toEqual([]);

      await h.driver.clearCalls();
      const plain = unique('secret-params');
      const plainUid = newUid();
      await h.createContent({ name: plain, volumeHandles: volumes, className: 'class-with-secrets', uid: plainUid });
      const saved = h.settings;
      h.settings = { ...h.settings, extraCreateMetadata: false };
      try {
        expect(await h.syncByName(plain)).toEqual({ type: 'done' });
      } finally {
        h.settings = saved;
      }
      expect(await h.calls('CreateVolumeGroupSnapshot')).toEqual([{ name: `groupsnapshot-${plainUid}`, source_volume_ids: volumes, parameters: { tier: 'gold', replicas: '3' }, secrets: {} }]);
    });

    test('J-14 / H-44 / Z-42 / D-12: a group that is not ready is polled with GetVolumeGroupSnapshot (by its status handle), writing only when it turns ready', async () => {
      await h.driver.setFaults({ readyDelayMs: 1500 });
      const volumes = await h.createVolumes(2);
      const name = unique('slow');
      await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: newUid() });
      const first = await h.syncByName(name);
      expect(first.type).toBe('after');
      const notReady = await h.wire(name);
      expect(notReady.status?.readyToUse).toBe(false);
      expect(notReady.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();

      const ready = await waitFor('the group to turn ready', async () => {
        const outcome = await h.syncByName(name);
        return outcome.type === 'done' ? h.wire(name) : undefined;
      }, 20_000);
      expect(ready.status?.readyToUse).toBe(true);
      expect(ready.status?.volumeGroupSnapshotHandle).toBe(notReady.status?.volumeGroupSnapshotHandle);
      expect(await h.calls('CreateVolumeGroupSnapshot')).toHaveLength(1);
      const gets = await h.calls('GetVolumeGroupSnapshot');
      expect(gets.length).toBeGreaterThanOrEqual(1);
      const memberIds = await snapshotIdsOf(notReady);
      expect(memberIds).toHaveLength(2);
      expect(memberIds.every((id) => id !== '')).toBe(true);
      expect(gets[0]).toEqual({ group_snapshot_id: notReady.status?.volumeGroupSnapshotHandle, snapshot_ids: memberIds, secrets: {} });
      // Members keep the readiness of the first reply (as in Go); the member contents track their own.
      const list = ready.status?.[membersField] as Array<Record<string, unknown>>;
      if (membersField === 'volumeSnapshotInfoList') expect(list.every((m) => m.readyToUse === false)).toBe(true);
      expect(list).toEqual(notReady.status?.[membersField]);
      // Two writes of the content: the mark and the status at create; one status write when ready (+ mark removal).
      const patches = h.server.requests.all({ resource: 'volumegroupsnapshotcontents', name }).filter((r) => r.verb === 'patch');
      expect(patches.filter((r) => r.subresource === 'status')).toHaveLength(2);
    });

    test('J-12 / Z-21: a final error is recorded with an Event, the mark is removed, and a retry succeeds', async () => {
      await h.driver.setFaults({ errors: { CreateVolumeGroupSnapshot: { code: 'INVALID_ARGUMENT', message: 'bad tier', times: 1 } } });
      const volumes = await h.createVolumes(2);
      const name = unique('final');
      await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: newUid() });
      const outcome = await h.syncByName(name);
      expect(outcome.type).toBe('retry');
      const failed = await h.wire(name);
      const message = `Failed to create group snapshot: failed to take group snapshot of the volumes [${volumes.join(' ')}]: "rpc error: code = InvalidArgument desc = bad tier"` + FINAL;
      expect(failed.status).toEqual({ readyToUse: false, error: { message, time: expect.any(String) } });
      expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();
      expect(h.events).toEqual([{ subject: await subjectOf(name), reason: 'GroupSnapshotCreationFailed', message }]);

      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      const ready = await h.wire(name);
      expect(ready.status?.readyToUse).toBe(true);
      expect(ready.status?.error).toBeUndefined();
    });

    test('J-02 / Z-20: a non-final error keeps the being-created mark, so a deletion waits', async () => {
      await h.driver.setFaults({ errors: { CreateVolumeGroupSnapshot: { code: 'UNAVAILABLE', message: 'busy' } } });
      const volumes = await h.createVolumes(2);
      const name = unique('busy');
      await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: newUid() });
      expect((await h.syncByName(name)).type).toBe('retry');
      const failed = await h.wire(name);
      expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
      expect((failed.status?.error as { message: string }).message).toContain('code = Unavailable desc = busy');

      await h.deleteAsController(name);
      expect((await h.syncByName(name)).type).toBe('retry');
      expect((await h.wire(name)).metadata.finalizers).toEqual([FINALIZER_GROUP_CONTENT]);
      expect(h.events.map((e) => e.reason)).toEqual(['GroupSnapshotCreationFailed', 'GroupSnapshotContentCheckandUpdateFailed']);

      // Once the driver answers, the create finishes; then the deletion runs.
      await h.driver.clearFaults();
      await h.syncByName(name);
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect(await h.exists(name)).toBe(false);
      expect(await h.calls('DeleteVolumeGroupSnapshot')).toHaveLength(1);
    });

    test.each([
      ['D-01 / D-03: not bound to a group snapshot (no UID to build the group name from)', { uid: '' }, 'cannot create group snapshot. Group snapshot content NAME not bound to a group snapshot', 'yes'],
      ['H-21: no group snapshot class', { className: '' }, 'failed to get input parameters to create group snapshot for group snapshot content NAME: "failed to take group snapshot NAME without a group snapshot class"', undefined],
      ['H-19 / H-23: the class does not exist', { className: 'missing' }, 'failed to get input parameters to create group snapshot for group snapshot content NAME: "volumegroupsnapshotclass.groupsnapshot.storage.k8s.io \\"missing\\" not found"', undefined],
      ['H-12: secret name annotation empty', { annotations: { [SECRET_NAME]: '', [SECRET_NAMESPACE]: 'default' } }, 'failed to get input parameters to create group snapshot for group snapshot content NAME: "cannot retrieve secrets for group snapshot content \\"NAME\\", err: secret name or namespace not specified"', undefined],
      ['H-13: secret namespace annotation empty', { annotations: { [SECRET_NAME]: 'secret-name', [SECRET_NAMESPACE]: '' } }, 'failed to get input parameters to create group snapshot for group snapshot content NAME: "cannot retrieve secrets for group snapshot content \\"NAME\\", err: secret name or namespace not specified"', undefined],
      ['the Secret does not exist', { annotations: { [SECRET_NAME]: 'nope', [SECRET_NAMESPACE]: 'default' } }, 'failed to get input parameters to create group snapshot for group snapshot content NAME: "cannot get credentials for group snapshot content \\"NAME\\""', undefined],
    ])('%s: no RPC, status.error and one Event', async (_title, variant: { uid?: string; className?: string; annotations?: Record<string, string> }, text, mark) => {
      const volumes = await h.createVolumes(1);
      const name = unique('precheck');
      await h.createContent({ name, volumeHandles: volumes, className: variant.className ?? 'class-a', uid: variant.uid ?? newUid(), ...(variant.annotations ? { annotations: variant.annotations } : {}) });
      expect((await h.syncByName(name)).type).toBe('retry');
      const message = `Failed to create group snapshot: ${text.replaceAll('NAME', name)}${RETRY}`;
      const failed = await h.wire(name);
      expect(failed.status?.error).toEqual({ message, time: expect.any(String) });
      expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe(mark);
      expect(await h.calls('CreateVolumeGroupSnapshot')).toEqual([]);
      // The retry runs as rule GS2, whose failures carry the check-and-update prefix (as in Go).
      expect((await h.syncByName(name)).type).toBe('retry');
      const retried = await h.wire(name);
      // Z-36: the same failure again writes nothing and announces nothing.
      expect((await h.syncByName(name)).type).toBe('retry');
      expect(h.events.map((e) => e.reason)).toEqual(['GroupSnapshotCreationFailed', 'GroupSnapshotContentCheckandUpdateFailed']);
      expect(h.events[1]?.message).toBe(message.replace('Failed to create group snapshot: ', 'Failed to check and update group snapshot content: '));
      expect((await h.wire(name)).metadata.resourceVersion).toBe(retried.metadata.resourceVersion);
    });

    test('H-30 / H-31: a ready group whose mark is still set only loses the mark', async () => {
      const volumes = await h.createVolumes(1);
      const name = unique('mark');
      await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: newUid(), annotations: { [ANN_GROUP_BEING_CREATED]: 'yes' } });
      await h.setStatus(name, { readyToUse: true });
      await h.driver.clearCalls();
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect((await h.wire(name)).metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();
      expect(await h.driver.calls()).toEqual([]);
    });

    // Without volumes the content is not a dynamic one, so it need not name a class: the missing
    // volumes are the error either way (not a missing class, not a crash on the absent class).
    test.each([['with', 'class-a'], ['without', undefined]])('D-02: a bound group content without volume handles, %s a class, is not cut: status.error names the missing PVCs, no RPC', async (_label, className) => {
      const name = unique('no-volumes');
      await h.createContent({ name, volumeHandles: [], ...(className ? { className } : {}), uid: newUid() });
      expect((await h.syncByName(name)).type).toBe('retry');
      const failed = await h.wire(name);
      expect((failed.status?.error as { message: string }).message).toContain(`cannot create group snapshot. PVCs to be snapshotted not found in group snapshot content ${name}`);
      expect(h.events).toHaveLength(1);
      expect(await h.calls('CreateVolumeGroupSnapshot')).toEqual([]);
    });

    test('H-27 / H-28: the being-created mark is added only when absent and removed only when present', async () => {
      const metadataPatches = (name: string) => h.server.requests.all({ resource: 'volumegroupsnapshotcontents', name, verb: 'patch', subresource: '' }).length;
      // v1alpha1 writes one more: the member ids recorded on the group before its members are made.
      const ids = alpha ? 1 : 0;
      // (b) no mark yet: one patch adds it, one removes it once the group is recorded.
      const volumes = await h.createVolumes(1);
      const fresh = unique('mark-fresh');
      await h.createContent({ name: fresh, volumeHandles: volumes, className: 'class-a', uid: newUid() });
      expect(await h.syncByName(fresh)).toEqual({ type: 'done' });
      expect(metadataPatches(fresh)).toBe(2 + ids);
      expect((await h.wire(fresh)).metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();
      // (a) already marked (an earlier attempt): no patch to add it; only the removal.
      const marked = unique('mark-present');
      await h.createContent({ name: marked, volumeHandles: await h.createVolumes(1), className: 'class-a', uid: newUid(), annotations: { [ANN_GROUP_BEING_CREATED]: 'yes' } });
      expect(await h.syncByName(marked)).toEqual({ type: 'done' });
      expect(metadataPatches(marked)).toBe(1 + ids);
      expect((await h.wire(marked)).metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();
      // (a) of H-28: a ready content without the mark is not written again.
      const before = (await h.wire(marked)).metadata.resourceVersion;
      expect(await h.syncByName(marked)).toEqual({ type: 'done' });
      expect(metadataPatches(marked)).toBe(1 + ids);
      expect((await h.wire(marked)).metadata.resourceVersion).toBe(before);
    });
  });

  describe('pre-provisioned (rule GS1)', () => {
    test('Z-43 / J-08 / J-09 / D-13: GetVolumeGroupSnapshot (by the spec handle) with the class get-secret; status from the spec handle, no member list', async () => {
      const volumes = await h.createVolumes(2);
      const pre = await h.cutGroup(unique('pre'), volumes);
      const name = unique('pre-content');
      await h.createSecret(`get-${name}`, { token: 'reader' });
      await h.createContent({ name, pre, className: 'class-get-secret' });
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      const gets = await h.calls('GetVolumeGroupSnapshot');
      expect(gets).toEqual([{ group_snapshot_id: pre.groupId, snapshot_ids: pre.snapshotIds, secrets: { token: sha256Hex('reader') } }]);
      const wire = await h.wire(name);
      expect(wire.status).toEqual({ volumeGroupSnapshotHandle: pre.groupId, readyToUse: true, creationTime: STORED_TIME });
      // Refreshing a ready group writes nothing (Go: one PUT per poll).
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect((await h.wire(name)).metadata.resourceVersion).toBe(wire.metadata.resourceVersion);
    });

    test('J-10 / H-22: a pre-provisioned group without a class is read and, not ready yet, looked at again', async () => {
      await h.driver.setFaults({ readyDelayMs: 60_000 });
      const volumes = await h.createVolumes(1);
      const pre = await h.cutGroup(unique('pre'), volumes);
      const name = unique('pre-slow');
      await h.createContent({ name, pre });
      expect((await h.syncByName(name)).type).toBe('after');
      expect((await h.wire(name)).status).toEqual({ volumeGroupSnapshotHandle: pre.groupId, readyToUse: false, creationTime: STORED_TIME });
    });

    test('J-03 / D-15: a failing GetVolumeGroupSnapshot (the driver\'s error text kept) is recorded as GroupSnapshotContentCheckandUpdateFailed', async () => {
      const name = unique('pre-missing');
      await h.createContent({ name, pre: { groupId: 'no-such-group', snapshotIds: ['snap-x'] }, className: 'class-a' });
      expect((await h.syncByName(name)).type).toBe('retry');
      const message = `Failed to check and update group snapshot content: failed to list group snapshot for group snapshot content ${name}: "rpc error: code = NotFound desc = group snapshot no-such-group not found"` + FINAL;
      expect((await h.wire(name)).status?.error).toEqual({ message, time: expect.any(String) });
      expect(h.events).toEqual([{ subject: await subjectOf(name), reason: 'GroupSnapshotContentCheckandUpdateFailed', message }]);
    });

    test.each([
      ['D-11: no snapshot ids', { groupId: 'group-handle', snapshotIds: [] as string[] }, 'cannot list group snapshot NAME. No snapshots found in the group snapshot content'],
      ['D-14: no group handle anywhere', { groupId: '', snapshotIds: ['snap-1'] }, 'failed to list group snapshot for group snapshot content NAME: groupSnapshotHandle is missing'],
    ])('%s: GetVolumeGroupSnapshot is not called and the error is recorded', async (_title, pre, text) => {
      const name = unique('pre-incomplete');
      await h.createContent({ name, pre });
      expect((await h.syncByName(name)).type).toBe('retry');
      const message = `Failed to check and update group snapshot content: ${text.replaceAll('NAME', name)}${RETRY}`;
      expect((await h.wire(name)).status?.error).toEqual({ message, time: expect.any(String) });
      expect(h.events).toEqual([{ subject: await subjectOf(name), reason: 'GroupSnapshotContentCheckandUpdateFailed', message }]);
      expect(await h.calls('GetVolumeGroupSnapshot')).toEqual([]);
    });
  });

  describe('deletion (rules GD and GF)', () => {
    async function readyGroup(options: { policy?: 'Delete' | 'Retain'; annotations?: Record<string, string> } = {}) {
      const volumes = await h.createVolumes(2);
      const name = unique('del');
      await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: newUid(), ...options });
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      const ready = await h.wire(name);
      return { name, groupId: (ready.status?.volumeGroupSnapshotHandle as string | undefined) ?? '', snapshotIds: await snapshotIdsOf(ready) };
    }

    test('Z-44 / J-04 / D-07 / H-14: policy Delete deletes the group (by its status handle) with every member id and the annotation Secret\'s data, then releases the content', async () => {
      const g = await readyGroup({ annotations: { [SECRET_NAME]: 'group-secret', [SECRET_NAMESPACE]: 'default' } });
      expect(await h.groupExists(g.groupId, g.snapshotIds)).toBe(true);
      await h.deleteAsController(g.name);
      expect(await h.syncByName(g.name)).toEqual({ type: 'done' });
      expect(await h.calls('DeleteVolumeGroupSnapshot')).toEqual([{ group_snapshot_id: g.groupId, snapshot_ids: g.snapshotIds, secrets: { user: sha256Hex('admin') } }]);
      expect((await h.calls('CreateVolumeGroupSnapshot')).map((c) => c.secrets)).toEqual([{ user: sha256Hex('admin') }]);
      expect(await h.groupExists(g.groupId, g.snapshotIds)).toBe(false);
      expect(await h.exists(g.name)).toBe(false);
      // Member contents are never deleted one by one.
      expect(await h.calls('DeleteSnapshot')).toEqual([]);
    });

    test('the controller\'s being-deleted mark, written after the sidecar read a group content without annotations, survives the being-created mark; the group is then deleted', async () => {
      // Found by the chaos run: a deleted group content stayed in the API, its storage group kept,
      // because the first annotation went on as a whole map and replaced the controller's.
      const volumes = await h.createVolumes(2);
      const name = unique('late-mark');
      await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: newUid() });
      const stale = await h.get(name);
      expect(stale.metadata.annotations).toBeUndefined();
      await h.deleteAsController(name);

      expect(await h.sync(stale)).toEqual({ type: 'after', delayMs: 0 });
      const stored = await h.wire(name);
      expect(stored.metadata.annotations?.[ANN_GROUP_BEING_DELETED]).toBe('yes');
      expect(stored.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();
      const groupId = (stored.status?.volumeGroupSnapshotHandle as string | undefined) ?? '';
      const snapshotIds = await snapshotIdsOf(stored);
      expect(await h.groupExists(groupId, snapshotIds)).toBe(true);

      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect(await h.groupExists(groupId, snapshotIds)).toBe(false);
      expect(await h.exists(name)).toBe(false);
    });

    test('H-29 / H-09: policy Retain removes the finalizer (the content goes) and keeps the group', async () => {
      const g = await readyGroup({ policy: 'Retain' });
      await h.deleteAsController(g.name);
      expect(await h.syncByName(g.name)).toEqual({ type: 'done' });
      expect(await h.exists(g.name)).toBe(false);
      expect(await h.calls('DeleteVolumeGroupSnapshot')).toEqual([]);
      expect(await h.groupExists(g.groupId, g.snapshotIds)).toBe(true);
    });

    test('Z-45: a pre-provisioned group is deleted with the snapshot ids of its spec', async () => {
      const volumes = await h.createVolumes(2);
      const pre = await h.cutGroup(unique('pre'), volumes);
      const name = unique('pre-del');
      await h.createContent({ name, pre, uid: newUid() });
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      await h.deleteAsController(name);
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect(await h.calls('DeleteVolumeGroupSnapshot')).toEqual([{ group_snapshot_id: pre.groupId, snapshot_ids: pre.snapshotIds, secrets: {} }]);
      expect(await h.exists(name)).toBe(false);
    });

    test('the exists() check of these tests: false only for a 404; a read that fails otherwise is an error, never "gone"', async () => {
      const name = unique('exists-check');
      await h.createContent({ name, volumeHandles: ['vol-x'], className: 'class-a', uid: newUid() });
      expect(await h.exists(name)).toBe(true);
      expect(await h.exists(unique('no-such-content'))).toBe(false);
      h.server.faults.fail({ verb: 'get', resource: 'volumegroupsnapshotcontents', name, code: 500, times: 1 });
      await expect(h.exists(name)).rejects.toMatchObject({ statusCode: 500 });
      expect(await h.exists(name)).toBe(true);
    });

    test('Z-46: policy Delete without a recorded group releases the content without any CSI call', async () => {
      const name = unique('nothing');
      await h.createContent({ name, volumeHandles: ['vol-x'], className: 'class-a', uid: newUid() });
      await h.deleteAsController(name);
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect(await h.exists(name)).toBe(false);
      expect(await h.driver.calls()).toEqual([]);
    });

    test('D-08: a pre-provisioned group deleted before any status was written is deleted by the handle in its spec', async () => {
      const volumes = await h.createVolumes(2);
      const pre = await h.cutGroup(unique('pre'), volumes);
      const name = unique('pre-unread');
      await h.createContent({ name, pre, uid: newUid() });
      await h.deleteAsController(name);
      await h.driver.clearCalls();
      expect((await h.wire(name)).status).toBeUndefined();
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect(await h.calls('DeleteVolumeGroupSnapshot')).toEqual([{ group_snapshot_id: pre.groupId, snapshot_ids: pre.snapshotIds, secrets: {} }]);
      expect(await h.groupExists(pre.groupId, pre.snapshotIds)).toBe(false);
      expect(await h.exists(name)).toBe(false);
    });

    test('D-09 / J-01: member ids but no group handle anywhere: the deletion path (rule GD needs a handle) is not entered; released without any CSI call', async () => {
      const name = unique('no-handle');
      await h.createContent({ name, volumeHandles: ['vol-x'], className: 'class-a', uid: newUid() });
      await h.setStatus(name, { readyToUse: true, [membersField]: adapter.membersToWire([{ volumeHandle: 'test-pv', snapshotHandle: 'test-vsc', contentName: 'test-vsc' }]) });
      const recorded = (await h.get(name)).status?.members ?? [];
      if (alpha) expect(recorded.map((m) => m.contentName)).toEqual(['test-vsc']);
      else expect(recorded.map((m) => [m.volumeHandle, m.snapshotHandle])).toEqual([['test-pv', 'test-vsc']]);
      await h.deleteAsController(name);
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect(await h.exists(name)).toBe(false);
      expect(await h.driver.calls()).toEqual([]);
      expect(h.events).toEqual([]);
    });

    test('D-10: a driver error from DeleteVolumeGroupSnapshot is returned with its text; the finalizer stays until a retry succeeds', async () => {
      const g = await readyGroup();
      await h.driver.setFaults({ errors: { DeleteVolumeGroupSnapshot: { code: 'INTERNAL', message: 'driver error', times: 1 } } });
      await h.deleteAsController(g.name);
      const outcome = await h.syncByName(g.name);
      expect(outcome.type).toBe('retry');
      expect(String((outcome as { error?: unknown }).error)).toContain('driver error');
      expect(h.events).toEqual([{ subject: await subjectOf(g.name), reason: 'GroupSnapshotDeleteError', message: 'Failed to delete group snapshot' }]);
      expect((await h.wire(g.name)).metadata.finalizers).toEqual([FINALIZER_GROUP_CONTENT]);
      expect(await h.groupExists(g.groupId, g.snapshotIds)).toBe(true);
      expect(await h.syncByName(g.name)).toEqual({ type: 'done' });
      expect(await h.exists(g.name)).toBe(false);
    });

    test('H-10: a content being deleted without this sidecar\'s finalizer is released without any write', async () => {
      const name = unique('foreign-finalizer');
      await h.createContent({ name, volumeHandles: ['vol-x'], className: 'class-a', uid: newUid(), policy: 'Retain', finalizer: false });
      const path = objectPath(volumeGroupSnapshotContents(version), name);
      await h.rest.request({ method: 'PATCH', path, contentType: 'application/merge-patch+json', body: { metadata: { finalizers: ['example.com/keep'] } } });
      await h.deleteAsController(name);
      const writes = () => h.server.requests.writes({ resource: 'volumegroupsnapshotcontents', name }).length;
      const before = writes();
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect(writes()).toBe(before);
      expect((await h.wire(name)).metadata.finalizers).toEqual(['example.com/keep']);
      await h.rest.request({ method: 'PATCH', path, contentType: 'application/merge-patch+json', body: { metadata: { finalizers: null } } });
      expect(await h.exists(name)).toBe(false);
    });

    test('H-43 / D-06: a recorded group without member ids is not deleted (no RPC): GroupSnapshotDeleteError, finalizer kept, retried', async () => {
      const name = unique('no-members');
      await h.createContent({ name, volumeHandles: ['vol-x'], className: 'class-a', uid: newUid() });
      await h.setStatus(name, { volumeGroupSnapshotHandle: 'group-handle-1' });
      await h.deleteAsController(name);
      const outcome = await h.syncByName(name);
      expect(outcome.type).toBe('retry');
      expect(String((outcome as { error?: unknown }).error)).toBe(`Error: failed to delete group snapshot "${name}", err: cannot delete group snapshot content ${name}. No snapshots found in the group snapshot`);
      expect(h.events).toEqual([{ subject: await subjectOf(name), reason: 'GroupSnapshotDeleteError', message: 'Failed to delete group snapshot' }]);
      expect((await h.wire(name)).metadata.finalizers).toEqual([FINALIZER_GROUP_CONTENT]);
      expect(await h.driver.calls()).toEqual([]);
    });

    test('J-05: when releasing the finalizer fails after the group is deleted, the error is returned for a retry', async () => {
      const g = await readyGroup();
      await h.deleteAsController(g.name);
      h.server.faults.fail({ verb: 'patch', resource: 'volumegroupsnapshotcontents', subresource: '', code: 500, times: 1 });
      const outcome = await h.syncByName(g.name);
      expect(outcome.type).toBe('retry');
      const cleared = await h.wire(g.name);
      expect(cleared.status?.volumeGroupSnapshotHandle).toBeUndefined();
      expect(cleared.status?.[membersField]).toHaveLength(2);
      expect(cleared.metadata.finalizers).toEqual([FINALIZER_GROUP_CONTENT]);
      // The retry finds nothing left on storage and releases the content.
      expect(await h.syncByName(g.name)).toEqual({ type: 'done' });
      expect(await h.exists(g.name)).toBe(false);
      expect(await h.calls('DeleteVolumeGroupSnapshot')).toHaveLength(1);
    });

    test('G-style: failing deletion credentials give GroupSnapshotDeleteError "Failed to get snapshot credentials"', async () => {
      const g = await readyGroup({ annotations: { [SECRET_NAME]: 'group-secret', [SECRET_NAMESPACE]: 'default' } });
      await h.rest.request({ method: 'DELETE', path: '/api/v1/namespaces/default/secrets/group-secret' });
      try {
        await h.deleteAsController(g.name);
        expect((await h.syncByName(g.name)).type).toBe('retry');
        expect(h.events).toEqual([{ subject: await subjectOf(g.name), reason: 'GroupSnapshotDeleteError', message: 'Failed to get snapshot credentials' }]);
        expect(await h.calls('DeleteVolumeGroupSnapshot')).toEqual([]);
        expect((await h.wire(g.name)).metadata.finalizers).toContain(FINALIZER_GROUP_CONTENT);
        // What the retry logs: which step failed, and why.
        const again = await h.syncByName(g.name);
        expect(retryText(again)).toContain(`failed to get input parameters to delete group snapshot for group snapshot content ${g.name}: `);
      } finally {
        await h.createSecret('group-secret', { user: 'admin' });
      }
    });
  });

  describe('what a failed write of the group content says (status.error, or the retry\'s log line)', () => {
    const errorOf = async (name: string): Promise<string> => ((await h.wire(name)).status?.error as { message: string } | undefined)?.message ?? '';
    /** A dynamic group content of class-a over two new volumes; returns its name. */
    const newGroup = async (base: string, annotations?: Record<string, string>): Promise<string> => {
      const name = unique(base);
      await h.createContent({ name, volumeHandles: await h.createVolumes(2), className: 'class-a', uid: newUid(), ...(annotations ? { annotations } : {}) });
      return name;
    };
    /** The next write to the group content itself (not its status) fails with a 500. */
    const failNextWrite = (name: string) => h.server.faults.fail({ verb: 'patch', resource: 'volumegroupsnapshotcontents', subresource: '', name, code: 500, times: 1 });

    test('the being-created mark cannot be written: no CreateVolumeGroupSnapshot, and the error names the mark', async () => {
      const name = await newGroup('mark-fails');
      failNextWrite(name);
      expect((await h.syncByName(name)).type).toBe('retry');
      expect(await errorOf(name)).toContain(`failed to add VolumeGroupSnapshotBeingCreated annotation on the group snapshot content ${name}: `);
      expect(await h.calls('CreateVolumeGroupSnapshot')).toEqual([]);
    });

    test('the mark of a ready group cannot be removed: the error names the mark, and the next sync removes it', async () => {
      const name = await newGroup('unmark-fails');
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      // As a crash between the status write and the unmark leaves it.
      await h.rest.request({ method: 'PATCH', path: objectPath(volumeGroupSnapshotContents(version), name), contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_GROUP_BEING_CREATED]: 'yes' } } } });
      failNextWrite(name);
      // A failed unmark is retried without a status.error: the text goes to the retry's log line.
      expect(retryText(await h.syncByName(name))).toContain(`failed to remove VolumeGroupSnapshotBeingCreated annotation on the groupSnapshotContent ${name}: `);
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      expect((await h.wire(name)).metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();
    });

    test('a final driver error whose unmark fails: status.error names the failed unmark, the mark stays, and the next sync removes it', async () => {
      const name = await newGroup('final-unmark', { [ANN_GROUP_BEING_CREATED]: 'yes' });
      await h.driver.setFaults({ errors: { CreateVolumeGroupSnapshot: { code: 'INVALID_ARGUMENT', message: 'bad tier', times: 1 } } });
      failNextWrite(name);
      const { log, records } = capturingLogger(0);
      expect((await h.syncByName(name, { log })).type).toBe('retry');
      // The driver's refusal, no longer in status.error, goes to the warning with the failed removal.
      const warnings = (await records()).filter((r) => !('v' in r) && !('err' in r));
      expect(warnings.map(({ msg, content, error, driverError }) => ({ msg, content, error, driverError }))).toEqual([
        { msg: 'Cannot remove the group being-created annotation after a final error', content: name, error: 'Internal error occurred: injected fault', driverError: 'rpc error: code = InvalidArgument desc = bad tier' },
      ]);
      const failed = await h.wire(name);
      expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
      const message = `Failed to create group snapshot: failed to remove VolumeGroupSnapshotBeingCreated annotation from the group snapshot content ${name}: Internal error occurred: injected fault${RETRY}`;
      expect(failed.status).toEqual({ readyToUse: false, error: { message, time: expect.any(String) } });
      expect(h.events.map((e) => [e.reason, e.message])).toEqual([['GroupSnapshotCreationFailed', message]]);
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      const ready = await h.wire(name);
      expect([ready.status?.readyToUse, ready.metadata.annotations?.[ANN_GROUP_BEING_CREATED]]).toEqual([true, undefined]);
    });

    if (!alpha) {
      // v1alpha1 writes its member-ids record to the group content between the cut and the unmark,
      // so there the first write after the cut is that record (tested in alpha-members).
      test('the mark cannot be removed right after the cut: the group is recorded, the error names the mark', async () => {
        const name = await newGroup('unmark-after-cut', { [ANN_GROUP_BEING_CREATED]: 'yes' });
        failNextWrite(name);
        expect((await h.syncByName(name)).type).toBe('retry');
        const failed = await h.wire(name);
        expect(failed.status?.volumeGroupSnapshotHandle).toBeTruthy();
        expect((failed.status?.error as { message: string }).message).toContain(`failed to remove VolumeGroupSnapshotBeingCreated annotation on the groupSnapshotContent ${name}: `);
        expect(await h.calls('CreateVolumeGroupSnapshot')).toHaveLength(1);
      });
    }

    test('a pre-provisioned group whose class names the get Secret without its namespace: the error names this era\'s pair of keys', async () => {
      const [prefix, label] =
        mode === 'v1alpha1-v7'
          ? ['csi.storage.k8s.io/snapshotter-list', 'SnapshotterList']
          : mode === 'v1alpha1-v8'
            ? ['csi.storage.k8s.io/group-snapshotter', 'GroupSnapshotter']
            : ['csi.storage.k8s.io/group-snapshotter-get', 'GroupSnapshotterGet'];
      const className = unique('class-half-secret');
      await h.createClass(className, { [`${prefix}-secret-name`]: 'group-secret' });
      const volumes = await h.createVolumes(1);
      const pre = await h.cutGroup(unique('pre-half'), volumes);
      const name = unique('pre-half-secret');
      await h.createContent({ name, pre, className });
      const outcome = await h.syncByName(name);
      expect(`${retryText(outcome)} ${await errorOf(name)}`).toContain(`either name and namespace for ${label} secrets specified, Both must be specified`);
      expect(await h.calls('GetVolumeGroupSnapshot')).toEqual([]);
    });

    test('the group creationTime is the one the driver reports, not the time of the sync', async () => {
      const name = await newGroup('exact-time');
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      const wire = await h.wire(name);
      const groupId = (wire.status?.volumeGroupSnapshotHandle as string | undefined) ?? '';
      const reply = await h.csi.call('/csi.v1.GroupController/GetVolumeGroupSnapshot', { group_snapshot_id: groupId, snapshot_ids: await snapshotIdsOf(wire), secrets: {} }, new Date(Date.now() + 10_000));
      const { seconds, nanos } = reply.group_snapshot?.creation_time ?? { seconds: '0', nanos: 0 };
      const driverNs = BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
      // v1alpha1 keeps int64 nanoseconds; later versions a timestamp in whole seconds.
      if (alpha) expect(BigInt(String(wire.status?.creationTime))).toBe(driverNs);
      else expect(wire.status?.creationTime).toBe(new Date(Number(BigInt(seconds) * 1000n)).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    });

    test('a group that is not ready yet is polled with the Secret of its annotations, not the class\'s', async () => {
      await h.driver.setFaults({ readyDelayMs: 60_000 });
      const name = await newGroup('poll-secret', { [SECRET_NAME]: 'group-secret', [SECRET_NAMESPACE]: 'default' });
      expect((await h.syncByName(name)).type).toBe('after');
      expect((await h.syncByName(name)).type).toBe('after');
      const gets = await h.calls('GetVolumeGroupSnapshot');
      expect(gets.length).toBeGreaterThan(0);
      for (const get of gets) expect(get.secrets).toEqual({ user: sha256Hex('admin') });
    });
  });

  describe('the times a group content records, and when it is looked at again', () => {
    /** A poll interval cap far above the shortest delay, so that a delay shows the age it came from. */
    const wideCap = () => ({ settings: { ...h.settings, maxPollIntervalMs: 600_000 } });
    /** The group creationTime the driver reports, in Unix nanoseconds. */
    const driverTime = async (groupId: string, snapshotIds: string[]): Promise<bigint> => {
      const reply = await h.csi.call('/csi.v1.GroupController/GetVolumeGroupSnapshot', { group_snapshot_id: groupId, snapshot_ids: snapshotIds, secrets: {} }, new Date(Date.now() + 10_000));
      const { seconds, nanos } = reply.group_snapshot?.creation_time ?? { seconds: '0', nanos: 0 };
      return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
    };
    /** A dynamic group that stays not ready, cut and recorded. */
    const slowGroup = async (base: string): Promise<string> => {
      await h.driver.setFaults({ readyDelayMs: 600_000 });
      const name = unique(base);
      await h.createContent({ name, volumeHandles: await h.createVolumes(2), className: 'class-a', uid: newUid() });
      // The cut records the group and takes the mark off in one sync.
      expect((await h.syncByName(name)).type).toBe('after');
      expect((await h.get(name)).metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();
      return name;
    };

    test('a group not ready yet is looked at again after a fifth of the time since its recorded creationTime', async () => {
      const name = await slowGroup('age');
      const created = (await h.get(name)).status?.creationTime ?? 0n;
      expect(created).toBeGreaterThan(0n);
      // 100 s after the recorded time (a whole second from v1beta1 on), as the sync's clock says.
      const now = () => new Date(Number(created / 1_000_000n) + 100_000);
      expect(await h.syncByName(name, { ...wideCap(), now })).toEqual({ type: 'after', delayMs: 20_000 });
      expect(await h.calls('GetVolumeGroupSnapshot')).toHaveLength(1);
    });

    test('a group whose recorded creationTime is the epoch (a driver that sent none) is looked at again after the shortest delay, not after the cap', async () => {
      const name = await slowGroup('epoch');
      await h.setStatus(name, { creationTime: alpha ? 0 : '1970-01-01T00:00:00Z' });
      expect((await h.get(name)).status?.creationTime).toBe(0n);
      expect(await h.syncByName(name, wideCap())).toEqual({ type: 'after', delayMs: 1000 });
    });

    test('a pre-provisioned group records the driver\'s creationTime, not the time of the sync', async () => {
      const volumes = await h.createVolumes(1);
      const pre = await h.cutGroup(unique('pre-time'), volumes);
      const name = unique('pre-time');
      await h.createContent({ name, pre });
      const syncTime = new Date(Date.UTC(2001, 0, 1));
      await h.syncByName(name, { now: () => syncTime });
      const ns = await driverTime(pre.groupId, pre.snapshotIds);
      const stored = (await h.get(name)).status?.creationTime;
      // v1alpha1 keeps int64 nanoseconds; later versions the second the time falls in.
      expect(stored).toBe(alpha ? ns : (ns / 1_000_000_000n) * 1_000_000_000n);
    });

    /** A dynamic group cut and a pre-provisioned one read, each synced once with the clock at `syncTime`; their stored creationTimes. */
    const recordedTimes = async (base: string, syncTime: Date): Promise<[bigint | undefined, bigint | undefined]> => {
      const cut = unique(base);
      await h.createContent({ name: cut, volumeHandles: await h.createVolumes(2), className: 'class-a', uid: newUid() });
      expect(await h.syncByName(cut, { now: () => syncTime })).toEqual({ type: 'done' });
      const read = unique(`pre-${base}`);
      await h.createContent({ name: read, pre: await h.cutGroup(read, await h.createVolumes(1)) });
      expect(await h.syncByName(read, { now: () => syncTime })).toEqual({ type: 'done' });
      return [(await h.get(cut)).status?.creationTime, (await h.get(read)).status?.creationTime];
    };

    test('a driver that sends no group creation time: the Unix epoch is recorded, for a cut group and a read one, not the time of the sync', async () => {
      await h.driver.setFaults({ groupAnswer: { creationTime: 'none' } });
      expect(await recordedTimes('no-time', new Date(Date.UTC(2001, 0, 1)))).toEqual([0n, 0n]);
    });

    test('a driver that sends Go\'s zero time (year 1): the time of the sync is recorded instead, for a cut group and a read one', async () => {
      await h.driver.setFaults({ groupAnswer: { creationTime: { seconds: '-62135596800', nanos: 0 } } });
      const syncTime = new Date(Date.UTC(2001, 0, 1, 2, 3, 4));
      const syncNs = BigInt(syncTime.getTime()) * 1_000_000n;
      expect(await recordedTimes('go-zero', syncTime)).toEqual([syncNs, syncNs]);
      // Without a clock given, the sync's is the wall clock.
      const name = unique('go-zero-wall');
      await h.createContent({ name, volumeHandles: await h.createVolumes(1), className: 'class-a', uid: newUid() });
      const before = BigInt(Date.now()) * 1_000_000n;
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      const recorded = (await h.get(name)).status?.creationTime ?? -1n;
      expect(recorded >= (alpha ? before : (before / 1_000_000_000n) * 1_000_000_000n) && recorded <= BigInt(Date.now()) * 1_000_000n).toBe(true);
    });

    if (mode === 'v1alpha1-v7') {
      // Only this era's schema (no CEL rules) lets a content name neither volumes nor a group.
      test('a group content whose source names neither volumes nor a group, without a class: status.error names the missing PVCs, no RPC', async () => {
        const name = unique('empty-source');
        await h.createContent({ name, emptySource: true, uid: newUid() });
        expect((await h.syncByName(name)).type).toBe('retry');
        expect(((await h.wire(name)).status?.error as { message: string }).message).toContain(`cannot create group snapshot. PVCs to be snapshotted not found in group snapshot content ${name}`);
        expect(await h.calls('CreateVolumeGroupSnapshot')).toEqual([]);
      });
    }
  });

  test('the controller (shared loop) takes a new group content to ready and releases it on deletion', async () => {
    // The work queue's name is what the workqueue_* metrics are labelled with.
    const queues: string[] = [];
    const controller = groupContentController({
      client: h.rest,
      csi: h.csi,
      driverName: DRIVER,
      version: mode,
      settings: h.settings,
      workers: 2,
      resyncPeriodMs: 0,
      retryIntervalStartMs: 100,
      retryIntervalMaxMs: 1000,
      events: h.recorder,
      log: silentLogger,
      registerQueue: (progress) => queues.push(progress.name),
    });
    await controller.start();
    expect(queues).toEqual(['csi-snapshotter-groupsnapshotcontent']);
    try {
      // H-38: a key for an object that does not exist finishes without any call.
      expect(await controller.reconcile('no-such-content')).toEqual({ type: 'done' });
      const volumes = await h.createVolumes(3);
      const name = unique('controller');
      await h.createContent({ name, volumeHandles: volumes, className: 'class-a', uid: newUid() });
      const ready = await waitFor('the group to be ready', async () => {
        const c = await h.wire(name);
        return c.status?.readyToUse === true && !c.metadata.annotations?.[ANN_GROUP_BEING_CREATED] ? c : undefined;
      });
      expect(ready.status?.[membersField]).toHaveLength(3);
      await h.deleteAsController(name);
      await waitFor('the content to be released', async () => !(await h.exists(name)));
      // Contents left by earlier tests are picked up too; count only this one's calls.
      const mine = (r: Record<string, unknown>) => r.group_snapshot_id === ready.status?.volumeGroupSnapshotHandle;
      expect((await h.calls('CreateVolumeGroupSnapshot')).filter((r) => (r.source_volume_ids as string[])[0] === volumes[0])).toHaveLength(1);
      expect((await h.calls('DeleteVolumeGroupSnapshot')).filter(mine)).toHaveLength(1);
    } finally {
      await controller.stop();
    }
  });

  describe('the controller loop: queue, store and watches', () => {
    type Loop = { queue: WorkQueue; store: VersionStore<VolumeGroupSnapshotContent> };
    function newController(labelSelector?: string, workers = 2, log: Logger = silentLogger) {
      const controller = groupContentController({
        client: h.rest,
        csi: h.csi,
        driverName: DRIVER,
        version: mode,
        settings: h.settings,
        workers,
        resyncPeriodMs: 0,
        retryIntervalStartMs: 100,
        retryIntervalMaxMs: 1000,
        events: h.recorder,
        log,
        ...(labelSelector ? { labelSelector } : {}),
      });
      // White box: the loop's queue and private store, to see the keys queued and what is cached.
      const loop = controller as unknown as Loop;
      const keys: string[] = [];
      const add = loop.queue.add.bind(loop.queue);
      loop.queue.add = (key: string) => {
        keys.push(key);
        add(key);
      };
      return { controller, loop, keys };
    }

    test('H-15 / H-16 / H-17 / H-18 / H-39 / H-42: add and delete events queue the name; other objects queue nothing; the store keeps the content and drops it when it is gone', async () => {
      // H-16: objects that are not group contents (a Secret, a group class) never reach the queue.
      await h.createSecret('h16-not-a-group', { k: 'v' });
      await h.createClass('h16-class-not-a-content');
      const { controller, loop, keys } = newController();
      await controller.start();
      try {
        expect(keys).not.toContain('h16-not-a-group');
        expect(keys).not.toContain('h16-class-not-a-content');
        const name = unique('loop');
        await h.createContent({ name, volumeHandles: await h.createVolumes(2), className: 'class-a', uid: newUid() });
        // H-17: once processed, the store holds the newest copy.
        const ready = await waitFor('the group to be ready and stored', async () => {
          const stored = loop.store.get(name);
          return stored?.status?.readyToUse === true && !stored.metadata.annotations?.[ANN_GROUP_BEING_CREATED] ? stored : undefined;
        });
        expect(ready.metadata.name).toBe(name);
        // H-15: the add event queued the cluster-scoped key, i.e. the bare name.
        expect(keys.filter((k) => k === name).length).toBeGreaterThanOrEqual(1);
        expect(keys.every((k) => !k.includes('/'))).toBe(true);
        const queuedBeforeDelete = keys.filter((k) => k === name).length;
        await h.deleteAsController(name);
        await waitFor('the content to be released', async () => !(await h.exists(name)));
        // H-18 / H-39 / H-42: the delete event queues the name again; the sync finds the object gone and drops it from the store.
        await waitFor('the store to forget the content', async () => loop.store.get(name) === undefined);
        expect(keys.filter((k) => k === name).length).toBeGreaterThan(queuedBeforeDelete);
        expect(await controller.reconcile(name)).toEqual({ type: 'done' });
      } finally {
        await controller.stop();
      }
    });

    test('a driver that sends Go\'s zero time: the controller records the wall clock\'s time of the sync', async () => {
      await h.driver.setFaults({ groupAnswer: { creationTime: { seconds: '-62135596800', nanos: 0 } } });
      const name = unique('go-zero-loop');
      await h.createContent({ name, volumeHandles: await h.createVolumes(1), className: 'class-a', uid: newUid() });
      // No workers: the reconcile under test is the only sync.
      const { controller } = newController(undefined, 0);
      await controller.start();
      try {
        await waitFor('the cache to hold the new content', () => controller.objects.get(name) !== undefined);
        const before = BigInt(Date.now()) * 1_000_000n;
        expect(await controller.reconcile(name)).toEqual({ type: 'done' });
        const after = BigInt(Date.now()) * 1_000_000n;
        const recorded = (await h.get(name)).status?.creationTime ?? -1n;
        // From v1beta1 on the status keeps the second the time falls in.
        const floor = alpha ? before : (before / 1_000_000_000n) * 1_000_000_000n;
        expect(recorded >= floor && recorded <= after).toBe(true);
      } finally {
        await controller.stop();
      }
    });

    test('H-38 / J-01: a key of an object in neither the cache nor the store finishes without any call', async () => {
      // No workers: only the reconcile under test runs.
      const { controller, loop } = newController(undefined, 0);
      await controller.start();
      try {
        const before = h.server.requests.all({ resource: 'volumegroupsnapshotcontents', name: 'invalid-key-without-slash' }).length;
        await h.driver.clearCalls();
        expect(await controller.reconcile('invalid-key-without-slash')).toEqual({ type: 'done' });
        expect(loop.store.get('invalid-key-without-slash')).toBeUndefined();
        expect(h.server.requests.all({ resource: 'volumegroupsnapshotcontents', name: 'invalid-key-without-slash' })).toHaveLength(before);
        expect(await h.driver.calls()).toEqual([]);
      } finally {
        await controller.stop();
      }
    });

    test('H-40: a key is looked up in the informer cache, never by an API read that could fail: with GETs failing the sync still finishes and the store is untouched', async () => {
      const name = unique('lister');
      await h.createContent({ name, volumeHandles: await h.createVolumes(1), className: 'class-a', uid: newUid() });
      expect(await h.syncByName(name)).toEqual({ type: 'done' });
      // No workers: only the reconciles under test run.
      const { controller, loop } = newController(undefined, 0);
      await controller.start();
      try {
        expect(await controller.reconcile(name)).toEqual({ type: 'done' });
        const stored = loop.store.get(name);
        expect(stored?.status?.readyToUse).toBe(true);
        h.server.faults.fail({ verb: 'get', resource: 'volumegroupsnapshotcontents', code: 500 });
        const requests = h.server.requests.all({ resource: 'volumegroupsnapshotcontents', name }).length;
        expect(await controller.reconcile(name)).toEqual({ type: 'done' });
        expect(h.server.requests.all({ resource: 'volumegroupsnapshotcontents', name })).toHaveLength(requests);
        expect(loop.store.get(name)).toEqual(stored);
        expect(loop.store.get(name)?.metadata.resourceVersion).toBe(stored?.metadata.resourceVersion);
      } finally {
        h.server.faults.clear();
        await controller.stop();
      }
    });

    test('H-41: stopping the controller shuts the queue down and the workers return; later keys are not taken', async () => {
      const { controller, loop } = newController();
      await controller.start();
      await controller.stop();
      expect(loop.queue.isShuttingDown()).toBe(true);
      expect(loop.queue.inFlight()).toBe(0);
      const pending = loop.queue.len();
      loop.queue.add('after-stop');
      expect(loop.queue.len()).toBe(pending);
    });

    test('Z-47: with the node label selector only group contents and group classes labelled for this node are seen and acted on', async () => {
      const selector = `${LABEL_MANAGED_BY}=node-a`;
      await h.createClass('node-a-class', { tier: 'local' }, { [LABEL_MANAGED_BY]: 'node-a' });
      await h.createClass('node-b-class', {}, { [LABEL_MANAGED_BY]: 'node-b' });
      const mine = unique('node-a');
      const otherNode = unique('node-b');
      const unlabelled = unique('no-node');
      const volumes = { mine: await h.createVolumes(1), otherNode: await h.createVolumes(1), unlabelled: await h.createVolumes(1) };
      const mineUid = newUid();
      await h.createContent({ name: mine, volumeHandles: volumes.mine, className: 'node-a-class', uid: mineUid, labels: { [LABEL_MANAGED_BY]: 'node-a' } });
      await h.createContent({ name: otherNode, volumeHandles: volumes.otherNode, className: 'class-a', uid: newUid(), labels: { [LABEL_MANAGED_BY]: 'node-b' } });
      await h.createContent({ name: unlabelled, volumeHandles: volumes.unlabelled, className: 'class-a', uid: newUid() });
      const { log, records } = capturingLogger(2);
      const { controller, keys } = newController(selector, 2, log);
      await controller.start();
      try {
        expect(controller.objects.list().map((c) => c.metadata.name)).toEqual([mine]);
        // The start-up line names the kind and what the selector let into the caches.
        expect((await records()).filter((r) => r.msg === 'VolumeGroupSnapshotContent caches synced').map((r) => [r.objects, r.classes])).toEqual([[1, 1]]);
        expect(controller.classes.list().map((c) => c.metadata.name)).toEqual(['node-a-class']);
        await waitFor('the node\'s group to be ready', async () => {
          const c = await h.wire(mine);
          return c.status?.readyToUse === true && !c.metadata.annotations?.[ANN_GROUP_BEING_CREATED];
        });
        const creates = await h.calls('CreateVolumeGroupSnapshot');
        expect(creates.filter((r) => (r.source_volume_ids as string[])[0] === volumes.mine[0])).toEqual([{ name: `groupsnapshot-${mineUid}`, source_volume_ids: volumes.mine, parameters: { tier: 'local', ...GROUP_EXTRA(mine) }, secrets: {} }]);
        expect(creates.filter((r) => [volumes.otherNode[0], volumes.unlabelled[0]].includes((r.source_volume_ids as string[])[0]))).toEqual([]);
        expect(keys).not.toContain(otherNode);
        expect(keys).not.toContain(unlabelled);
        expect((await h.wire(otherNode)).status).toBeUndefined();
        expect((await h.wire(unlabelled)).status).toBeUndefined();
      } finally {
        await controller.stop();
      }
    });
  });
});

// v1alpha1 only: there the sidecar itself creates the member objects once the group is cut.
describe.each(GROUP_API_MODES.filter((m) => groupVersionAdapter(m).membersByContent))('member objects in mode %s', (mode) => {
  let h: GroupHarness;
  beforeAll(async () => {
    h = await GroupHarness.start(mode);
    await h.createClass('class-a', { tier: 'gold' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('a member content the API server refuses: the member step\'s error as is, the being-created mark kept, and the retry cuts the same group and creates each member once', async () => {
    const volumes = await h.createVolumes(2);
    const uid = uidFor(`${mode}/member-refused`);
    await h.createContent({ name: 'member-refused', volumeHandles: volumes, className: 'class-a', uid });
    h.server.faults.fail({ verb: 'create', resource: 'volumesnapshotcontents', code: 500, times: 1 });
    expect((await h.syncByName('member-refused')).type).toBe('retry');
    const failed = await h.wire('member-refused');
    // The storage group exists now: the mark must stay so that a deletion waits for the retry.
    expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
    // Worded by the member step, not wrapped as a failed cut of the volumes.
    const contentUid = failed.metadata.uid ?? '';
    const refused = (volume: string) => `Failed to create group snapshot: failed to create member VolumeSnapshotContent ${memberContentName(contentUid, volume)} of group snapshot content member-refused: Internal error occurred: injected fault${RETRY}`;
    expect(volumes.map(refused)).toContain((failed.status as { error?: { message?: string } } | undefined)?.error?.message);

    expect(await h.syncByName('member-refused')).toEqual({ type: 'done' });
    const creates = await h.calls('CreateVolumeGroupSnapshot');
    expect(creates.map((c) => c.name)).toEqual([`groupsnapshot-${uid}`, `groupsnapshot-${uid}`]);
    const wire = await h.wire('member-refused');
    expect(wire.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBeUndefined();
    for (const volume of volumes) expect(await h.members.getContent(memberContentName(contentUid, volume))).toBeDefined();
    expect(h.server.requests.count({ verb: 'create', resource: 'volumesnapshotcontents' })).toBe(volumes.length + 1);
  });

  if (mode === 'v1alpha1-v8') {
    test('the PersistentVolumes cannot be listed (this era names each member\'s volume): the error names the list, no member object is made, the mark stays, and the retry completes', async () => {
      const volumes = await h.createVolumes(2);
      await h.createContent({ name: 'pv-list-refused', volumeHandles: volumes, className: 'class-a', uid: uidFor(`${mode}/pv-list-refused`) });
      const memberCreates = () => h.server.requests.count({ verb: 'create', resource: 'volumesnapshotcontents' });
      const before = memberCreates();
      h.server.faults.fail({ verb: 'list', resource: 'persistentvolumes', code: 500, times: 1 });
      expect((await h.syncByName('pv-list-refused')).type).toBe('retry');
      const failed = await h.wire('pv-list-refused');
      expect(failed.metadata.annotations?.[ANN_GROUP_BEING_CREATED]).toBe('yes');
      expect((failed.status as { error?: { message?: string } } | undefined)?.error?.message).toBe(`Failed to create group snapshot: failed to list persistentvolumes to name the volumes of the members of group snapshot content pv-list-refused: Internal error occurred: injected fault${RETRY}`);
      expect(memberCreates()).toBe(before);
      expect(await h.syncByName('pv-list-refused')).toEqual({ type: 'done' });
      expect(memberCreates()).toBe(before + volumes.length);
    });
  }
});
