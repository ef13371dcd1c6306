import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { ANN_BEING_CREATED, ANN_BEING_DELETED, ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE, ANN_GROUP_MEMBER, FINALIZER_CONTENT } from '../../../src/sidecar/keys.js';
import { sha256Hex } from '../../../src/testing/sample-driver/index.js';
import { waitFor } from '../../helpers/process.js';
import { silentLogger } from '../../../src/observe/logger.js';
import { restContentApi } from '../../../src/sidecar/snapshot/kind.js';
import { syncContent } from '../../../src/sidecar/snapshot/kind.js';
import { capturingLogger } from '../../helpers/logger.js';
import { uidFor } from '../../helpers/uid.js';
import { CLASSES, EXTRA, ScenarioEnv, VSC } from './scenario-env.js';

// Single-snapshot scenarios of conformance-scenarios.md (sections F, G and Z.2), one sync each,
// against the test API server and the sample driver over their real sockets.
let env: ScenarioEnv;
beforeAll(async () => {
  env = await ScenarioEnv.start();
});
afterAll(async () => {
  await env?.stop();
});
beforeEach(async () => {
  await env.reset();
});

const methods = (calls: Array<{ method: string }>): string[] => calls.map((c) => c.method);
const noList = { listSnapshots: false };
// What the sidecar appends to the Go sidecar's text: what happens next (sidecar's nextStep()).
const RETRY = ' (retrying with backoff, at most every 5m0s)';
const IN_PROGRESS = ' (not final: the driver may still be working on it, so deletion waits; retrying with backoff, at most every 5m0s)';
// The other fields of a ListSnapshots by snapshot id, which the sidecar sends empty.
const LIST_BY_ID = { max_entries: 0, source_volume_id: '', starting_token: '' };
const FINAL = ' (final for this attempt: the driver refused it; retrying with backoff, at most every 5m0s, in case the cause is fixed)';

describe('F. create and readiness polling', () => {
  test('F-01 (driver without LIST_SNAPSHOTS, Go-style poll): CreateSnapshot again; handle and size are never overwritten', async () => {
    await env.driver.setFaults({ withhold: { controller: ['LIST_SNAPSHOTS'] } });
    const volume = await env.volume('vol-f01');
    const uid = uidFor('snapuid1-1');
    await env.content({ name: 'content1-1', refUid: uid, refName: 'snap1-1', className: 'default-class', volumeHandle: volume, policy: 'Retain', status: { snapshotHandle: 'sid1-1', restoreSize: 1000, readyToUse: false } });
    const captured = capturingLogger();
    const { outcome, calls } = await env.sync('content1-1', noList, captured.log);
    expect(methods(calls)).toEqual(['CreateSnapshot']);
    // The driver names its own snapshot, not the recorded one: the recorded id is kept, and said.
    const mismatch = (await captured.records()).filter((r) => String(r.msg).startsWith('The CSI driver answered CreateSnapshot with another snapshot id'));
    expect(mismatch).toEqual([expect.objectContaining({ content: 'content1-1', name: `snapshot-${uid}`, recorded: 'sid1-1', answered: expect.not.stringMatching(/^sid1-1$/) })]);
    // A warning: JSON info lines carry their verbosity, errors an `err`.
    expect(mismatch[0]?.v).toBeUndefined();
    expect(mismatch[0]?.err).toBeUndefined();
    // default-class holds only the four secret keys: none of them may reach the driver.
    expect(calls[0]?.request).toEqual({ name: `snapshot-${uid}`, source_volume_id: volume, parameters: EXTRA('snap1-1', 'content1-1'), secrets: {} });
    const after = await env.get('content1-1');
    expect(after.status).toEqual({ snapshotHandle: 'sid1-1', restoreSize: 1000, readyToUse: true, creationTime: expect.any(BigInt) });
    expect(after.metadata.annotations).toBeUndefined();
    expect(env.warnings).toEqual([]);
    expect(outcome).toEqual({ type: 'done' });
  });

  test('F-01 (driver with LIST_SNAPSHOTS): polls by the recorded handle and reports a handle the driver does not know', async () => {
    const volume = await env.volume('vol-f01b');
    await env.content({ name: 'content1-1b', refUid: uidFor('snapuid1-1b'), className: 'default-class', volumeHandle: volume, status: { snapshotHandle: 'sid1-1', restoreSize: 1000, readyToUse: false } });
    const { outcome, calls } = await env.sync('content1-1b');
    expect(methods(calls)).toEqual(['ListSnapshots']);
    expect((await env.get('content1-1b')).status).toEqual({ snapshotHandle: 'sid1-1', restoreSize: 1000, readyToUse: false, error: { time: expect.any(String), message: 'Failed to check and update snapshot content: failed to list snapshot for content content1-1b: "can not find snapshot for snapshotID sid1-1"' + RETRY } });
    expect(outcome.type).toBe('retry');
  });

  test('F-02: no status → create; status with handle, size, readiness and time; no annotations left; no events', async () => {
    const volume = await env.volume('vol-f02', 1000);
    const uid = uidFor('snapuid1-2');
    await env.content({ name: 'content1-2', refUid: uid, refName: 'snap1-2', className: 'default-class', volumeHandle: volume });
    const { outcome, calls } = await env.sync('content1-2');
    expect(methods(calls)).toEqual(['CreateSnapshot']);
    expect(calls[0]?.request).toEqual({ name: `snapshot-${uid}`, source_volume_id: volume, parameters: EXTRA('snap1-2', 'content1-2'), secrets: {} });
    const after = await env.get('content1-2');
    expect(after.status).toEqual({ readyToUse: true, restoreSize: 1000, snapshotHandle: expect.stringMatching(/\S/), creationTime: expect.any(BigInt) });
    expect(after.metadata.annotations).toBeUndefined();
    expect(env.warnings).toEqual([]);
    expect(outcome).toEqual({ type: 'done' });
  });

  test('F-03: empty secret annotations → no CSI call, no mark, error status and SnapshotContentCheckandUpdateFailed', async () => {
    await env.content({ name: 'content1-3', refUid: uidFor('snapuid1-3'), className: 'invalid-secret-class', volumeHandle: 'v', status: {}, annotations: { [ANN_DELETION_SECRET_NAME]: '', [ANN_DELETION_SECRET_NAMESPACE]: '' } });
    const { outcome, calls } = await env.sync('content1-3');
    const message = 'Failed to check and update snapshot content: failed to get input parameters to create snapshot for content content1-3: "cannot retrieve secrets for snapshot content \\"content1-3\\", err: secret name or namespace not specified"' + RETRY;
    expect(calls).toEqual([]);
    const after = await env.get('content1-3');
    expect(after.status).toEqual({ readyToUse: false, error: { message, time: expect.any(String) } });
    expect(after.metadata.annotations).toEqual({ [ANN_DELETION_SECRET_NAME]: '', [ANN_DELETION_SECRET_NAMESPACE]: '' });
    expect(env.warnings).toEqual([{ reason: 'SnapshotContentCheckandUpdateFailed', message, name: 'content1-3' }]);
    expect(outcome.type).toBe('retry');
  });

  test('F-04: valid secret → the Secret data and the class parameters verbatim reach CreateSnapshot; annotations stay', async () => {
    const volume = await env.volume('vol-f04');
    const annotations = { [ANN_DELETION_SECRET_NAME]: 'secret', [ANN_DELETION_SECRET_NAMESPACE]: 'default' };
    const uid = uidFor('snapuid1-4');
    await env.content({ name: 'content1-4', refUid: uid, refName: 'snap1-4', className: 'valid-secret-class', volumeHandle: volume, annotations });
    const { calls } = await env.sync('content1-4');
    expect(methods(calls)).toEqual(['CreateSnapshot']);
    expect(calls[0]?.request).toEqual({
      name: `snapshot-${uid}`,
      source_volume_id: volume,
      secrets: { foo: sha256Hex('bar') },
      parameters: { ...EXTRA('snap1-4', 'content1-4'), 'snapshot.storage.kubernetes.io/deletion-secret-name': 'secret', 'snapshot.storage.kubernetes.io/deletion-secret-namespace': 'default' },
    });
    const after = await env.get('content1-4');
    expect(after.status).toEqual({ readyToUse: true, restoreSize: 1000, snapshotHandle: expect.stringMatching(/\S/), creationTime: expect.any(BigInt) });
    expect(after.metadata.annotations).toEqual(annotations);
  });

  test('F-05: the Secret cannot be read → no CSI call, error status', async () => {
    await env.content({ name: 'content1-5', refUid: uidFor('content1-5'), className: 'invalid-secret-class', volumeHandle: 'v', status: {}, annotations: { [ANN_DELETION_SECRET_NAME]: 'missing', [ANN_DELETION_SECRET_NAMESPACE]: 'default' } });
    const { calls } = await env.sync('content1-5');
    expect(calls).toEqual([]);
    expect((await env.get('content1-5')).status?.error?.message).toBe(
      'Failed to check and update snapshot content: failed to get input parameters to create snapshot for content content1-5: "cannot get credentials for snapshot content \\"content1-5\\""' + RETRY,
    );
  });

  test('F-06: a class that does not exist → no CSI call; the status keeps handle and size and gains the error', async () => {
    await env.content({ name: 'content1-6', refUid: uidFor('content1-6'), className: 'bad-class', volumeHandle: 'v', status: { snapshotHandle: 'sid1-6', restoreSize: 1000, readyToUse: false } });
    const { calls } = await env.sync('content1-6', noList);
    expect(calls).toEqual([]);
    expect((await env.get('content1-6')).status).toEqual({
      snapshotHandle: 'sid1-6',
      restoreSize: 1000,
      readyToUse: false,
      error: { time: expect.any(String), message: 'Failed to check and update snapshot content: failed to get input parameters to create snapshot for content content1-6: "volumesnapshotclass.snapshot.storage.k8s.io \\"bad-class\\" not found"' + RETRY },
    });
    expect(env.warnings.map((w) => w.reason)).toEqual(['SnapshotContentCheckandUpdateFailed']);
  });

  test('F-07: a new snapshot that is not ready is recorded and looked at again (not as a failure)', async () => {
    await env.driver.setFaults({ readyDelayMs: 600_000 });
    const volume = await env.volume('vol-f07');
    await env.content({ name: 'content1-7', refUid: uidFor('snapuid1-7'), className: 'default-class', volumeHandle: volume });
    const { outcome } = await env.sync('content1-7');
    const after = await env.get('content1-7');
    expect(after.status).toEqual({ readyToUse: false, restoreSize: 1000, snapshotHandle: expect.stringMatching(/\S/), creationTime: expect.any(BigInt) });
    expect(after.metadata.annotations).toBeUndefined();
    expect(outcome).toEqual({ type: 'after', delayMs: expect.any(Number) });
  });

  test('F-08: still not ready → with LIST_SNAPSHOTS, one ListSnapshots and no write; without it, CreateSnapshot again and no status write', async () => {
    await env.driver.setFaults({ readyDelayMs: 600_000 });
    const volume = await env.volume('vol-f08');
    const uid = uidFor('snapuid1-8');
    await env.content({ name: 'content1-8', refUid: uid, className: 'default-class', volumeHandle: volume });
    await env.sync('content1-8');
    const before = await env.get('content1-8');
    await env.driver.clearCalls();
    env.api.requests.reset();
    const polled = await env.sync('content1-8');
    expect(methods(polled.calls)).toEqual(['ListSnapshots']);
    expect(env.api.requests.writes({ resource: 'volumesnapshotcontents' })).toEqual([]);
    expect(polled.outcome.type).toBe('after');

    await env.driver.clearCalls();
    const captured = capturingLogger();
    const recreated = await env.sync('content1-8', noList, captured.log);
    expect(methods(recreated.calls)).toEqual(['CreateSnapshot']);
    // The driver named the recorded snapshot again: nothing to warn about.
    expect((await captured.records()).filter((r) => String(r.msg).includes('another snapshot id'))).toEqual([]);
    expect(recreated.calls[0]?.request).toEqual({ name: `snapshot-${uid}`, source_volume_id: volume, parameters: EXTRA('snap-content1-8', 'content1-8'), secrets: {} });
    const after = await env.get('content1-8');
    expect(after.status).toEqual(before.status);
    expect(after.metadata.annotations).toBeUndefined();
    expect(env.api.requests.writes({ resource: 'volumesnapshotcontents', subresource: 'status' })).toEqual([]);
  });

  test('F-09: a snapshot that turns ready is recorded ready and not looked at again', async () => {
    await env.driver.setFaults({ readyDelayMs: 1500 });
    const volume = await env.volume('vol-f09');
    await env.content({ name: 'content1-9', refUid: uidFor('snapuid1-9'), className: 'default-class', volumeHandle: volume });
    expect((await env.sync('content1-9')).outcome.type).toBe('after');
    const handle = (await env.get('content1-9')).status?.snapshotHandle;
    // Poll as the queue would, until the driver reports the snapshot ready.
    const outcome = await waitFor('the snapshot to turn ready', async () => {
      const { outcome: o } = await env.sync('content1-9');
      return o.type === 'done' ? o : undefined;
    });
    expect((await env.get('content1-9')).status).toEqual({ readyToUse: true, snapshotHandle: handle, restoreSize: 1000, creationTime: expect.any(BigInt) });
    expect(outcome).toEqual({ type: 'done' });
  });
});

describe('G. deletion', () => {
  async function readyContent(name: string, options: { policy?: 'Delete' | 'Retain'; className?: string; annotations?: Record<string, string> } = {}): Promise<string> {
    const volume = await env.volume(`vol-${name}`);
    await env.content({ name, refUid: uidFor(name), volumeHandle: volume, className: options.className ?? 'gold', ...options });
    await env.sync(name);
    return (await env.get(name)).status?.snapshotHandle as string;
  }
  async function markDeleted(name: string): Promise<void> {
    await env.rest.request({ method: 'PATCH', path: `/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/${name}`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted': 'yes' } } } });
    await env.rest.request({ method: 'DELETE', path: `/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/${name}` });
    await env.driver.clearCalls();
  }

  test('G-01/G-11/G-15: Delete → DeleteSnapshot of the status handle, status cleared, finalizer removed (the object goes)', async () => {
    const handle = await readyContent('content1-11');
    await markDeleted('content1-11');
    const { outcome, calls } = await env.sync('content1-11');
    expect(calls.map((c) => [c.method, c.request.snapshot_id])).toEqual([['DeleteSnapshot', handle]]);
    expect(await env.exists('content1-11')).toBe(false);
    expect(env.warnings).toEqual([]);
    expect(outcome).toEqual({ type: 'done' });
  });

  test('G-02/G-10: Retain → no CSI call, finalizer removed', async () => {
    await readyContent('content1-10', { policy: 'Retain' });
    await markDeleted('content1-10');
    const { calls } = await env.sync('content1-10');
    expect(calls).toEqual([]);
    expect(await env.exists('content1-10')).toBe(false);
  });

  test('G-03/G-05: DeleteSnapshot fails → SnapshotDeleteError, the finalizer stays, retried', async () => {
    await readyContent('content1-3d', { className: 'valid-secret-class' });
    await markDeleted('content1-3d');
    await env.driver.setFaults({ errors: { DeleteSnapshot: { code: 'INTERNAL', message: 'boom' } } });
    const { outcome } = await env.sync('content1-3d');
    expect(env.warnings).toEqual([{ reason: 'SnapshotDeleteError', message: 'Failed to delete snapshot', name: 'content1-3d' }]);
    expect((await env.get('content1-3d')).metadata.finalizers).toEqual([FINALIZER_CONTENT]);
    expect(outcome.type).toBe('retry');
    expect(String((outcome as { error?: unknown }).error)).toContain('failed to delete snapshot "content1-3d", err: failed to delete snapshot content content1-3d: "rpc error: code = Internal desc = boom"');
  });

  test('G-04: a class that no longer exists does not stop the deletion attempt', async () => {
    const handle = await readyContent('content1-4d');
    await env.rest.request({ method: 'PATCH', path: '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/content1-4d', contentType: 'application/merge-patch+json', body: { spec: { volumeSnapshotClassName: 'invalid' } } });
    await markDeleted('content1-4d');
    const { calls } = await env.sync('content1-4d');
    expect(calls.map((c) => [c.method, c.request.snapshot_id])).toEqual([['DeleteSnapshot', handle]]);
  });

  test('G-06: a content removed from the API server just before its sync: the error is returned and nothing is re-created', async () => {
    const volume = await env.volume('vol-g06');
    const handle = await env.storageSnapshot(volume, 'g06');
    await env.content({ name: 'content1-6g', refUid: uidFor('content1-6g'), snapshotHandle: handle, className: 'gold', status: { snapshotHandle: handle } });
    const stale = await env.get('content1-6g');
    await env.rest.request({ method: 'PATCH', path: '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/content1-6g', contentType: 'application/json-patch+json', body: [{ op: 'remove', path: '/metadata/finalizers' }] });
    await env.rest.request({ method: 'DELETE', path: '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/content1-6g' });
    expect(await env.exists('content1-6g')).toBe(false);
    const outcome = await syncContent(stale, {
      api: restContentApi(env.rest),
      csi: env.csi,
      classes: (n) => CLASSES[n],
      events: { warning: (obj, reason, message) => env.warnings.push({ reason, message, name: obj.name }) },
      settings: { snapshotNamePrefix: 'snapshot', snapshotNameUuidLength: -1, extraCreateMetadata: true, timeoutMs: 10_000, listSnapshots: true, maxPollIntervalMs: 15_000, retryIntervalMaxMs: 300_000 },
      log: silentLogger,
    });
    expect(outcome.type).toBe('retry');
    // The error status could not be written, but the Event still tells what happened.
    expect(env.warnings.map((w) => w.reason)).toEqual(['SnapshotContentCheckandUpdateFailed']);
    expect(await env.exists('content1-6g')).toBe(false);
  });

  test('the exists() check of these tests: false only for a 404; a read that fails otherwise is an error, never "gone"', async () => {
    await env.content({ name: 'exists-check', refUid: uidFor('exists-check'), volumeHandle: 'v' });
    expect(await env.exists('exists-check')).toBe(true);
    expect(await env.exists('no-such-content')).toBe(false);
    env.api.faults.fail({ verb: 'get', resource: 'volumesnapshotcontents', name: 'exists-check', code: 500, times: 1 });
    await expect(env.exists('exists-check')).rejects.toMatchObject({ statusCode: 500 });
    expect(await env.exists('exists-check')).toBe(true);
  });

  test('G-07/G-08: a ready pre-provisioned content without a deletionTimestamp is left alone', async () => {
    const volume = await env.volume('vol-g07');
    const handle = await env.storageSnapshot(volume, 'g07');
    await env.content({ name: 'content-g07', refName: 'snap1-7', snapshotHandle: handle, status: { snapshotHandle: handle, readyToUse: true } });
    await env.driver.clearCalls();
    env.api.requests.reset();
    const { outcome, calls } = await env.sync('content-g07');
    expect(calls).toEqual([]);
    expect(env.api.requests.writes()).toEqual([]);
    expect(outcome).toEqual({ type: 'done' });
  });

  test('G-09: no secret annotations → DeleteSnapshot without secrets', async () => {
    const handle = await readyContent('content1-9d', { className: 'empty-secret-class' });
    await markDeleted('content1-9d');
    const { calls } = await env.sync('content1-9d');
    expect(calls.map((c) => c.request)).toEqual([{ snapshot_id: handle, secrets: {} }]);
    expect(await env.exists('content1-9d')).toBe(false);
  });

  test('G-12/G-13/G-14: pre-provisioned: Retain keeps the snapshot; Delete (with or without a class) deletes the status handle', async () => {
    const volume = await env.volume('vol-g13');
    const kept = await env.storageSnapshot(volume, 'g12');
    await env.content({ name: 'content1-12', refUid: uidFor('content1-12'), snapshotHandle: kept, policy: 'Retain', status: { snapshotHandle: kept, readyToUse: true }, deleting: true });
    await env.driver.clearCalls();
    expect((await env.sync('content1-12')).calls).toEqual([]);
    expect(await env.exists('content1-12')).toBe(false);

    const gone = await env.storageSnapshot(volume, 'g13');
    await env.content({ name: 'content1-13', refUid: uidFor('content1-13'), snapshotHandle: gone, className: 'gold', status: { snapshotHandle: gone, readyToUse: true }, deleting: true });
    await env.driver.clearCalls();
    expect((await env.sync('content1-13')).calls.map((c) => c.request.snapshot_id)).toEqual([gone]);
    expect(await env.exists('content1-13')).toBe(false);
  });

  test('beyond Go: a Delete pre-provisioned content whose status was never filled still deletes the snapshot named in spec', async () => {
    const volume = await env.volume('vol-spec');
    const handle = await env.storageSnapshot(volume, 'spec-only');
    await env.content({ name: 'content-spec', refUid: uidFor('content-spec'), snapshotHandle: handle, deleting: true });
    await env.driver.clearCalls();
    const { calls } = await env.sync('content-spec');
    expect(calls.map((c) => [c.method, c.request.snapshot_id])).toEqual([['DeleteSnapshot', handle]]);
    expect(await env.exists('content-spec')).toBe(false);
  });

  test('G-16/G-17: a member of a group snapshot is never deleted alone: no CSI call, finalizer removed', async () => {
    await env.content({ name: 'content1-17', refUid: uidFor('content1-17'), volumeHandle: 'v', annotations: { [ANN_GROUP_MEMBER]: 'grp' }, status: { snapshotHandle: 'snap1-17', volumeGroupSnapshotHandle: 'grp-snap1-17', readyToUse: true }, deleting: true });
    await env.driver.clearCalls();
    const { calls } = await env.sync('content1-17');
    expect(calls).toEqual([]);
    expect(await env.exists('content1-17')).toBe(false);
  });
});

describe('Z.2 derived single-snapshot scenarios', () => {
  test('Z-20/Z-22: DEADLINE_EXCEEDED keeps the mark, so a deletion waits; the next sync creates again and only then deletes', async () => {
    const volume = await env.volume('vol-z20');
    await env.content({ name: 'z20', refUid: uidFor('uz20'), className: 'gold', volumeHandle: volume });
    await env.driver.setFaults({ errors: { CreateSnapshot: { code: 'DEADLINE_EXCEEDED', message: 'slow', times: 1 } } });
    await env.sync('z20');
    const failed = await env.get('z20');
    expect(failed.metadata.annotations?.[ANN_BEING_CREATED]).toBe('yes');
    expect(failed.status?.error?.message).toBe(`Failed to create snapshot: failed to take snapshot of the volume ${volume}: "rpc error: code = DeadlineExceeded desc = slow"` + IN_PROGRESS);
    expect(env.warnings.map((w) => w.reason)).toEqual(['SnapshotCreationFailed']);

    await env.rest.request({ method: 'PATCH', path: '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/z20', contentType: 'application/merge-patch+json', body: { metadata: { annotations: { 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted': 'yes' } } } });
    await env.rest.request({ method: 'DELETE', path: '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/z20' });
    await env.driver.clearCalls();
    await env.sync('z20');
    expect(methods(await env.driver.calls())).toEqual(['CreateSnapshot']);
    const created = await env.get('z20');
    expect(created.status?.readyToUse).toBe(true);
    expect(created.metadata.annotations?.[ANN_BEING_CREATED]).toBeUndefined();
    await env.driver.clearCalls();
    await env.sync('z20');
    expect(methods(await env.driver.calls())).toEqual(['DeleteSnapshot']);
    expect(await env.exists('z20')).toBe(false);
  });

  test('Z-21: a final error removes the mark', async () => {
    const volume = await env.volume('vol-z21');
    await env.content({ name: 'z21', refUid: uidFor('uz21'), className: 'gold', volumeHandle: volume });
    await env.driver.setFaults({ errors: { CreateSnapshot: { code: 'INVALID_ARGUMENT', message: 'no', times: 1 } } });
    await env.sync('z21');
    const after = await env.get('z21');
    expect(after.metadata.annotations?.[ANN_BEING_CREATED]).toBeUndefined();
    expect(after.status?.error?.message).toBe(`Failed to create snapshot: failed to take snapshot of the volume ${volume}: "rpc error: code = InvalidArgument desc = no"` + FINAL);
  });

  test('Z-23: an unbound dynamic content gets the mark but no RPC; the error is not final', async () => {
    await env.content({ name: 'z23', className: 'gold', volumeHandle: 'v' });
    const { calls, outcome } = await env.sync('z23');
    expect(calls).toEqual([]);
    const after = await env.get('z23');
    expect(after.metadata.annotations?.[ANN_BEING_CREATED]).toBe('yes');
    expect(after.status?.error?.message).toBe('Failed to create snapshot: cannot create snapshot. Snapshot content z23 not bound to a snapshot' + RETRY);
    expect(outcome.type).toBe('retry');
  });

  test('Z-24/Z-25: an 8-character UID name and no extra metadata', async () => {
    const volume = await env.volume('vol-z24');
    await env.content({ name: 'z24', refUid: '1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d', className: 'gold', volumeHandle: volume });
    const { calls } = await env.sync('z24', { snapshotNameUuidLength: 8, extraCreateMetadata: false });
    expect(calls.map((c) => c.request)).toEqual([{ name: 'snapshot-1b2c3d4e', source_volume_id: volume, parameters: { param1: 'value1' }, secrets: {} }]);
  });

  // Every value --snapshot-name-uuid-length accepts. The UID is shaped like the API server's, so a
  // name cut from the UID with its dashes still in differs from the right one from 9 characters on
  // (at 12: 6f1d2c3a-9b8 instead of 6f1d2c3a9b8e).
  const NAME_UID = '6f1d2c3a-9b8e-4c7d-a5f4-e3d2c1b0a987';
  const NAME_UID_WITHOUT_DASHES = '6f1d2c3a9b8e4c7da5f4e3d2c1b0a987';
  test.each([-1, ...Array.from({ length: 33 }, (_x, n) => n)])('Z-24: --snapshot-name-uuid-length=%i names the snapshot after the whole UID (-1) or that many UID characters without dashes', async (length) => {
    expect(NAME_UID_WITHOUT_DASHES).toHaveLength(32);
    const expected = length === -1 ? `snapshot-${NAME_UID}` : `snapshot-${NAME_UID_WITHOUT_DASHES.slice(0, length)}`;
    const volume = await env.volume(`vol-uuid-length-${length}`);
    const name = `uuid-length-${length + 1}`;
    await env.content({ name, refUid: NAME_UID, className: 'gold', volumeHandle: volume });
    const { calls, outcome } = await env.sync(name, { snapshotNameUuidLength: length, extraCreateMetadata: false });
    expect(calls.map((c) => [c.method, c.request])).toEqual([['CreateSnapshot', { name: expected, source_volume_id: volume, parameters: { param1: 'value1' }, secrets: {} }]]);
    expect(outcome).toEqual({ type: 'done' });
  });

  test('Z-24: the name at 12 characters, spelt out', async () => {
    const volume = await env.volume('vol-uuid-length-spelt');
    await env.content({ name: 'uuid-length-spelt', refUid: NAME_UID, className: 'gold', volumeHandle: volume });
    const { calls } = await env.sync('uuid-length-spelt', { snapshotNameUuidLength: 12, extraCreateMetadata: false });
    expect(calls.map((c) => c.request.name)).toEqual(['snapshot-6f1d2c3a9b8e']);
  });

  test('Z-26: a reserved key in the class parameters fails the create after the mark was added', async () => {
    const volume = await env.volume('vol-z26');
    await env.content({ name: 'z26', refUid: uidFor('z26'), className: 'reserved', volumeHandle: volume });
    const { calls } = await env.sync('z26');
    expect(calls).toEqual([]);
    const after = await env.get('z26');
    expect(after.metadata.annotations?.[ANN_BEING_CREATED]).toBe('yes');
    expect(after.status?.error?.message).toBe(
      'Failed to create snapshot: failed to remove CSI Parameters of prefixed keys: found unknown parameter key "csi.storage.k8s.io/volumesnapshot/name" with reserved namespace csi.storage.k8s.io/' + RETRY,
    );
  });

  test('Z-27: a pre-provisioned content uses the class list secret, with the content name substituted', async () => {
    await env.secret('default', 's-z27', { token: 'list-secret' });
    const volume = await env.volume('vol-z27');
    const handle = await env.storageSnapshot(volume, 'z27');
    await env.content({ name: 'z27', snapshotHandle: handle, className: 'default-class' });
    // default-class names Secret default/secret; a templated class is checked through its own content name:
    const { calls } = await env.sync('z27');
    expect(calls.map((c) => [c.method, c.request])).toEqual([['ListSnapshots', { snapshot_id: handle, secrets: { foo: sha256Hex('bar') }, ...LIST_BY_ID }]]);
    expect((await env.get('z27')).status).toEqual({ snapshotHandle: handle, readyToUse: true, restoreSize: 1000, creationTime: expect.any(BigInt) });
  });

  test('Z-29: ListSnapshots without the snapshot → error status', async () => {
    await env.content({ name: 'z29', snapshotHandle: 'gone-snapshot' });
    await env.sync('z29');
    expect((await env.get('z29')).status?.error?.message).toBe('Failed to check and update snapshot content: failed to list snapshot for content z29: "can not find snapshot for snapshotID gone-snapshot"' + RETRY);
  });

  test('Z-30: a driver without LIST_SNAPSHOTS → the pre-provisioned snapshot counts as ready now, no size', async () => {
    await env.driver.setFaults({ withhold: { controller: ['LIST_SNAPSHOTS'] } });
    await env.content({ name: 'z30', snapshotHandle: 'handle-z30' });
    // "Now" is the time of the sync: the creation time lies between the clock read before and after it.
    const before = BigInt(Date.now()) * 1_000_000n;
    const { calls } = await env.sync('z30', noList);
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    expect(calls).toEqual([]);
    const status = (await env.get('z30')).status;
    expect(status).toEqual({ snapshotHandle: 'handle-z30', readyToUse: true, creationTime: expect.anything() });
    const creationTime = BigInt(status?.creationTime ?? 0);
    expect(creationTime).toBeGreaterThanOrEqual(before);
    expect(creationTime).toBeLessThan(after);
  });

  test('Z-31: a group member without status: no CSI call and no write, looked at again later', async () => {
    await env.content({ name: 'z31', refUid: uidFor('z31'), volumeHandle: 'v', annotations: { [ANN_GROUP_MEMBER]: 'g' } });
    env.api.requests.reset();
    const { calls, outcome } = await env.sync('z31');
    expect(calls).toEqual([]);
    expect(env.api.requests.writes()).toEqual([]);
    // A healthy wait for the snapshot-controller: a look again after the readiness delay of a
    // content this young (1 s), never the failure backoff.
    expect(outcome).toEqual({ type: 'after', delayMs: 1000 });
  });

  test('Z-32: a group member with both handles is refreshed with the annotation secret, not the class list secret', async () => {
    const volume = await env.volume('vol-z32');
    const handle = await env.storageSnapshot(volume, 'z32');
    await env.content({
      name: 'z32', refUid: uidFor('z32'), volumeHandle: volume, className: 'default-class',
      annotations: { [ANN_GROUP_MEMBER]: 'g', [ANN_DELETION_SECRET_NAME]: 'emptysecret', [ANN_DELETION_SECRET_NAMESPACE]: 'default' },
      status: { snapshotHandle: handle, volumeGroupSnapshotHandle: 'g', readyToUse: false },
    });
    const { calls } = await env.sync('z32');
    // The empty annotation Secret, not default-class's list Secret {foo: bar}.
    expect(calls.filter((c) => c.method === 'ListSnapshots').map((c) => c.request)).toEqual([{ snapshot_id: handle, secrets: {}, ...LIST_BY_ID }]);
  });

  test('Z-33: a ready content that still carries the mark only loses the mark', async () => {
    await env.content({ name: 'z33', refUid: uidFor('z33'), volumeHandle: 'v', annotations: { [ANN_BEING_CREATED]: 'yes' }, status: { snapshotHandle: 's', readyToUse: true } });
    env.api.requests.reset();
    const { calls } = await env.sync('z33');
    expect(calls).toEqual([]);
    expect(env.api.requests.writes().map((w) => [w.verb, w.subresource])).toEqual([['patch', '']]);
    expect((await env.get('z33')).metadata.annotations).toBeUndefined();
  });

  test('a deletion that came while the mark was on is looked at again at once when the mark goes, and carried out', async () => {
    // Found by the chaos run: the mark's removal is the sidecar's own write and brings no update
    // event, so a sync that ended "done" here left the deletion waiting for the next resync.
    const volume = await env.volume('vol-marked-deleting');
    const handle = await env.storageSnapshot(volume, 'marked-deleting');
    await env.content({ name: 'marked-deleting', refUid: uidFor('marked-deleting'), volumeHandle: volume, className: 'default-class', annotations: { [ANN_BEING_CREATED]: 'yes' }, status: { snapshotHandle: handle, readyToUse: true }, deleting: true });
    const first = await env.sync('marked-deleting');
    expect(first.calls).toEqual([]);
    expect(first.outcome).toEqual({ type: 'after', delayMs: 0 });
    expect((await env.get('marked-deleting')).metadata.annotations?.[ANN_BEING_CREATED]).toBeUndefined();
    const second = await env.sync('marked-deleting');
    expect(second.calls.map((c) => [c.method, c.request.snapshot_id])).toEqual([['DeleteSnapshot', handle]]);
    expect(await env.exists('marked-deleting')).toBe(false);
  });

  test('the controller\'s being-deleted mark, written after the sidecar read a content without annotations, survives the being-created mark; the deletion is then carried out', async () => {
    // Found by the chaos run (a deleted group content that stayed, its storage kept): the first
    // annotation was added as a whole map, which replaced the map the controller had written since.
    const volume = await env.volume('vol-late-mark');
    const stale = await env.content({ name: 'late-mark', refUid: uidFor('late-mark'), volumeHandle: volume, className: 'default-class' });
    expect(stale.metadata.annotations).toBeUndefined();
    await env.rest.request({ method: 'PATCH', path: `${VSC}/late-mark`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_BEING_DELETED]: 'yes' } } } });
    await env.rest.request({ method: 'DELETE', path: `${VSC}/late-mark` });

    env.api.requests.reset();
    const first = await env.syncCopy(stale);
    expect(methods(first.calls)).toEqual(['CreateSnapshot']);
    expect(first.outcome).toEqual({ type: 'after', delayMs: 0 });
    // The guarded write was refused (422); the mark then went on beside the controller's, and came off.
    const writes = env.api.requests.writes({ resource: 'volumesnapshotcontents', name: 'late-mark', subresource: '' });
    expect(writes.map((w) => w.code)).toEqual([422, 200, 200]);
    const stored = await env.get('late-mark');
    expect(stored.metadata.annotations).toEqual({ [ANN_BEING_DELETED]: 'yes' });
    const handle = stored.status?.snapshotHandle;
    expect(handle).toBeTruthy();

    const second = await env.sync('late-mark');
    expect(second.calls.map((c) => [c.method, c.request.snapshot_id])).toEqual([['DeleteSnapshot', handle]]);
    expect(await env.exists('late-mark')).toBe(false);
  });

  test('a copy without annotations, while another writer already put the being-created mark on: the refused guarded write is followed by no empty write', async () => {
    const volume = await env.volume('vol-marked-meanwhile');
    const stale = await env.content({ name: 'marked-meanwhile', refUid: uidFor('marked-meanwhile'), volumeHandle: volume, className: 'default-class' });
    await env.rest.request({ method: 'PATCH', path: `${VSC}/marked-meanwhile`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_BEING_CREATED]: 'yes' } } } });
    env.api.requests.reset();
    const { outcome, calls } = await env.syncCopy(stale);
    expect(methods(calls)).toEqual(['CreateSnapshot']);
    expect(outcome).toEqual({ type: 'done' });
    // 422 for the guard, then only the removal of the mark once the snapshot is recorded.
    const writes = env.api.requests.writes({ resource: 'volumesnapshotcontents', name: 'marked-meanwhile', subresource: '' });
    expect(writes.map((w) => w.code)).toEqual([422, 200]);
    expect((await env.get('marked-meanwhile')).metadata.annotations).toBeUndefined();
  });

  test('Z-34: a deletionTimestamp without being-deleted → nothing happens', async () => {
    await env.content({ name: 'z34', refUid: uidFor('z34'), volumeHandle: 'v', status: { snapshotHandle: 's', readyToUse: true }, deletionTimestampOnly: true });
    env.api.requests.reset();
    const { calls, outcome } = await env.sync('z34');
    expect(calls).toEqual([]);
    expect(env.api.requests.writes()).toEqual([]);
    expect(outcome).toEqual({ type: 'done' });
  });

  test('Z-36: the same failure again → no second status write and no second event', async () => {
    await env.content({ name: 'z36', refUid: uidFor('z36'), className: 'missing-class', volumeHandle: 'v' });
    // The first failure is reported as a create failure, every later one as a check failure.
    await env.sync('z36');
    await env.sync('z36');
    expect(env.warnings.map((w) => w.reason)).toEqual(['SnapshotCreationFailed', 'SnapshotContentCheckandUpdateFailed']);
    env.api.requests.reset();
    await env.sync('z36');
    expect(env.warnings).toHaveLength(2);
    expect(env.api.requests.writes({ subresource: 'status' })).toEqual([]);
  });
});
