import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { status as Status } from '@grpc/grpc-js';
import { CsiConnection } from '../../src/csi/connection.js';
import { isGrpcError } from '../../src/csi/errors.js';
import { silentLogger } from '../../src/observe/logger.js';
import { startSampleDriver, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { csiGrpc } from '../../src/csi/proto.js';
import * as grpc from '@grpc/grpc-js';

// What csi-sanity asks of every driver around its snapshot tests: the node clean-up calls, and
// unknown groups answered before the member list is checked.
let driver: SampleDriverProcess;
let conn: CsiConnection;
let node: grpc.Client;
beforeAll(async () => {
  driver = await startSampleDriver();
  conn = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger });
  node = new (csiGrpc().csi.v1.Node)(driver.endpoint, grpc.credentials.createInsecure());
});
afterAll(async () => {
  node?.close();
  conn?.close();
  await driver?.dispose();
});

const deadline = (): Date => new Date(Date.now() + 10_000);
const nodeCall = (method: 'NodeGetCapabilities' | 'NodeUnpublishVolume', request: object): Promise<unknown> =>
  new Promise((resolve, reject) => (node as unknown as Record<string, (r: object, cb: (e: unknown, v: unknown) => void) => void>)[method]!(request, (e, v) => (e ? reject(e) : resolve(v))));
async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return Status.OK;
  } catch (err) {
    if (isGrpcError(err)) return err.code;
    throw err;
  }
}

test('NodeGetCapabilities answers an empty list; NodeUnpublishVolume is OK for a known volume and NOT_FOUND for an unknown one', async () => {
  expect(await nodeCall('NodeGetCapabilities', {})).toEqual({ capabilities: [] });
  const volume = await conn.call('/csi.v1.Controller/CreateVolume', { name: 'n1', volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, deadline());
  expect(await code(nodeCall('NodeUnpublishVolume', { volume_id: volume.volume?.volume_id, target_path: '/tmp/x' }))).toBe(Status.OK);
  expect(await code(nodeCall('NodeUnpublishVolume', { volume_id: 'nope', target_path: '/tmp/x' }))).toBe(Status.NOT_FOUND);
  expect(await code(nodeCall('NodeUnpublishVolume', { volume_id: 'nope' }))).toBe(Status.INVALID_ARGUMENT);
});

test('an unknown group: Get is NOT_FOUND and Delete is OK even without snapshot_ids; a known one still needs them', async () => {
  expect(await code(conn.call('/csi.v1.GroupController/GetVolumeGroupSnapshot', { group_snapshot_id: 'no-such-group' }, deadline()))).toBe(Status.NOT_FOUND);
  expect(await code(conn.call('/csi.v1.GroupController/DeleteVolumeGroupSnapshot', { group_snapshot_id: 'no-such-group' }, deadline()))).toBe(Status.OK);
  const volume = await conn.call('/csi.v1.Controller/CreateVolume', { name: 'g1', volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, deadline());
  const group = await conn.call('/csi.v1.GroupController/CreateVolumeGroupSnapshot', { name: 'grp', source_volume_ids: [volume.volume?.volume_id as string] }, deadline());
  const id = group.group_snapshot?.group_snapshot_id as string;
  expect(await code(conn.call('/csi.v1.GroupController/GetVolumeGroupSnapshot', { group_snapshot_id: id }, deadline()))).toBe(Status.INVALID_ARGUMENT);
  expect(await code(conn.call('/csi.v1.GroupController/DeleteVolumeGroupSnapshot', { group_snapshot_id: id }, deadline()))).toBe(Status.INVALID_ARGUMENT);
});
