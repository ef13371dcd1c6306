import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CsiConnection } from '../../src/csi/connection.js';
import { deadlineIn } from '../../src/csi/driver-info.js';
import { classifyCreateError, isGrpcError } from '../../src/csi/errors.js';
import { createGroupSnapshot, deleteGroupSnapshot, getGroupSnapshot } from '../../src/csi/group-snapshotter.js';
import { createSnapshot, deleteSnapshot, getSnapshotStatus } from '../../src/csi/snapshotter.js';
import { csiGrpc } from '../../src/csi/proto.js';
import { createLogger, silentLogger } from '../../src/observe/logger.js';
import { sha256Hex, startSampleDriver, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';

// The CSI client calls of the sidecar, against the sample driver over its real socket, with every
// call logged at the highest verbosity into `logText` (checked for secrets at the end).
let driver: SampleDriverProcess;
let conn: CsiConnection;
let logText = '';
const SECRET = 'pa55-w0rd-never-logged';
const deadline = (): Date => deadlineIn(10_000);

async function newVolume(name: string, bytes = 1000): Promise<string> {
  const reply = await conn.call(
    '/csi.v1.Controller/CreateVolume',
    // The capacity is the snapshot's size_bytes (the sample driver reports it, as hostpathplugin does).
    { name, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }], capacity_range: { required_bytes: bytes } },
    deadline(),
  );
  const id = reply.volume?.volume_id as string;
  await driver.writeFile(id, 'data.bin', Buffer.alloc(bytes, 7));
  return id;
}

async function rpcError(promise: Promise<unknown>): Promise<{ code: number }> {
  try {
    await promise;
  } catch (err) {
    if (isGrpcError(err)) return err;
    throw err;
  }
  throw new Error('the call succeeded but an error was expected');
}

beforeAll(async () => {
  driver = await startSampleDriver();
  const stream = new PassThrough();
  stream.setEncoding('utf8').on('data', (d: string) => (logText += d));
  conn = await CsiConnection.connect({ address: driver.endpoint, log: createLogger({ verbosity: 10, stream }) });
});

afterAll(async () => {
  conn?.close();
  await driver?.dispose();
});

beforeEach(async () => {
  await driver.clearFaults();
  await driver.clearCalls();
});

describe('B.1 CreateSnapshot', () => {
  test('one CreateSnapshot with exactly name and source, and no GetPluginInfo; the reply maps to plain values', async () => {
    const volume = await newVolume('b01');
    await driver.clearCalls();
    const { snapshot } = await createSnapshot(conn, { name: 'snapshot-test', sourceVolumeId: volume, parameters: {}, secrets: {} }, deadline());
    const calls = await driver.calls();
    expect(calls.map((c) => c.method)).toEqual(['CreateSnapshot']);
    expect(calls[0]?.request).toMatchObject({ name: 'snapshot-test', source_volume_id: volume, parameters: {}, secrets: {} });
    expect(snapshot).toMatchObject({ sourceVolumeId: volume, sizeBytes: 1000n, readyToUse: true, groupSnapshotId: '' });
    // The creation time is the driver's, to the nanosecond.
    const listed = await conn.call('/csi.v1.Controller/ListSnapshots', { snapshot_id: snapshot.snapshotId }, deadline());
    const ts = listed.entries[0]?.snapshot?.creation_time;
    expect(snapshot.creationTime).toBe(BigInt(ts?.seconds ?? '0') * 1_000_000_000n + BigInt(ts?.nanos ?? 0));
    expect(snapshot.creationTime).toBeGreaterThan(1_700_000_000_000_000_000n);
  });

  test('B-02/B-03: parameters and secrets reach the driver unchanged', async () => {
    const volume = await newVolume('b02');
    await driver.clearCalls();
    await createSnapshot(conn, { name: 'snapshot-b02', sourceVolumeId: volume, parameters: { param1: 'value1', param2: 'value2' }, secrets: { foo: SECRET } }, deadline());
    const create = (await driver.calls()).find((c) => c.method === 'CreateSnapshot');
    expect(create?.request).toMatchObject({ parameters: { param1: 'value1', param2: 'value2' }, secrets: { foo: sha256Hex(SECRET) } });
  });

  test('B-04: DEADLINE_EXCEEDED comes back with its code and leaves the outcome open', async () => {
    const volume = await newVolume('b04');
    await driver.setFaults({ errors: { CreateSnapshot: { code: 'DEADLINE_EXCEEDED', times: 1 } } });
    await driver.clearCalls();
    const err = await rpcError(createSnapshot(conn, { name: 'snapshot-b04', sourceVolumeId: volume, parameters: {}, secrets: {} }, deadline()));
    expect(err.code).toBe(Status.DEADLINE_EXCEEDED);
    expect(classifyCreateError(err)).toBe('in-progress');
    expect((await driver.calls()).map((c) => c.method)).toEqual(['CreateSnapshot']);
  });

  test('B-05: NOT_FOUND for an unknown source volume is final', async () => {
    const err = await rpcError(createSnapshot(conn, { name: 'snapshot-b05', sourceVolumeId: 'no-such-volume', parameters: {}, secrets: {} }, deadline()));
    expect(err.code).toBe(Status.NOT_FOUND);
    expect(classifyCreateError(err)).toBe('final');
  });

  test('a call that outlives the --timeout deadline fails with DEADLINE_EXCEEDED', async () => {
    const volume = await newVolume('slow');
    await driver.setFaults({ latencyMs: { CreateSnapshot: 3000 } });
    const err = await rpcError(createSnapshot(conn, { name: 'snapshot-slow', sourceVolumeId: volume, parameters: {}, secrets: {} }, deadlineIn(500)));
    expect(err.code).toBe(Status.DEADLINE_EXCEEDED);
  });
});

describe('B.2 DeleteSnapshot', () => {
  test('B-06/B-07: deletes by id, with secrets when given; an unknown id succeeds', async () => {
    const volume = await newVolume('b06');
    const { snapshot } = await createSnapshot(conn, { name: 'snapshot-b06', sourceVolumeId: volume, parameters: {}, secrets: {} }, deadline());
    await driver.clearCalls();
    await deleteSnapshot(conn, { snapshotId: snapshot.snapshotId, secrets: { foo: SECRET } }, deadline());
    await deleteSnapshot(conn, { snapshotId: 'never-existed', secrets: {} }, deadline());
    const calls = await driver.calls();
    expect(calls.map((c) => [c.method, c.codeName])).toEqual([['DeleteSnapshot', 'OK'], ['DeleteSnapshot', 'OK']]);
    expect(calls[0]?.request).toMatchObject({ snapshot_id: snapshot.snapshotId, secrets: { foo: sha256Hex(SECRET) } });
    const listed = await conn.call('/csi.v1.Controller/ListSnapshots', { snapshot_id: snapshot.snapshotId }, deadline());
    expect(listed.entries).toHaveLength(0);
  });

  test.each([
    ['B-08', 'DEADLINE_EXCEEDED', Status.DEADLINE_EXCEEDED],
    ['B-09', 'NOT_FOUND', Status.NOT_FOUND],
  ])('%s: a %s from DeleteSnapshot is an error, never success', async (_id, code, expected) => {
    await driver.setFaults({ errors: { DeleteSnapshot: { code } } });
    const err = await rpcError(deleteSnapshot(conn, { snapshotId: 'testid', secrets: {} }, deadline()));
    expect(err.code).toBe(expected);
  });
});

describe('B.3 snapshot status', () => {
  test('B-10/B-11: capabilities first, then ListSnapshots by id with secrets', async () => {
    const volume = await newVolume('b10', 2048);
    const { snapshot } = await createSnapshot(conn, { name: 'snapshot-b10', sourceVolumeId: volume, parameters: {}, secrets: {} }, deadline());
    await driver.clearCalls();
    const status = await getSnapshotStatus(conn, { snapshotId: snapshot.snapshotId, secrets: { foo: SECRET } }, deadline());
    const calls = await driver.calls();
    expect(calls.map((c) => c.method)).toEqual(['ControllerGetCapabilities', 'ListSnapshots']);
    expect(calls[1]?.request).toMatchObject({ snapshot_id: snapshot.snapshotId, secrets: { foo: sha256Hex(SECRET) }, max_entries: 0, starting_token: '' });
    expect(status).toEqual({ readyToUse: true, creationTime: snapshot.creationTime, sizeBytes: 2048n, groupSnapshotId: '' });
  });

  test.each([true, false])('listSnapshotsSupported=%s given by the caller: the capabilities are not asked again', async (supported) => {
    const volume = await newVolume(`given-${supported}`, 3000);
    const { snapshot } = await createSnapshot(conn, { name: `snapshot-given-${supported}`, sourceVolumeId: volume, parameters: {}, secrets: {} }, deadline());
    await driver.clearCalls();
    const status = await getSnapshotStatus(conn, { snapshotId: snapshot.snapshotId, secrets: {}, listSnapshotsSupported: supported }, deadline());
    expect((await driver.calls()).map((c) => c.method)).toEqual(supported ? ['ListSnapshots'] : []);
    if (supported) expect(status).toEqual({ readyToUse: true, creationTime: snapshot.creationTime, sizeBytes: 3000n, groupSnapshotId: '' });
    else expect(status).toMatchObject({ readyToUse: true, sizeBytes: 0n, groupSnapshotId: '' });
  });

  test('B-12: without LIST_SNAPSHOTS the snapshot counts as ready and ListSnapshots is not called', async () => {
    await driver.setFaults({ withhold: { controller: ['LIST_SNAPSHOTS'] } });
    await driver.clearCalls();
    const status = await getSnapshotStatus(conn, { snapshotId: 'anything', secrets: {} }, deadline());
    expect((await driver.calls()).map((c) => c.method)).toEqual(['ControllerGetCapabilities']);
    expect(status).toMatchObject({ readyToUse: true, sizeBytes: 0n, groupSnapshotId: '' });
  });

  test.each([
    ['B-13', 'DEADLINE_EXCEEDED', Status.DEADLINE_EXCEEDED],
    ['B-14', 'NOT_FOUND', Status.NOT_FOUND],
  ])('%s: a %s from ListSnapshots is an error', async (_id, code, expected) => {
    await driver.setFaults({ errors: { ListSnapshots: { code } } });
    const err = await rpcError(getSnapshotStatus(conn, { snapshotId: 'testid', secrets: {} }, deadline()));
    expect(err.code).toBe(expected);
  });

  test('Z-29: zero entries is "can not find snapshot"', async () => {
    await expect(getSnapshotStatus(conn, { snapshotId: 'missing-id', secrets: {} }, deadline())).rejects.toThrow('can not find snapshot for snapshotID missing-id');
  });
});

describe('C. group snapshot client', () => {
  test('CreateVolumeGroupSnapshot alone, without GetPluginInfo; members carry the group id', async () => {
    const [a, b] = [await newVolume('c02a'), await newVolume('c02b', 500)];
    await driver.clearCalls();
    const { group } = await createGroupSnapshot(conn, { name: 'my-name', sourceVolumeIds: [a, b], parameters: { key: 'val' }, secrets: {} }, deadline());
    const calls = await driver.calls();
    expect(calls.map((c) => c.method)).toEqual(['CreateVolumeGroupSnapshot']);
    expect(calls[0]?.request).toMatchObject({ name: 'my-name', source_volume_ids: [a, b], parameters: { key: 'val' } });
    expect(group.readyToUse).toBe(true);
    expect(group.snapshots.map((s) => [s.sourceVolumeId, s.sizeBytes, s.groupSnapshotId])).toEqual([
      [a, 1000n, group.groupSnapshotId],
      [b, 500n, group.groupSnapshotId],
    ]);
    expect(group.creationTime).toBeGreaterThan(1_700_000_000_000_000_000n);
  });

  test('C-04: an INTERNAL error keeps its code', async () => {
    await driver.setFaults({ errors: { CreateVolumeGroupSnapshot: { code: 'INTERNAL' } } });
    const err = await rpcError(createGroupSnapshot(conn, { name: 'c04', sourceVolumeIds: ['x'], parameters: {}, secrets: {} }, deadline()));
    expect(err.code).toBe(Status.INTERNAL);
  });

  test('C-05/C-09: a group that is still being processed reports ready=false on create and get', async () => {
    const [a, b] = [await newVolume('c05a'), await newVolume('c05b')];
    await driver.setFaults({ readyDelayMs: 600_000 });
    const { group } = await createGroupSnapshot(conn, { name: 'c05', sourceVolumeIds: [a, b], parameters: {}, secrets: {} }, deadline());
    expect(group.readyToUse).toBe(false);
    const again = await getGroupSnapshot(conn, { groupSnapshotId: group.groupSnapshotId, snapshotIds: group.snapshots.map((s) => s.snapshotId), secrets: {} }, deadline());
    expect(again).toMatchObject({ readyToUse: false, creationTime: group.creationTime });
  });

  test('C-06/C-08: get then delete with member ids and secrets; the members are gone afterwards', async () => {
    const [a, b] = [await newVolume('c06a'), await newVolume('c06b')];
    const { group } = await createGroupSnapshot(conn, { name: 'c06', sourceVolumeIds: [a, b], parameters: {}, secrets: {} }, deadline());
    const ids = group.snapshots.map((s) => s.snapshotId);
    const got = await getGroupSnapshot(conn, { groupSnapshotId: group.groupSnapshotId, snapshotIds: ids, secrets: { secret: SECRET } }, deadline());
    expect(got).toMatchObject({ groupSnapshotId: group.groupSnapshotId, readyToUse: true, creationTime: group.creationTime });
    await driver.clearCalls();
    await deleteGroupSnapshot(conn, { groupSnapshotId: group.groupSnapshotId, snapshotIds: ids, secrets: { secret: SECRET } }, deadline());
    const [call] = await driver.calls();
    expect(call?.request).toMatchObject({ group_snapshot_id: group.groupSnapshotId, snapshot_ids: ids, secrets: { secret: sha256Hex(SECRET) } });
    const listed = await conn.call('/csi.v1.Controller/ListSnapshots', { snapshot_id: ids[0] }, deadline());
    expect(listed.entries).toHaveLength(0);
  });

  test('C-07: a NOT_FOUND from DeleteVolumeGroupSnapshot is reported, not swallowed', async () => {
    await driver.setFaults({ errors: { DeleteVolumeGroupSnapshot: { code: 'NOT_FOUND' } } });
    const err = await rpcError(deleteGroupSnapshot(conn, { groupSnapshotId: 'group-id', snapshotIds: ['snap-1', 'snap-2'], secrets: {} }, deadline()));
    expect(err.code).toBe(Status.NOT_FOUND);
  });

  test('C-10: getting an unknown group is NOT_FOUND', async () => {
    const err = await rpcError(getGroupSnapshot(conn, { groupSnapshotId: 'no-such-group', snapshotIds: ['snap-1'], secrets: {} }, deadline()));
    expect(err.code).toBe(Status.NOT_FOUND);
  });
});

describe('answers the driver must not give (a scripted driver over a real socket)', () => {
  // Each reply is what the scripted driver answers, whatever was asked.
  let dir: string;
  let server: grpc.Server;
  let scripted: CsiConnection;
  const replies: Record<string, object> = {};
  const answer = (method: string) => (_call: unknown, callback: grpc.sendUnaryData<object>) => callback(null, replies[method] ?? {});

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'garbage-'));
    server = new grpc.Server();
    const v1 = csiGrpc().csi.v1;
    server.addService(v1.Controller.service, { CreateSnapshot: answer('CreateSnapshot'), ControllerGetCapabilities: answer('ControllerGetCapabilities'), ListSnapshots: answer('ListSnapshots') });
    server.addService(v1.GroupController.service, { CreateVolumeGroupSnapshot: answer('CreateVolumeGroupSnapshot'), GetVolumeGroupSnapshot: answer('GetVolumeGroupSnapshot') });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${join(dir, 'csi.sock')}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    scripted = await CsiConnection.connect({ address: join(dir, 'csi.sock'), log: silentLogger });
  });

  afterAll(async () => {
    scripted?.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const member = (id: string, volume: string) => ({ snapshot_id: id, source_volume_id: volume, size_bytes: '10', ready_to_use: true, group_snapshot_id: 'g1' });
  const input = { name: 'snap-x', sourceVolumeId: 'vol-1', parameters: {}, secrets: {} };
  const groupInput = { name: 'group-x', sourceVolumeIds: ['vol-1', 'vol-2'], parameters: {}, secrets: {} };

  test('CreateSnapshot without a snapshot, or with one without an id, is refused and says which', async () => {
    replies.CreateSnapshot = {};
    await expect(createSnapshot(scripted, input, deadline())).rejects.toThrow(new Error('the CSI driver answered CreateSnapshot for snap-x without a snapshot'));
    replies.CreateSnapshot = { snapshot: { snapshot_id: '', source_volume_id: 'vol-1', ready_to_use: true } };
    await expect(createSnapshot(scripted, input, deadline())).rejects.toThrow(
      new Error('the CSI driver answered CreateSnapshot for snap-x without a snapshot id; the driver is at fault, report it to its vendor'),
    );
    replies.CreateSnapshot = { snapshot: { snapshot_id: 's1', source_volume_id: 'vol-1', ready_to_use: true } };
    expect(await createSnapshot(scripted, input, deadline())).toEqual({
      snapshot: { snapshotId: 's1', sourceVolumeId: 'vol-1', creationTime: undefined, sizeBytes: 0n, readyToUse: true, groupSnapshotId: '' },
    });
  });

  test('capability entries without an RPC type are skipped, not a crash: without LIST_SNAPSHOTS among them the snapshot counts as ready', async () => {
    replies.ControllerGetCapabilities = { capabilities: [{}, { rpc: { type: 'CREATE_DELETE_SNAPSHOT' } }] };
    expect(await getSnapshotStatus(scripted, { snapshotId: 's1', secrets: {} }, deadline())).toMatchObject({ readyToUse: true, sizeBytes: 0n, groupSnapshotId: '' });
    replies.ControllerGetCapabilities = { capabilities: [{}, { rpc: { type: 'LIST_SNAPSHOTS' } }] };
    replies.ListSnapshots = { entries: [{ snapshot: { snapshot_id: 's1', source_volume_id: 'vol-1', size_bytes: '77', ready_to_use: false } }] };
    expect(await getSnapshotStatus(scripted, { snapshotId: 's1', secrets: {} }, deadline())).toEqual({ readyToUse: false, creationTime: undefined, sizeBytes: 77n, groupSnapshotId: '' });
  });

  const groupRefusal = 'the CSI driver answered CreateVolumeGroupSnapshot for group-x without a group snapshot id or a member snapshot id; the driver is at fault, report it to its vendor';

  test.each([
    ['no group snapshot at all', {}, 'the CSI driver answered CreateVolumeGroupSnapshot for group-x without a group snapshot'],
    ['no group id', { group_snapshot: { group_snapshot_id: '', snapshots: [member('s1', 'vol-1'), member('s2', 'vol-2')], ready_to_use: true } }, groupRefusal],
    ['a member without an id', { group_snapshot: { group_snapshot_id: 'g1', snapshots: [member('s1', 'vol-1'), member('', 'vol-2')], ready_to_use: true } }, groupRefusal],
    ['no id anywhere', { group_snapshot: { group_snapshot_id: '', snapshots: [member('', 'vol-1')], ready_to_use: true } }, groupRefusal],
  ])('CreateVolumeGroupSnapshot with %s is refused', async (_label, reply, message) => {
    replies.CreateVolumeGroupSnapshot = reply;
    await expect(createGroupSnapshot(scripted, groupInput, deadline())).rejects.toThrow(new Error(message));
  });

  test('CreateVolumeGroupSnapshot with every id is taken as answered', async () => {
    replies.CreateVolumeGroupSnapshot = { group_snapshot: { group_snapshot_id: 'g1', snapshots: [member('s1', 'vol-1'), member('s2', 'vol-2')], ready_to_use: true } };
    const { group } = await createGroupSnapshot(scripted, groupInput, deadline());
    expect(group).toEqual({
      groupSnapshotId: 'g1',
      creationTime: undefined,
      readyToUse: true,
      snapshots: [
        { snapshotId: 's1', sourceVolumeId: 'vol-1', creationTime: undefined, sizeBytes: 10n, readyToUse: true, groupSnapshotId: 'g1' },
        { snapshotId: 's2', sourceVolumeId: 'vol-2', creationTime: undefined, sizeBytes: 10n, readyToUse: true, groupSnapshotId: 'g1' },
      ],
    });
  });

  test('GetVolumeGroupSnapshot without a group snapshot is refused', async () => {
    replies.GetVolumeGroupSnapshot = {};
    await expect(getGroupSnapshot(scripted, { groupSnapshotId: 'g1', snapshotIds: ['s1'], secrets: {} }, deadline())).rejects.toThrow(
      new Error('the CSI driver answered GetVolumeGroupSnapshot for g1 without a group snapshot'),
    );
  });
});

describe('logging hygiene', () => {
  test('every call above was logged at verbosity 10, and no secret value ever reached the log', () => {
    expect(logText).toMatch(/GRPC call method="\/csi\.v1\.Controller\/CreateSnapshot"/);
    expect(logText).toMatch(/GRPC call method="\/csi\.v1\.GroupController\/DeleteVolumeGroupSnapshot"/);
    expect(logText).toContain('\\"secrets\\":\\"***stripped***\\"');
    expect(logText).not.toContain(SECRET);
  });
});
