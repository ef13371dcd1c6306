import { afterEach, describe, expect, test } from '@jest/globals';
import { ANN_BEING_CREATED, ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE } from '../../src/sidecar/keys.js';
import { sha256Hex } from '../../src/testing/sample-driver/index.js';
import { waitFor } from '../helpers/process.js';
import { uidFor } from '../helpers/uid.js';
import { Env, VSC_PATH } from './env.js';

// The sidecar, the sample driver and the API test server as separate processes (the API server
// in-process for its accounting), exercising the spec's VolumeSnapshotContent outcomes.
let env: Env;
afterEach(async () => {
  await env?.stop();
});

async function startReady(options: Parameters<typeof Env.start>[0] = {}, extra: string[] = []): Promise<Env> {
  env = await Env.start(options);
  await env.createClass('gold', { parameters: { tier: 'fast' } });
  env.startSidecar(['--extra-create-metadata', ...extra]);
  await env.sidecar?.waitForOutput(/VolumeSnapshotContent caches synced/);
  return env;
}

const calls = async (method: string): Promise<number> => (await env.driver.calls()).filter((c) => c.method === method).length;

describe('dynamic snapshots', () => {
  test('F-02: an instantly ready snapshot takes 3 API requests and 1 RPC, and the status is complete', async () => {
    await startReady();
    const volume = await env.createVolume('vol-1', 'x'.repeat(1234));
    await env.driver.clearCalls();
    env.api.requests.reset();
    const uid = uidFor('snapcontent-1');
    const created = await env.createContent({ name: 'snapcontent-1', volumeHandle: volume, className: 'gold', uid });
    // Ready is written before the being-created mark is removed (two writes): wait for both.
    const ready = await env.waitForContent('snapcontent-1', 'ready and unmarked', (c) => c.status?.readyToUse === true && c.metadata.annotations?.[ANN_BEING_CREATED] === undefined);

    expect(ready.status).toEqual({ readyToUse: true, restoreSize: 1234, snapshotHandle: expect.stringMatching(/\S/), creationTime: expect.any(BigInt) });
    expect(BigInt(ready.status?.creationTime ?? 0)).toBeGreaterThan(1_700_000_000_000_000_000n);
    expect(ready.metadata.annotations?.[ANN_BEING_CREATED]).toBeUndefined();
    expect(ready.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);

    const driverCalls = await env.driver.calls();
    expect(driverCalls.map((c) => [c.method, c.request])).toEqual([
      [
        'CreateSnapshot',
        {
          name: `snapshot-${uid}`,
          source_volume_id: volume,
          parameters: {
            tier: 'fast',
            'csi.storage.k8s.io/volumesnapshot/name': 'vs-snapcontent-1',
            'csi.storage.k8s.io/volumesnapshot/namespace': 'default',
            'csi.storage.k8s.io/volumesnapshotcontent/name': 'snapcontent-1',
          },
          secrets: {},
        },
      ],
    ]);
    // Add the being-created mark, write status, remove the mark: nothing else (the Go sidecar: 4 requests, 2 RPCs).
    await waitFor('the annotation removal to be counted', () => env.sidecarRequests('snapcontent-1').patches === 2);
    expect(env.sidecarRequests('snapcontent-1')).toEqual({ patches: 2, statusPatches: 1, gets: 0 });
  });

  test('F-07/F-09: a snapshot that is not ready is polled with ListSnapshots, without API writes, until it is', async () => {
    await startReady({ faults: { readyDelayMs: 3000 } });
    const volume = await env.createVolume('vol-2');
    await env.driver.clearCalls();
    env.api.requests.reset();
    // The stored versions in order, so the not-ready state is seen even if the test looks late.
    const history = env.history('snapcontent-2');
    await env.createContent({ name: 'snapcontent-2', volumeHandle: volume, className: 'gold' });
    const ready = await env.waitForContent('snapcontent-2', 'readyToUse', (c) => c.status?.readyToUse === true);
    await history.stop();

    // Mark, not-ready status, mark removed; then nothing until the poll that finds it ready writes readiness.
    const handle = ready.status?.snapshotHandle;
    expect(handle).toMatch(/\S/);
    expect(history.versions.map((v) => [v.metadata.annotations?.[ANN_BEING_CREATED] ?? '-', v.status?.readyToUse, v.status?.snapshotHandle])).toEqual([
      ['-', undefined, undefined],
      ['yes', undefined, undefined],
      ['yes', false, handle],
      ['-', false, handle],
      ['-', true, handle],
    ]);
    // The polls: at least the one that found the snapshot ready, all by ListSnapshots, and no write beyond these four.
    expect(await calls('ListSnapshots')).toBeGreaterThanOrEqual(1);
    expect(await calls('CreateSnapshot')).toBe(1);
    expect(env.sidecarRequests('snapcontent-2')).toEqual({ patches: 2, statusPatches: 2, gets: 0 });
  });

  test('secrets from the deletion-secret annotations reach CreateSnapshot and DeleteSnapshot', async () => {
    await startReady();
    await env.rest.request({
      method: 'POST',
      path: '/api/v1/namespaces/default/secrets',
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'snap-secret' }, data: { user: Buffer.from('admin').toString('base64') } },
    });
    const volume = await env.createVolume('vol-3');
    await env.createContent({
      name: 'snapcontent-3',
      volumeHandle: volume,
      className: 'gold',
      annotations: { [ANN_DELETION_SECRET_NAME]: 'snap-secret', [ANN_DELETION_SECRET_NAMESPACE]: 'default' },
    });
    const ready = await env.waitForContent('snapcontent-3', 'readyToUse', (c) => c.status?.readyToUse === true);
    await env.deleteAsController('snapcontent-3');
    await env.waitForGone('snapcontent-3');
    const journal = await env.driver.calls();
    const secrets = { user: sha256Hex('admin') };
    expect(journal.filter((c) => c.method === 'CreateSnapshot').map((c) => c.request)).toEqual([
      {
        name: `snapshot-${uidFor('snapcontent-3')}`,
        source_volume_id: volume,
        parameters: {
          tier: 'fast',
          'csi.storage.k8s.io/volumesnapshot/name': 'vs-snapcontent-3',
          'csi.storage.k8s.io/volumesnapshot/namespace': 'default',
          'csi.storage.k8s.io/volumesnapshotcontent/name': 'snapcontent-3',
        },
        secrets,
      },
    ]);
    expect(journal.filter((c) => c.method === 'DeleteSnapshot').map((c) => c.request)).toEqual([{ snapshot_id: ready.status?.snapshotHandle, secrets }]);
  });

  test('Z-21: a final driver error is recorded in status and an Event, the mark is removed, and the retry succeeds', async () => {
    await startReady({ faults: { errors: { CreateSnapshot: { code: 'INVALID_ARGUMENT', message: 'bad tier', times: 1 } } } });
    const volume = await env.createVolume('vol-4');
    await env.createContent({ name: 'snapcontent-4', volumeHandle: volume, className: 'gold' });
    const failed = await env.waitForContent('snapcontent-4', 'an error', (c) => c.status?.error !== undefined);
    expect(failed.status?.readyToUse).toBe(false);
    expect(failed.status?.error?.message).toBe(
      `Failed to create snapshot: failed to take snapshot of the volume ${volume}: "rpc error: code = InvalidArgument desc = bad tier"` +
        ' (final for this attempt: the driver refused it; retrying with backoff, at most every 2s, in case the cause is fixed)',
    );
    const events = await waitFor('the Warning event', async () => {
      const list = await env.rest.request<{ items: Array<{ reason: string; type: string; message: string; involvedObject: { name: string }; source?: { component?: string } }> }>({
        method: 'GET',
        path: '/api/v1/namespaces/default/events',
      });
      const mine = list.items.filter((e) => e.involvedObject.name === 'snapcontent-4');
      return mine.length > 0 ? mine : undefined;
    });
    // The stored Event also carries what the API server adds (uid, times, count): only the sidecar's fields are compared.
    expect(events[0]).toMatchObject({ type: 'Warning', reason: 'SnapshotCreationFailed', message: failed.status?.error?.message, source: { component: 'csi-snapshotter sample.csi.example.com' } });
    const ready = await env.waitForContent('snapcontent-4', 'ready and unmarked', (c) => c.status?.readyToUse === true && c.metadata.annotations?.[ANN_BEING_CREATED] === undefined);
    expect(ready.status?.error).toBeUndefined();
  });

  test('a sidecar killed during CreateSnapshot leaves exactly one storage snapshot after its restart', async () => {
    // The driver holds the call far longer than the test runs, so the sidecar is surely killed while waiting for it.
    await startReady({ faults: { latencyMs: { CreateSnapshot: 600_000 } } });
    const volume = await env.createVolume('vol-5');
    await env.createContent({ name: 'snapcontent-5', volumeHandle: volume, className: 'gold' });
    // The being-created mark is on the object before the driver is asked.
    await env.waitForContent('snapcontent-5', 'being-created', (c) => c.metadata.annotations?.[ANN_BEING_CREATED] === 'yes');
    const held = await waitFor('CreateSnapshot to reach the driver', async () => (await env.driver.calls()).find((c) => c.method === 'CreateSnapshot'));
    await env.sidecar?.stop();
    expect((await env.driver.calls()).filter((c) => c.method === 'CreateSnapshot').map((c) => c.code)).toEqual([undefined]);
    const killed = await env.getContent('snapcontent-5');
    expect(killed.status?.snapshotHandle).toBeUndefined();
    expect(killed.metadata.annotations?.[ANN_BEING_CREATED]).toBe('yes');

    // Storage finishes the cut the dead sidecar asked for (here by the same request, sent again).
    await env.driver.clearFaults();
    const cut = await env.csi.call('/csi.v1.Controller/CreateSnapshot', { name: held.request.name as string, source_volume_id: volume, parameters: held.request.parameters as Record<string, string> }, new Date(Date.now() + 10_000));
    const cutId = cut.snapshot?.snapshot_id;
    expect(cutId).toMatch(/\S/);

    env.startSidecar(['--extra-create-metadata']);
    // Ready, and the being-created mark removed (the last write of a create).
    const ready = await env.waitForContent('snapcontent-5', 'ready and unmarked', (c) => c.status?.readyToUse === true && c.metadata.annotations?.[ANN_BEING_CREATED] === undefined);
    // The restarted sidecar asked again under the same name, so it found the cut instead of making a second one.
    expect(ready.status?.snapshotHandle).toBe(cutId);
    expect(await env.driverSnapshots(volume)).toEqual([cutId]);
    const names = (await env.driver.calls()).filter((c) => c.method === 'CreateSnapshot').map((c) => c.request.name);
    expect(names.length).toBeGreaterThanOrEqual(3);
    expect(new Set(names)).toEqual(new Set([`snapshot-${uidFor('snapcontent-5')}`]));
  });
});

describe('deletion', () => {
  test('G-01/G-11: policy Delete deletes the storage snapshot, then releases the content', async () => {
    await startReady();
    const volume = await env.createVolume('vol-6');
    await env.createContent({ name: 'snapcontent-6', volumeHandle: volume, className: 'gold', policy: 'Delete' });
    await env.waitForContent('snapcontent-6', 'readyToUse', (c) => c.status?.readyToUse === true);
    expect(await env.driverSnapshots(volume)).toHaveLength(1);
    await env.deleteAsController('snapcontent-6');
    await env.waitForGone('snapcontent-6');
    expect(await env.driverSnapshots(volume)).toEqual([]);
  });

  test('G-02/G-10: policy Retain keeps the storage snapshot and releases the content', async () => {
    await startReady();
    const volume = await env.createVolume('vol-7');
    await env.createContent({ name: 'snapcontent-7', volumeHandle: volume, className: 'gold', policy: 'Retain' });
    const ready = await env.waitForContent('snapcontent-7', 'readyToUse', (c) => c.status?.readyToUse === true);
    await env.deleteAsController('snapcontent-7');
    await env.waitForGone('snapcontent-7');
    expect(await env.driverSnapshots(volume)).toEqual([ready.status?.snapshotHandle]);
    expect((await env.driver.calls()).some((c) => c.method === 'DeleteSnapshot')).toBe(false);
  });

  test('G-03: a failing DeleteSnapshot keeps the finalizer and emits SnapshotDeleteError until it succeeds', async () => {
    await startReady();
    const volume = await env.createVolume('vol-8');
    await env.createContent({ name: 'snapcontent-8', volumeHandle: volume, className: 'gold' });
    await env.waitForContent('snapcontent-8', 'readyToUse', (c) => c.status?.readyToUse === true);
    await env.driver.setFaults({ errors: { DeleteSnapshot: { code: 'FAILED_PRECONDITION', message: 'in use', times: 2 } } });
    await env.deleteAsController('snapcontent-8');
    await waitFor('the SnapshotDeleteError event', async () => {
      const list = await env.rest.request<{ items: Array<{ reason: string; involvedObject: { name: string }; message: string }> }>({ method: 'GET', path: '/api/v1/namespaces/default/events' });
      return list.items.some((e) => e.involvedObject.name === 'snapcontent-8' && e.reason === 'SnapshotDeleteError' && e.message === 'Failed to delete snapshot');
    });
    await env.waitForGone('snapcontent-8');
    expect(await env.driverSnapshots(volume)).toEqual([]);
  });

  test('Z-34: a deletionTimestamp without the controller\'s being-deleted annotation does not delete', async () => {
    await startReady();
    const volume = await env.createVolume('vol-9');
    await env.createContent({ name: 'snapcontent-9', volumeHandle: volume, className: 'gold' });
    await env.waitForContent('snapcontent-9', 'readyToUse', (c) => c.status?.readyToUse === true);
    await env.rest.request({ method: 'DELETE', path: `${VSC_PATH}/snapcontent-9` });
    // The sidecar sees the change (resync-free: the deletionTimestamp is a spec-level change) and does nothing.
    await waitFor('the sidecar to look at the deleted content', () => /Syncing VolumeSnapshotContent.*snapcontent-9.*step="nothing"/.test(env.sidecar?.output ?? ''));
    const still = await env.getContent('snapcontent-9');
    expect(still.metadata.finalizers).toContain('snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection');
    expect(await env.driverSnapshots(volume)).toHaveLength(1);
  });
});

describe('pre-provisioned snapshots', () => {
  test('S1: status comes from ListSnapshots, and a creationTime written by another client stays bit-exact', async () => {
    env = await Env.start();
    const volume = await env.createVolume('vol-10', 'y'.repeat(77));
    const snap = await env.csi.call('/csi.v1.Controller/CreateSnapshot', { name: 'pre-1', source_volume_id: volume }, new Date(Date.now() + 10_000));
    const handle = snap.snapshot?.snapshot_id as string;
    await env.createContent({ name: 'pre-content', snapshotHandle: handle, policy: 'Retain' });
    await env.rest.request({
      method: 'PATCH',
      path: `${VSC_PATH}/pre-content/status`,
      contentType: 'application/json-patch+json',
      body: [{ op: 'add', path: '/status', value: { creationTime: 1763773512123456789n, readyToUse: false } }],
    });
    env.startSidecar();
    const ready = await env.waitForContent('pre-content', 'readyToUse', (c) => c.status?.readyToUse === true);
    expect(ready.status).toEqual({ creationTime: 1763773512123456789n, readyToUse: true, snapshotHandle: handle, restoreSize: 77 });
    expect((await env.driver.calls()).map((c) => c.method)).toContain('ListSnapshots');
  });
});
