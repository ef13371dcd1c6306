import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startSampleDriver, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { CsiClient, eventually, MOUNT_RW } from './csi-client.js';

// Writers push numbered files through the control endpoint to every member volume in a fixed order
// (A, then B, then C, each write acknowledged before the next), while a group snapshot is cut. A
// write-order-consistent cut sees, for every writer, a prefix of its files on each volume, and the
// three prefixes differ by at most the one chain in flight: |A| - |C| ∈ {0, 1} and |B| ∈ {|C|, |A|}.

let driver: SampleDriverProcess;
let csi: CsiClient;

beforeAll(async () => {
  driver = await startSampleDriver();
  csi = new CsiClient(driver.endpoint);
});

afterAll(async () => {
  csi?.close();
  await driver?.dispose();
});

interface Chain {
  /** performance.now() when the write to the first volume was sent. */
  sentAt: number;
  /** performance.now() when the write to the last volume was acknowledged. */
  ackedAt?: number;
}

async function present(snapshotId: string, path: string): Promise<boolean> {
  try {
    await driver.readSnapshotFile(snapshotId, path);
    return true;
  } catch (err) {
    if (/HTTP 404/.test((err as Error).message)) return false;
    throw err;
  }
}

test('a group cut is write-order consistent across members while writers keep writing', async () => {
  const volumes: string[] = [];
  for (const name of ['cg-a', 'cg-b', 'cg-c']) {
    const id = (await csi.createVolume({ name, volume_capabilities: [MOUNT_RW] })).volume?.volume_id as string;
    volumes.push(id);
    // Many files, so the copy takes a while, yields often, and writes pile up at the closed gates.
    for (let batch = 0; batch < 300; batch += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_x, i) => driver.writeFile(id, `bulk/${batch + i}.bin`, Buffer.alloc(16 * 1024, i))),
      );
    }
  }

  const WRITERS = 4;
  const chains: Chain[][] = Array.from({ length: WRITERS }, () => []);
  let cutReplied = Infinity;
  // Set only when the cut fails, so the writers end with the test.
  let stop = false;
  const writers = chains.map(async (log, w) => {
    for (let i = 0; !stop; i++) {
      const chain: Chain = { sentAt: performance.now() };
      log.push(chain);
      for (const vol of volumes) await driver.writeFile(vol, `w${w}/${i}`, `${w}:${i}`);
      chain.ackedAt = performance.now();
      if (chain.sentAt > cutReplied && log.filter((c) => c.sentAt > cutReplied).length >= 5) break;
    }
  });

  await eventually(async () => (chains.every((log) => log.filter((c) => c.ackedAt).length >= 5) ? true : undefined), 20_000, 'writers to get going');
  const cutSent = performance.now();
  const reply = await csi.createGroup({ name: 'consistent', source_volume_ids: volumes }).catch(async (err: unknown) => {
    stop = true;
    await Promise.allSettled(writers);
    throw err;
  });
  cutReplied = performance.now();
  // Each writer stops by itself once it has sent 5 chains after the reply.
  await Promise.all(writers);

  const members = reply.group_snapshot?.snapshots ?? [];
  expect(members.map((s) => s.source_volume_id)).toEqual(volumes);
  let inFlight = 0;
  for (let w = 0; w < WRITERS; w++) {
    const log = chains[w] as Chain[];
    const counts: number[] = [];
    for (const member of members) {
      const flags = await Promise.all(log.map((_c, i) => present(member.snapshot_id, `w${w}/${i}`)));
      const count = flags.indexOf(false) === -1 ? flags.length : flags.indexOf(false);
      // Each volume holds a prefix of the writer's files.
      expect(flags.slice(count).every((f) => !f)).toBe(true);
      counts.push(count);
    }
    const [a, b, c] = counts as [number, number, number];
    expect([0, 1]).toContain(a - c);
    expect([c, a]).toContain(b);
    // Every chain acknowledged before the cut was sent is in all members; none sent after the reply is.
    // Both kinds exist for every writer (it waited for 5 acknowledged chains before the cut and stops
    // only after 5 sent after the reply), so neither check below can pass by never running.
    expect(log.filter((chain) => (chain.ackedAt ?? Infinity) < cutSent).length).toBeGreaterThanOrEqual(5);
    expect(log.filter((chain) => chain.sentAt > cutReplied).length).toBeGreaterThanOrEqual(5);
    log.forEach((chain, i) => {
      if ((chain.ackedAt ?? Infinity) < cutSent) expect(i).toBeLessThan(c);
      if (chain.sentAt > cutReplied) expect(i).toBeGreaterThanOrEqual(a);
      if (chain.sentAt < cutReplied && (chain.ackedAt ?? Infinity) > cutSent) inFlight++;
    });
  }
  // The snapshots hold the bulk data as well: 300 x 16 KiB per volume plus the small files.
  for (const member of members) expect(Number(member.size_bytes)).toBeGreaterThan(300 * 16 * 1024);
  expect(inFlight).toBeGreaterThan(0);
});
