/**
 * Slow snapshots: N dynamic VolumeSnapshotContents created at once, each of whose storage snapshots
 * the sample driver reports ready only some seconds after it was cut (its `readyDelayMs` range:
 * each snapshot draws its own delay), as uploads to object storage behave. One sidecar per run, on
 * a fresh API test server (in this process, for its request accounting) and sample driver.
 *
 * For each snapshot it works out, from the driver's call journal and its stored snapshots
 * (bench/readiness.ts), when the driver first answered that it was ready and how often the sidecar
 * asked; from its own watch, when `readyToUse: true` reached the API server. It reports:
 * - readiness written after the driver's first ready answer, and after the moment it became ready
 *   (the latter includes how long the sidecar waited between two polls);
 * - snapshots/s: N over the time from the first POST to the last content showing ready;
 * - polls, API requests and writes, and RPCs per snapshot; CPU and peak RSS of the sidecar.
 *
 *   npm run build && node dist/bench/slow-snapshots.js [--sidecar=ts|go] [--count=200]
 *       [--min-delay=5] [--max-delay=60] [--setting=default|fast] [--go-binary=PATH] [--timeout=900]
 *
 * `default` runs both sidecars without rate or worker flags (QPS 5, burst 10, 10 workers), `fast`
 * with --kube-api-qps=100 --kube-api-burst=200 --worker-threads=10.
 */
import { cpus, loadavg } from 'node:os';
import { dynamicContent, pool, VSC_PATH } from './contents.js';
import { CLASS_NAME, DRIVER_NAME, Kit } from './kit.js';
import { readinessBySnapshot } from './readiness.js';
import { countBy, cpuSeconds, findGoBinary, mib, now, procStatus, quiesce, startSidecar, summary } from './sidecars.js';
import { medianOf, percentile } from './stats.js';
import { flagValues } from './flags.js';

const SETTING_FLAGS = { default: [] as string[], fast: ['--kube-api-qps=100', '--kube-api-burst=200', '--worker-threads=10'] };

interface Options {
  sidecar: 'ts' | 'go';
  count: number;
  minDelayS: number;
  maxDelayS: number;
  setting: keyof typeof SETTING_FLAGS;
  goBinary: string | undefined;
  timeoutMs: number;
}

function parseOptions(argv: string[]): Options {
  const values = flagValues(argv, ['sidecar', 'count', 'min-delay', 'max-delay', 'setting', 'go-binary', 'timeout']);
  const num = (key: string, fallback: number): number => {
    const n = Number(values.get(key) ?? fallback);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${key} must be a non-negative number`);
    return n;
  };
  const sidecar = values.get('sidecar') ?? 'ts';
  if (sidecar !== 'ts' && sidecar !== 'go') throw new Error('--sidecar must be ts or go');
  const setting = values.get('setting') ?? 'default';
  if (setting !== 'default' && setting !== 'fast') throw new Error('--setting must be default or fast');
  const o = { sidecar, count: Math.round(num('count', 200)), minDelayS: num('min-delay', 5), maxDelayS: num('max-delay', 60), setting, goBinary: values.get('go-binary'), timeoutMs: num('timeout', 900) * 1000 } as Options;
  if (o.count < 1 || o.minDelayS > o.maxDelayS) throw new Error('--count must be positive and --min-delay at most --max-delay');
  return o;
}

const WRITE = /^(create|update|patch|delete) /;
const sum = (r: Record<string, number>, only?: RegExp): number => Object.entries(r).reduce((a, [k, n]) => a + (only && !only.test(k) ? 0 : n), 0);
const stats = (values: number[]): { p50: number; p95: number; max: number } => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: Math.round(percentile(sorted, 50)), p95: Math.round(percentile(sorted, 95)), max: Math.round(percentile(sorted, 100)) };
};

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const goBinary = o.goBinary ?? findGoBinary();
  if (o.sidecar === 'go' && !goBinary) throw new Error('no Go csi-snapshotter binary found; pass --go-binary=PATH');
  const kit = await Kit.start(o.timeoutMs * 2 + 60_000);
  const { api, driver, csi, tracker } = kit;
  try {
    const n = o.count;
    console.log(`slow snapshots: ${o.sidecar === 'go' ? `Go sidecar (${goBinary})` : 'this sidecar'}, ${n} snapshots ready ${o.minDelayS}–${o.maxDelayS} s after they are cut, setting ${o.setting} (${SETTING_FLAGS[o.setting].join(' ') || 'no rate or worker flags'})`);
    console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    // One volume per snapshot: the journal's CreateSnapshot calls name their source volume.
    const volumes: string[] = new Array<string>(n);
    await pool(n, 16, async (i) => {
      const reply = await csi.call('/csi.v1.Controller/CreateVolume', { name: `slow-vol-${i}`, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, new Date(Date.now() + 30_000));
      volumes[i] = reply.volume?.volume_id as string;
    });
    await driver.setFaults({ readyDelayMs: { min: o.minDelayS * 1000, max: o.maxDelayS * 1000 } });
    await kit.createClass();
    await kit.watchContents();

    const sidecar = startSidecar({ kind: o.sidecar, goBinary, socketPath: driver.socketPath, kubeconfigPath: api.kubeconfigPath, flags: SETTING_FLAGS[o.setting] });
    kit.sidecar = sidecar;
    const alive = (): void => {
      if (!sidecar.running) throw new Error(`the sidecar exited; its last output:\n${sidecar.tail()}`);
    };
    const deadline = (): number => Date.now() + o.timeoutMs;
    await tracker.until('the sidecar to watch contents', () => api.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents' }) > 1, deadline(), alive, 20);
    await quiesce(api.requests, 1000);
    await driver.clearCalls();

    const before = summary(api.requests);
    const cpu0 = cpuSeconds(sidecar.pid);
    const names = Array.from({ length: n }, (_, i) => `slow-${i}`);
    const contentOfVolume = new Map(names.map((name, i) => [volumes[i] as string, name]));
    const t0 = now();
    await pool(n, 50, async (i) => {
      const name = names[i] as string;
      await kit.rest.request({ method: 'POST', path: VSC_PATH, body: dynamicContent(name, volumes[i] as string, DRIVER_NAME, CLASS_NAME) });
      tracker.createdAt.set(name, now());
    });
    await tracker.until(`${n} contents to be readyToUse`, () => tracker.readyAt.size >= n, deadline(), alive);
    const lastReady = Math.max(...names.map((x) => tracker.readyAt.get(x) as number));
    const wallS = (lastReady - t0) / 1000;
    const cpu = cpuSeconds(sidecar.pid) - cpu0;
    await tracker.until(`${n} contents to lose the being-created mark`, () => tracker.settledAt.size >= n, deadline(), alive);
    await quiesce(api.requests, 1500, 30_000);
    const after = summary(api.requests);
    const requests: Record<string, number> = {};
    for (const key of Object.keys(after).sort()) {
      // The benchmark's own: n POSTs (create volumesnapshotcontents); nothing else during the phase.
      const d = (after[key] ?? 0) - (before[key] ?? 0) - (key === 'create volumesnapshotcontents' ? n : 0);
      if (d !== 0) requests[key] = d;
    }
    const calls = await driver.calls();
    const rpcs = countBy(calls, (c) => `${c.method} ${c.codeName ?? 'running'}`);
    const inventory = await driver.inventory();
    const readiness = readinessBySnapshot(calls, inventory.snapshots);

    // Per snapshot: wall-clock ms of the watch seeing it ready, of the driver's readiness and first ready answer.
    const origin = performance.timeOrigin;
    const afterFirstAnswer: number[] = [];
    const afterReadyAt: number[] = [];
    const polls: number[] = [];
    let neverAnsweredReady = 0;
    for (const s of inventory.snapshots) {
      const name = contentOfVolume.get(s.sourceVolumeId);
      if (!name) continue;
      const seen = origin + (tracker.readyAt.get(name) as number);
      const r = readiness.get(s.id);
      afterReadyAt.push(seen - s.readyAtMs);
      polls.push((r?.calls ?? 1) - 1);
      if (r?.firstReadyAnswerMs === undefined) neverAnsweredReady++;
      else afterFirstAnswer.push(seen - r.firstReadyAnswerMs);
    }
    const peak = procStatus(sidecar.pid);
    const sps = n / wallS;
    const result = {
      benchmark: 'slow-snapshots',
      sidecar: o.sidecar,
      setting: o.setting,
      count: n,
      delaysS: [o.minDelayS, o.maxDelayS],
      wallS: Number(wallS.toFixed(1)),
      snapshotsPerSecond: Number(sps.toFixed(3)),
      writtenAfterFirstReadyAnswerMs: stats(afterFirstAnswer),
      writtenAfterReadyAtMs: stats(afterReadyAt),
      neverAnsweredReady,
      pollsPerSnapshot: { min: Math.min(...polls), median: medianOf(polls), max: Math.max(...polls) },
      requestsPerSnapshot: Number((sum(requests) / n).toFixed(2)),
      writesPerSnapshot: Number((sum(requests, WRITE) / n).toFixed(2)),
      requests,
      rpcsPerSnapshot: Number((calls.length / n).toFixed(2)),
      rpcs,
      cpuSecondsPer1000: Number(((cpu / n) * 1000).toFixed(2)),
      peakRssMiB: Number(mib(peak.hwmKiB)),
      errors: tracker.withError.size,
    };
    console.log(`${n} ready after ${wallS.toFixed(1)} s = ${sps.toFixed(2)} snapshots/s`);
    console.log(`  readiness written after the driver's first ready answer: p50 ${result.writtenAfterFirstReadyAnswerMs.p50} / p95 ${result.writtenAfterFirstReadyAnswerMs.p95} / max ${result.writtenAfterFirstReadyAnswerMs.max} ms (${neverAnsweredReady} never answered ready to a call: found ready some other way)`);
    console.log(`  readiness written after the snapshot became ready: p50 ${result.writtenAfterReadyAtMs.p50} / p95 ${result.writtenAfterReadyAtMs.p95} / max ${result.writtenAfterReadyAtMs.max} ms`);
    console.log(`  polls per snapshot after the first CreateSnapshot: min ${result.pollsPerSnapshot.min}, median ${result.pollsPerSnapshot.median}, max ${result.pollsPerSnapshot.max}`);
    console.log(`  sidecar API requests ${sum(requests)} (${result.requestsPerSnapshot} per snapshot, writes ${result.writesPerSnapshot}): ${JSON.stringify(requests)}`);
    console.log(`  RPCs ${calls.length} (${result.rpcsPerSnapshot} per snapshot): ${JSON.stringify(rpcs)}`);
    console.log(`  sidecar CPU ${cpu.toFixed(2)} s (${result.cpuSecondsPer1000} per 1,000); peak RSS ${result.peakRssMiB} MiB; status.error on ${result.errors}`);
    console.log(`result ${JSON.stringify(result)}`);
    if (result.errors > 0) process.exitCode = 1;
    await sidecar.stop();
  } finally {
    await kit.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
