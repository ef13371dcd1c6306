/**
 * The benchmark suite (`npm run bench`): each benchmark runs this sidecar and the Go csi-snapshotter
 * in turn, several rounds, against the project's API test server and sample driver, then prints
 * every run, the medians and the ratio ts/go (below 1 means this sidecar needs less, or is faster
 * for times). Benchmarks run one after the other, each in its own process, so they never compete.
 *
 *   npm run bench                      # full, about 40 minutes: 5,000 ready contents at start-up, 1,000
 *                                      # snapshots on the test kit, the real kube-apiserver (500 at QPS 100,
 *                                      # 200 at the default QPS), 200 slow snapshots (3 rounds at
 *                                      # QPS 100/200, 1 at the default QPS); 3 rounds
 *   npm run bench -- --quick           # about two minutes: the same, small, 1 round
 *   npm run bench -- --rounds=5 --go-binary=PATH
 *   npm run bench -- --soak[=MINUTES]  # only the soak (bench/soak.ts), this sidecar, 30 minutes by default
 *
 * The real-kube-apiserver benchmark (bench/real-throughput.ts) runs both sidecars on a control plane
 * of the real-cluster harness with hostpathplugin, and always the Go sidecar of that build.
 * The Go sidecar is the one the real-cluster build caches (`npm run build:upstream`).
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/util/package-root.js';
import { median } from './contents.js';
import { findGoBinary } from './sidecars.js';

type SlowSetting = 'fast' | 'default';

interface Plan {
  startupContents: number;
  throughputSnapshots: number;
  rounds: number;
  goBinary: string;
  /** real-throughput: contents at QPS 100/200 and at the default QPS, and its rounds. */
  real: { fast: number; default: number; rounds: number };
  /** slow-snapshots: count, delay range in seconds, and rounds per setting (0: not run). */
  slow: { count: number; minDelayS: number; maxDelayS: number; rounds: Record<SlowSetting, number> };
  /** Minutes of soak instead of the suite. */
  soakMinutes?: number;
}

function plan(argv: string[]): Plan {
  let quick = false;
  let rounds: number | undefined;
  let goBinary: string | undefined;
  let soakMinutes: number | undefined;
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m?.[1] === 'quick' && m[2] === undefined) quick = true;
    else if (m?.[1] === 'rounds' && m[2] !== undefined && /^[1-9]\d*$/.test(m[2])) rounds = Number(m[2]);
    else if (m?.[1] === 'go-binary' && m[2]) goBinary = m[2];
    else if (m?.[1] === 'soak' && (m[2] === undefined || Number(m[2]) > 0)) soakMinutes = m[2] === undefined ? 30 : Number(m[2]);
    else throw new Error(`unexpected argument ${arg} (known: --quick, --rounds=N, --go-binary=PATH, --soak[=MINUTES])`);
  }
  goBinary ??= findGoBinary();
  if (!goBinary) throw new Error('no Go csi-snapshotter binary: build it with `npm run build:upstream` (it is cached for `npm run test:real` too), or pass --go-binary=PATH');
  // Slow snapshots: 5–60 s delays put each one behind three or more polls of either sidecar at
  // QPS 100/200. At the default QPS both sidecars are held by their client rate limit instead (a
  // round takes 3 and 5 minutes), so that setting runs once. Quick: 2–5 s, QPS 100/200 only.
  return quick
    ? { startupContents: 500, throughputSnapshots: 100, rounds: rounds ?? 1, goBinary, real: { fast: 50, default: 10, rounds: rounds ?? 1 }, slow: { count: 10, minDelayS: 2, maxDelayS: 5, rounds: { fast: rounds ?? 1, default: 0 } }, soakMinutes }
    : { startupContents: 5000, throughputSnapshots: 1000, rounds: rounds ?? 3, goBinary, real: { fast: 500, default: 200, rounds: rounds ?? 3 }, slow: { count: 200, minDelayS: 5, maxDelayS: 60, rounds: { fast: rounds ?? 3, default: 1 } }, soakMinutes };
}

/** Runs one benchmark program, passing its output through indented, and returns its `result` line. */
function runBenchmark(script: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot(), 'dist', 'bench', script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let result: Record<string, unknown> | undefined;
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.startsWith('result ')) result = JSON.parse(line.slice('result '.length)) as Record<string, unknown>;
        else console.log(`    ${line}`);
        newline = pending.indexOf('\n');
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`${script} ${args.join(' ')} failed (exit ${code})`))));
  });
}

interface Row {
  label: string;
  ts: number[];
  go: number[];
  digits: number;
}

const suiteStart = Date.now();
const elapsed = (): string => `at ${((Date.now() - suiteStart) / 1000).toFixed(0)} s`;

function printTable(rows: Row[]): void {
  console.log('\n| measured | this sidecar (median) | Go sidecar (median) | ratio ts/go | every run, ts | every run, Go |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const row of rows) {
    const ts = median(row.ts);
    const go = median(row.go);
    const list = (values: number[]): string => values.map((v) => v.toFixed(row.digits)).join(', ');
    console.log(`| ${row.label} | ${ts.toFixed(row.digits)} | ${go.toFixed(row.digits)} | ${(ts / go).toFixed(2)}× | ${list(row.ts)} | ${list(row.go)} |`);
  }
}

interface StartupResult {
  runs: { sidecar: 'ts' | 'go'; startToReadyMs: number; idleRssMiB: number; cpuSeconds: number }[];
}
interface RealResult {
  runs: {
    setting: 'fast' | 'default';
    sidecar: 'ts' | 'go';
    snapshotsPerSecond: number;
    cpuSecondsPer1000: { create: number; delete?: number };
    peakRssMiB: number;
    createRequestsPerSnapshot: number;
    createWritesPerSnapshot: number;
  }[];
}
interface SlowResult {
  sidecar: 'ts' | 'go';
  snapshotsPerSecond: number;
  writtenAfterFirstReadyAnswerMs: { p50: number; p95: number; max: number };
  writtenAfterReadyAtMs: { p50: number; p95: number; max: number };
  pollsPerSnapshot: { median: number };
  writesPerSnapshot: number;
  requestsPerSnapshot: number;
  cpuSecondsPer1000: number;
  peakRssMiB: number;
}
interface ThroughputResult {
  sidecar: 'ts' | 'go';
  snapshotsPerSecond: number;
  idleRssMiB: number;
  peakRssMiB: number;
  serveMs: number;
  cpuSecondsPer1000: { create: number; delete: number };
  createApiPerSnapshot: number;
}

async function main(): Promise<void> {
  const p = plan(process.argv.slice(2));
  const started = Date.now();
  if (p.soakMinutes !== undefined) {
    console.log(`soak of this sidecar, ${p.soakMinutes} minutes (bench/soak.ts; for the Go sidecar: node dist/bench/soak.js --sidecar=go)`);
    await runBenchmark('soak.js', [`--minutes=${p.soakMinutes}`]);
    return;
  }
  console.log(`benchmark suite: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`Go sidecar: ${p.goBinary}; ${p.rounds} rounds of each benchmark per sidecar`);

  console.log(`\n== start-up with ${p.startupContents} ready contents (sidecar-startup) ${elapsed()}`);
  const startup = (await runBenchmark('sidecar-startup.js', [`--count=${p.startupContents}`, `--rounds=${p.rounds}`, `--go-binary=${p.goBinary}`])) as unknown as StartupResult;
  const of = (kind: 'ts' | 'go', pick: (r: StartupResult['runs'][number]) => number): number[] => startup.runs.filter((r) => r.sidecar === kind).map(pick);

  console.log(`\n== throughput, ${p.throughputSnapshots} snapshots created and deleted (sidecar-throughput, a fresh API server and driver per run) ${elapsed()}`);
  const throughput: ThroughputResult[] = [];
  for (let round = 1; round <= p.rounds; round++) {
    for (const kind of round % 2 === 1 ? (['ts', 'go'] as const) : (['go', 'ts'] as const)) {
      console.log(`  -- round ${round}, ${kind}`);
      throughput.push((await runBenchmark('sidecar-throughput.js', [`--count=${p.throughputSnapshots}`, `--sidecar=${kind}`, `--go-binary=${p.goBinary}`])) as unknown as ThroughputResult);
    }
  }
  const tp = (kind: 'ts' | 'go', pick: (r: ThroughputResult) => number): number[] => throughput.filter((r) => r.sidecar === kind).map(pick);

  console.log(`\n== the real kube-apiserver and hostpathplugin: ${p.real.fast} contents at QPS 100/burst 200, ${p.real.default} at the default QPS (real-throughput) ${elapsed()}`);
  const real = (await runBenchmark('real-throughput.js', [`--fast-count=${p.real.fast}`, `--default-count=${p.real.default}`, `--rounds=${p.real.rounds}`])) as unknown as RealResult;
  const rt = (setting: 'fast' | 'default', kind: 'ts' | 'go', pick: (r: RealResult['runs'][number]) => number): number[] => real.runs.filter((r) => r.setting === setting && r.sidecar === kind).map(pick);

  const slow: (SlowResult & { setting: SlowSetting })[] = [];
  for (const setting of ['fast', 'default'] as const) {
    if (p.slow.rounds[setting] === 0) continue;
    console.log(`\n== ${p.slow.count} slow snapshots, ready ${p.slow.minDelayS}–${p.slow.maxDelayS} s after they are cut, ${setting === 'fast' ? 'QPS 100/burst 200' : 'default QPS'} (slow-snapshots, a fresh API server and driver per run) ${elapsed()}`);
    for (let round = 1; round <= p.slow.rounds[setting]; round++) {
      for (const kind of round % 2 === 1 ? (['ts', 'go'] as const) : (['go', 'ts'] as const)) {
        console.log(`  -- round ${round}, ${kind}`);
        const args = [`--sidecar=${kind}`, `--setting=${setting}`, `--count=${p.slow.count}`, `--min-delay=${p.slow.minDelayS}`, `--max-delay=${p.slow.maxDelayS}`, `--go-binary=${p.goBinary}`];
        slow.push({ ...((await runBenchmark('slow-snapshots.js', args)) as unknown as SlowResult), setting });
      }
    }
  }
  const sl = (setting: SlowSetting, kind: 'ts' | 'go', pick: (r: SlowResult) => number): number[] => slow.filter((r) => r.setting === setting && r.sidecar === kind).map(pick);

  printTable([
    { label: `start → a new content ready, ${p.startupContents} ready contents (ms)`, ts: of('ts', (r) => r.startToReadyMs), go: of('go', (r) => r.startToReadyMs), digits: 0 },
    { label: 'idle RSS after that (MiB)', ts: of('ts', (r) => r.idleRssMiB), go: of('go', (r) => r.idleRssMiB), digits: 1 },
    { label: 'CPU seconds from start to idle', ts: of('ts', (r) => r.cpuSeconds), go: of('go', (r) => r.cpuSeconds), digits: 2 },
    { label: 'throughput: start → content watch open (ms)', ts: tp('ts', (r) => r.serveMs), go: tp('go', (r) => r.serveMs), digits: 0 },
    { label: `throughput: snapshots/s (${p.throughputSnapshots})`, ts: tp('ts', (r) => r.snapshotsPerSecond), go: tp('go', (r) => r.snapshotsPerSecond), digits: 1 },
    { label: 'throughput: CPU-seconds per 1,000 snapshots created', ts: tp('ts', (r) => r.cpuSecondsPer1000.create), go: tp('go', (r) => r.cpuSecondsPer1000.create), digits: 2 },
    { label: 'throughput: CPU-seconds per 1,000 snapshots deleted', ts: tp('ts', (r) => r.cpuSecondsPer1000.delete), go: tp('go', (r) => r.cpuSecondsPer1000.delete), digits: 2 },
    { label: 'throughput: idle RSS before the load (MiB)', ts: tp('ts', (r) => r.idleRssMiB), go: tp('go', (r) => r.idleRssMiB), digits: 1 },
    { label: 'throughput: peak RSS, VmHWM (MiB)', ts: tp('ts', (r) => r.peakRssMiB), go: tp('go', (r) => r.peakRssMiB), digits: 1 },
    { label: 'throughput: API requests per snapshot created', ts: tp('ts', (r) => r.createApiPerSnapshot), go: tp('go', (r) => r.createApiPerSnapshot), digits: 2 },
    ...(['fast', 'default'] as const).flatMap((setting) => {
      const what = setting === 'fast' ? `real kube-apiserver, QPS 100/200, ${p.real.fast}` : `real kube-apiserver, default QPS, ${p.real.default}`;
      return [
        { label: `${what}: snapshots/s`, ts: rt(setting, 'ts', (r) => r.snapshotsPerSecond), go: rt(setting, 'go', (r) => r.snapshotsPerSecond), digits: 2 },
        { label: `${what}: CPU-seconds per 1,000 snapshots created`, ts: rt(setting, 'ts', (r) => r.cpuSecondsPer1000.create), go: rt(setting, 'go', (r) => r.cpuSecondsPer1000.create), digits: 2 },
        ...(setting === 'fast'
          ? [{ label: `${what}: CPU-seconds per 1,000 snapshots deleted`, ts: rt(setting, 'ts', (r) => r.cpuSecondsPer1000.delete ?? NaN), go: rt(setting, 'go', (r) => r.cpuSecondsPer1000.delete ?? NaN), digits: 2 }]
          : []),
        { label: `${what}: peak RSS, VmHWM (MiB)`, ts: rt(setting, 'ts', (r) => r.peakRssMiB), go: rt(setting, 'go', (r) => r.peakRssMiB), digits: 1 },
        { label: `${what}: API requests per snapshot created`, ts: rt(setting, 'ts', (r) => r.createRequestsPerSnapshot), go: rt(setting, 'go', (r) => r.createRequestsPerSnapshot), digits: 2 },
        { label: `${what}: API writes per snapshot created`, ts: rt(setting, 'ts', (r) => r.createWritesPerSnapshot), go: rt(setting, 'go', (r) => r.createWritesPerSnapshot), digits: 2 },
      ];
    }),
    ...(['fast', 'default'] as const)
      .filter((setting) => p.slow.rounds[setting] > 0)
      .flatMap((setting) => {
        const what = `slow (${p.slow.count}, ${p.slow.minDelayS}–${p.slow.maxDelayS} s, ${setting === 'fast' ? 'QPS 100/200' : 'default QPS'})`;
        const row = (label: string, pick: (r: SlowResult) => number, digits: number): Row => ({ label: `${what}: ${label}`, ts: sl(setting, 'ts', pick), go: sl(setting, 'go', pick), digits });
        return [
          row('snapshots/s', (r) => r.snapshotsPerSecond, 3),
          row('readiness written after the first ready answer, p95 (ms)', (r) => r.writtenAfterFirstReadyAnswerMs.p95, 0),
          row('readiness written after the first ready answer, max (ms)', (r) => r.writtenAfterFirstReadyAnswerMs.max, 0),
          row('readiness written after the snapshot became ready, p50 (ms)', (r) => r.writtenAfterReadyAtMs.p50, 0),
          row('readiness written after the snapshot became ready, p95 (ms)', (r) => r.writtenAfterReadyAtMs.p95, 0),
          row('polls per snapshot (median)', (r) => r.pollsPerSnapshot.median, 1),
          row('API writes per snapshot', (r) => r.writesPerSnapshot, 2),
          row('API requests per snapshot', (r) => r.requestsPerSnapshot, 2),
          row('CPU-seconds per 1,000 snapshots', (r) => r.cpuSecondsPer1000, 2),
          row('peak RSS, VmHWM (MiB)', (r) => r.peakRssMiB, 1),
        ];
      }),
  ]);
  console.log(`\nsuite finished in ${((Date.now() - started) / 1000).toFixed(0)} s; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
