/**
 * The two sidecars under comparison as child processes, and what the benchmarks read of them from
 * /proc: this project's (dist/bundle/csi-snapshotter.js on this Node) and the Go csi-snapshotter
 * that the real-cluster build caches, both started with the same flags.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RequestLog } from '../src/testing/apiserver/index.js';
import { NODE_FLAGS } from '../src/node-flags.js';
import { sidecarEntry } from '../src/util/package-root.js';

export type SidecarKind = 'ts' | 'go';

/** Linux reports /proc/<pid>/stat times in USER_HZ ticks, which is 100 on every mainstream architecture. */
const TICKS_PER_SECOND = 100;

export const now = (): number => performance.now();
export const mib = (kib: number): string => (kib / 1024).toFixed(1);

/**
 * The Go csi-snapshotter that scripts/real-cluster/build-upstream.sh (run by `npm run test:real` or
 * `npm run build:upstream`) puts in ~/.cache/csi-snapshotter-ts/real-cluster/<key>/bin/; of several
 * keys, the most recent build.
 */
export function findGoBinary(): string | undefined {
  const root = join(homedir(), '.cache', 'csi-snapshotter-ts', 'real-cluster');
  if (!existsSync(root)) return undefined;
  const builds = readdirSync(root)
    .map((key) => join(root, key, 'bin', 'csi-snapshotter'))
    .filter((bin) => existsSync(bin))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return builds[0];
}

export function procStatus(pid: number): { rssKiB: number; hwmKiB: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

/** Like RequestLog.summary(), with the answer's status code appended when it is not 2xx. */
export function summary(log: RequestLog): Record<string, number> {
  return countBy(log.all(), (r) => `${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ''}${r.code >= 300 ? ` -> ${r.code}` : ''}`);
}

/** Waits until the API server has seen no request for `quietMs` (at most `maxMs`), so trailing writes are counted. */
export async function quiesce(log: RequestLog, quietMs = 1000, maxMs = 15_000): Promise<void> {
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

export interface SidecarTarget {
  kind: SidecarKind;
  /** Required for `go`. */
  goBinary: string | undefined;
  socketPath: string;
  kubeconfigPath: string;
  /** Options for Node before the script (this sidecar only), e.g. V8 heap flags or `--import` of the probe. */
  nodeArgs?: string[];
  /** Added to the child's environment. */
  env?: Record<string, string>;
  /** Replace the benchmarks' workers and rate-limit flags (THROUGHPUT_FLAGS), e.g. to run at the defaults. */
  flags?: readonly string[];
  /** More flags after those, e.g. `--http-endpoint=…` to read the sidecar's metrics. */
  extraArgs?: readonly string[];
}

/** The flags the throughput benchmarks give both sidecars: 10 workers, a client rate limit high enough not to be what is measured. */
export const THROUGHPUT_FLAGS: readonly string[] = ['--worker-threads=10', '--kube-api-qps=1000', '--kube-api-burst=1000'];

/**
 * Starts a sidecar with the benchmarks' flags (this one on Node with the V8 options its image uses):
 * THROUGHPUT_FLAGS unless `flags` replaces them. The Go sidecar also gets group snapshots switched off, since the API test
 * server's group CRDs are of a version it may not serve (this sidecar switches them off by itself).
 */
export function startSidecar(target: SidecarTarget): Sidecar {
  const flags = [`--csi-address=${target.socketPath}`, `--kubeconfig=${target.kubeconfigPath}`, ...(target.flags ?? THROUGHPUT_FLAGS), ...(target.extraArgs ?? [])];
  if (target.kind === 'go' && !target.goBinary) throw new Error('no Go csi-snapshotter binary found: run `npm run build:upstream` (or `npm run test:real`) first, or pass --go-binary=PATH');
  const command =
    target.kind === 'go'
      ? [target.goBinary as string, ...flags, '--feature-gates=CSIVolumeGroupSnapshot=false']
      : [process.execPath, ...NODE_FLAGS, ...(target.nodeArgs ?? []), sidecarEntry(), ...flags];
  return new Sidecar(spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...target.env } }));
}

/** The sidecar under test as a child process, its output kept (bounded) for diagnostics. */
export class Sidecar {
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
