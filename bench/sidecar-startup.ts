/**
 * Start-up with a cluster's worth of finished work: N ready VolumeSnapshotContents of the driver are
 * in the API test server, one new dynamic content waits, and a sidecar starts. Measured per start:
 * process start → the new content readyToUse (as seen by the benchmark's own watch), the sidecar's
 * RSS once it has been quiet for 2 s (idle), its CPU seconds up to then, and what it asked of the
 * API server and the driver (the ready contents need neither). Both sidecars start in turn, in
 * alternating order, against the same API server and driver, `rounds` times each; each start adds
 * one ready content, so N grows by one per start.
 *
 *   npm run build && node dist/bench/sidecar-startup.js [--count=5000] [--rounds=3] [--sidecars=ts,go]
 *       [--go-binary=PATH] [--timeout=120]
 *
 * The last line is `result {...}` with every start's figures and the medians (for bench/run.ts).
 */
import { cpus } from 'node:os';
import { createReadyContents, dynamicContent, median, VSC_PATH } from './contents.js';
import { CLASS_NAME, DRIVER_NAME, Kit } from './kit.js';
import { countBy, cpuSeconds, findGoBinary, mib, now, procStatus, quiesce, startSidecar, summary, type SidecarKind } from './sidecars.js';
import { flagValues } from './flags.js';

interface Options {
  count: number;
  rounds: number;
  sidecars: SidecarKind[];
  goBinary: string | undefined;
  timeoutMs: number;
}

function parseOptions(argv: string[]): Options {
  const values = flagValues(argv, ['count', 'rounds', 'sidecars', 'go-binary', 'timeout']);
  const int = (key: string, fallback: number): number => {
    const n = Number(values.get(key) ?? fallback);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${key} must be a positive integer`);
    return n;
  };
  const sidecars = (values.get('sidecars') ?? 'ts,go').split(',');
  if (sidecars.length === 0 || !sidecars.every((s) => s === 'ts' || s === 'go')) throw new Error('--sidecars is a list of ts and go');
  return { count: int('count', 5000), rounds: int('rounds', 3), sidecars: sidecars as SidecarKind[], goBinary: values.get('go-binary'), timeoutMs: int('timeout', 120) * 1000 };
}

export interface StartupRun {
  sidecar: SidecarKind;
  round: number;
  readyContents: number;
  /** Spawn → the new content readyToUse. */
  startToReadyMs: number;
  idleRssMiB: number;
  /** CPU seconds from spawn until idle. */
  cpuSeconds: number;
  /** Requests the sidecar made, by verb and resource, and the driver calls it made. */
  requests: Record<string, number>;
  rpcs: Record<string, number>;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const goBinary = options.goBinary ?? findGoBinary();
  const kit = await Kit.start(options.timeoutMs * options.rounds * options.sidecars.length + 600_000);
  const { api, driver, csi, rest, tracker } = kit;
  try {
    console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
    console.log(`start-up with ${options.count} ready contents; sidecars ${options.sidecars.join(', ')}${options.sidecars.includes('go') ? ` (Go: ${goBinary ?? 'not found'})` : ''}; ${options.rounds} rounds`);
    await kit.createClass();
    const loadStart = now();
    await createReadyContents(rest, { count: options.count, driver: DRIVER_NAME, className: CLASS_NAME });
    console.log(`${options.count} ready contents created in ${((now() - loadStart) / 1000).toFixed(1)} s`);
    await kit.watchContents();

    const runs: StartupRun[] = [];
    let readyContents = options.count;
    for (let round = 1; round <= options.rounds; round++) {
      // Alternate which sidecar goes first, so neither always meets a warmer machine.
      const order = round % 2 === 1 ? options.sidecars : [...options.sidecars].reverse();
      for (const kind of order) {
        const name = `startup-${kind}-${round}`;
        const volume = await csi.call(
          '/csi.v1.Controller/CreateVolume',
          { name: `vol-${name}`, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] },
          new Date(Date.now() + 30_000),
        );
        await rest.request({ method: 'POST', path: VSC_PATH, body: dynamicContent(name, volume.volume?.volume_id as string, DRIVER_NAME, CLASS_NAME) });
        await quiesce(api.requests, 500);
        await driver.clearCalls();
        const requestsBefore = summary(api.requests);

        const startedAt = now();
        const sidecar = startSidecar({ kind, goBinary, socketPath: driver.socketPath, kubeconfigPath: api.kubeconfigPath });
        kit.sidecar = sidecar;
        const running = sidecar;
        const alive = (): void => {
          if (!running.running) throw new Error(`the ${kind} sidecar exited; its last output:\n${running.tail()}`);
        };
        await tracker.until(`${name} to be readyToUse`, () => tracker.readyAt.has(name), Date.now() + options.timeoutMs, alive);
        const startToReadyMs = (tracker.readyAt.get(name) as number) - startedAt;
        // Idle: no request from anyone for 2 s (the benchmark sends none meanwhile).
        await quiesce(api.requests, 2000, 30_000);
        alive();
        const idle = procStatus(sidecar.pid);
        const cpu = cpuSeconds(sidecar.pid);
        const requestsAfter = summary(api.requests);
        const requests: Record<string, number> = {};
        for (const key of Object.keys(requestsAfter)) {
          const n = (requestsAfter[key] ?? 0) - (requestsBefore[key] ?? 0);
          if (n !== 0) requests[key] = n;
        }
        const rpcs = countBy(await driver.calls(), (c) => c.method);
        await sidecar.stop();
        readyContents++;
        const run: StartupRun = { sidecar: kind, round, readyContents, startToReadyMs: Math.round(startToReadyMs), idleRssMiB: Number(mib(idle.rssKiB)), cpuSeconds: cpu, requests, rpcs };
        runs.push(run);
        console.log(
          `round ${round} ${kind}: start → new content ready ${run.startToReadyMs} ms; idle RSS ${run.idleRssMiB} MiB; CPU ${cpu.toFixed(2)} s; ` +
            `requests ${JSON.stringify(requests)}; RPCs ${JSON.stringify(rpcs)}`,
        );
      }
    }

    const medians: Record<string, { startToReadyMs: number; idleRssMiB: number; cpuSeconds: number }> = {};
    for (const kind of options.sidecars) {
      const mine = runs.filter((r) => r.sidecar === kind);
      medians[kind] = { startToReadyMs: median(mine.map((r) => r.startToReadyMs)), idleRssMiB: median(mine.map((r) => r.idleRssMiB)), cpuSeconds: median(mine.map((r) => r.cpuSeconds)) };
      console.log(`median ${kind}: start → new content ready ${medians[kind].startToReadyMs} ms, idle RSS ${medians[kind].idleRssMiB} MiB, CPU ${medians[kind].cpuSeconds.toFixed(2)} s`);
    }
    console.log(`result ${JSON.stringify({ benchmark: 'startup', count: options.count, node: process.version, cpus: cpus().length, runs, medians })}`);
  } finally {
    await kit.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
