import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { csiSnapshotName } from '../../src/sidecar/names.js';
import type { TestApiServerProcess } from '../../src/testing/apiserver/index.js';
import { Env, VGSC_PATH, VSC_PATH } from '../e2e/env.js';
import { waitFor } from '../helpers/process.js';
import { uidFor } from '../helpers/uid.js';
import { FinalizerAudit } from './audit.js';
import { scanForSecrets, type LogScan } from './logs.js';
import { driverFaultSeed, type Random } from './random.js';
import { leaseHolder, Replica, type ExitRecord } from './replicas.js';
import { SIDECAR_AGENT, Storm, type StormFigures } from './storm.js';
import { assess, complete, type Names, type Outcome } from './verify.js';
import { execute, prepare, type Size } from './workload.js';

export interface RunOptions {
  size: Size;
  random: Random;
  /** false: the same workload and replicas without any fault (the request baseline). */
  chaos: boolean;
  /** How long the objects may take to settle after the window, however loaded the machine. */
  settleTimeoutMs: number;
  progress?: (line: string) => void;
}

export interface RunResult {
  chaos: boolean;
  durationMs: number;
  outcome: Outcome;
  settled: boolean;
  finalizerViolations: string[];
  audit: FinalizerAudit['counts'];
  logs: LogScan & { verbosities: number[] };
  /** Deletions that came before the content was ready. */
  deletedBeforeReady: number;
  /**
   * The sidecar's API requests; `withoutLeases` leaves out leader election, which costs by the
   * second rather than by the snapshot.
   */
  requests: { total: number; perSnapshot: number; withoutLeases: number; perSnapshotWithoutLeases: number; injected: Record<string, number> };
  driverErrors: { injected: number; afterWork: number };
  storm?: StormFigures;
  unplannedExits: ExitRecord[];
}

export const NAMES: Names = {
  snapshot: (uid) => csiSnapshotName('snapshot', uid, -1),
  group: (uid) => csiSnapshotName('groupsnapshot', uid, -1),
};

/** Leader election as a Deployment of two replicas runs it, with timings short enough for a test. */
const REPLICA_FLAGS = [
  '--leader-election',
  '--leader-election-namespace=default',
  '--leader-election-lease-duration=8s',
  '--leader-election-renew-deadline=5s',
  '--leader-election-retry-period=1s',
  // Chart-typical client limits: the default 5 QPS would make the run measure the limiter.
  '--kube-api-qps=100',
  '--kube-api-burst=200',
];
/**
 * Each start of a chaos replica logs at the next verbosity of its list. Replica a always logs the
 * CSI requests (5 and up) and b walks the levels below, so the secret check covers every
 * verbosity; each leader kill hands the work to the other replica, so both log real traffic.
 */
const VERBOSITIES: Record<string, number[]> = { 'chaos-sidecar-a': [10, 5, 6], 'chaos-sidecar-b': [0, 2, 4, 1, 3] };

/** The API requests the sidecar replicas made, told apart from the run's own by User-Agent. */
async function requestFigures(env: Env<TestApiServerProcess>, snapshots: number): Promise<RunResult['requests']> {
  const sidecar = (await env.api.requests.all()).filter((r) => r.userAgent.startsWith(SIDECAR_AGENT));
  const withoutLeases = sidecar.filter((r) => r.resource !== 'leases');
  const injected: Record<string, number> = {};
  for (const r of sidecar.filter((r) => r.injected)) injected[r.code] = (injected[r.code] ?? 0) + 1;
  return {
    total: sidecar.length,
    perSnapshot: sidecar.length / snapshots,
    withoutLeases: withoutLeases.length,
    perSnapshotWithoutLeases: withoutLeases.length / snapshots,
    injected,
  };
}

/** One run: the workload under the storm (or without it), then the figures. */
export async function runOnce(options: RunOptions): Promise<RunResult> {
  const { size, random, chaos } = options;
  const say = options.progress ?? (() => undefined);
  // The API test server runs as its own process, steered over its control socket like the driver.
  // Both draw their faults from the run's seed (the driver from one derived from it, plus one per restart).
  const env = await Env.startWithApiProcess({ api: { faultSeed: random.seed }, driver: { verbosity: 2, faultSeed: driverFaultSeed(random.seed) } });
  const replicas: Replica[] = [];
  let storm: Storm | undefined;
  try {
    const plan = await prepare(env, size, random);
    const audit = new FinalizerAudit(env.rest, () => env.driver.inventory(), NAMES);
    audit.start(String(await env.api.resourceVersion()));
    for (const [name, levels] of Object.entries(VERBOSITIES)) {
      let starts = 0;
      const next = () => (chaos ? (levels[starts++ % levels.length] as number) : 5);
      replicas.push(new Replica(name, (v) => env.sidecarArgs([...REPLICA_FLAGS, `--v=${v}`]), next, () => 1000));
    }
    replicas.forEach((r) => r.start());
    await waitFor('a replica to take the leader Lease', () => leaseHolder(env.rest, env.driverName), 120_000);
    if (chaos) {
      storm = new Storm(env, replicas, random);
      await storm.arm();
    }
    say(`${chaos ? 'chaos' : 'baseline'}: ${size.contents} contents (${size.deletions} deleted), ${size.groups} groups over ${size.windowMs / 1000} s`);
    const startedAt = Date.now();
    const [{ deletedBeforeReady }] = await Promise.all([execute(env, plan, startedAt), storm?.run(startedAt, size.windowMs)]);
    say(`window over after ${Math.round((Date.now() - startedAt) / 1000)} s; waiting for everything to settle`);

    const look = async (): Promise<Outcome> => {
      const contents = await env.rest.request<{ items: never[] }>({ method: 'GET', path: VSC_PATH });
      const groups = await env.rest.request<{ items: never[] }>({ method: 'GET', path: VGSC_PATH });
      return assess(plan, uidFor, contents.items, groups.items, await env.driver.inventory(), NAMES);
    };
    let outcome = await look();
    const giveUpAt = Date.now() + options.settleTimeoutMs;
    while (!complete(outcome) && Date.now() < giveUpAt) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      outcome = await look();
    }
    const durationMs = Date.now() - startedAt;
    await storm?.disarm();
    await Promise.all(replicas.map((r) => r.stop()));
    await audit.stop();
    // What the replicas leave behind once stopped: a late retry must not have cut anything since.
    outcome = await look();

    const driverLog = env.driver.output();
    const driverText = driverLog.stdout + driverLog.stderr;
    if (process.env.CHAOS_LOG_DIR) keepLogs(process.env.CHAOS_LOG_DIR, chaos ? 'chaos' : 'baseline', replicas, driverText);
    const scan = scanForSecrets(
      [...replicas.flatMap((r) => r.starts.map((s, i) => ({ source: `${r.name} start ${i + 1} (--v=${s.verbosity})`, text: s.process.output }))), { source: 'driver', text: driverText }],
      plan.secretValues,
    );
    return {
      chaos,
      durationMs,
      outcome,
      settled: complete(outcome),
      finalizerViolations: audit.violations,
      audit: audit.counts,
      logs: { ...scan, verbosities: [...new Set(replicas.flatMap((r) => r.starts.map((s) => s.verbosity)))].sort((a, b) => a - b) },
      deletedBeforeReady,
      requests: await requestFigures(env, size.contents + size.groups),
      driverErrors: { injected: driverText.split('injected ').length - 1, afterWork: driverText.split('after doing the work').length - 1 },
      ...(storm ? { storm: storm.figures } : {}),
      unplannedExits: replicas.flatMap((r) => r.exits.filter((e) => !e.planned)),
    };
  } finally {
    // After a failure the run's own error is the one to report, not a second one from the clean-up.
    await storm?.disarm().catch(() => undefined);
    await Promise.all(replicas.map((r) => r.stop()));
    await env.stop();
  }
}

/** CHAOS_LOG_DIR=<folder> keeps every replica start's output and the driver's, to read after a failed run. */
function keepLogs(dir: string, run: string, replicas: Replica[], driverText: string): void {
  mkdirSync(dir, { recursive: true });
  for (const r of replicas) r.starts.forEach((s, i) => writeFileSync(join(dir, `${run}-${r.name}-${i + 1}-v${s.verbosity}.log`), s.process.output));
  writeFileSync(join(dir, `${run}-driver.log`), driverText);
}
