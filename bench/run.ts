/**
 * The benchmark suite (`npm run bench`): each benchmark runs this sidecar and the Go csi-snapshotter
 * in turn, several rounds, against the project's API test server and sample driver, then prints
 * every run, the medians and the ratio ts/go (below 1 means this sidecar needs less, or is faster
 * for times). Benchmarks run one after the other, each in its own process, so they never compete.
 *
 *   npm run bench                      # full: 5,000 ready contents at start-up, 1,000 snapshots, 3 rounds
 *   npm run bench -- --quick           # about a minute: 500 ready contents, 100 snapshots, 2 rounds
 *   npm run bench -- --rounds=5 --go-binary=PATH
 *
 * The Go sidecar is the one the real-cluster build caches (`npm run build:upstream`).
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/util/package-root.js';
import { median } from './contents.js';
import { findGoBinary } from './sidecars.js';

interface Plan {
  startupContents: number;
  throughputSnapshots: number;
  rounds: number;
  goBinary: string;
}

function plan(argv: string[]): Plan {
  let quick = false;
  let rounds: number | undefined;
  let goBinary: string | undefined;
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m?.[1] === 'quick' && m[2] === undefined) quick = true;
    else if (m?.[1] === 'rounds' && m[2] !== undefined && /^[1-9]\d*$/.test(m[2])) rounds = Number(m[2]);
    else if (m?.[1] === 'go-binary' && m[2]) goBinary = m[2];
    else throw new Error(`unexpected argument ${arg} (known: --quick, --rounds=N, --go-binary=PATH)`);
  }
  goBinary ??= findGoBinary();
  if (!goBinary) throw new Error('no Go csi-snapshotter binary: build it with `npm run build:upstream` (it is cached for `npm run test:real` too), or pass --go-binary=PATH');
  return quick ? { startupContents: 500, throughputSnapshots: 100, rounds: rounds ?? 2, goBinary } : { startupContents: 5000, throughputSnapshots: 1000, rounds: rounds ?? 3, goBinary };
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
  console.log(`benchmark suite: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`Go sidecar: ${p.goBinary}; ${p.rounds} rounds of each benchmark per sidecar`);

  console.log(`\n== start-up with ${p.startupContents} ready contents (sidecar-startup)`);
  const startup = (await runBenchmark('sidecar-startup.js', [`--count=${p.startupContents}`, `--rounds=${p.rounds}`, `--go-binary=${p.goBinary}`])) as unknown as StartupResult;
  const of = (kind: 'ts' | 'go', pick: (r: StartupResult['runs'][number]) => number): number[] => startup.runs.filter((r) => r.sidecar === kind).map(pick);

  console.log(`\n== throughput, ${p.throughputSnapshots} snapshots created and deleted (sidecar-throughput, a fresh API server and driver per run)`);
  const throughput: ThroughputResult[] = [];
  for (let round = 1; round <= p.rounds; round++) {
    for (const kind of round % 2 === 1 ? (['ts', 'go'] as const) : (['go', 'ts'] as const)) {
      console.log(`  -- round ${round}, ${kind}`);
      throughput.push((await runBenchmark('sidecar-throughput.js', [`--count=${p.throughputSnapshots}`, `--sidecar=${kind}`, `--go-binary=${p.goBinary}`])) as unknown as ThroughputResult);
    }
  }
  const tp = (kind: 'ts' | 'go', pick: (r: ThroughputResult) => number): number[] => throughput.filter((r) => r.sidecar === kind).map(pick);

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
  ]);
  console.log(`\nsuite finished in ${((Date.now() - started) / 1000).toFixed(0)} s; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
