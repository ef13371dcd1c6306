import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSampleDriver, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { packageRoot } from '../../src/util/package-root.js';
import { CsiClient, expectCode, MOUNT_RW } from './csi-client.js';

// In the spirit of csi-sanity's Identity, Controller snapshot and GroupController sections, over the
// real socket of the real driver process.

let driver: SampleDriverProcess;
let csi: CsiClient;
let counter = 0;
const unique = (prefix: string): string => `${prefix}-${++counter}`;

async function newVolume(name = unique('vol')): Promise<string> {
  const reply = await csi.createVolume({ name, volume_capabilities: [MOUNT_RW] });
  return reply.volume?.volume_id as string;
}

beforeAll(async () => {
  driver = await startSampleDriver();
  csi = new CsiClient(driver.endpoint);
});

afterAll(async () => {
  csi?.close();
  await driver?.dispose();
});

describe('Identity', () => {
  test('GetPluginInfo reports the default name and the package version', async () => {
    const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
    const info = await csi.getPluginInfo();
    expect(info.name).toBe('sample.csi.example.com');
    expect(info.vendor_version).toBe(version);
    expect(info.vendor_version).not.toBe('');
  });

  test('GetPluginCapabilities advertises the controller and group controller services', async () => {
    const caps = await csi.getPluginCapabilities();
    expect(caps.capabilities.map((c) => c.service?.type)).toEqual(['CONTROLLER_SERVICE', 'GROUP_CONTROLLER_SERVICE']);
  });

  test('Probe leaves ready unset (= ready)', async () => {
    expect((await csi.probe()).ready).toBeNull();
  });
});

describe('Controller: volumes', () => {
  test('advertises volume, snapshot and list capabilities', async () => {
    const caps = await csi.controllerGetCapabilities();
    expect(caps.capabilities.map((c) => c.rpc?.type)).toEqual(['CREATE_DELETE_VOLUME', 'CREATE_DELETE_SNAPSHOT', 'LIST_SNAPSHOTS']);
  });

  test('CreateVolume needs a name and volume capabilities', async () => {
    await expectCode(csi.createVolume({ volume_capabilities: [MOUNT_RW] }), status.INVALID_ARGUMENT);
    await expectCode(csi.createVolume({ name: unique('v') }), status.INVALID_ARGUMENT);
    await expectCode(csi.createVolume({ name: unique('v'), volume_capabilities: [{ mount: {} }] }), status.INVALID_ARGUMENT);
    await expectCode(csi.createVolume({ name: 'bad\u0001name', volume_capabilities: [MOUNT_RW] }), status.INVALID_ARGUMENT);
  });

  test('CreateVolume is idempotent by name; other parameters under the same name are ALREADY_EXISTS', async () => {
    const name = unique('idem-vol');
    const first = await csi.createVolume({ name, volume_capabilities: [MOUNT_RW], parameters: { a: '1' } });
    const second = await csi.createVolume({ name, volume_capabilities: [MOUNT_RW], parameters: { a: '1' } });
    expect(second).toEqual(first);
    await expectCode(csi.createVolume({ name, volume_capabilities: [MOUNT_RW], parameters: { a: '2' } }), status.ALREADY_EXISTS);
  });

  test('CreateVolume from an unknown snapshot is NOT_FOUND; from a volume is INVALID_ARGUMENT', async () => {
    await expectCode(
      csi.createVolume({ name: unique('v'), volume_capabilities: [MOUNT_RW], volume_content_source: { snapshot: { snapshot_id: 'snap-nope' } } }),
      status.NOT_FOUND,
    );
    await expectCode(
      csi.createVolume({ name: unique('v'), volume_capabilities: [MOUNT_RW], volume_content_source: { volume: { volume_id: 'x' } } }),
      status.INVALID_ARGUMENT,
    );
  });

  test('ValidateVolumeCapabilities confirms for a known volume and is NOT_FOUND for an unknown one', async () => {
    const id = await newVolume();
    const reply = await csi.validateVolumeCapabilities({ volume_id: id, volume_capabilities: [MOUNT_RW] });
    expect(reply.confirmed?.volume_capabilities).toHaveLength(1);
    await expectCode(csi.validateVolumeCapabilities({ volume_id: 'vol-nope', volume_capabilities: [MOUNT_RW] }), status.NOT_FOUND);
    await expectCode(csi.validateVolumeCapabilities({ volume_id: id }), status.INVALID_ARGUMENT);
  });

  test('DeleteVolume needs an id, succeeds for an unknown one and removes the volume', async () => {
    await expectCode(csi.deleteVolume({}), status.INVALID_ARGUMENT);
    await csi.deleteVolume({ volume_id: 'vol-never-existed' });
    const id = await newVolume();
    await driver.writeFile(id, 'a.txt', 'x');
    await csi.deleteVolume({ volume_id: id });
    await expect(driver.readFile(id, 'a.txt')).rejects.toThrow(/HTTP 404/);
    await expectCode(csi.createSnapshot({ name: unique('s'), source_volume_id: id }), status.NOT_FOUND);
  });
});

describe('Controller: snapshots', () => {
  test('CreateSnapshot needs a name and a source volume; an unknown source is NOT_FOUND', async () => {
    const vol = await newVolume();
    await expectCode(csi.createSnapshot({ source_volume_id: vol }), status.INVALID_ARGUMENT);
    await expectCode(csi.createSnapshot({ name: unique('s') }), status.INVALID_ARGUMENT);
    await expectCode(csi.createSnapshot({ name: unique('s'), source_volume_id: 'vol-nope' }), status.NOT_FOUND);
  });

  test('a snapshot of a volume without a capacity is a restorable point-in-time copy whose size is the real byte count', async () => {
    const vol = await newVolume();
    await driver.writeFile(vol, 'data/one.txt', 'hello');
    await driver.writeFile(vol, 'two.bin', Buffer.alloc(1000, 7));
    const { snapshot } = await csi.createSnapshot({ name: unique('snap'), source_volume_id: vol, parameters: { p: 'v' } });
    expect(snapshot).toMatchObject({ source_volume_id: vol, size_bytes: '1005', ready_to_use: true, group_snapshot_id: '' });
    expect(snapshot?.snapshot_id).not.toBe('');
    expect(Number(snapshot?.creation_time?.seconds)).toBeGreaterThan(1_600_000_000);

    await driver.writeFile(vol, 'data/one.txt', 'changed after the snapshot');
    expect((await driver.readSnapshotFile(snapshot?.snapshot_id as string, 'data/one.txt')).toString()).toBe('hello');

    const restored = await csi.createVolume({
      name: unique('restored'),
      volume_capabilities: [MOUNT_RW],
      volume_content_source: { snapshot: { snapshot_id: snapshot?.snapshot_id } },
    });
    expect(restored.volume?.content_source?.snapshot?.snapshot_id).toBe(snapshot?.snapshot_id);
    expect(restored.volume?.capacity_bytes).toBe('1005');
    const restoredId = restored.volume?.volume_id as string;
    expect((await driver.readFile(restoredId, 'data/one.txt')).toString()).toBe('hello');
    expect((await driver.readFile(restoredId, 'two.bin')).equals(Buffer.alloc(1000, 7))).toBe(true);
  });

  test("a snapshot's size is its volume's capacity, as hostpathplugin reports it; a restore needs at least that much", async () => {
    const vol = (await csi.createVolume({ name: unique('sized'), volume_capabilities: [MOUNT_RW], capacity_range: { required_bytes: 4096 } })).volume?.volume_id as string;
    await driver.writeFile(vol, 'small.txt', 'tiny');
    const { snapshot } = await csi.createSnapshot({ name: unique('snap'), source_volume_id: vol });
    expect(snapshot?.size_bytes).toBe('4096');
    const group = await csi.createGroup({ name: unique('group'), source_volume_ids: [vol] });
    expect(group.group_snapshot?.snapshots.map((s) => s.size_bytes)).toEqual(['4096']);
    const restore = (bytes: number): ReturnType<CsiClient['createVolume']> =>
      csi.createVolume({
        name: unique('restored'),
        volume_capabilities: [MOUNT_RW],
        capacity_range: { required_bytes: bytes },
        volume_content_source: { snapshot: { snapshot_id: snapshot?.snapshot_id } },
      });
    await expectCode(restore(4095), status.OUT_OF_RANGE);
    expect((await restore(4096)).volume?.capacity_bytes).toBe('4096');
  });

  test('CreateSnapshot is idempotent by name; the same name on another volume is ALREADY_EXISTS', async () => {
    const vol = await newVolume();
    const other = await newVolume();
    const name = unique('idem-snap');
    const first = await csi.createSnapshot({ name, source_volume_id: vol });
    await driver.writeFile(vol, 'later.txt', 'written after the first create');
    const second = await csi.createSnapshot({ name, source_volume_id: vol });
    expect(second).toEqual(first);
    await expectCode(csi.createSnapshot({ name, source_volume_id: other }), status.ALREADY_EXISTS);
  });

  test('DeleteSnapshot needs an id, succeeds for an unknown one and removes the snapshot', async () => {
    await expectCode(csi.deleteSnapshot({}), status.INVALID_ARGUMENT);
    await csi.deleteSnapshot({ snapshot_id: 'snap-never-existed' });
    const vol = await newVolume();
    const { snapshot } = await csi.createSnapshot({ name: unique('del'), source_volume_id: vol });
    const id = snapshot?.snapshot_id as string;
    await csi.deleteSnapshot({ snapshot_id: id });
    expect((await csi.listSnapshots({ snapshot_id: id })).entries).toEqual([]);
    await csi.deleteSnapshot({ snapshot_id: id });
  });
});

describe('Controller: ListSnapshots', () => {
  let vol: string;
  let ids: string[];

  beforeAll(async () => {
    vol = await newVolume();
    ids = [];
    for (let i = 0; i < 7; i++) {
      await driver.writeFile(vol, 'n.txt', String(i));
      ids.push((await csi.createSnapshot({ name: unique('page'), source_volume_id: vol })).snapshot?.snapshot_id as string);
    }
  });

  test('negative max_entries is INVALID_ARGUMENT', async () => {
    await expectCode(csi.listSnapshots({ max_entries: -1 }), status.INVALID_ARGUMENT);
  });

  test('the snapshot_id filter returns exactly that snapshot, or nothing for an unknown id', async () => {
    const reply = await csi.listSnapshots({ snapshot_id: ids[3] });
    expect(reply.entries.map((e) => e.snapshot?.snapshot_id)).toEqual([ids[3]]);
    expect(reply.entries[0]?.snapshot).toMatchObject({ source_volume_id: vol, size_bytes: '1', ready_to_use: true });
    expect(reply.next_token).toBe('');
    expect((await csi.listSnapshots({ snapshot_id: 'snap-unknown' })).entries).toEqual([]);
  });

  test('the source_volume_id filter lists that volume only, in creation order', async () => {
    const reply = await csi.listSnapshots({ source_volume_id: vol });
    expect(reply.entries.map((e) => e.snapshot?.snapshot_id)).toEqual(ids);
    const all = await csi.listSnapshots({});
    expect(all.entries.length).toBeGreaterThan(ids.length);
  });

  test('pages across several pages with max_entries and next_token', async () => {
    const pages: string[][] = [];
    let token = '';
    do {
      const reply = await csi.listSnapshots({ source_volume_id: vol, max_entries: 3, starting_token: token });
      pages.push(reply.entries.map((e) => e.snapshot?.snapshot_id as string));
      token = reply.next_token;
    } while (token !== '' && pages.length < 10);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(ids);
  });

  test('a page boundary survives deleting the last entry of the previous page', async () => {
    const extraVol = await newVolume();
    const extra: string[] = [];
    for (let i = 0; i < 4; i++) {
      extra.push((await csi.createSnapshot({ name: unique('pg2'), source_volume_id: extraVol })).snapshot?.snapshot_id as string);
    }
    const first = await csi.listSnapshots({ source_volume_id: extraVol, max_entries: 2 });
    await csi.deleteSnapshot({ snapshot_id: extra[1] as string });
    const second = await csi.listSnapshots({ source_volume_id: extraVol, max_entries: 2, starting_token: first.next_token });
    expect(second.entries.map((e) => e.snapshot?.snapshot_id)).toEqual(extra.slice(2));
    expect(second.next_token).toBe('');
  });

  test('an invalid starting_token is ABORTED', async () => {
    await expectCode(csi.listSnapshots({ starting_token: 'invalid-token' }), status.ABORTED);
  });
});

describe('GroupController', () => {
  test('advertises CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT', async () => {
    const caps = await csi.groupControllerGetCapabilities();
    expect(caps.capabilities.map((c) => c.rpc?.type)).toEqual(['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT']);
  });

  test('CreateVolumeGroupSnapshot needs a name and source volumes; unknown volumes are NOT_FOUND', async () => {
    const vol = await newVolume();
    await expectCode(csi.createGroup({ source_volume_ids: [vol] }), status.INVALID_ARGUMENT);
    await expectCode(csi.createGroup({ name: unique('g') }), status.INVALID_ARGUMENT);
    await expectCode(csi.createGroup({ name: unique('g'), source_volume_ids: [vol, ''] }), status.INVALID_ARGUMENT);
    await expectCode(csi.createGroup({ name: unique('g'), source_volume_ids: [vol, 'vol-nope'] }), status.NOT_FOUND);
  });

  test('the full group life cycle follows the spec', async () => {
    const a = await newVolume();
    const b = await newVolume();
    await driver.writeFile(a, 'f', 'AAA');
    await driver.writeFile(b, 'f', 'BBBBB');
    const name = unique('group');
    const created = await csi.createGroup({ name, source_volume_ids: [a, b], parameters: { k: 'v' } });
    const group = created.group_snapshot;
    const groupId = group?.group_snapshot_id as string;
    expect(groupId).not.toBe('');
    expect(group?.ready_to_use).toBe(true);
    expect(group?.snapshots.map((s) => [s.source_volume_id, s.group_snapshot_id, s.size_bytes, s.ready_to_use])).toEqual([
      [a, groupId, '3', true],
      [b, groupId, '5', true],
    ]);
    expect(group?.snapshots.every((s) => s.creation_time?.seconds === group.creation_time?.seconds)).toBe(true);
    const memberIds = group?.snapshots.map((s) => s.snapshot_id) as string[];

    // Idempotent by name + sources + parameters; anything else under the name is ALREADY_EXISTS.
    expect(await csi.createGroup({ name, source_volume_ids: [a, b], parameters: { k: 'v' } })).toEqual(created);
    await expectCode(csi.createGroup({ name, source_volume_ids: [a], parameters: { k: 'v' } }), status.ALREADY_EXISTS);
    await expectCode(csi.createGroup({ name, source_volume_ids: [a, b], parameters: { k: 'other' } }), status.ALREADY_EXISTS);

    // Members are listed with their group id and cannot be deleted alone.
    const listed = await csi.listSnapshots({ snapshot_id: memberIds[0] });
    expect(listed.entries[0]?.snapshot?.group_snapshot_id).toBe(groupId);
    await expectCode(csi.deleteSnapshot({ snapshot_id: memberIds[0] }), status.INVALID_ARGUMENT);
    expect((await driver.readSnapshotFile(memberIds[1] as string, 'f')).toString()).toBe('BBBBB');

    // Get: current state; unknown → NOT_FOUND; member mismatch → INVALID_ARGUMENT.
    const got = await csi.getGroup({ group_snapshot_id: groupId, snapshot_ids: [...memberIds].reverse() });
    expect(got.group_snapshot).toEqual(group);
    await expectCode(csi.getGroup({ group_snapshot_id: 'group-nope', snapshot_ids: memberIds }), status.NOT_FOUND);
    await expectCode(csi.getGroup({ group_snapshot_id: groupId, snapshot_ids: [memberIds[0] as string] }), status.INVALID_ARGUMENT);
    await expectCode(csi.getGroup({ group_snapshot_id: groupId }), status.INVALID_ARGUMENT);

    // Delete: mismatch → INVALID_ARGUMENT; then deletes the group and its members; unknown → OK.
    await expectCode(csi.deleteGroup({ group_snapshot_id: groupId, snapshot_ids: [memberIds[0] as string, 'snap-x'] }), status.INVALID_ARGUMENT);
    await expectCode(csi.deleteGroup({ snapshot_ids: memberIds }), status.INVALID_ARGUMENT);
    await csi.deleteGroup({ group_snapshot_id: groupId, snapshot_ids: memberIds });
    for (const id of memberIds) expect((await csi.listSnapshots({ snapshot_id: id })).entries).toEqual([]);
    await expectCode(csi.getGroup({ group_snapshot_id: groupId, snapshot_ids: memberIds }), status.NOT_FOUND);
    await csi.deleteGroup({ group_snapshot_id: groupId, snapshot_ids: memberIds });
  });
});
