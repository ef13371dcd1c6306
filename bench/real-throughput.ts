/**
 * Throughput on the real kube-apiserver (etcd and kube-apiserver from the real-cluster harness,
 * hostpathplugin as the driver): N dynamic VolumeSnapshotContents created at once, as the
 * snapshot-controller creates them, for this sidecar and the Go csi-snapshotter in turn with the
 * same flags, several rounds. Two settings:
 *   fast     --kube-api-qps=100 --kube-api-burst=200 --worker-threads=10, 500 contents, then all deleted;
 *   default  no rate or worker flags (QPS 5, burst 10, 10 workers), 200 contents; the benchmark
 *            then clears them itself with the sidecar stopped (deleting 200 at QPS 5 would take
 *            minutes per run and is not what the setting is about).
 * The sidecar's requests are counted from the API server's audit log (its ServiceAccount), its CPU
 * and memory from /proc.
 *
 *   npm run build && node dist/bench/real-throughput.js [--settings=fast,default] [--fast-count=500]
 *       [--default-count=200] [--rounds=3] [--sidecars=ts,go] [--timeout=900] [--cpu-prof-dir=DIR]
 *
 * --cpu-prof-dir: this sidecar writes a CPU profile of each of its runs there (profiling costs CPU,
 * so the figures of such a run are not comparable).
 */
import { cpus, loadavg } from 'node:os';
import { CsiConnection } from '../src/csi/connection.js';
import { silentLogger } from '../src/observe/logger.js';
import { ANN_BEING_DELETED } from '../src/sidecar/keys.js';
import type { VolumeSnapshotContent } from '../src/sidecar/types.js';
import { CLASS_PATH, ContentTracker, dynamicContent, median, pool, VSC_PATH } from './contents.js';
import { lastWrites } from './audit.js';
import { ResilientContentWatch } from './content-watch.js';
import { BenchCluster, SIDECAR_USER } from './real-cluster.js';
import { cpuSeconds, mib, now, procStatus, type SidecarKind } from './sidecars.js';
import { percentile } from './stats.js';
import { flagValues } from './flags.js';

type Setting = 'fast' | 'default';
const SETTING_FLAGS: Record<Setting, string[]> = { fast: ['--kube-api-qps=100', '--kube-api-burst=200', '--worker-threads=10'], default: [] };
const CLASS_NAME = 'bench-hostpath';

interface Options {
  settings: Setting[];
  counts: Record<Setting, number>;
  rounds: number;
  sidecars: SidecarKind[];
  timeoutMs: number;
  cpuProfileDir: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const values = flagValues(argv, ['settings', 'fast-count', 'default-count', 'rounds', 'sidecars', 'timeout', 'cpu-prof-dir']);
  const int = (key: string, fallback: number): number => {
    const n = Number(values.get(key) ?? fallback);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${key} must be a positive integer`);
    return n;
  };
  const settings = (values.get('settings') ?? 'fast,default').split(',');
  if (!settings.every((s) => s === 'fast' || s === 'default')) throw new Error('--settings is a list of fast and default');
  const sidecars = (values.get('sidecars') ?? 'ts,go').split(',');
  if (!sidecars.every((s) => s === 'ts' || s === 'go')) throw new Error('--sidecars is a list of ts and go');
  return {
    settings: settings as Setting[],
    counts: { fast: int('fast-count', 500), default: int('default-count', 200) },
    rounds: int('rounds', 3),
    sidecars: sidecars as SidecarKind[],
    timeoutMs: int('timeout', 900) * 1000,
    cpuProfileDir: values.get('cpu-prof-dir'),
  };
}

export interface RealRun {
  setting: Setting;
  sidecar: SidecarKind;
  round: number;
  count: number;
  serveMs: number;
  idleRssMiB: number;
  snapshotsPerSecond: number;
  latencyMs: { p50: number; p95: number; max: number };
  cpuSecondsPer1000: { create: number; delete?: number };
  apiserverCpuSecondsPer1000: number;
  peakRssMiB: number;
  createRequests: Record<string, number>;
  createRequestsPerSnapshot: number;
  createWritesPerSnapshot: number;
  deleteRequestsPerSnapshot?: number;
  deletionsPerSecond?: number;
  errors: number;
  /** Times the benchmark's watch had to be started again during the run (then some times are late). */
  watchRestarts?: number;
}

const WRITE_VERBS = /^(create|update|patch|delete) /;
const total = (r: Record<string, number>, only?: RegExp): number => Object.entries(r).reduce((a, [k, n]) => a + (only && !only.test(k) ? 0 : n), 0);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the audit log has not grown for `quietMs` (at most `maxMs`): the sidecar has stopped writing. */
async function auditQuiet(bench: BenchCluster, quietMs = 1500, maxMs = 20_000): Promise<void> {
  const giveUp = Date.now() + maxMs;
  let size = bench.audit.offset();
  let since = Date.now();
  while (Date.now() - since < quietMs && Date.now() < giveUp) {
    await sleep(100);
    const now = bench.audit.offset();
    if (now !== size) {
      size = now;
      since = Date.now();
    }
  }
}

async function runOne(bench: BenchCluster, csi: CsiConnection, tracker: ContentTracker, volumes: string[], o: Options, setting: Setting, kind: SidecarKind, round: number): Promise<RealRun> {
  const n = o.counts[setting];
  const user = SIDECAR_USER[kind];
  const label = `${setting}-${round}-${kind}`;
  const deadline = (): number => Date.now() + o.timeoutMs;

  const startOffset = bench.audit.offset();
  const spawnedAt = now();
  const sidecar = bench.startSidecar(kind, `sidecar-${label}`, SETTING_FLAGS[setting]);
  const alive = (): void => sidecar.assertRunning();
  try {
    // Serving = its content watch is open, as the audit log shows (the Go sidecar's watch-list
    // is a watch too).
    await tracker.until('the sidecar to watch contents', () => (bench.audit.requestsSince(startOffset, user)['watch volumesnapshotcontents'] ?? 0) > 0, deadline(), alive, 20);
    const serveMs = now() - spawnedAt;
    await sleep(3000);
    const idle = procStatus(sidecar.pid);

    // ------------------------------------------------------------ create
    const createOffset = bench.audit.offset();
    const cpu0 = cpuSeconds(sidecar.pid);
    const apiCpu0 = cpuSeconds(bench.apiserverPid);
    const names = Array.from({ length: n }, (_, i) => `rt-${label}-${i}`);
    const t0 = now();
    await pool(n, 50, async (i) => {
      const name = names[i] as string;
      await bench.admin.request({ method: 'POST', path: VSC_PATH, body: dynamicContent(name, volumes[i] as string, bench.driver.driverName, CLASS_NAME) });
      tracker.createdAt.set(name, now());
    });
    await tracker.until(`${n} contents to be readyToUse`, () => names.every((x) => tracker.readyAt.has(x)), deadline(), alive);
    const createCpu = cpuSeconds(sidecar.pid) - cpu0;
    const apiCpu = cpuSeconds(bench.apiserverPid) - apiCpu0;
    await tracker.until(`${n} contents to lose the being-created mark`, () => names.every((x) => tracker.settledAt.has(x)), deadline(), alive);
    await auditQuiet(bench);
    const createRequests = bench.audit.requestsSince(createOffset, user);
    // When each became ready: its status write in the audit log (hostpathplugin's snapshots are ready
    // at once, so each gets one), on the wall clock; the watch's time only if the log has none.
    const statusWritten = lastWrites(bench.audit.readFrom(createOffset), user, 'volumesnapshotcontents', 'status');
    const wall = (t: number): number => performance.timeOrigin + t;
    const readyWall = (x: string): number => statusWritten.get(x) ?? wall(tracker.readyAt.get(x) as number);
    const readyMs = Math.max(...names.map(readyWall)) - wall(t0);
    const latencies = names.map((x) => readyWall(x) - wall(tracker.createdAt.get(x) as number)).sort((a, b) => a - b);
    const errors = names.filter((x) => tracker.withError.has(x)).length;
    const sps = n / (readyMs / 1000);
    console.log(`${label}: watching contents ${serveMs.toFixed(0)} ms after spawn, idle RSS ${mib(idle.rssKiB)} MiB; ${n} ready after ${readyMs.toFixed(0)} ms = ${sps.toFixed(2)} snapshots/s; latency p50 ${percentile(latencies, 50).toFixed(0)} / p95 ${percentile(latencies, 95).toFixed(0)} / max ${percentile(latencies, 100).toFixed(0)} ms`);
    console.log(`  create: sidecar CPU ${createCpu.toFixed(2)} s (${((createCpu / n) * 1000).toFixed(2)} per 1,000), kube-apiserver CPU ${apiCpu.toFixed(2)} s; requests ${total(createRequests)} (${(total(createRequests) / n).toFixed(2)} per snapshot, writes ${(total(createRequests, WRITE_VERBS) / n).toFixed(2)}): ${JSON.stringify(createRequests)}`);

    // ------------------------------------------------------------ delete
    let deleteCpu: number | undefined;
    let deleteRequests: Record<string, number> | undefined;
    let deletionsPerSecond: number | undefined;
    if (setting === 'fast') {
      const deleteOffset = bench.audit.offset();
      const cpu1 = cpuSeconds(sidecar.pid);
      const t1 = now();
      await pool(n, 50, async (i) => {
        const name = names[i] as string;
        await bench.admin.request({ method: 'PATCH', path: `${VSC_PATH}/${name}`, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_BEING_DELETED]: 'yes' } } } });
        await bench.admin.request({ method: 'DELETE', path: `${VSC_PATH}/${name}` });
      });
      await tracker.until(`${n} contents to be gone`, () => names.every((x) => tracker.goneAt.has(x)), deadline(), alive);
      deleteCpu = cpuSeconds(sidecar.pid) - cpu1;
      await auditQuiet(bench);
      deleteRequests = bench.audit.requestsSince(deleteOffset, user);
      // Gone when the sidecar took its finalizer off: its last write of the object itself.
      const released = lastWrites(bench.audit.readFrom(deleteOffset), user, 'volumesnapshotcontents', '');
      const goneMs = Math.max(...names.map((x) => released.get(x) ?? performance.timeOrigin + (tracker.goneAt.get(x) as number))) - (performance.timeOrigin + t1);
      deletionsPerSecond = n / (goneMs / 1000);
      console.log(`  delete: all gone after ${goneMs.toFixed(0)} ms = ${deletionsPerSecond.toFixed(1)}/s; sidecar CPU ${deleteCpu.toFixed(2)} s; requests ${total(deleteRequests)} (${(total(deleteRequests) / n).toFixed(2)} per snapshot): ${JSON.stringify(deleteRequests)}`);
    }
    const peak = procStatus(sidecar.pid);
    await sidecar.stop();

    if (setting !== 'fast') {
      // The sidecar is stopped: delete on storage, then release and delete each content directly.
      await pool(n, 16, async (i) => {
        const name = names[i] as string;
        const content = await bench.admin.request<VolumeSnapshotContent>({ method: 'GET', path: `${VSC_PATH}/${name}` });
        const handle = content.status?.snapshotHandle;
        if (handle) await csi.call('/csi.v1.Controller/DeleteSnapshot', { snapshot_id: handle }, new Date(Date.now() + 60_000));
        await bench.admin.request({ method: 'DELETE', path: `${VSC_PATH}/${name}` });
        await bench.admin.request({ method: 'PATCH', path: `${VSC_PATH}/${name}`, contentType: 'application/merge-patch+json', body: { metadata: { finalizers: null } } });
      });
      await tracker.until(`${n} contents to be gone`, () => names.every((x) => tracker.goneAt.has(x)), deadline(), () => undefined);
    }
    const left = await bench.driver.csi.snapshots();
    if (left.length > 0) throw new Error(`${left.length} snapshots left on storage after ${label}`);
    for (const x of names) for (const map of [tracker.createdAt, tracker.readyAt, tracker.settledAt, tracker.goneAt]) map.delete(x);
    console.log(`  peak RSS (VmHWM) ${mib(peak.hwmKiB)} MiB; status.error on ${errors}`);

    return {
      setting,
      sidecar: kind,
      round,
      count: n,
      serveMs: Math.round(serveMs),
      idleRssMiB: Number(mib(idle.rssKiB)),
      snapshotsPerSecond: Number(sps.toFixed(2)),
      latencyMs: { p50: Math.round(percentile(latencies, 50)), p95: Math.round(percentile(latencies, 95)), max: Math.round(percentile(latencies, 100)) },
      cpuSecondsPer1000: { create: Number(((createCpu / n) * 1000).toFixed(2)), ...(deleteCpu !== undefined ? { delete: Number(((deleteCpu / n) * 1000).toFixed(2)) } : {}) },
      apiserverCpuSecondsPer1000: Number(((apiCpu / n) * 1000).toFixed(2)),
      peakRssMiB: Number(mib(peak.hwmKiB)),
      createRequests,
      createRequestsPerSnapshot: Number((total(createRequests) / n).toFixed(2)),
      createWritesPerSnapshot: Number((total(createRequests, WRITE_VERBS) / n).toFixed(2)),
      ...(deleteRequests ? { deleteRequestsPerSnapshot: Number((total(deleteRequests) / n).toFixed(2)) } : {}),
      ...(deletionsPerSecond !== undefined ? { deletionsPerSecond: Number(deletionsPerSecond.toFixed(1)) } : {}),
      errors,
    };
  } finally {
    if (sidecar.running) await sidecar.kill();
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const started = Date.now();
  console.log(`real kube-apiserver throughput: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  const bench = await BenchCluster.start();
  // This sidecar's CPU profile of each run, to see where its CPU per snapshot goes.
  bench.cpuProfileDir = o.cpuProfileDir;
  const csi = await CsiConnection.connect({ address: `unix://${bench.driver.socketPath}`, log: silentLogger });
  const tracker = new ContentTracker();
  let watch: ResilientContentWatch | undefined;
  try {
    console.log(`control plane and hostpathplugin up in ${((Date.now() - started) / 1000).toFixed(1)} s (Go sidecar ${bench.goBinary})`);
    const volumeCount = Math.max(...o.settings.map((s) => o.counts[s]));
    const volumes: string[] = new Array<string>(volumeCount);
    await pool(volumeCount, 8, async (i) => {
      volumes[i] = await bench.driver.csi.createVolume(`bench-vol-${i}`, 1024 * 1024);
      await bench.driver.writeVolumeFile(volumes[i] as string, 'data.txt', `volume ${i}\n`);
    });
    await bench.admin.request({
      method: 'POST',
      path: CLASS_PATH,
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: CLASS_NAME }, driver: bench.driver.driverName, deletionPolicy: 'Delete' },
    });
    watch = await ResilientContentWatch.open(bench.admin, tracker);
    console.log(`${volumeCount} hostpath volumes ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const runs: RealRun[] = [];
    for (const setting of o.settings) {
      for (let round = 1; round <= o.rounds; round++) {
        const order = round % 2 === 1 ? o.sidecars : [...o.sidecars].reverse();
        for (const kind of order) {
          const restarts = watch.restarts;
          const run = await runOne(bench, csi, tracker, volumes, o, setting, kind, round);
          run.watchRestarts = watch.restarts - restarts;
          if (run.watchRestarts > 0) console.log(`  the benchmark's watch was ended by the API server ${run.watchRestarts} time(s) during this run: what it missed is timed at the relist, late`);
          runs.push(run);
        }
      }
    }
    for (const setting of o.settings) {
      for (const kind of o.sidecars) {
        const mine = runs.filter((r) => r.setting === setting && r.sidecar === kind);
        console.log(
          `median ${setting} ${kind}: ${median(mine.map((r) => r.snapshotsPerSecond)).toFixed(2)} snapshots/s, ${median(mine.map((r) => r.cpuSecondsPer1000.create)).toFixed(2)} CPU-s per 1,000 created, peak RSS ${median(mine.map((r) => r.peakRssMiB)).toFixed(1)} MiB, ${median(mine.map((r) => r.createWritesPerSnapshot)).toFixed(2)} writes per snapshot`,
        );
      }
    }
    console.log(`finished in ${((Date.now() - started) / 1000).toFixed(0)} s; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`result ${JSON.stringify({ benchmark: 'real-throughput', node: process.version, cpus: cpus().length, runs })}`);
    if (runs.some((r) => r.errors > 0)) process.exitCode = 1;
  } finally {
    await watch?.close();
    csi.close();
    await bench.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
