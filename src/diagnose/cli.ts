import { statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { ClusterConfig } from '../kube/cluster-config.js';
import { buildConfig, type SidecarConfig } from '../config/config.js';
import { FlagError, HelpRequested, parseFlags } from '../config/flags.js';
import { parseGoDuration } from '../config/go-values.js';
import { CsiConnection, csiTarget } from '../csi/connection.js';
import { controllerCapabilities, getDriverName } from '../csi/driver-info.js';
import { errorText } from '../csi/errors.js';
import { clusterConfigIfAny } from '../kube/config.js';
import { RestClient } from '../kube/rest.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { runDoctor } from './doctor.js';
import { explain } from './explain.js';
import { formatFindings } from './findings.js';

export const TOOLS = ['doctor', 'explain'] as const;
export type Tool = (typeof TOOLS)[number];

const DEFAULT_STUCK_AFTER_MS = 10 * 60_000;

const USAGE = `Usage:
  csi-snapshotter doctor [--stuck-after=10m] [the sidecar's flags]
      Checks the CSI socket, the driver, the snapshot APIs the cluster serves, every permission the
      sidecar needs, the snapshot classes of the driver and the Secrets they name, and contents stuck
      for longer than --stuck-after. Exit 0 when healthy, 1 with the list of problems.
  csi-snapshotter explain NAME [the sidecar's flags]
      Why is the VolumeSnapshotContent (or VolumeGroupSnapshotContent) NAME not ready, or not deleted?
Run either in the sidecar's container with its own flags (kubectl exec POD -c csi-snapshotter --
node /app/dist/bundle/csi-snapshotter.js doctor --csi-address=...) or anywhere with --kubeconfig.
`;

interface Streams {
  stdout: Writable;
  stderr: Writable;
}

/**
 * Splits off the tool's own arguments (explain's NAME first, doctor's --stuck-after anywhere); the
 * rest are the sidecar's flags, parsed as the sidecar parses them.
 */
function toolArguments(tool: Tool, argv: readonly string[]): { positional: string[]; stuckAfterMs: number; rest: string[] } {
  const positional: string[] = [];
  const rest: string[] = [];
  let stuckAfterMs = DEFAULT_STUCK_AFTER_MS;
  let i = 0;
  if (tool === 'explain' && argv[0] !== undefined && !argv[0].startsWith('-')) positional.push(argv[i++] as string);
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    const stuck = tool === 'doctor' ? /^--?stuck-after(?:=(.*))?$/.exec(arg) : null;
    if (!stuck) {
      rest.push(arg);
      continue;
    }
    const value = stuck[1] ?? argv[++i];
    if (value === undefined) throw new FlagError('flag needs an argument: -stuck-after');
    stuckAfterMs = parseGoDuration(value);
    if (!(stuckAfterMs > 0)) throw new FlagError(`--stuck-after must be a positive duration, got ${value}`);
  }
  return { positional, stuckAfterMs, rest };
}

/** The driver's name and LIST_SNAPSHOTS, if the socket answers at once; explain works without them. */
async function driverFacts(config: SidecarConfig, log: Logger): Promise<{ name?: string; listSnapshots?: boolean }> {
  try {
    if (!statSync(csiTarget(config.csiAddress).slice('unix://'.length)).isSocket()) return {};
    const conn = await CsiConnection.connect({ address: config.csiAddress, log, connectTimeoutMs: 2000 });
    try {
      const name = await getDriverName(conn, config.timeoutMs);
      const caps = await controllerCapabilities(conn, config.timeoutMs);
      return { name, listSnapshots: caps.has('LIST_SNAPSHOTS') };
    } finally {
      conn.close();
    }
  } catch {
    return {};
  }
}

/** `csi-snapshotter doctor|explain ...`; returns the exit code. */
export async function runTool(tool: Tool, argv: readonly string[], out: Streams): Promise<number> {
  let config: SidecarConfig;
  let args: ReturnType<typeof toolArguments>;
  try {
    args = toolArguments(tool, argv);
    const parsed = parseFlags(args.rest);
    args.positional.push(...parsed.positional);
    if (tool === 'doctor' && args.positional.length > 0) throw new FlagError(`doctor takes no arguments besides flags, got ${args.positional.join(' ')}`);
    config = buildConfig(parsed);
  } catch (err) {
    if (err instanceof HelpRequested) {
      out.stderr.write(USAGE);
      return 0;
    }
    out.stderr.write(`csi-snapshotter ${tool}: ${errorText(err)}\n${USAGE}`);
    return 2;
  }
  const log = createLogger({ verbosity: config.verbosity, format: config.logFormat, name: `csi-snapshotter ${tool}`, stream: out.stderr });
  let kubeConfig: ClusterConfig | undefined;
  try {
    kubeConfig = clusterConfigIfAny(config.kubeconfig);
  } catch (err) {
    out.stderr.write(`csi-snapshotter ${tool}: error building kubeconfig: ${errorText(err)}\n`);
    return 1;
  }
  if (tool === 'doctor') {
    const findings = await runDoctor({ config, kubeConfig, stuckAfterMs: args.stuckAfterMs, log });
    out.stdout.write(formatFindings(findings));
    return findings.some((f) => f.status === 'problem') ? 1 : 0;
  }
  const name = args.positional[0];
  if (args.positional.length !== 1 || !name) {
    out.stderr.write(`csi-snapshotter explain: give one content name\n${USAGE}`);
    return 2;
  }
  if (!kubeConfig) {
    out.stderr.write('csi-snapshotter explain: no Kubernetes configuration: pass --kubeconfig, or run it in the sidecar\'s pod\n');
    return 1;
  }
  const driver = await driverFacts(config, log);
  try {
    const text = await explain({
      rest: new RestClient({ kubeConfig, userAgent: 'csi-snapshotter-explain' }),
      name,
      retryStartMs: config.retryIntervalStartMs,
      retryMaxMs: config.retryIntervalMaxMs,
      ...(driver.name !== undefined ? { driverName: driver.name } : {}),
      ...(driver.listSnapshots !== undefined ? { listSnapshots: driver.listSnapshots } : {}),
    });
    out.stdout.write(text);
    return 0;
  } catch (err) {
    out.stderr.write(`csi-snapshotter explain: ${errorText(err)}\n`);
    return 1;
  }
}
