import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, test } from '@jest/globals';
import { existsSync, lstatSync } from 'node:fs';
import { startSampleDriver, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { CsiClient, eventually, expectCode, MOUNT_RW } from './csi-client.js';

let driver: SampleDriverProcess | undefined;
let csi: CsiClient | undefined;

afterEach(async () => {
  csi?.close();
  csi = undefined;
  await driver?.dispose();
  driver = undefined;
});

/** Reconnects after a restart (the socket path is the same; the old channel is dropped). */
function reconnect(d: SampleDriverProcess): CsiClient {
  csi?.close();
  csi = new CsiClient(d.endpoint);
  return csi;
}

describe('restart persistence', () => {
  test('volumes, snapshots, groups and their creation times survive restart()', async () => {
    driver = await startSampleDriver();
    let c = reconnect(driver);
    const vol = (await c.createVolume({ name: 'pv-1', volume_capabilities: [MOUNT_RW] })).volume?.volume_id as string;
    const vol2 = (await c.createVolume({ name: 'pv-2', volume_capabilities: [MOUNT_RW] })).volume?.volume_id as string;
    await driver.writeFile(vol, 'file.txt', 'before restart');
    await driver.writeFile(vol2, 'other.txt', 'second volume');
    const snap = await c.createSnapshot({ name: 'snap-a', source_volume_id: vol, parameters: { x: 'y' } });
    const group = await c.createGroup({ name: 'group-a', source_volume_ids: [vol, vol2] });
    const groupId = group.group_snapshot?.group_snapshot_id as string;
    const memberIds = group.group_snapshot?.snapshots.map((s) => s.snapshot_id) as string[];
    const listedBefore = await c.listSnapshots({});
    const oldPid = driver.pid;
    const oldControl = driver.controlUrl;

    await driver.restart();
    expect(driver.pid).not.toBe(oldPid);
    expect(driver.controlUrl).not.toBe(oldControl);
    c = reconnect(driver);

    // Idempotent replies are identical, creation times to the nanosecond.
    expect(await c.createSnapshot({ name: 'snap-a', source_volume_id: vol, parameters: { x: 'y' } })).toEqual(snap);
    expect(await c.createGroup({ name: 'group-a', source_volume_ids: [vol, vol2] })).toEqual(group);
    expect(await c.createVolume({ name: 'pv-1', volume_capabilities: [MOUNT_RW] })).toMatchObject({ volume: { volume_id: vol } });
    expect(await c.getGroup({ group_snapshot_id: groupId, snapshot_ids: memberIds })).toEqual(group);
    expect(await c.listSnapshots({})).toEqual(listedBefore);
    await expectCode(c.createSnapshot({ name: 'snap-a', source_volume_id: vol2 }), status.ALREADY_EXISTS);
    await expectCode(c.deleteSnapshot({ snapshot_id: memberIds[0] }), status.INVALID_ARGUMENT);

    // Data survives too, and a snapshot taken before the restart restores after it.
    expect((await driver.readFile(vol, 'file.txt')).toString()).toBe('before restart');
    const restored = await c.createVolume({
      name: 'restored',
      volume_capabilities: [MOUNT_RW],
      volume_content_source: { snapshot: { snapshot_id: memberIds[1] } },
    });
    expect((await driver.readFile(restored.volume?.volume_id as string, 'other.txt')).toString()).toBe('second volume');
  });

  test('after a crash (SIGKILL) the stale socket is replaced and the state is intact', async () => {
    driver = await startSampleDriver();
    let c = reconnect(driver);
    const vol = (await c.createVolume({ name: 'pv', volume_capabilities: [MOUNT_RW] })).volume?.volume_id as string;
    const snap = await c.createSnapshot({ name: 'snap', source_volume_id: vol });

    const exit = await driver.kill();
    expect(exit.signal).toBe('SIGKILL');
    expect(lstatSync(driver.socketPath).isSocket()).toBe(true);

    await driver.restart();
    c = reconnect(driver);
    expect((await c.listSnapshots({ snapshot_id: snap.snapshot?.snapshot_id })).entries).toEqual([{ snapshot: snap.snapshot }]);
    expect((await driver.stop()).code).toBe(0);
    expect(existsSync(driver.socketPath)).toBe(false);
  });

  test('a readiness deadline is stored per snapshot and keeps counting across a restart', async () => {
    // The driver restarts with the readyDelayMs it was started with: one no test run outlasts. The
    // snapshots below get their own delays, so only a deadline stored with each one can explain
    // what the restarted driver answers.
    driver = await startSampleDriver({ faults: { readyDelayMs: 600_000 } });
    let c = reconnect(driver);
    const vol = (await c.createVolume({ name: 'pv', volume_capabilities: [MOUNT_RW] })).volume?.volume_id as string;
    const held = await c.createSnapshot({ name: 'held', source_volume_id: vol });
    expect(held.snapshot?.ready_to_use).toBe(false);
    await driver.setFaults({ readyDelayMs: 1500 });
    const first = await c.createSnapshot({ name: 'slow', source_volume_id: vol });

    await driver.restart();
    c = reconnect(driver);
    expect((await driver.faults()).readyDelayMs).toBe(600_000);
    // Ten minutes cannot have passed: the stored deadline of 'held' survived the restart.
    expect((await c.createSnapshot({ name: 'held', source_volume_id: vol })).snapshot?.ready_to_use).toBe(false);
    const again = await c.createSnapshot({ name: 'slow', source_volume_id: vol });
    expect(again.snapshot?.creation_time).toEqual(first.snapshot?.creation_time);
    // 'slow' turns ready 1.5 s after its creation, not 10 minutes after the restart.
    const ready = await eventually(async () => {
      const reply = await c.createSnapshot({ name: 'slow', source_volume_id: vol });
      return reply.snapshot?.ready_to_use ? reply : undefined;
    }, 20_000, 'the snapshot to turn ready');
    const createdMs = Number(first.snapshot?.creation_time?.seconds) * 1000 + Math.floor((first.snapshot?.creation_time?.nanos ?? 0) / 1e6);
    expect(Date.now()).toBeGreaterThanOrEqual(createdMs + 1500);
    expect(ready.snapshot?.snapshot_id).toBe(first.snapshot?.snapshot_id);
    expect((await c.listSnapshots({ snapshot_id: held.snapshot?.snapshot_id })).entries[0]?.snapshot?.ready_to_use).toBe(false);
  });
});
