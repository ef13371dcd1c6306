/**
 * Soak: create/delete churn against one sidecar for a long time, sampling its memory, to show
 * whether anything grows without bound. The API test server runs in this process and the sample
 * driver as a child, as in the throughput benchmark. Every `--rate`-th of a second the benchmark
 * creates one dynamic VolumeSnapshotContent (as the snapshot-controller does); as soon as its own
 * watch sees it ready, it deletes it (being-deleted mark, then DELETE). Every `--sample-seconds` it
 * reads the sidecar's RSS (VmRSS in /proc) and its heap in use from the sidecar's metrics endpoint
 * (`nodejs_heap_size_used_bytes` for this sidecar, `go_memstats_heap_alloc_bytes` for the Go one).
 *
 *   npm run build && node dist/bench/soak.js [--minutes=30] [--sidecar=ts|go] [--rate=5]
 *       [--max-in-flight=200] [--sample-seconds=5] [--window-minutes=5] [--out=FILE.jsonl] [--go-binary=PATH]
 *
 * It reports the medians of the first and the last window (5 minutes, or a sixth of a shorter run)
 * and the least-squares slope after the first window, for RSS and heap.
 */
import { writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { ANN_BEING_DELETED } from '../src/sidecar/keys.js';
import { dynamicContent, pool, VSC_PATH } from './contents.js';
import { CLASS_NAME, DRIVER_NAME, Kit } from './kit.js';
import { cpuSeconds, findGoBinary, now, procStatus, startSidecar } from './sidecars.js';
import { metricValue, trend, type Trend } from './stats.js';
import { flagValues } from './flags.js';

interface Options {
  minutes: number;
  sidecar: 'ts' | 'go';
  rate: number;
  maxInFlight: number;
  sampleSeconds: number;
  windowMinutes: number | undefined;
  out: string | undefined;
  goBinary: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const values = flagValues(argv, ['minutes', 'sidecar', 'rate', 'max-in-flight', 'sample-seconds', 'window-minutes', 'out', 'go-binary']);
  const positive = (key: string, fallback: number | undefined): number | undefined => {
    const raw = values.get(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${key} must be a positive number`);
    return n;
  };
  const sidecar = values.get('sidecar') ?? 'ts';
  if (sidecar !== 'ts' && sidecar !== 'go') throw new Error('--sidecar must be ts or go');
  return {
    minutes: positive('minutes', 30) as number,
    sidecar,
    rate: positive('rate', 5) as number,
    maxInFlight: Math.round(positive('max-in-flight', 200) as number),
    sampleSeconds: positive('sample-seconds', 5) as number,
    windowMinutes: positive('window-minutes', undefined),
    out: values.get('out'),
    goBinary: values.get('go-binary'),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

interface Sample {
  atMs: number;
  rssMiB: number;
  heapMiB: number;
  cpuSeconds: number;
  created: number;
  deleted: number;
  inFlight: number;
}

const MIB = 1024 * 1024;

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const goBinary = o.goBinary ?? findGoBinary();
  if (o.sidecar === 'go' && !goBinary) throw new Error('no Go csi-snapshotter binary found; pass --go-binary=PATH');
  const durationMs = o.minutes * 60_000;
  const windowMs = (o.windowMinutes ?? Math.min(5, o.minutes / 6)) * 60_000;
  const kit = await Kit.start(durationMs + 10 * 60_000);
  const { api, driver, csi, tracker } = kit;
  const heapMetric = o.sidecar === 'ts' ? 'nodejs_heap_size_used_bytes' : 'go_memstats_heap_alloc_bytes';
  if (o.out) writeFileSync(o.out, '');
  try {
    console.log(`soak: ${o.sidecar} sidecar${o.sidecar === 'go' ? ` (${goBinary})` : ''}, ${o.minutes} min, ${o.rate} creates/s (at most ${o.maxInFlight} in flight), a sample every ${o.sampleSeconds} s`);
    console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);

    const volumeCount = 50;
    const volumes: string[] = new Array<string>(volumeCount);
    await pool(volumeCount, 8, async (i) => {
      const reply = await csi.call('/csi.v1.Controller/CreateVolume', { name: `soak-vol-${i}`, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, new Date(Date.now() + 30_000));
      volumes[i] = reply.volume?.volume_id as string;
      await driver.writeFile(volumes[i] as string, 'data.txt', `volume ${i}\n`);
    });
    await kit.createClass();
    await kit.watchContents();

    const port = await freePort();
    const sidecar = startSidecar({ kind: o.sidecar, goBinary, socketPath: driver.socketPath, kubeconfigPath: api.kubeconfigPath, extraArgs: [`--http-endpoint=127.0.0.1:${port}`] });
    kit.sidecar = sidecar;
    const alive = (): void => {
      if (!sidecar.running) throw new Error(`the sidecar exited; its last output:\n${sidecar.tail()}`);
    };
    await tracker.until('the sidecar to watch contents', () => api.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents' }) > 1, Date.now() + 60_000, alive, 20);

    const heapMiB = async (): Promise<number> => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      const value = metricValue(await response.text(), heapMetric);
      if (value === undefined) throw new Error(`the sidecar's metrics have no ${heapMetric}`);
      return value / MIB;
    };

    // ------------------------------------------------------------ churn
    let seq = 0;
    let created = 0;
    let deleted = 0;
    let failures = 0;
    const waitingReady = new Set<string>();
    const deleting = new Set<string>();
    const inFlight = (): number => waitingReady.size + deleting.size;
    const fail = (what: string, err: unknown): void => {
      failures++;
      if (failures <= 5) console.error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    };
    const createOne = async (): Promise<void> => {
      const name = `soak-${++seq}`;
      waitingReady.add(name);
      try {
        await kit.rest.request({ method: 'POST', path: VSC_PATH, body: dynamicContent(name, volumes[seq % volumeCount] as string, DRIVER_NAME, CLASS_NAME) });
        created++;
      } catch (err) {
        waitingReady.delete(name);
        fail(`creating ${name}`, err);
      }
    };
    const deleteOne = async (name: string): Promise<void> => {
      try {
        await kit.rest.request({ method: 'PATCH', path: `${VSC_PATH}/${name}`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_BEING_DELETED]: 'yes' } } } });
        await kit.rest.request({ method: 'DELETE', path: `${VSC_PATH}/${name}` });
      } catch (err) {
        fail(`deleting ${name}`, err);
      }
    };
    /** Moves ready contents on to deletion and forgets the gone ones (the tracker stays bounded). */
    const advance = (): void => {
      for (const name of waitingReady) {
        if (!tracker.readyAt.has(name)) continue;
        waitingReady.delete(name);
        deleting.add(name);
        void deleteOne(name);
      }
      for (const name of deleting) {
        if (!tracker.goneAt.has(name)) continue;
        deleting.delete(name);
        deleted++;
        for (const map of [tracker.createdAt, tracker.readyAt, tracker.settledAt, tracker.goneAt]) map.delete(name);
      }
    };

    const samples: Sample[] = [];
    const t0 = now();
    const takeSample = async (): Promise<void> => {
      alive();
      const sample: Sample = {
        atMs: Math.round(now() - t0),
        rssMiB: procStatus(sidecar.pid).rssKiB / 1024,
        heapMiB: await heapMiB(),
        cpuSeconds: cpuSeconds(sidecar.pid),
        created,
        deleted,
        inFlight: inFlight(),
      };
      samples.push(sample);
      if (o.out) appendFileSync(o.out, `${JSON.stringify(sample)}\n`);
      if (samples.length % Math.max(1, Math.round(60 / o.sampleSeconds)) === 1 || o.minutes < 2) {
        console.log(`  ${(sample.atMs / 60_000).toFixed(1)} min: RSS ${sample.rssMiB.toFixed(1)} MiB, heap ${sample.heapMiB.toFixed(1)} MiB, CPU ${sample.cpuSeconds.toFixed(1)} s, created ${created}, deleted ${deleted}, in flight ${inFlight()}, failures ${failures}`);
      }
    };
    await takeSample();
    const sampler = setInterval(() => void takeSample().catch((err: unknown) => fail('sampling', err)), o.sampleSeconds * 1000);
    const intervalMs = 1000 / o.rate;
    let nextCreate = now();
    try {
      while (now() - t0 < durationMs) {
        alive();
        advance();
        if (now() >= nextCreate) {
          nextCreate += intervalMs;
          if (inFlight() < o.maxInFlight) void createOne();
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(50, nextCreate - now()))));
      }
      // Drain: nothing new; everything created is deleted.
      const drainUntil = Date.now() + 120_000;
      while (inFlight() > 0 && Date.now() < drainUntil) {
        alive();
        advance();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      clearInterval(sampler);
    }
    await takeSample();

    const rss = trend(samples.map((s) => ({ atMs: s.atMs, value: s.rssMiB })), windowMs);
    const heap = trend(samples.map((s) => ({ atMs: s.atMs, value: s.heapMiB })), windowMs);
    const left = await csi.call('/csi.v1.Controller/ListSnapshots', {}, new Date(Date.now() + 30_000));
    const wall = (samples[samples.length - 1]?.atMs ?? 0) / 1000;
    const cpu = (samples[samples.length - 1]?.cpuSeconds ?? 0) - (samples[0]?.cpuSeconds ?? 0);
    const line = (what: string, t: Trend): string =>
      `${what}: first ${(windowMs / 60_000).toFixed(1)} min median ${t.first.toFixed(1)} MiB, last ${(windowMs / 60_000).toFixed(1)} min median ${t.last.toFixed(1)} MiB (${(t.change * 100).toFixed(1)} %), slope after the first window ${t.slopePerHour.toFixed(2)} MiB/h`;
    console.log(`\n${created} created and ${deleted} deleted in ${(wall / 60).toFixed(1)} min; ${inFlight()} still in flight; ${failures} failed requests; ${tracker.withError.size} showed status.error; ${left.entries.length} snapshots left on storage`);
    console.log(line('RSS', rss));
    console.log(line('heap in use', heap));
    console.log(`sidecar CPU: ${cpu.toFixed(1)} s = ${((cpu / Math.max(1, created)) * 1000).toFixed(2)} CPU-seconds per 1,000 snapshots created and deleted; peak RSS (VmHWM) ${(procStatus(sidecar.pid).hwmKiB / 1024).toFixed(1)} MiB`);
    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(
      `result ${JSON.stringify({
        benchmark: 'soak',
        sidecar: o.sidecar,
        minutes: o.minutes,
        windowMinutes: windowMs / 60_000,
        created,
        deleted,
        failures,
        errors: tracker.withError.size,
        storageLeft: left.entries.length,
        samples: samples.length,
        rss,
        heap,
        cpuSecondsPer1000: Number(((cpu / Math.max(1, created)) * 1000).toFixed(2)),
      })}`,
    );
    if (failures > 0 || tracker.withError.size > 0 || left.entries.length > 0 || inFlight() > 0) process.exitCode = 1;
    await sidecar.stop();
  } finally {
    await kit.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
