import { afterAll, expect, test } from '@jest/globals';
import { startSampleDriver, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { CsiClient, MOUNT_RW } from './csi-client.js';

let driver: SampleDriverProcess | undefined;
let csi: CsiClient | undefined;
afterAll(async () => {
  csi?.close();
  await driver?.dispose();
});

test('inventory() reads the stored snapshots and groups from disk, also while the driver is down', async () => {
  driver = await startSampleDriver();
  expect(await driver.inventory()).toEqual({ snapshots: [], groups: [] });
  csi = new CsiClient(driver.endpoint);
  const volumes: string[] = [];
  for (const name of ['inv-a', 'inv-b']) volumes.push((await csi.createVolume({ name, volume_capabilities: [MOUNT_RW] })).volume?.volume_id as string);
  const single = (await csi.createSnapshot({ name: 'inv-snap', source_volume_id: volumes[0] })).snapshot?.snapshot_id;
  const group = (await csi.createGroup({ name: 'inv-group', source_volume_ids: volumes })).group_snapshot;

  await driver.kill();
  const stored = await driver.inventory();
  expect(stored.snapshots.find((s) => s.id === single)).toMatchObject({ name: 'inv-snap', sourceVolumeId: volumes[0] });
  expect(stored.groups).toEqual([expect.objectContaining({ id: group?.group_snapshot_id, name: 'inv-group', sourceVolumeIds: volumes })]);
  // The members are stored snapshots too, each pointing at its group.
  expect(stored.snapshots.filter((s) => s.groupId === group?.group_snapshot_id)).toHaveLength(2);
  expect(stored.snapshots).toHaveLength(3);
});
