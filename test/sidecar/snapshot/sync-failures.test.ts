import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { silentLogger, type Logger } from '../../../src/observe/logger.js';
import { capturingLogger } from '../../helpers/logger.js';
import type { Outcome } from '../../../src/runtime/controller.js';
import { restContentApi } from '../../../src/sidecar/snapshot/kind.js';
import { syncContent, type ContentSyncSettings } from '../../../src/sidecar/snapshot/kind.js';
import type { EventSubject } from '../../../src/sidecar/engine/failure.js';
import { ANN_BEING_CREATED, ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE, ANN_GROUP_MEMBER } from '../../../src/sidecar/keys.js';
import type { VolumeSnapshotClass, VolumeSnapshotContent } from '../../../src/sidecar/types.js';
import { sha256Hex } from '../../../src/testing/sample-driver/index.js';
import { uidFor } from '../../helpers/uid.js';
import { CLASSES, DRIVER, ScenarioEnv } from './scenario-env.js';

// The failure paths of a VolumeSnapshotContent sync that the scenario tables do not reach: every API
// write that can fail, secrets that cannot be found or named, a driver that does not answer in
// time, and what each leaves in status.error, in an Event (with its full subject) and in the queue.

const VSC = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
const RETRY = ' (retrying with backoff, at most every 5m0s)';
const server500 = (name: string) => `snapshot controller failed to update ${name} on API server: Internal error occurred: injected fault`;

let env: ScenarioEnv;
const events: Array<{ subject: EventSubject; reason: string; message: string }> = [];
const extraClasses: Record<string, VolumeSnapshotClass> = {
  'list-secret-class': { metadata: { name: 'list-secret-class' }, driver: DRIVER, deletionPolicy: 'Delete', parameters: { 'csi.storage.k8s.io/snapshotter-list-secret-name': 'secret', 'csi.storage.k8s.io/snapshotter-list-secret-namespace': 'default' } },
  'list-missing-class': { metadata: { name: 'list-missing-class' }, driver: DRIVER, deletionPolicy: 'Delete', parameters: { 'csi.storage.k8s.io/snapshotter-list-secret-name': 'missing', 'csi.storage.k8s.io/snapshotter-list-secret-namespace': 'default' } },
  // The Secret's name made from the content's name, as the class may template it.
  'list-templated-class': { metadata: { name: 'list-templated-class' }, driver: DRIVER, deletionPolicy: 'Delete', parameters: { 'csi.storage.k8s.io/snapshotter-list-secret-name': 'list-${volumesnapshotcontent.name}', 'csi.storage.k8s.io/snapshotter-list-secret-namespace': 'default' } },
  'list-half-class': { metadata: { name: 'list-half-class' }, driver: DRIVER, deletionPolicy: 'Delete', parameters: { 'csi.storage.k8s.io/snapshotter-list-secret-name': 'secret' } },
};

beforeAll(async () => {
  env = await ScenarioEnv.start();
});
afterAll(async () => {
  await env?.stop();
});
beforeEach(async () => {
  events.length = 0;
  env.api.faults.clear();
  env.api.requests.reset();
  await env.reset();
});

/** One sync of the stored object; the driver's journal then holds only the calls it made. */
async function sync(name: string, settings: Partial<ContentSyncSettings> = {}, options: { log?: Logger; edit?: (c: VolumeSnapshotContent) => VolumeSnapshotContent } = {}): Promise<Outcome> {
  const stored = await env.get(name);
  const content = options.edit ? options.edit(stored) : stored;
  await env.driver.clearCalls();
  return syncContent(content, {
    api: restContentApi(env.rest),
    csi: env.csi,
    classes: (n) => CLASSES[n] ?? extraClasses[n],
    events: { warning: (subject, reason, message) => events.push({ subject, reason, message }) },
    settings: { snapshotNamePrefix: 'snapshot', snapshotNameUuidLength: -1, extraCreateMetadata: false, timeoutMs: 10_000, listSnapshots: true, maxPollIntervalMs: 1000, retryIntervalMaxMs: 300_000, ...settings },
    log: options.log ?? silentLogger,
  });
}

const methods = async () => (await env.driver.calls()).map((c) => c.method);
const contentWrites = (subresource: '' | 'status') => env.api.requests.writes({ resource: 'volumesnapshotcontents', subresource });
const subjectOf = (c: VolumeSnapshotContent): EventSubject => ({
  apiVersion: 'snapshot.storage.k8s.io/v1',
  kind: 'VolumeSnapshotContent',
  name: c.metadata.name,
  uid: c.metadata.uid as string,
  resourceVersion: c.metadata.resourceVersion as string,
});

describe('API writes that fail while creating', () => {
  test('the being-created mark cannot be stored: no driver call, the error (in the Go words) in status and an Event about the object', async () => {
    const volume = await env.volume('vol-mark-fails');
    await env.content({ name: 'mark-fails', refUid: uidFor('mark-fails'), className: 'gold', volumeHandle: volume });
    env.api.faults.fail({ verb: 'patch', resource: 'volumesnapshotcontents', subresource: '', code: 500, times: 1 });
    const outcome = await sync('mark-fails');
    expect(outcome.type).toBe('retry');
    expect(await methods()).toEqual([]);
    const after = await env.get('mark-fails');
    const message = `Failed to create snapshot: failed to add VolumeSnapshotBeingCreated annotation on the content mark-fails: "${server500('mark-fails')}"${RETRY}`;
    expect(after.status?.error?.message).toBe(message);
    expect(after.metadata.annotations).toBeUndefined();
    expect(events).toEqual([{ subject: subjectOf(after), reason: 'SnapshotCreationFailed', message }]);
  });

  test('the status cannot be written after the driver cut the snapshot: the mark stays, so deletion waits', async () => {
    const volume = await env.volume('vol-status-fails');
    await env.content({ name: 'status-fails', refUid: uidFor('status-fails'), className: 'gold', volumeHandle: volume });
    env.api.faults.fail({ verb: 'patch', resource: 'volumesnapshotcontents', subresource: 'status', code: 500, times: 1 });
    expect((await sync('status-fails')).type).toBe('retry');
    expect(await methods()).toEqual(['CreateSnapshot']);
    const after = await env.get('status-fails');
    expect(after.metadata.annotations).toEqual({ [ANN_BEING_CREATED]: 'yes' });
    expect(after.status).toEqual({ readyToUse: false, error: { time: expect.any(String), message: `Failed to create snapshot: error updating status for volume snapshot content status-fails: ${server500('status-fails')}${RETRY}` } });
  });

  test('a retry of a marked content reads it once and does not write the mark again; a failed unmark is reported', async () => {
    const volume = await env.volume('vol-unmark-fails');
    await env.content({ name: 'unmark-fails', refUid: uidFor('unmark-fails'), className: 'gold', volumeHandle: volume, annotations: { [ANN_BEING_CREATED]: 'yes' } });
    env.api.requests.reset();
    env.api.faults.fail({ verb: 'patch', resource: 'volumesnapshotcontents', subresource: '', code: 500, times: 1 });
    expect((await sync('unmark-fails')).type).toBe('retry');
    expect(env.api.requests.count({ verb: 'get', resource: 'volumesnapshotcontents', name: 'unmark-fails' })).toBe(2); // the test's read and the sync's
    expect(contentWrites('').map((w) => w.code)).toEqual([500]);
    const after = await env.get('unmark-fails');
    expect(after.metadata.annotations).toEqual({ [ANN_BEING_CREATED]: 'yes' });
    expect(after.status?.snapshotHandle).toMatch(/\S/);
    expect(after.status?.error?.message).toBe(`Failed to create snapshot: failed to remove VolumeSnapshotBeingCreated annotation on the content unmark-fails: "Internal error occurred: injected fault"${RETRY}`);
  });

  test('a final driver error with an unmark that fails: status.error and the Event name the failed unmark (the mark stays), the log the driver\'s error', async () => {
    const volume = await env.volume('vol-final-unmark');
    await env.content({ name: 'final-unmark', refUid: uidFor('final-unmark'), className: 'gold', volumeHandle: volume, annotations: { [ANN_BEING_CREATED]: 'yes' } });
    await env.driver.setFaults({ errors: { CreateSnapshot: { code: 'INVALID_ARGUMENT', message: 'bad volume' } } });
    env.api.faults.fail({ verb: 'patch', resource: 'volumesnapshotcontents', subresource: '', code: 500, times: 1 });
    const { log, records } = capturingLogger(0);
    expect((await sync('final-unmark', {}, { log })).type).toBe('retry');
    // The mark stays, so a deletion of this content waits: status.error says why, as the behaviour
    // contract words it (the unmark's failure is the error of this attempt).
    const after = await env.get('final-unmark');
    expect(after.metadata.annotations).toEqual({ [ANN_BEING_CREATED]: 'yes' });
    const message = `Failed to create snapshot: failed to remove VolumeSnapshotBeingCreated annotation from the content final-unmark: Internal error occurred: injected fault${RETRY}`;
    expect(after.status).toEqual({ readyToUse: false, error: { time: expect.any(String), message } });
    expect(events.map((e) => [e.reason, e.message])).toEqual([['SnapshotCreationFailed', message]]);
    // What the driver said is not lost: the warning names it. In the JSON format only info lines
    // carry a verbosity and only error lines an `err`.
    const warnings = (await records()).filter((r) => !('v' in r) && !('err' in r));
    expect(warnings.map(({ msg, content, error, driverError }) => ({ msg, content, error, driverError }))).toEqual([
      { msg: 'Cannot remove the being-created annotation after a final error', content: 'final-unmark', error: 'Internal error occurred: injected fault', driverError: 'rpc error: code = InvalidArgument desc = bad volume' },
    ]);
  });

  test('a ready content whose mark cannot be removed is retried with the reason', async () => {
    await env.content({ name: 'ready-marked', refUid: uidFor('ready-marked'), className: 'gold', volumeHandle: 'v', annotations: { [ANN_BEING_CREATED]: 'yes' }, status: { readyToUse: true, snapshotHandle: 'h' } });
    env.api.faults.fail({ verb: 'patch', resource: 'volumesnapshotcontents', subresource: '', code: 500, times: 1 });
    const outcome = await sync('ready-marked');
    expect(outcome).toEqual({ type: 'retry', error: new Error('failed to remove VolumeSnapshotBeingCreated annotation from the content ready-marked: "Internal error occurred: injected fault"') });
    // A failed step that is neither a create, a read nor a storage deletion records no Event.
    expect(events).toEqual([]);
  });

  test('when status.error cannot be written either, the Event is still recorded and the failure retried', async () => {
    await env.content({ name: 'nothing-writes', refUid: uidFor('nothing-writes'), volumeHandle: 'v' });
    env.api.faults.fail({ verb: 'patch', resource: 'volumesnapshotcontents', code: 500 , times: 5 });
    const { log, records } = capturingLogger(3);
    const outcome = await sync('nothing-writes', {}, { log });
    expect(outcome.type).toBe('retry');
    const unrecorded = (await records()).filter((r) => r.msg === 'Could not record the error in status');
    expect(unrecorded.map(({ v, object, error }) => ({ v, object, error }))).toEqual([{ v: 3, object: 'nothing-writes', error: 'Internal error occurred: injected fault' }]);
    const stored = await env.get('nothing-writes');
    expect(stored.status).toBeUndefined();
    expect(events).toEqual([{ subject: subjectOf(stored), reason: 'SnapshotCreationFailed', message: `Failed to create snapshot: failed to get input parameters to create snapshot for content nothing-writes: "failed to take snapshot nothing-writes without a snapshot class"${RETRY}` }]);
  });
});

describe('create inputs', () => {
  test('a dynamic content without a class is refused before anything is written', async () => {
    await env.content({ name: 'no-class', refUid: uidFor('no-class'), volumeHandle: 'v' });
    env.api.requests.reset();
    expect((await sync('no-class')).type).toBe('retry');
    expect(contentWrites('')).toEqual([]);
    expect((await env.get('no-class')).status?.error?.message).toBe(`Failed to create snapshot: failed to get input parameters to create snapshot for content no-class: "failed to take snapshot no-class without a snapshot class"${RETRY}`);
  });

  test('a content whose volume handle is empty (the schema lets it through), without a class: the missing volume handle is the error, not the class; no driver call', async () => {
    await env.content({ name: 'empty-volume', refUid: uidFor('empty-volume'), volumeHandle: '' });
    expect((await sync('empty-volume')).type).toBe('retry');
    expect(await methods()).toEqual([]);
    expect((await env.get('empty-volume')).status?.error?.message).toBe(`Failed to check and update snapshot content: cannot create snapshot. Volume handle not found in snapshot content empty-volume${RETRY}`);
  });

  test('a driver that answers Go\'s zero time (year 1) as the creation time: the time of the cut is recorded instead', async () => {
    const volume = await env.volume('vol-go-zero');
    await env.content({ name: 'go-zero', refUid: uidFor('go-zero'), className: 'gold', volumeHandle: volume });
    await env.driver.setFaults({ snapshotAnswer: { creationTime: { seconds: '-62135596800', nanos: 0 } } });
    const before = BigInt(Date.now()) * 1_000_000n;
    expect(await sync('go-zero')).toEqual({ type: 'done' });
    const after = BigInt(Date.now()) * 1_000_000n;
    const recorded = BigInt((await env.get('go-zero')).status?.creationTime ?? -1);
    expect(recorded >= before && recorded <= after).toBe(true);
  });

  test('each create sent to the driver is logged at the default verbosity, with the name it is sent under', async () => {
    const volume = await env.volume('vol-logged');
    await env.content({ name: 'logged', refUid: uidFor('logged'), className: 'gold', volumeHandle: volume });
    const { log, records } = capturingLogger(0);
    await sync('logged', { snapshotNameUuidLength: 8 }, { log });
    const [create] = (await env.driver.calls()).filter((c) => c.method === 'CreateSnapshot');
    const lines = (await records()).filter((r) => typeof r.msg === 'string' && r.msg.startsWith('Creating'));
    expect(lines.map(({ v, msg, name }) => ({ v, msg, name }))).toEqual([{ v: 0, msg: 'Creating snapshot for VolumeSnapshotContent logged through the CSI driver', name: create?.request.name }]);
  });

  test('a UID too short for the configured name length is an error, not a call', async () => {
    const volume = await env.volume('vol-short-uid');
    await env.content({ name: 'short-uid', refUid: 'abc', className: 'gold', volumeHandle: volume });
    expect((await sync('short-uid', { snapshotNameUuidLength: 8 })).type).toBe('retry');
    expect(await methods()).toEqual([]);
    expect((await env.get('short-uid')).status?.error?.message).toBe(`Failed to create snapshot: cannot build a snapshot name from UID abc: a UID length of 8 is outside 0..3 (or -1)${RETRY}`);
  });

  test('a driver that does not answer within --timeout: the call is cut at the deadline, the mark stays', async () => {
    const volume = await env.volume('vol-slow');
    await env.content({ name: 'slow', refUid: uidFor('slow'), className: 'gold', volumeHandle: volume });
    await env.driver.setFaults({ latencyMs: { CreateSnapshot: 600_000 } });
    expect((await sync('slow', { timeoutMs: 300 })).type).toBe('retry');
    const after = await env.get('slow');
    expect(after.metadata.annotations).toEqual({ [ANN_BEING_CREATED]: 'yes' });
    expect(after.status?.error?.message).toMatch(/^Failed to create snapshot: failed to take snapshot of the volume .*: "rpc error: code = DeadlineExceeded desc = /);
  });
});

describe('refreshing a pre-provisioned content or a group member', () => {
  const pre = async (name: string, className: string | undefined, extra: Partial<Parameters<ScenarioEnv['content']>[0]> = {}) => {
    const volume = await env.volume(`vol-${name}`);
    const handle = await env.storageSnapshot(volume, `storage-${name}`);
    await env.content({ name, snapshotHandle: handle, ...(className ? { className } : {}), ...extra });
    return handle;
  };

  test('the list secret named by the class reaches ListSnapshots; the status gets the handle from spec', async () => {
    const handle = await pre('pre-list-secret', 'list-secret-class');
    expect(await sync('pre-list-secret')).toEqual({ type: 'done' });
    const calls = await env.driver.calls();
    expect(calls.map((c) => [c.method, c.request.snapshot_id, c.request.secrets])).toEqual([['ListSnapshots', handle, { foo: sha256Hex('bar') }]]);
    expect((await env.get('pre-list-secret')).status).toEqual({ snapshotHandle: handle, readyToUse: true, restoreSize: 1000, creationTime: expect.any(BigInt) });
  });

  test('a list Secret whose name the class makes from the content\'s name (${volumesnapshotcontent.name}) reaches ListSnapshots', async () => {
    await env.secret('default', 'list-pre-templated', { user: 'lister' });
    const handle = await pre('pre-templated', 'list-templated-class');
    expect(await sync('pre-templated')).toEqual({ type: 'done' });
    const calls = await env.driver.calls();
    expect(calls.map((c) => [c.method, c.request.snapshot_id, c.request.secrets])).toEqual([['ListSnapshots', handle, { user: sha256Hex('lister') }]]);
  });

  test('a status whose snapshot handle is empty: the read names the missing handle, and no ListSnapshots goes out with an empty id', async () => {
    await pre('pre-empty-status-handle', 'gold', { status: { snapshotHandle: '' } });
    expect((await sync('pre-empty-status-handle')).type).toBe('retry');
    expect(await methods()).toEqual([]);
    expect((await env.get('pre-empty-status-handle')).status?.error?.message).toBe(`Failed to check and update snapshot content: failed to list snapshot for content pre-empty-status-handle: snapshotHandle is missing${RETRY}`);
  });

  test('the status cannot be written after ListSnapshots: the API error, worded, in status.error', async () => {
    await pre('pre-status-fails', 'gold');
    env.api.faults.fail({ verb: 'patch', resource: 'volumesnapshotcontents', subresource: 'status', code: 500, times: 1 });
    expect((await sync('pre-status-fails')).type).toBe('retry');
    expect(await methods()).toEqual(['ListSnapshots']);
    expect((await env.get('pre-status-fails')).status?.error?.message).toBe(`Failed to check and update snapshot content: ${server500('pre-status-fails')}${RETRY}`);
  });

  test('a class without list secret keys sends no secrets', async () => {
    await pre('pre-no-secret', 'gold');
    await sync('pre-no-secret');
    expect((await env.driver.calls()).map((c) => c.request.secrets)).toEqual([{}]);
  });

  test.each<[string, string, string]>([
    ['a class that does not exist', 'no-such-class', 'failed to get snapshot class no-such-class for snapshot content pre-E: volumesnapshotclass.snapshot.storage.k8s.io "no-such-class" not found'],
    ['a class naming only half a list secret', 'list-half-class', 'failed to get secret reference for snapshot content pre-E: failed to get name and namespace template from params: either name and namespace for SnapshotterList secrets specified, Both must be specified'],
    ['a list secret that does not exist', 'list-missing-class', 'failed to get credentials for snapshot content pre-E: '],
  ])('%s: no driver call, the reason in status.error', async (label, className, message) => {
    const name = `pre-${label.length}`;
    await pre(name, className);
    expect((await sync(name)).type).toBe('retry');
    expect(await methods()).toEqual([]);
    const recorded = (await env.get(name)).status?.error?.message ?? '';
    expect(recorded.startsWith(`Failed to check and update snapshot content: ${message.replace('pre-E', name)}`)).toBe(true);
  });

  test('a group member reads its Secret from the deletion-secret annotations; one that cannot be read stops the refresh', async () => {
    const annotations = { [ANN_GROUP_MEMBER]: 'yes', [ANN_DELETION_SECRET_NAME]: 'missing', [ANN_DELETION_SECRET_NAMESPACE]: 'default' };
    await env.content({ name: 'member', refUid: uidFor('member'), volumeHandle: 'v', annotations, status: { snapshotHandle: 'member-snap', volumeGroupSnapshotHandle: 'group-1', readyToUse: false } });
    expect((await sync('member')).type).toBe('retry');
    expect(await methods()).toEqual([]);
    expect((await env.get('member')).status?.error?.message).toBe(`Failed to check and update snapshot content: failed to get credentials from annotation for snapshot content member: cannot get credentials for snapshot content "member"${RETRY}`);
  });

  test('a dynamic poll reads its Secret from the annotations (not the class); one that cannot be read stops it', async () => {
    const annotations = { [ANN_DELETION_SECRET_NAME]: 'secret', [ANN_DELETION_SECRET_NAMESPACE]: 'default' };
    await env.driver.setFaults({ readyDelayMs: 600_000 });
    const volume = await env.volume('vol-poll-secret');
    await env.content({ name: 'poll-secret', refUid: uidFor('poll-secret'), className: 'list-missing-class', volumeHandle: volume, annotations });
    await sync('poll-secret');
    await env.driver.clearCalls();
    expect((await sync('poll-secret')).type).toBe('after');
    expect((await env.driver.calls()).map((c) => [c.method, c.request.secrets])).toEqual([['ListSnapshots', { foo: sha256Hex('bar') }]]);

    await env.rest.request({ method: 'PATCH', path: `${VSC}/poll-secret`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_DELETION_SECRET_NAME]: 'missing' } } } });
    await env.driver.clearCalls();
    expect((await sync('poll-secret')).type).toBe('retry');
    expect(await methods()).toEqual([]);
    expect((await env.get('poll-secret')).status?.error?.message).toBe(`Failed to check and update snapshot content: failed to get credentials from annotation for snapshot content poll-secret: cannot get credentials for snapshot content "poll-secret"${RETRY}`);
  });
});

describe('deletion failures', () => {
  async function deleting(name: string, options: { policy?: 'Delete' | 'Retain'; annotations?: Record<string, string> } = {}): Promise<void> {
    const volume = await env.volume(`vol-${name}`);
    await env.content({ name, refUid: uidFor(name), className: 'gold', volumeHandle: volume, ...(options.policy ? { policy: options.policy } : {}), ...(options.annotations ? { annotations: options.annotations } : {}) });
    await sync(name);
    await env.rest.request({ method: 'PATCH', path: `${VSC}/${name}`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted': 'yes' } } } });
    await env.rest.request({ method: 'DELETE', path: `${VSC}/${name}` });
    await env.driver.clearCalls();
    env.api.requests.reset();
  }

  test('a deletion Secret that cannot be read: no DeleteSnapshot, an Event, the finalizer stays', async () => {
    await deleting('del-secret', { annotations: { [ANN_DELETION_SECRET_NAME]: 'secret', [ANN_DELETION_SECRET_NAMESPACE]: 'default' } });
    // The Secret named for the deletion is gone by now.
    await env.rest.request({ method: 'PATCH', path: `${VSC}/del-secret`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_DELETION_SECRET_NAME]: 'missing' } } } });
    const outcome = await sync('del-secret');
    expect(outcome).toEqual({ type: 'retry', error: new Error('failed to get input parameters to delete snapshot for content del-secret: "cannot get credentials for snapshot content \\"del-secret\\""') });
    expect(await methods()).toEqual([]);
    expect(events.map((e) => [e.subject.name, e.reason, e.message])).toEqual([['del-secret', 'SnapshotDeleteError', 'Failed to get snapshot credentials']]);
    expect(await env.exists('del-secret')).toBe(true);
  });

  test('the status cannot be cleared after DeleteSnapshot: an Event, the finalizer stays, retried', async () => {
    await deleting('del-clear');
    env.api.faults.fail({ verb: 'patch', resource: 'volumesnapshotcontents', subresource: 'status', code: 500, times: 1 });
    const outcome = await sync('del-clear');
    expect(outcome).toEqual({ type: 'retry', error: new Error(server500('del-clear')) });
    expect(await methods()).toEqual(['DeleteSnapshot']);
    expect(events.map((e) => [e.reason, e.message])).toEqual([['SnapshotDeleteError', 'Failed to clear content status']]);
    expect(contentWrites('')).toEqual([]);
  });

  test('the finalizer cannot be removed: retried with the reason', async () => {
    await deleting('del-finalizer');
    env.api.faults.fail({ verb: 'patch', resource: 'volumesnapshotcontents', subresource: '', code: 500, times: 1 });
    expect(await sync('del-finalizer')).toEqual({ type: 'retry', error: new Error(server500('del-finalizer')) });
    // The storage snapshot is gone already; only the finalizer is left to remove, which is no Event.
    expect(events).toEqual([]);
    expect(await env.exists('del-finalizer')).toBe(true);
  });

  test('a content held only by another controller\'s finalizer: Retain writes nothing at all', async () => {
    await env.rest.request({
      method: 'POST',
      path: VSC,
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        metadata: { name: 'retain-other', finalizers: ['other.example.com/keep'], annotations: { 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted': 'yes' } },
        spec: { volumeSnapshotRef: { name: 'vs', namespace: 'default', uid: uidFor('retain-other') }, deletionPolicy: 'Retain', driver: DRIVER, volumeSnapshotClassName: 'gold', source: { volumeHandle: 'v' } },
      },
    });
    await env.rest.request({ method: 'DELETE', path: `${VSC}/retain-other` });
    env.api.requests.reset();
    expect(await sync('retain-other')).toEqual({ type: 'done' });
    expect(env.api.requests.writes({ resource: 'volumesnapshotcontents' })).toEqual([]);
  });

  test('an unbound pre-provisioned content without status: DeleteSnapshot by the spec handle, no status write, then the finalizer', async () => {
    const volume = await env.volume('vol-pre-delete');
    const handle = await env.storageSnapshot(volume, 'storage-pre-delete');
    await env.content({ name: 'pre-delete', snapshotHandle: handle, className: 'gold', deletionTimestampOnly: true });
    env.api.requests.reset();
    expect(await sync('pre-delete')).toEqual({ type: 'done' });
    expect((await env.driver.calls()).map((c) => [c.method, c.request.snapshot_id])).toEqual([['DeleteSnapshot', handle]]);
    expect(contentWrites('status')).toEqual([]);
    expect(contentWrites('')).toHaveLength(1);
    expect(await env.exists('pre-delete')).toBe(false);
  });

  test('Delete policy: status cleared with exactly the fields it had, then the finalizer, nothing more', async () => {
    await deleting('del-writes');
    expect(await sync('del-writes')).toEqual({ type: 'done' });
    expect(contentWrites('status')).toHaveLength(1);
    expect(contentWrites('')).toHaveLength(1);
  });
});
