import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { silentLogger } from '../../../src/observe/logger.js';
import { restContentApi } from '../../../src/sidecar/snapshot/kind.js';
import { pollDelayForAge } from '../../../src/sidecar/engine/poll-delay.js';
import { readinessPollDelay, syncContent } from '../../../src/sidecar/snapshot/kind.js';
import { syncGroupContent } from '../../../src/sidecar/group/kind.js';
import type { VolumeSnapshotContent } from '../../../src/sidecar/types.js';
import { GroupHarness } from '../group/harness.js';
import { CLASSES, ScenarioEnv } from '../snapshot/scenario-env.js';

// How long the sidecar waits before asking again about a snapshot that is not ready: a fifth of its
// age, at least 1 s, at most the maximum. Readiness written late (always the maximum) or the driver
// hammered (always the minimum) are both wrong, so the edges are pinned exactly.
const NOW = new Date('2026-06-01T12:00:00.000Z');
const ago = (ms: number): number => NOW.getTime() - ms;

describe('pollDelayForAge', () => {
  test.each<[string, number | undefined, number, number]>([
    ['just created (no time known)', undefined, 15_000, 1000],
    ['created now', ago(0), 15_000, 1000],
    ['created in the future (clock skew) counts as now', NOW.getTime() + 60_000, 15_000, 1000],
    ['4 s old: a fifth is below the 1 s floor', ago(4000), 15_000, 1000],
    ['5 s old: exactly the floor', ago(5000), 15_000, 1000],
    ['5.003 s old: a fifth, rounded', ago(5003), 15_000, 1001],
    ['20 s old: 4 s', ago(20_000), 15_000, 4000],
    ['74.99 s old: just below the maximum', ago(74_990), 15_000, 14_998],
    ['75 s old: exactly the maximum', ago(75_000), 15_000, 15_000],
    ['an hour old: the maximum', ago(3_600_000), 15_000, 15_000],
    ['a maximum below the floor gives the floor', ago(3_600_000), 500, 1000],
    ['a maximum of 2.5 s caps a 4 s fifth', ago(20_000), 2500, 2500],
  ])('%s', (_name, createdMs, maxMs, expected) => {
    expect(pollDelayForAge(createdMs, maxMs, NOW)).toBe(expected);
  });
});

describe('readinessPollDelay reads the content creationTime (int64 nanoseconds)', () => {
  const content = (creationTime: number | bigint | undefined): VolumeSnapshotContent => ({
    metadata: { name: 'c' },
    spec: { volumeSnapshotRef: {}, deletionPolicy: 'Delete', driver: 'd', source: { volumeHandle: 'v' } },
    ...(creationTime !== undefined ? { status: { creationTime } } : {}),
  });
  test.each<[string, number | bigint | undefined, number]>([
    ['no status: just created', undefined, 1000],
    ['0 (the epoch a driver without a time gets): just created', 0, 1000],
    ['negative: just created', -5, 1000],
    ['20 s old as bigint nanoseconds', BigInt(ago(20_000)) * 1_000_000n + 999_999n, 4000],
    ['20 s old as a number of nanoseconds', ago(20_000) * 1_000_000, 4000],
    ['an hour old', BigInt(ago(3_600_000)) * 1_000_000n, 15_000],
  ])('%s', (_name, creationTime, expected) => {
    expect(readinessPollDelay(content(creationTime), 15_000, NOW)).toBe(expected);
  });
});

describe('the sync asks again after exactly that delay', () => {
  let env: ScenarioEnv;
  beforeAll(async () => {
    env = await ScenarioEnv.start();
  });
  afterAll(async () => {
    await env?.stop();
  });

  const settings = {
    snapshotNamePrefix: 'snapshot',
    snapshotNameUuidLength: -1,
    extraCreateMetadata: false,
    timeoutMs: 10_000,
    listSnapshots: true,
    retryIntervalMaxMs: 300_000,
  };
  const syncAt = async (name: string, now: Date, maxPollIntervalMs: number) =>
    syncContent(await env.get(name), {
      api: restContentApi(env.rest),
      csi: env.csi,
      classes: (n) => CLASSES[n],
      events: { warning: () => undefined },
      settings: { ...settings, maxPollIntervalMs },
      log: silentLogger,
      now: () => now,
    });

  test('a VolumeSnapshotContent that is not ready: 20 s after its creationTime → 4 s; capped by the maximum', async () => {
    await env.driver.setFaults({ readyDelayMs: 600_000 });
    const volume = await env.volume('vol-poll-delay');
    await env.content({ name: 'content-poll-delay', refUid: '3c9f0e2a-1b4d-4e6f-8a7b-9c0d1e2f3a4b', className: 'gold', volumeHandle: volume });
    // The first sync cuts the snapshot; its creationTime comes from the driver.
    await syncAt('content-poll-delay', new Date(), 15_000);
    const created = await env.get('content-poll-delay');
    expect(created.status?.readyToUse).toBe(false);
    const createdMs = Number(BigInt(created.status?.creationTime ?? 0) / 1_000_000n);
    expect(createdMs).toBeGreaterThan(0);

    expect(await syncAt('content-poll-delay', new Date(createdMs + 20_000), 15_000)).toEqual({ type: 'after', delayMs: 4000 });
    expect(await syncAt('content-poll-delay', new Date(createdMs + 20_000), 2500)).toEqual({ type: 'after', delayMs: 2500 });
    expect(await syncAt('content-poll-delay', new Date(createdMs + 2000), 15_000)).toEqual({ type: 'after', delayMs: 1000 });
    await env.driver.clearFaults();
  });
});

describe('the group sync asks again after exactly that delay', () => {
  let h: GroupHarness;
  beforeAll(async () => {
    h = await GroupHarness.start('v1');
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('a VolumeGroupSnapshotContent that is not ready: 20 s after its creationTime → 4 s; capped by the maximum', async () => {
    await h.driver.setFaults({ readyDelayMs: 600_000 });
    await h.createClass('group-class');
    const volumes = await h.createVolumes(2);
    await h.createContent({ name: 'group-poll-delay', volumeHandles: volumes, className: 'group-class', uid: '7d2e4f60-8a9b-4c1d-9e2f-3a4b5c6d7e8f' });
    const syncAt = async (now: Date, maxPollIntervalMs: number) =>
      syncGroupContent(await h.get('group-poll-delay'), {
        api: h.api,
        csi: h.csi,
        classes: (name) => h.classes.get(name),
        events: h.recorder,
        settings: { ...h.settings, maxPollIntervalMs },
        adapter: h.adapter,
        log: silentLogger,
        now: () => now,
      });
    await syncAt(new Date(), 15_000);
    const created = await h.get('group-poll-delay');
    expect(created.status?.readyToUse).toBe(false);
    // The model holds Unix nanoseconds (v1 stores them as RFC 3339 seconds).
    const createdMs = Number((created.status?.creationTime ?? 0n) / 1_000_000n);
    expect(createdMs).toBeGreaterThan(0);

    expect(await syncAt(new Date(createdMs + 20_000), 15_000)).toEqual({ type: 'after', delayMs: 4000 });
    expect(await syncAt(new Date(createdMs + 20_000), 2500)).toEqual({ type: 'after', delayMs: 2500 });
    expect(await syncAt(new Date(createdMs + 2000), 15_000)).toEqual({ type: 'after', delayMs: 1000 });
    await h.driver.clearFaults();
  });
});
