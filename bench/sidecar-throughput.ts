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
import { cpus } from 'node:os';
import type { RequestOptions, RestClient } from '../src/kube/rest.js';
import { ANN_BEING_DELETED } from '../src/sidecar/keys.js';
import type { CallRecord } from '../src/testing/sample-driver/index.js';
import { dynamicContent, pool, VSC_PATH } from './contents.js';
import { CLASS_NAME, DRIVER_NAME, Kit } from './kit.js';
import { countBy, cpuSeconds, findGoBinary, mib, now, ownCpuSeconds, procStatus, quiesce, startSidecar, summary } from './sidecars.js';

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

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
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

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

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

  // The whole run is bounded: if anything hangs past the deadline plus a minute, kill and leave.
  const kit = await Kit.start(options.timeoutMs * 2 + 60_000);
  const { api, driver, csi, tracker } = kit;
  try {
    const n = options.count;
    console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
    console.log(`sidecar: ${options.sidecar === 'go' ? `Go (${goBinary})` : 'this project (dist/bundle/csi-snapshotter.js)'}, ${n} contents, ${options.concurrency} client requests in flight`);
    const client = new CountingClient(kit.rest);

    // Volumes first (each with one small file, so every snapshot copies real data).
    const volumes: string[] = new Array<string>(n);
    await pool(n, 16, async (i) => {
      const reply = await csi.call(
        '/csi.v1.Controller/CreateVolume',
        { name: `bench-vol-${i}`, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] },
        new Date(Date.now() + 30_000),
      );
      volumes[i] = reply.volume?.volume_id as string;
      await driver.writeFile(volumes[i] as string, 'data.txt', `volume ${i}\n`);
    });
    await kit.createClass((o) => client.request(o, 'create volumesnapshotclasses'));

    // One watch tells the benchmark when each content is ready and when it is gone.
    await kit.watchContents((o) => client.request(o, 'list volumesnapshotcontents'));
    client.count('watch volumesnapshotcontents');

    const startedAt = now();
    const sidecar = startSidecar({ kind: options.sidecar, goBinary, socketPath: driver.socketPath, kubeconfigPath: api.kubeconfigPath });
    kit.sidecar = sidecar;
    const running = sidecar;
    const alive = (): void => {
      if (!running.running) throw new Error(`the sidecar exited; its last output:\n${running.tail()}`);
    };
    const deadline = (): number => Date.now() + options.timeoutMs;
    // Serving = its content watch is open (informers list, then watch).
    // Polled every 5 ms: no watch event tells when the sidecar's watch opens (at 250 ms, the figure came in steps of 250 ms).
    await tracker.until('the sidecar to watch contents', () => api.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents' }) > 1, deadline(), alive, 5);
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
      await client.request({ method: 'POST', path: VSC_PATH, body: dynamicContent(name, volumes[i] as string, DRIVER_NAME, CLASS_NAME) }, 'create volumesnapshotcontents');
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
    console.log(`  sidecar CPU: ${createCpu.sidecar.toFixed(2)} s = ${((createCpu.sidecar / n) * 1000).toFixed(2)} CPU-seconds per 1,000 snapshots`);
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
    console.log(`  sidecar CPU: ${deleteCpu.sidecar.toFixed(2)} s = ${((deleteCpu.sidecar / n) * 1000).toFixed(2)} CPU-seconds per 1,000 deletions`);

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
        cpuSecondsPer1000: { create: Number(((createCpu.sidecar / n) * 1000).toFixed(2)), delete: Number(((deleteCpu.sidecar / n) * 1000).toFixed(2)) },
        serveMs: Math.round(serveMs),
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
    await kit.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
