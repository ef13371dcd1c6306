/**
 * Where this sidecar's memory and start-up time go. Against the API test server with N ready
 * contents (as bench/sidecar-startup.ts sets it up), it starts this sidecar with a measuring probe
 * (bench/probe.ts) and `--cpu-prof`, and writes to --out:
 *
 * - `startup.cpuprofile` (spawn → new content ready → 2 s idle → SIGTERM), summarised by package
 *   and function;
 * - `idle.json` / `idle.heapsnapshot`: memory once idle with the N contents cached;
 * - then, with a second start of the sidecar, `load` new snapshots are created at once:
 *   `mid-load.json` / `.heapsnapshot` when half of them are ready, `after-load.json` when all are
 *   ready and unmarked, each with the highest-RSS sample of the run (RSS, V8 heap by space), and
 *   `load/load.cpuprofile` (the second start, its idle wait and the whole load), summarised like
 *   the start-up profile: where the CPU of the creates goes (use --no-heap-snapshots for a profile
 *   without the mid-load snapshot in it).
 *
 *   npm run build && node dist/bench/sidecar-profile.js [--count=5000] [--load=1000] [--out=DIR]
 *       [--node-args="--max-semi-space-size=1 …"] [--no-heap-snapshots] [--idle-seconds=2]
 *
 * Heap snapshots are opened in Chrome DevTools (Memory tab) for the retainer paths; this script
 * prints self sizes by type and constructor, which is what the per-content cost is made of.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/util/package-root.js';
import { createReadyContents, dynamicContent, pool, VSC_PATH } from './contents.js';
import { CLASS_NAME, DRIVER_NAME, Kit } from './kit.js';
import { summarizeCpuProfile, summarizeHeapSnapshot } from './profile-summary.js';
import { mib, now, procStatus, quiesce, startSidecar, type Sidecar } from './sidecars.js';

interface Options {
  count: number;
  load: number;
  out: string;
  nodeArgs: string[];
  heapSnapshots: boolean;
  idleSeconds: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { count: 5000, load: 1000, out: join(tmpdir(), `sidecar-profile-${process.pid}`), nodeArgs: [], heapSnapshots: true, idleSeconds: 2 };
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (m?.[1] === 'count' && m[2]) o.count = Number(m[2]);
    else if (m?.[1] === 'load' && m[2]) o.load = Number(m[2]);
    else if (m?.[1] === 'out' && m[2]) o.out = m[2];
    else if (m?.[1] === 'node-args' && m[2] !== undefined) o.nodeArgs = m[2].split(/\s+/).filter(Boolean);
    else if (m?.[1] === 'no-heap-snapshots' && m[2] === undefined) o.heapSnapshots = false;
    else if (m?.[1] === 'idle-seconds' && m[2]) o.idleSeconds = Number(m[2]);
    else throw new Error(`unexpected argument ${arg}`);
  }
  if (!Number.isInteger(o.count) || o.count < 0 || !Number.isInteger(o.load) || o.load < 0) throw new Error('--count and --load are integers ≥ 0');
  return o;
}

interface ProbeReport {
  label: string;
  before: Record<string, unknown> & { rssKiB: number; heapUsedKiB: number };
  afterHeapSnapshot?: Record<string, unknown> & { rssKiB: number; heapUsedKiB: number };
  peak: Record<string, unknown> & { rssKiB: number };
  mappingsKiB?: Record<string, number>;
  heapSnapshot?: string;
}

/** Asks the probe in the sidecar for a report labelled `label` and waits for it. */
async function probe(sidecar: Sidecar, out: string, labels: string[], label: string): Promise<ProbeReport> {
  labels.push(label);
  writeFileSync(join(out, 'labels'), `${labels.join('\n')}\n`);
  const file = join(out, `${label}.json`);
  sidecar.child.kill('SIGUSR2');
  const giveUp = Date.now() + 300_000;
  while (!existsSync(file)) {
    if (!sidecar.running) throw new Error(`the sidecar exited; its last output:\n${sidecar.tail()}`);
    if (Date.now() > giveUp) throw new Error(`no probe report ${file}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return JSON.parse(readFileSync(file, 'utf8')) as ProbeReport;
}

function printProbe(report: ProbeReport): void {
  const line = (what: string, s: Record<string, unknown>): void => {
    const spaces = s.spaces as Record<string, [number, number]>;
    const space = Object.entries(spaces)
      .filter(([, [committed]]) => committed > 0)
      .map(([name, [committed, used]]) => `${name.replace(/_space$/, '')} ${mib(committed)}/${mib(used)}`)
      .join(', ');
    console.log(
      `  ${what}: RSS ${mib(s.rssKiB as number)} MiB (anon ${mib(s.rssAnonKiB as number)}, file ${mib(s.rssFileKiB as number)}); V8 heap committed ${mib(s.heapTotalKiB as number)} MiB, used ${mib(s.heapUsedKiB as number)}; external ${mib(s.externalKiB as number)} (array buffers ${mib(s.arrayBuffersKiB as number)})`,
    );
    console.log(`    spaces committed/used MiB: ${space}`);
  };
  console.log(`\n[${report.label}]`);
  line('now', report.before);
  if (report.mappingsKiB) console.log(`    RSS by mapping (KiB): ${JSON.stringify(report.mappingsKiB)}`);
  if (report.afterHeapSnapshot) line('after the full GC of the heap snapshot', report.afterHeapSnapshot);
  line(`peak RSS sample so far (at ${String(report.peak.atMs)} ms)`, report.peak);
  if (report.heapSnapshot) {
    const h = summarizeHeapSnapshot(report.heapSnapshot);
    console.log(`  heap snapshot ${report.heapSnapshot}: ${h.nodes} nodes, ${mib(h.totalSelfKiB)} MiB`);
    console.log(`    by type (count, KiB): ${JSON.stringify(h.byType)}`);
    console.log('    largest groups (type:constructor, count, KiB):');
    for (const [name, n, kib] of h.top) console.log(`      ${String(kib).padStart(7)} KiB  ${String(n).padStart(8)}  ${name}`);
  }
}

async function waitReady(kit: Kit, name: string, sidecar: Sidecar): Promise<void> {
  await kit.tracker.until(`${name} to be readyToUse`, () => kit.tracker.readyAt.has(name), Date.now() + 300_000, () => {
    if (!sidecar.running) throw new Error(`the sidecar exited; its last output:\n${sidecar.tail()}`);
  });
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  rmSync(o.out, { recursive: true, force: true });
  mkdirSync(o.out, { recursive: true });
  const kit = await Kit.start(3_600_000);
  const { api, driver, csi, rest } = kit;
  const probeModule = join(packageRoot(), 'dist', 'bench', 'probe.js');
  const newVolume = async (name: string): Promise<string> => {
    const reply = await csi.call('/csi.v1.Controller/CreateVolume', { name, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, new Date(Date.now() + 30_000));
    return reply.volume?.volume_id as string;
  };
  try {
    console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}; sidecar Node options: ${o.nodeArgs.join(' ') || '(none)'}; output in ${o.out}`);
    await kit.createClass();
    if (o.count > 0) await createReadyContents(rest, { count: o.count, driver: DRIVER_NAME, className: CLASS_NAME });
    await kit.watchContents();

    // ------------------------------------------------------------ start-up and idle
    const first = 'profile-startup';
    await rest.request({ method: 'POST', path: VSC_PATH, body: dynamicContent(first, await newVolume(`vol-${first}`), DRIVER_NAME, CLASS_NAME) });
    await quiesce(api.requests, 500);
    const env = { PROBE_OUT: o.out, PROBE_HEAP_SNAPSHOT: o.heapSnapshots ? '1' : '0' };
    const labels: string[] = [];
    const startedAt = now();
    const sidecar = startSidecar({ kind: 'ts', goBinary: undefined, socketPath: driver.socketPath, kubeconfigPath: api.kubeconfigPath, nodeArgs: [...o.nodeArgs, `--import=${probeModule}`, '--cpu-prof', `--cpu-prof-dir=${o.out}`], env });
    kit.sidecar = sidecar;
    await waitReady(kit, first, sidecar);
    console.log(`\nstart → new content ready with ${o.count} ready contents: ${((kit.tracker.readyAt.get(first) as number) - startedAt).toFixed(0)} ms`);
    await quiesce(api.requests, o.idleSeconds * 1000, o.idleSeconds * 1000 + 30_000);
    console.log(`idle (no request for ${o.idleSeconds} s): RSS ${mib(procStatus(sidecar.pid).rssKiB)} MiB`);
    printProbe(await probe(sidecar, o.out, labels, 'idle'));
    await sidecar.stop();
    printCpuProfile(o.out, 'startup.cpuprofile', 'spawn → ready → 2 s idle → stop');
    if (o.load === 0) return;

    // ------------------------------------------------------------ load
    const volumes = new Array<string>(o.load);
    await pool(o.load, 16, async (i) => {
      volumes[i] = await newVolume(`profile-vol-${i}`);
    });
    const loadLabels: string[] = [];
    const loadOut = join(o.out, 'load');
    mkdirSync(loadOut);
    const second = startSidecar({ kind: 'ts', goBinary: undefined, socketPath: driver.socketPath, kubeconfigPath: api.kubeconfigPath, nodeArgs: [...o.nodeArgs, `--import=${probeModule}`, '--cpu-prof', `--cpu-prof-dir=${loadOut}`], env: { ...env, PROBE_OUT: loadOut } });
    kit.sidecar = second;
    await kit.tracker.until('the sidecar to watch contents', () => api.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents' }) > 2, Date.now() + 300_000, () => undefined);
    await quiesce(api.requests, 2000, 30_000);
    const beforeLoad = procStatus(second.pid);
    console.log(`\nsecond start, idle before the load: RSS ${mib(beforeLoad.rssKiB)} MiB, peak so far ${mib(beforeLoad.hwmKiB)} MiB`);
    const names = Array.from({ length: o.load }, (_, i) => `profile-load-${i}`);
    const t0 = now();
    const half = Math.ceil(o.load / 2);
    await pool(o.load, 50, async (i) => {
      await rest.request({ method: 'POST', path: VSC_PATH, body: dynamicContent(names[i] as string, volumes[i] as string, DRIVER_NAME, CLASS_NAME) });
    });
    await kit.tracker.until(`${half} of the load ready`, () => names.filter((n) => kit.tracker.readyAt.has(n)).length >= half, Date.now() + 300_000, () => undefined);
    // The peak in this report is clean; the later one includes the memory the heap snapshot took.
    printProbe(await probe(second, loadOut, loadLabels, 'mid-load'));
    await kit.tracker.until(`all ${o.load} settled`, () => names.every((n) => kit.tracker.settledAt.has(n)), Date.now() + 600_000, () => undefined);
    console.log(`\n${o.load} snapshots ready and unmarked after ${((now() - t0) / 1000).toFixed(1)} s (a heap snapshot was taken in between)`);
    await quiesce(api.requests, 2000, 30_000);
    const after = procStatus(second.pid);
    console.log(`after the load: RSS ${mib(after.rssKiB)} MiB, peak (VmHWM) ${mib(after.hwmKiB)} MiB`);
    printProbe(await probe(second, loadOut, loadLabels, 'after-load'));
    await second.stop();
    printCpuProfile(loadOut, 'load.cpuprofile', `second start, idle, then ${o.load} snapshots created`);
  } finally {
    await kit.dispose();
  }
}

/** Names the one profile Node wrote into `dir` and prints where its CPU time went. */
function printCpuProfile(dir: string, name: string, what: string): void {
  const written = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f !== name);
  if (!written) return;
  renameSync(join(dir, written), join(dir, name));
  const cpu = summarizeCpuProfile(join(dir, name));
  console.log(`\n[${name}] ${what}: profile ${cpu.wallMs} ms, of it busy ${cpu.busyMs} ms`);
  console.log('  self time by origin (ms):');
  for (const [from, ms] of cpu.byOrigin) console.log(`    ${String(ms).padStart(6)}  ${from}`);
  console.log('  busiest functions, self time (ms):');
  for (const [fn, ms] of cpu.topFunctions) console.log(`    ${String(ms).padStart(6)}  ${fn}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
