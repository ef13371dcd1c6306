/**
 * Throughput of the sidecar against the project's test kit: N dynamic VolumeSnapshotContents created
 * at once (as the snapshot-controller creates them for N VolumeSnapshots), then all deleted.
 * The API test server runs in this process (for its request accounting), the sample driver and the
 * sidecar run as the programs users run. Loopback only; stops by itself.
 *
 *   npx tsc -p . && node dist/bench/sidecar-throughput.js [--count=500] [--sidecar=ts|go]
 *       [--go-binary=PATH] [--concurrency=50] [--timeout=300]
 *
 * --sidecar=go runs the real Go csi-snapshotter (default binary: the one `npm run test:real` caches
 * in ~/.cache/csi-snapshotter-ts/real-cluster/<hash>/bin/) with the same flags, for comparison.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { CsiConnection } from '../src/csi/connection.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { RestClient, type RequestOptions, type WatchEvent } from '../src/kube/rest.js';
import { silentLogger } from '../src/observe/logger.js';
import { ANN_BEING_CREATED, ANN_BEING_DELETED, FINALIZER_CONTENT } from '../src/sidecar/keys.js';
import type { VolumeSnapshotContent } from '../src/sidecar/types.js';
import { startTestApiServer, type RequestLog, type TestApiServer } from '../src/testing/apiserver/index.js';
import { startSampleDriver, type CallRecord, type SampleDriverProcess } from '../src/testing/sample-driver/index.js';
import { packageRoot } from '../src/util/package-root.js';

const VSC_PATH = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
const CLASS_PATH = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses';
const CLASS_NAME = 'bench-class';
const DRIVER_NAME = 'sample.csi.example.com';
/** Linux reports /proc/<pid>/stat times in USER_HZ ticks, which is 100 on every mainstream architecture. */
const TICKS_PER_SECOND = 100;

interface Options {
  count: number;
  sidecar: 'ts' | 'go';
  goBinary: string | undefined;
  concurrency: number;
  timeoutMs: number;
}

function parseOptions(argv: string[]): Options {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i] as string);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    values.set(m[1] as string, m[2] ?? (argv[++i] as string));
  }
  const known = ['count', 'sidecar', 'go-binary', 'concurrency', 'timeout'];
  for (const key of values.keys()) if (!known.includes(key)) throw new Error(`unknown flag --${key} (known: ${known.join(', ')})`);
  const int = (key: string, fallback: number): number => {
    const n = Number(values.get(key) ?? fallback);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${key} must be a positive integer`);
    return n;
  };
  const sidecar = values.get('sidecar') ?? 'ts';
  if (sidecar !== 'ts' && sidecar !== 'go') throw new Error('--sidecar must be ts or go');
  return { count: int('count', 500), sidecar, goBinary: values.get('go-binary'), concurrency: int('concurrency', 50), timeoutMs: int('timeout', 300) * 1000 };
}

function findGoBinary(): string | undefined {
  const root = join(homedir(), '.cache', 'csi-snapshotter-ts', 'real-cluster');
  if (!existsSync(root)) return undefined;
  for (const hash of readdirSync(root)) {
    const bin = join(root, hash, 'bin', 'csi-snapshotter');
    if (existsSync(bin)) return bin;
  }
  return undefined;
}

/** Runs `work(0..count-1)` with at most `concurrency` in flight. */
async function pool(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(count, concurrency) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

const now = (): number => performance.now();

function procStatus(pid: number): { rssKiB: number; hwmKiB: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

/** User + system CPU seconds a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const mib = (kib: number): string => (kib / 1024).toFixed(1);

/** The sidecar under test as a child process, its output kept (bounded) for diagnostics. */
class Sidecar {
  private output = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exited = false;
  private readonly killOnExit = (): void => {
    this.child.kill('SIGKILL');
  };

  constructor(readonly child: ChildProcess) {
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-64 * 1024);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exited = true;
        process.off('exit', this.killOnExit);
        resolve({ code, signal });
      }),
    );
    process.once('exit', this.killOnExit);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('the sidecar did not start');
    return this.child.pid;
  }

  get running(): boolean {
    return !this.exited;
  }

  tail(): string {
    return this.output.split('\n').slice(-30).join('\n');
  }

  /** SIGTERM (the sidecars finish in-flight work and exit), SIGKILL after 10 s. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exited) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    try {
      return await this.exit;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Like RequestLog.summary(), with the answer's status code appended when it is not 2xx. */
function summary(log: RequestLog): Record<string, number> {
  return countBy(log.all(), (r) => `${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ''}${r.code >= 300 ? ` -> ${r.code}` : ''}`);
}

/** Waits until the sidecar has sent no API request for `quietMs` (at most `maxMs`), so trailing writes are counted. */
async function quiesce(log: RequestLog, quietMs = 1000, maxMs = 15_000): Promise<void> {
  const giveUpAt = Date.now() + maxMs;
  let last = log.count();
  let since = Date.now();
  while (Date.now() - since < quietMs && Date.now() < giveUpAt) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const n = log.count();
    if (n !== last) {
      last = n;
      since = Date.now();
    }
  }
}

/** What the benchmark itself asks the API server, keyed like RequestLog.summary(), so it can be subtracted. */
class CountingClient {
  readonly own: Record<string, number> = {};

  constructor(readonly rest: RestClient) {}

  count(key: string): void {
    this.own[key] = (this.own[key] ?? 0) + 1;
  }

  request<T>(options: RequestOptions, key: string): Promise<T> {
    this.count(key);
    return this.rest.request<T>(options);
  }
}

function sidecarRequests(after: Record<string, number>, before: Record<string, number>, ownAfter: Record<string, number>, ownBefore: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(after).sort()) {
    const n = (after[key] ?? 0) - (before[key] ?? 0) - ((ownAfter[key] ?? 0) - (ownBefore[key] ?? 0));
    if (n !== 0) out[key] = n;
  }
  return out;
}

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/** Tracks every content through one watch: when it appeared, became ready, and disappeared. */
class ContentTracker {
  readonly createdAt = new Map<string, number>();
  readonly readyAt = new Map<string, number>();
  /** Ready and without the being-created mark: the sidecar has nothing left to write. */
  readonly settledAt = new Map<string, number>();
  readonly goneAt = new Map<string, number>();
  readonly withError = new Set<string>();
  private waiters: Array<() => void> = [];

  onEvent(event: WatchEvent<VolumeSnapshotContent>): void {
    if (event.type === 'ERROR') throw new Error(`watch error: ${event.object.message}`);
    if (event.type === 'BOOKMARK') return;
    const name = event.object.metadata?.name ?? '';
    const t = now();
    if (event.type === 'DELETED') this.goneAt.set(name, t);
    else {
      if (event.object.status?.readyToUse === true && !this.readyAt.has(name)) this.readyAt.set(name, t);
      if (event.object.status?.readyToUse === true && !event.object.metadata?.annotations?.[ANN_BEING_CREATED] && !this.settledAt.has(name)) this.settledAt.set(name, t);
      if (event.object.status?.error) this.withError.add(name);
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  async until(what: string, done: () => boolean, deadline: number, alive: () => void): Promise<void> {
    while (!done()) {
      alive();
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 250);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** Driver-side duration of each RPC method: how long the driver itself took to answer. */
function printRpcDurations(calls: CallRecord[]): void {
  const byMethod = new Map<string, number[]>();
  for (const c of calls) if (c.durationMs !== undefined) byMethod.set(c.method, [...(byMethod.get(c.method) ?? []), c.durationMs]);
  for (const [method, ds] of byMethod) {
    ds.sort((a, b) => a - b);
    console.log(`    ${method} time in driver: p50 ${percentile(ds, 50).toFixed(0)} ms, p95 ${percentile(ds, 95).toFixed(0)} ms, sum ${(ds.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s`);
  }
}

function printRequests(label: string, requests: Record<string, number>, perObject: number): void {
  console.log(`  ${label}: ${sum(requests)} (${(sum(requests) / perObject).toFixed(2)} per snapshot)`);
  for (const [key, n] of Object.entries(requests)) console.log(`    ${key.padEnd(40)} ${String(n).padStart(6)}  ${(n / perObject).toFixed(2)}/snapshot`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const goBinary = options.goBinary ?? findGoBinary();
  if (options.sidecar === 'go' && !goBinary) throw new Error('no Go csi-snapshotter binary found; pass --go-binary=PATH');

  let api: TestApiServer | undefined;
  let driver: SampleDriverProcess | undefined;
  let csi: CsiConnection | undefined;
  let rest: RestClient | undefined;
  let sidecar: Sidecar | undefined;
  const watchAbort = new AbortController();
  let watchDone: Promise<void> | undefined;

  // The whole run is bounded: if anything hangs past the deadline plus a minute, kill and leave.
  const hardStop = setTimeout(() => {
    console.error('benchmark exceeded its time limit; stopping');
    sidecar?.child.kill('SIGKILL');
    void driver?.kill().finally(() => process.exit(2));
  }, options.timeoutMs * 2 + 60_000);
  hardStop.unref();
  const interrupted = (): void => {
    sidecar?.child.kill('SIGKILL');
    void driver?.kill().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    const n = options.count;
    console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
    console.log(`sidecar: ${options.sidecar === 'go' ? `Go (${goBinary})` : 'this project (dist/src/bin/csi-snapshotter.js)'}, ${n} contents, ${options.concurrency} client requests in flight`);

    api = await startTestApiServer();
    driver = await startSampleDriver();
    csi = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger });
    rest = new RestClient({ kubeConfig: loadKubeConfig(api.kubeconfigPath) });
    const client = new CountingClient(rest);

    // Volumes first (each with one small file, so every snapshot copies real data).
    const volumes: string[] = new Array<string>(n);
    const connection = csi;
    const sampleDriver = driver;
    await pool(n, 16, async (i) => {
      const reply = await connection.call(
        '/csi.v1.Controller/CreateVolume',
        { name: `bench-vol-${i}`, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] },
        new Date(Date.now() + 30_000),
      );
      volumes[i] = reply.volume?.volume_id as string;
      await sampleDriver.writeFile(volumes[i] as string, 'data.txt', `volume ${i}\n`);
    });
    await client.request({
      method: 'POST',
      path: CLASS_PATH,
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: CLASS_NAME }, driver: DRIVER_NAME, deletionPolicy: 'Delete' },
    }, 'create volumesnapshotclasses');

    // One watch tells the benchmark when each content is ready and when it is gone.
    const tracker = new ContentTracker();
    const initial = await client.request<{ metadata: { resourceVersion: string } }>({ method: 'GET', path: VSC_PATH }, 'list volumesnapshotcontents');
    client.count('watch volumesnapshotcontents');
    watchDone = rest.watch<VolumeSnapshotContent>({
      path: VSC_PATH,
      query: { resourceVersion: initial.metadata.resourceVersion, timeoutSeconds: 3600 },
      onEvent: (e) => tracker.onEvent(e),
      signal: watchAbort.signal,
    });
    watchDone.catch((err: unknown) => console.error(`benchmark watch failed: ${String(err)}`));

    const flags = [`--csi-address=${driver.socketPath}`, `--kubeconfig=${api.kubeconfigPath}`, '--worker-threads=10', '--kube-api-qps=1000', '--kube-api-burst=1000'];
    const command =
      options.sidecar === 'go'
        ? [goBinary as string, ...flags, '--feature-gates=CSIVolumeGroupSnapshot=false']
        : [process.execPath, join(packageRoot(), 'dist', 'src', 'bin', 'csi-snapshotter.js'), ...flags];
    const startedAt = now();
    sidecar = new Sidecar(spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }));
    const running = sidecar;
    const alive = (): void => {
      if (!running.running) throw new Error(`the sidecar exited; its last output:\n${running.tail()}`);
    };
    const api0 = api;
    const deadline = (): number => Date.now() + options.timeoutMs;
    // Serving = its content watch is open (informers list, then watch).
    await tracker.until('the sidecar to watch contents', () => api0.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents' }) > 1, deadline(), alive);
    const serveMs = now() - startedAt;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const idle = procStatus(sidecar.pid);
    console.log(`sidecar watching contents ${serveMs.toFixed(0)} ms after spawn; idle RSS 3 s later ${mib(idle.rssKiB)} MiB`);

    // ---------------------------------------------------------------- create
    await driver.clearCalls();
    const reqBefore = summary(api.requests);
    const ownBefore = { ...client.own };
    const sidecarCpu0 = cpuSeconds(sidecar.pid);
    const driverCpu0 = cpuSeconds(driver.pid as number);
    const ownCpu0 = ownCpuSeconds();
    const t0 = now();
    const names = Array.from({ length: n }, (_, i) => `bench-content-${i}`);
    await pool(n, options.concurrency, async (i) => {
      const name = names[i] as string;
      await client.request({
        method: 'POST',
        path: VSC_PATH,
        body: {
          apiVersion: 'snapshot.storage.k8s.io/v1',
          kind: 'VolumeSnapshotContent',
          metadata: { name, finalizers: [FINALIZER_CONTENT] },
          spec: {
            volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', name: `vs-${i}`, namespace: 'default', uid: randomUUID() },
            deletionPolicy: 'Delete',
            driver: DRIVER_NAME,
            volumeSnapshotClassName: CLASS_NAME,
            source: { volumeHandle: volumes[i] },
          },
        },
      }, 'create volumesnapshotcontents');
      tracker.createdAt.set(name, now());
    });
    const createdMs = now() - t0;
    await tracker.until(`${n} contents to be readyToUse`, () => tracker.readyAt.size >= n, deadline(), alive);
    const readyMs = Math.max(...names.map((name) => tracker.readyAt.get(name) as number)) - t0;
    const createWall = readyMs / 1000;
    const createCpu = { sidecar: cpuSeconds(sidecar.pid) - sidecarCpu0, driver: cpuSeconds(driver.pid as number) - driverCpu0, own: ownCpuSeconds() - ownCpu0 };
    await tracker.until(`${n} contents to lose the being-created mark`, () => tracker.settledAt.size >= n, deadline(), alive);
    const settledMs = Math.max(...names.map((name) => tracker.settledAt.get(name) as number)) - t0;
    await quiesce(api.requests);
    const afterCreate = procStatus(sidecar.pid);
    const createRequests = sidecarRequests(summary(api.requests), reqBefore, client.own, ownBefore);
    const createCalls = await driver.calls();
    const latencies = names.map((name) => (tracker.readyAt.get(name) as number) - (tracker.createdAt.get(name) as number)).sort((a, b) => a - b);

    console.log(`\ncreate: ${n} contents POSTed in ${createdMs.toFixed(0)} ms; all readyToUse after ${readyMs.toFixed(0)} ms = ${(n / createWall).toFixed(1)} snapshots/s`);
    console.log(`  all ready and unmarked after ${settledMs.toFixed(0)} ms`);
    console.log(`  per-content latency (POST answered -> readyToUse seen): p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms, max ${percentile(latencies, 100).toFixed(0)} ms`);
    printRequests('sidecar API requests', createRequests, n);
    const createRpcs = countBy(createCalls, (c) => `${c.method} ${c.codeName ?? 'running'}`);
    printRequests('driver RPCs', createRpcs, n);
    printRpcDurations(createCalls);
    console.log(`  CPU busy (CPU s / wall s): sidecar ${(createCpu.sidecar / createWall).toFixed(2)}, API server + benchmark ${(createCpu.own / createWall).toFixed(2)}, driver ${(createCpu.driver / createWall).toFixed(2)}`);
    console.log(`  sidecar RSS after create ${mib(afterCreate.rssKiB)} MiB, peak so far ${mib(afterCreate.hwmKiB)} MiB`);

    // ---------------------------------------------------------------- delete
    await driver.clearCalls();
    const reqBefore2 = summary(api.requests);
    const ownBefore2 = { ...client.own };
    const sidecarCpu1 = cpuSeconds(sidecar.pid);
    const driverCpu1 = cpuSeconds(driver.pid as number);
    const ownCpu1 = ownCpuSeconds();
    const t1 = now();
    // As the snapshot-controller does when the VolumeSnapshot is deleted: mark, then DELETE.
    await pool(n, options.concurrency, async (i) => {
      const name = names[i] as string;
      await client.request({
        method: 'PATCH',
        path: `${VSC_PATH}/${name}`,
        contentType: 'application/merge-patch+json',
        body: { metadata: { annotations: { [ANN_BEING_DELETED]: 'yes' } } },
      }, 'patch volumesnapshotcontents');
      await client.request({ method: 'DELETE', path: `${VSC_PATH}/${name}` }, 'delete volumesnapshotcontents');
    });
    const deleteIssuedMs = now() - t1;
    await tracker.until(`${n} contents to be gone`, () => tracker.goneAt.size >= n, deadline(), alive);
    const goneMs = Math.max(...names.map((name) => tracker.goneAt.get(name) as number)) - t1;
    const deleteWall = goneMs / 1000;
    const deleteCpu = { sidecar: cpuSeconds(sidecar.pid) - sidecarCpu1, driver: cpuSeconds(driver.pid as number) - driverCpu1, own: ownCpuSeconds() - ownCpu1 };
    await quiesce(api.requests);
    const afterDelete = procStatus(sidecar.pid);
    const deleteRequests = sidecarRequests(summary(api.requests), reqBefore2, client.own, ownBefore2);
    const deleteCalls = await driver.calls();
    console.log(`\ndelete: ${n} contents marked and DELETEd in ${deleteIssuedMs.toFixed(0)} ms; all gone after ${goneMs.toFixed(0)} ms = ${(n / deleteWall).toFixed(1)} deletions/s`);
    printRequests('sidecar API requests', deleteRequests, n);
    const deleteRpcs = countBy(deleteCalls, (c) => `${c.method} ${c.codeName ?? 'running'}`);
    printRequests('driver RPCs', deleteRpcs, n);
    printRpcDurations(deleteCalls);
    console.log(`  CPU busy (CPU s / wall s): sidecar ${(deleteCpu.sidecar / deleteWall).toFixed(2)}, API server + benchmark ${(deleteCpu.own / deleteWall).toFixed(2)}, driver ${(deleteCpu.driver / deleteWall).toFixed(2)}`);

    // Nothing may be left on storage.
    const left = await csi.call('/csi.v1.Controller/ListSnapshots', {}, new Date(Date.now() + 30_000));
    console.log(`\nsidecar RSS: idle ${mib(idle.rssKiB)} MiB, peak (VmHWM) ${mib(afterDelete.hwmKiB)} MiB, at end ${mib(afterDelete.rssKiB)} MiB`);
    console.log(`contents that showed status.error: ${tracker.withError.size}; storage snapshots left: ${left.entries.length}`);

    const stopped = await sidecar.stop();
    console.log(`sidecar stopped with SIGTERM: exit code ${stopped.code}${stopped.signal ? `, signal ${stopped.signal}` : ''}`);
    console.log(
      `result ${JSON.stringify({
        sidecar: options.sidecar,
        count: n,
        node: process.version,
        cpus: cpus().length,
        createMs: Math.round(readyMs),
        settledMs: Math.round(settledMs),
        snapshotsPerSecond: Number((n / createWall).toFixed(1)),
        latencyMs: { p50: Math.round(percentile(latencies, 50)), p95: Math.round(percentile(latencies, 95)), max: Math.round(percentile(latencies, 100)) },
        createApiPerSnapshot: Number((sum(createRequests) / n).toFixed(2)),
        createRpcsPerSnapshot: Number((createCalls.length / n).toFixed(2)),
        deleteMs: Math.round(goneMs),
        deleteApiPerSnapshot: Number((sum(deleteRequests) / n).toFixed(2)),
        deleteRpcsPerSnapshot: Number((deleteCalls.length / n).toFixed(2)),
        idleRssMiB: Number(mib(idle.rssKiB)),
        peakRssMiB: Number(mib(afterDelete.hwmKiB)),
        cpuBusy: {
          create: { sidecar: Number((createCpu.sidecar / createWall).toFixed(2)), apiserver: Number((createCpu.own / createWall).toFixed(2)), driver: Number((createCpu.driver / createWall).toFixed(2)) },
          delete: { sidecar: Number((deleteCpu.sidecar / deleteWall).toFixed(2)), apiserver: Number((deleteCpu.own / deleteWall).toFixed(2)), driver: Number((deleteCpu.driver / deleteWall).toFixed(2)) },
        },
        errors: tracker.withError.size,
        storageLeft: left.entries.length,
      })}`,
    );
    if (tracker.withError.size > 0 || left.entries.length > 0) process.exitCode = 1;
  } finally {
    clearTimeout(hardStop);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    if (sidecar?.running) await sidecar.stop();
    watchAbort.abort();
    await watchDone?.catch(() => undefined);
    csi?.close();
    rest?.close();
    await driver?.dispose();
    await api?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
