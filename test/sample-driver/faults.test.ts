import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { lstatSync } from 'node:fs';
import { startSampleDriver, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { CsiClient, eventually, expectCode, MOUNT_RW } from './csi-client.js';

let driver: SampleDriverProcess;
let csi: CsiClient;
let vol: string;
let counter = 0;
const unique = (prefix: string): string => `${prefix}-${++counter}`;
/** A CSI timestamp in whole Unix milliseconds (rounded down). */
const millis = (ts: { seconds?: string | number | { toString(): string }; nanos?: number } | null | undefined): number =>
  Number(ts?.seconds ?? 0) * 1000 + Math.floor((ts?.nanos ?? 0) / 1e6);

beforeAll(async () => {
  driver = await startSampleDriver();
  csi = new CsiClient(driver.endpoint);
  vol = (await csi.createVolume({ name: 'faults-vol', volume_capabilities: [MOUNT_RW] })).volume?.volume_id as string;
});

afterAll(async () => {
  csi?.close();
  await driver?.dispose();
});

beforeEach(async () => {
  await driver.clearFaults();
  await driver.clearCalls();
});

describe('fault injection', () => {
  test('latency per method pushes a call past its deadline and leaves other methods alone', async () => {
    // Held far longer than the test runs: the call is still held when the Probe below is answered.
    await driver.setFaults({ latencyMs: { CreateSnapshot: 600_000 } });
    await expectCode(csi.createSnapshot({ name: unique('late'), source_volume_id: vol }, 200), status.DEADLINE_EXCEEDED);
    await csi.probe();
    // The journal in arrival order: the delayed call has no answer yet, the Probe after it has one.
    expect((await driver.calls()).map((c) => [c.method, c.codeName])).toEqual([
      ['CreateSnapshot', undefined],
      ['Probe', 'OK'],
    ]);

    await driver.setFaults({ latencyMs: { '*': 300 } });
    const t0 = performance.now();
    await csi.getPluginInfo();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  });

  test('an error for the next N calls fires N times, with its message, then clears itself', async () => {
    await driver.setFaults({ errors: { CreateSnapshot: { code: 'RESOURCE_EXHAUSTED', message: 'disk full', times: 2 } } });
    const name = unique('retry');
    for (let i = 0; i < 2; i++) {
      const err = await expectCode(csi.createSnapshot({ name, source_volume_id: vol }), status.RESOURCE_EXHAUSTED);
      expect(err.details).toBe('disk full');
    }
    expect((await csi.createSnapshot({ name, source_volume_id: vol })).snapshot?.snapshot_id).toMatch(/^snap-/);
    expect((await driver.faults()).errors).toEqual({});
    const calls = await driver.calls();
    expect(calls.map((c) => [c.method, c.codeName])).toEqual([
      ['CreateSnapshot', 'RESOURCE_EXHAUSTED'],
      ['CreateSnapshot', 'RESOURCE_EXHAUSTED'],
      ['CreateSnapshot', 'OK'],
    ]);
  });

  test('an error with probability 1.0 fires on every call until cleared; codes may be numbers', async () => {
    await driver.patchFaults({ errors: { DeleteSnapshot: { code: 14, probability: 1.0 } } });
    for (let i = 0; i < 5; i++) await expectCode(csi.deleteSnapshot({ snapshot_id: 'snap-x' }), status.UNAVAILABLE);
    await driver.patchFaults({ errors: { DeleteSnapshot: null } });
    await csi.deleteSnapshot({ snapshot_id: 'snap-x' });
    await driver.setFaults({ errors: { '*': { code: 'Internal', probability: 0 } } });
    await csi.probe();
    expect((await driver.calls()).map((c) => c.code)).toEqual([14, 14, 14, 14, 14, 0, 0]);
  });

  test('readyDelayMs keeps new snapshots and groups unready until it has passed', async () => {
    const vol2 = (await csi.createVolume({ name: unique('v'), volume_capabilities: [MOUNT_RW] })).volume?.volume_id as string;
    // A delay no test run outlasts: every look at these is before it has passed, however slow the machine.
    await driver.setFaults({ readyDelayMs: 600_000 });
    const heldName = unique('held');
    const held = await csi.createSnapshot({ name: heldName, source_volume_id: vol });
    const heldGroup = await csi.createGroup({ name: unique('held-group'), source_volume_ids: [vol, vol2] });
    const heldGroupId = heldGroup.group_snapshot?.group_snapshot_id as string;
    const heldMemberIds = heldGroup.group_snapshot?.snapshots.map((s) => s.snapshot_id) as string[];
    expect(held.snapshot?.ready_to_use).toBe(false);
    expect(heldGroup.group_snapshot?.ready_to_use).toBe(false);
    expect(heldGroup.group_snapshot?.snapshots.map((s) => s.ready_to_use)).toEqual([false, false]);
    expect((await csi.listSnapshots({ snapshot_id: held.snapshot?.snapshot_id })).entries[0]?.snapshot?.ready_to_use).toBe(false);
    expect((await csi.getGroup({ group_snapshot_id: heldGroupId, snapshot_ids: heldMemberIds })).group_snapshot?.ready_to_use).toBe(false);

    // A short delay: ready once it has passed, and never before (the reply is read after the driver decided).
    await driver.setFaults({ readyDelayMs: 700 });
    const name = unique('delayed');
    const created = await csi.createSnapshot({ name, source_volume_id: vol });
    const group = await csi.createGroup({ name: unique('delayed-group'), source_volume_ids: [vol, vol2] });
    const ready = await eventually(async () => {
      const reply = await csi.createSnapshot({ name, source_volume_id: vol });
      return reply.snapshot?.ready_to_use ? reply : undefined;
    }, 10_000, 'CreateSnapshot to report ready');
    expect(Date.now()).toBeGreaterThanOrEqual(millis(created.snapshot?.creation_time) + 700);
    expect(ready.snapshot?.creation_time).toEqual(created.snapshot?.creation_time);
    const groupId = group.group_snapshot?.group_snapshot_id as string;
    const memberIds = group.group_snapshot?.snapshots.map((s) => s.snapshot_id) as string[];
    const got = await eventually(async () => {
      const reply = await csi.getGroup({ group_snapshot_id: groupId, snapshot_ids: memberIds });
      return reply.group_snapshot?.ready_to_use ? reply : undefined;
    }, 10_000, 'the group to report ready');
    expect(Date.now()).toBeGreaterThanOrEqual(millis(group.group_snapshot?.creation_time) + 700);
    expect(got.group_snapshot?.snapshots.every((s) => s.ready_to_use)).toBe(true);

    // The delay applies to snapshots created while it is set, not to older ones: the held ones stay unready.
    await driver.clearFaults();
    expect((await csi.createSnapshot({ name: unique('fast'), source_volume_id: vol })).snapshot?.ready_to_use).toBe(true);
    expect((await csi.createSnapshot({ name: heldName, source_volume_id: vol })).snapshot?.ready_to_use).toBe(false);
    expect((await csi.getGroup({ group_snapshot_id: heldGroupId, snapshot_ids: heldMemberIds })).group_snapshot?.ready_to_use).toBe(false);
  });

  test('a readyDelayMs range gives each new snapshot and group its own delay, drawn within the range', async () => {
    // Far beyond any test run, so every snapshot is still unready when looked at.
    await driver.setFaults({ readyDelayMs: { min: 600_000, max: 900_000 } });
    const before = await driver.inventory();
    const names = Array.from({ length: 12 }, () => unique('spread'));
    for (const name of names) expect((await csi.createSnapshot({ name, source_volume_id: vol })).snapshot?.ready_to_use).toBe(false);
    const vol2 = (await csi.createVolume({ name: unique('v'), volume_capabilities: [MOUNT_RW] })).volume?.volume_id as string;
    const group = await csi.createGroup({ name: unique('spread-group'), source_volume_ids: [vol, vol2] });
    expect(group.group_snapshot?.ready_to_use).toBe(false);

    const known = new Set(before.snapshots.map((s) => s.id));
    const made = (await driver.inventory()).snapshots.filter((s) => !known.has(s.id));
    const delay = (s: (typeof made)[number]): number => s.readyAtMs - millis(s.createdAt);
    const singles = made.filter((s) => !s.groupId);
    expect(singles.map((s) => s.name).sort()).toEqual([...names].sort());
    for (const s of made) {
      // creation_time is kept to the nanosecond, readyAtMs to the millisecond: 1 ms of rounding either way.
      expect(delay(s)).toBeGreaterThanOrEqual(600_000 - 1);
      expect(delay(s)).toBeLessThanOrEqual(900_000 + 1);
    }
    // Drawn per snapshot: twelve draws from a 300 s range are not all alike.
    expect(new Set(singles.map(delay)).size).toBeGreaterThan(6);
    // One draw per group: its members turn ready together.
    const members = made.filter((s) => s.groupId);
    expect(members).toHaveLength(2);
    expect(members[0]?.readyAtMs).toBe(members[1]?.readyAtMs);
  });

  test('a readyDelayMs range must have min and max, non-negative, min not above max', async () => {
    await expect(driver.setFaults({ readyDelayMs: { min: 10, max: 5 } })).rejects.toThrow(/HTTP 400.*readyDelayMs.min \(10\) must not be above readyDelayMs.max \(5\)/);
    await expect(driver.setFaults({ readyDelayMs: { min: 10 } } as never)).rejects.toThrow(/HTTP 400.*readyDelayMs.max must be a non-negative number/);
    await expect(driver.setFaults({ readyDelayMs: { min: -1, max: 5 } })).rejects.toThrow(/HTTP 400.*readyDelayMs.min must be a non-negative number/);
    await expect(driver.setFaults({ readyDelayMs: { min: 1, max: 5, mean: 3 } } as never)).rejects.toThrow(/HTTP 400.*readyDelayMs.mean: unknown/);
    expect(await driver.setFaults({ readyDelayMs: { min: 5, max: 5 } })).toEqual({ readyDelayMs: { min: 5, max: 5 } });
  });

  test('probeNotReady answers ready=false for the next N probes', async () => {
    await driver.setFaults({ probeNotReady: 2 });
    expect((await csi.probe()).ready).toEqual({ value: false });
    expect((await csi.probe()).ready).toEqual({ value: false });
    expect((await csi.probe()).ready).toBeNull();
    await driver.setFaults({ errors: { Probe: { code: 'FAILED_PRECONDITION', times: 1 } } });
    await expectCode(csi.probe(), status.FAILED_PRECONDITION);
  });

  test('withheld capabilities and UNIMPLEMENTED services', async () => {
    await driver.setFaults({
      withhold: { controller: ['CREATE_DELETE_SNAPSHOT', 'LIST_SNAPSHOTS'], plugin: ['GROUP_CONTROLLER_SERVICE'], groupController: ['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT'] },
    });
    expect((await csi.controllerGetCapabilities()).capabilities.map((c) => c.rpc?.type)).toEqual(['CREATE_DELETE_VOLUME']);
    expect((await csi.getPluginCapabilities()).capabilities.map((c) => c.service?.type)).toEqual(['CONTROLLER_SERVICE']);
    expect((await csi.groupControllerGetCapabilities()).capabilities).toEqual([]);

    await driver.setFaults({ unimplemented: ['GroupController', 'ListSnapshots'] });
    await expectCode(csi.groupControllerGetCapabilities(), status.UNIMPLEMENTED);
    await expectCode(csi.getGroup({ group_snapshot_id: 'g', snapshot_ids: ['s'] }), status.UNIMPLEMENTED);
    await expectCode(csi.listSnapshots({}), status.UNIMPLEMENTED);
    expect((await csi.controllerGetCapabilities()).capabilities).toHaveLength(3);
  });

  test('afterWork: the method does its work, then answers the error instead (the answer is lost)', async () => {
    await driver.setFaults({ errors: { CreateSnapshot: { code: 'DEADLINE_EXCEEDED', times: 1, afterWork: 1 } } });
    const name = unique('lost');
    await expectCode(csi.createSnapshot({ name, source_volume_id: vol }), status.DEADLINE_EXCEEDED);
    // The snapshot was cut: the retry finds it by name instead of cutting a second one.
    const retried = await csi.createSnapshot({ name, source_volume_id: vol });
    const listed = (await csi.listSnapshots({ source_volume_id: vol })).entries.map((e) => e.snapshot?.snapshot_id);
    expect(listed.filter((id) => id === retried.snapshot?.snapshot_id)).toHaveLength(1);
    expect((await driver.calls()).map((c) => [c.method, c.codeName, c.message])).toEqual([
      ['CreateSnapshot', 'DEADLINE_EXCEEDED', 'injected DEADLINE_EXCEEDED for CreateSnapshot after doing the work'],
      ['CreateSnapshot', 'OK', undefined],
      ['ListSnapshots', 'OK', undefined],
    ]);

    // afterWork 0 (the default) fails before the work: nothing is cut.
    await driver.setFaults({ errors: { CreateSnapshot: { code: 'UNAVAILABLE', times: 1 } } });
    const before = (await csi.listSnapshots({ source_volume_id: vol })).entries.length;
    await expectCode(csi.createSnapshot({ name: unique('refused'), source_volume_id: vol }), status.UNAVAILABLE);
    expect((await csi.listSnapshots({ source_volume_id: vol })).entries).toHaveLength(before);
    await expect(driver.setFaults({ errors: { Probe: { code: 14, afterWork: 2 } } })).rejects.toThrow(/afterWork must be between 0 and 1/);
  });

  test('a list of codes answers one of them each time', async () => {
    await driver.setFaults({ errors: { Probe: { code: ['UNAVAILABLE', 'DEADLINE_EXCEEDED'] } } });
    const seen = new Set<number>();
    for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(await csi.probe().then(() => 0, (err: { code: number }) => err.code));
    expect([...seen].sort()).toEqual([status.DEADLINE_EXCEEDED, status.UNAVAILABLE].sort());
    await expect(driver.setFaults({ errors: { Probe: { code: [] } } })).rejects.toThrow(/non-empty list of codes/);
    await expect(driver.setFaults({ errors: { Probe: { code: [14, 'NOPE'] } } })).rejects.toThrow(/NOPE/);
  });

  test('groupAnswer: the group creation_time left out or replaced in Create and Get answers, the stored group unchanged; a bad value is refused', async () => {
    const vol2 = (await csi.createVolume({ name: unique('v'), volume_capabilities: [MOUNT_RW] })).volume?.volume_id as string;
    await driver.setFaults({ groupAnswer: { creationTime: 'none' } });
    const name = unique('no-time-group');
    const created = await csi.createGroup({ name, source_volume_ids: [vol, vol2] });
    expect(created.group_snapshot?.creation_time).toBeNull();
    const id = created.group_snapshot?.group_snapshot_id as string;
    const members = created.group_snapshot?.snapshots.map((s) => s.snapshot_id) as string[];
    expect(created.group_snapshot?.snapshots.every((s) => s.creation_time !== null)).toBe(true);
    expect((await csi.getGroup({ group_snapshot_id: id, snapshot_ids: members })).group_snapshot?.creation_time).toBeNull();
    await driver.setFaults({ groupAnswer: { creationTime: { seconds: '-62135596800', nanos: 0 } } });
    expect((await csi.getGroup({ group_snapshot_id: id, snapshot_ids: members })).group_snapshot?.creation_time).toEqual({ seconds: '-62135596800', nanos: 0 });
    await driver.clearFaults();
    const truth = (await csi.getGroup({ group_snapshot_id: id, snapshot_ids: members })).group_snapshot?.creation_time;
    expect(Number(truth?.seconds)).toBeGreaterThan(0);
    await expect(driver.setFaults({ groupAnswer: { creationTime: 'never' } } as never)).rejects.toThrow(/HTTP 400.*groupAnswer.creationTime must be \{seconds, nanos\} or "none"/);
    await expect(driver.setFaults({ groupAnswer: { snapshots: [] } } as never)).rejects.toThrow(/HTTP 400.*groupAnswer.snapshots: unknown \(known: creationTime\)/);
  });

  test('PATCH merges, PUT replaces, DELETE clears; an invalid document is refused and changes nothing', async () => {
    await driver.setFaults({ latencyMs: { Probe: 5 }, probeNotReady: 3 });
    expect(await driver.patchFaults({ latencyMs: { CreateSnapshot: 7 }, probeNotReady: null })).toEqual({
      latencyMs: { Probe: 5, CreateSnapshot: 7 },
    });
    await expect(driver.patchFaults({ errors: { Probe: { code: 'NOPE' } } })).rejects.toThrow(/HTTP 400.*NOPE/);
    await expect(driver.setFaults({ exitAfterCalls: -1 })).rejects.toThrow(/HTTP 400/);
    await expect(driver.setFaults({ exitOn: 'Probe' } as never)).rejects.toThrow(/HTTP 400.*exitOn must be a list of strings/);
    await expect(driver.setFaults({ surprise: true } as never)).rejects.toThrow(/unknown fault "surprise"/);
    expect(await driver.faults()).toEqual({ latencyMs: { Probe: 5, CreateSnapshot: 7 } });
    expect(await driver.setFaults({ readyDelayMs: 10 })).toEqual({ readyDelayMs: 10 });
    await driver.clearFaults();
    expect(await driver.faults()).toEqual({});
  });
});

describe('exitAfterCalls', () => {
  test('answers N calls, then dies abruptly on the next one, leaving its socket behind', async () => {
    const crashing = await startSampleDriver({ faults: { exitAfterCalls: 2 } });
    const c = new CsiClient(crashing.endpoint);
    try {
      await c.probe();
      await c.getPluginInfo();
      const err = await c.probe().then(
        () => undefined,
        (e: { code: number }) => e,
      );
      expect(err?.code).toBe(status.UNAVAILABLE);
      expect(await crashing.exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(lstatSync(crashing.socketPath).isSocket()).toBe(true);
    } finally {
      c.close();
      await crashing.dispose();
    }
  });

  test('exitOn: answers other methods, then dies abruptly when a named method or service is called', async () => {
    const crashing = await startSampleDriver({ faults: { exitOn: ['Probe', 'GroupController'] } });
    const c = new CsiClient(crashing.endpoint);
    try {
      // Methods not named are answered, however many come first.
      await c.getPluginInfo();
      await c.controllerGetCapabilities();
      await c.getPluginInfo();
      expect(crashing.running).toBe(true);
      const err = await c.probe().then(
        () => undefined,
        (e: { code: number }) => e,
      );
      expect(err?.code).toBe(status.UNAVAILABLE);
      expect(await crashing.exited).toEqual({ code: null, signal: 'SIGKILL' });
      // A whole service named: any of its methods is the moment (after restart() with the same --faults).
      await crashing.start();
      await c.getPluginInfo();
      await expectCode(c.groupControllerGetCapabilities(), status.UNAVAILABLE);
      expect(await crashing.exited).toEqual({ code: null, signal: 'SIGKILL' });
    } finally {
      c.close();
      await crashing.dispose();
    }
  });

  test('initial faults come from CSI_SAMPLE_DRIVER_FAULTS unless --faults is given', async () => {
    const fromEnv = await startSampleDriver({ env: { ...process.env, CSI_SAMPLE_DRIVER_FAULTS: '{"probeNotReady":4}' } });
    try {
      expect(await fromEnv.faults()).toEqual({ probeNotReady: 4 });
    } finally {
      await fromEnv.dispose();
    }
    const flagWins = await startSampleDriver({
      env: { ...process.env, CSI_SAMPLE_DRIVER_FAULTS: '{"probeNotReady":4}' },
      faults: { readyDelayMs: 5 },
    });
    try {
      expect(await flagWins.faults()).toEqual({ readyDelayMs: 5 });
    } finally {
      await flagWins.dispose();
    }
  });
});
