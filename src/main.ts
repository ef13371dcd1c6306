import { status as Status } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { ClusterConfig } from './kube/cluster-config.js';
import { join } from 'node:path';
import { buildConfig, ExitError, invalidDurations, type SidecarConfig } from './config/config.js';
import { FEATURE_GATES, parseFeatureGates } from './config/feature-gates.js';
import { FlagError, HelpRequested, parseFlags, usage } from './config/flags.js';
import { ConnectionLostError, CsiConnection, type CallRecord } from './csi/connection.js';
import { errorText, isGrpcError } from './csi/errors.js';
import { runTool, TOOLS } from './diagnose/cli.js';
import {
  controllerCapabilities,
  getDriverName,
  groupControllerCapabilities,
  waitForDriverReady,
} from './csi/driver-info.js';
import { clusterConfigIfAny } from './kube/config.js';
import { validateLeaderElectionTimings, type LeaderElection } from './kube/leader.js';
import { RestClient } from './kube/rest.js';
import { startHttpServer, type RunningHttpServer } from './observe/http-server.js';
import { createLogger, type Logger } from './observe/logger.js';
import { createMetrics } from './observe/metrics.js';
import { reportDriverLoss, serve } from './serve.js';
import { chooseGroupSnapshotVersion } from './sidecar/group/discovery.js';
import { validateUuidLength } from './sidecar/names.js';
import { packageRoot } from './util/package-root.js';

export const PROGRAM = 'csi-snapshotter';

export function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return `v${pkg.version}`;
}

/** What start-up learned about the driver; the controllers are built from it. */
export interface DriverFacts {
  name: string;
  controllerCapabilities: Set<string>;
  groupCapabilities: Set<string>;
  /** Whether VolumeGroupSnapshotContents are served in this run. */
  groupSnapshots: boolean;
}

/** Connects to the driver's socket (waiting up to 30 s for it), with the Go sidecar's exit code on failure. */
export async function connectDriver(config: SidecarConfig, log: Logger, observeCall?: (record: CallRecord) => void): Promise<CsiConnection> {
  try {
    return await CsiConnection.connect({ address: config.csiAddress, log, ...(observeCall ? { observeCall } : {}) });
  } catch (err) {
    throw new ExitError(1, errorText(err).startsWith('error connecting') ? errorText(err) : `error connecting to CSI driver: ${errorText(err)}`);
  }
}

/**
 * Checks a connected driver can serve snapshots, in the Go sidecar's order and with its exit
 * codes: a driver that cannot create snapshots, or a wrong name prefix, stops the process; a driver
 * without a GroupController service only switches group snapshots off. A driver that goes away
 * during any of it ends start-up with ConnectionLostError, whichever call noticed first.
 */
export async function checkDriver(conn: CsiConnection, config: SidecarConfig, log: Logger): Promise<DriverFacts> {
  const step = async <T>(work: Promise<T>, failure: (err: unknown) => ExitError): Promise<T> => {
    try {
      return await conn.whileConnected(work);
    } catch (err) {
      if (err instanceof ConnectionLostError) throw err;
      // A call cut short by the driver's exit fails (UNAVAILABLE) just after the connection has
      // reported the loss: the loss is the cause worth naming, and it takes the loss's exit path.
      if (conn.lostReason !== undefined) throw new ConnectionLostError(conn.lostReason);
      throw failure(err);
    }
  };

  const name = await step(getDriverName(conn, config.timeoutMs), (err) => new ExitError(1, `error getting CSI driver name: ${errorText(err)}`));
  log.v(2).info('CSI driver name', { driver: name });

  await step(waitForDriverReady(conn, { timeoutMs: config.timeoutMs, log }), (err) => new ExitError(1, `error waiting for CSI driver to be ready: ${errorText(err)}`));

  const controller = await step(
    controllerCapabilities(conn, config.timeoutMs),
    (err) => new ExitError(1, `error determining if driver supports create/delete snapshot operations: ${errorText(err)}`),
  );
  if (!controller.has('CREATE_DELETE_SNAPSHOT')) throw new ExitError(1, `CSI driver ${name} does not support ControllerCreateSnapshot`);
  if (config.snapshotNamePrefix === '') throw new ExitError(1, 'Snapshot name prefix cannot be of length 0');

  let groupSnapshots = config.featureGates.CSIVolumeGroupSnapshot;
  let group = new Set<string>();
  if (groupSnapshots) {
    // UNIMPLEMENTED is a driver without a GroupController service: it simply has no group
    // snapshots. Any other failure (UNAVAILABLE, a deadline, an internal error) is a driver that
    // cannot answer now; taking it as "no group support" would silently serve a different feature
    // set until the next restart, so it stops start-up as a failing ControllerGetCapabilities does.
    const answer = await step(
      groupControllerCapabilities(conn, config.timeoutMs).catch((err: unknown) => {
        if (isGrpcError(err) && err.code === Status.UNIMPLEMENTED) return undefined;
        throw err;
      }),
      (err) => new ExitError(1, `error determining if driver supports create/delete group snapshot operations: ${errorText(err)}`),
    );
    if (answer === undefined) {
      log.warn('The CSI driver has no GroupController service (GroupControllerGetCapabilities is unimplemented); group snapshots are disabled for this run, single snapshots are served', {
        driver: name,
      });
      groupSnapshots = false;
    } else {
      group = answer;
      if (!group.has('CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT')) {
        groupSnapshots = false;
        log.warn(
          'The CSI driver does not advertise CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT; group snapshots are disabled for this run, single snapshots are served',
          { driver: name },
        );
      } else if (config.groupSnapshotNamePrefix === '') {
        throw new ExitError(1, 'group snapshot name prefix cannot be of length 0');
      }
    }
  }

  log.info('CSI driver ready', {
    driver: name,
    controllerCapabilities: [...controller].sort(),
    groupControllerCapabilities: [...group].sort(),
    groupSnapshots,
  });
  return { name, controllerCapabilities: controller, groupCapabilities: group, groupSnapshots };
}

/** Connects to the driver and checks it (connectDriver, then checkDriver); the connection is closed on failure. */
export async function startDriver(
  config: SidecarConfig,
  log: Logger,
  observeCall?: (record: CallRecord) => void,
): Promise<{ conn: CsiConnection; facts: DriverFacts }> {
  const conn = await connectDriver(config, log, observeCall);
  try {
    return { conn, facts: await checkDriver(conn, config, log) };
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** Parses flags and configuration; the early exits (help, version, bad flags) happen here. */
export function loadConfig(argv: readonly string[], out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): SidecarConfig {
  let parsed;
  try {
    parsed = parseFlags(argv);
  } catch (err) {
    if (err instanceof HelpRequested) {
      out.stderr.write(usage(PROGRAM));
      throw new ExitError(0, '');
    }
    if (err instanceof FlagError) {
      out.stderr.write(`${err.message}\n${usage(PROGRAM)}`);
      throw new ExitError(2, '');
    }
    throw err;
  }
  const config = buildConfig(parsed);
  if (parsed.values['version']) {
    out.stdout.write(`${PROGRAM} ${version()}\n`);
    throw new ExitError(0, '');
  }
  const log = createLogger({ verbosity: config.verbosity, format: config.logFormat, name: PROGRAM });
  // Kubernetes' feature gates warn when a GA gate is set; the Go sidecar logs this for
  // CSIVolumeGroupSnapshot since v8.7.0 made that gate GA (the flags already parsed, so no throw).
  for (const name of parseFeatureGates(parsed.values['feature-gates']).explicit) {
    if (FEATURE_GATES[name].stage === 'GA') {
      log.info('Warning: setting GA feature gate. It will be removed in a future release.', { featureGate: name, value: config.featureGates[name] });
    }
  }
  log.info('Version', { version: version() });
  for (const warning of parsed.warnings) log.warn(`Deprecated flag: ${warning}`);
  if (config.nodeDeployment && config.leaderElection) throw new ExitError(1, 'Leader election cannot happen when node-deployment is set to true');
  if (config.metricsAddress !== '' && config.httpEndpoint !== '') {
    throw new ExitError(1, 'only one of `--metrics-address` and `--http-endpoint` can be set.');
  }
  return config;
}

/** Start-up checks the Go sidecar does not make (it panics or fails later on every object). */
function validateBeyondFlags(config: SidecarConfig): void {
  const durations = invalidDurations(config);
  if (durations) throw new ExitError(1, durations);
  try {
    validateUuidLength('snapshot-name-uuid-length', config.snapshotNameUuidLength);
    validateUuidLength('groupsnapshot-name-uuid-length', config.groupSnapshotNameUuidLength);
    if (config.leaderElection) {
      validateLeaderElectionTimings({
        leaseDurationMs: config.leaderElectionLeaseDurationMs,
        renewDeadlineMs: config.leaderElectionRenewDeadlineMs,
        retryPeriodMs: config.leaderElectionRetryPeriodMs,
      });
    }
  } catch (err) {
    throw new ExitError(1, errorText(err));
  }
}

/**
 * The process: flags, the Kubernetes configuration, the driver, then serve until a signal, the loss
 * of the driver or the loss of leadership. Returns the exit code.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const tool = TOOLS.find((t) => t === argv[0]);
  if (tool) return runTool(tool, argv.slice(1), { stdout: process.stdout, stderr: process.stderr });
  const bootLog = createLogger({ name: PROGRAM });
  let config: SidecarConfig;
  try {
    config = loadConfig(argv, { stdout: process.stdout, stderr: process.stderr });
  } catch (err) {
    if (err instanceof ExitError) {
      if (err.message) bootLog.error(err.message);
      await bootLog.flush();
      return err.exitCode;
    }
    throw err;
  }
  const log = createLogger({ verbosity: config.verbosity, format: config.logFormat, name: PROGRAM });
  const metrics = createMetrics();
  let http: RunningHttpServer | undefined;
  let conn: CsiConnection | undefined;
  try {
    validateBeyondFlags(config);
    let kubeConfig: ClusterConfig | undefined;
    try {
      kubeConfig = clusterConfigIfAny(config.kubeconfig);
    } catch (err) {
      throw new ExitError(1, `error building kubeconfig: ${errorText(err)}`);
    }
    const nodeName = process.env.NODE_NAME;
    if (config.nodeDeployment && !nodeName) {
      throw new ExitError(255, 'The NODE_NAME environment variable must be set when using --node-deployment.');
    }

    let election: LeaderElection | undefined;
    const address = config.metricsAddress || config.httpEndpoint;
    if (address) {
      try {
        http = await startHttpServer({
          address,
          metricsPath: config.metricsPath,
          registry: metrics.registry,
          ...(config.leaderElection && config.httpEndpoint
            ? { leaderHealth: () => election?.healthy() ?? { ok: true } }
            : {}),
          onError: (err) => {
            log.error('The HTTP endpoint failed', { address, error: err.message });
            process.exit(255);
          },
        });
      } catch (err) {
        throw new ExitError(255, `failed to start the HTTP endpoint: ${errorText(err)}`);
      }
      log.info('Serving metrics', { address, path: config.metricsPath });
    }

    const started = await startDriver(config, log, (record) => metrics.observeCsiCall(record));
    conn = started.conn;
    const facts = started.facts;
    metrics.setDriverName(facts.name);
    // Without a cluster to serve the sidecar only checks the driver (driver-check mode).
    if (!kubeConfig) {
      log.warn('No Kubernetes configuration (no --kubeconfig and not running in a pod): the CSI driver was checked, no snapshot objects are served. Waiting for SIGTERM.');
    }
    // Group snapshots need both the driver's capability (checked in startDriver) and a served API.
    // The driver may go away while discovery waits on the API server: that ends start-up at once.
    const groupSnapshotVersion =
      kubeConfig && facts.groupSnapshots ? await conn.whileConnected(chooseGroupSnapshotVersion(new RestClient({ kubeConfig }), config.timeoutMs, log)) : undefined;

    const code = await serve({
      config,
      ...(kubeConfig ? { kubeConfig } : {}),
      conn,
      facts,
      metrics,
      log,
      nodeName,
      ...(groupSnapshotVersion ? { groupSnapshotVersion } : {}),
      userAgent: `${PROGRAM}/${version()}`,
      onElection: (e) => (election = e),
    });
    await http?.stop();
    await log.flush();
    return code;
  } catch (err) {
    conn?.close();
    await http?.stop();
    if (err instanceof ConnectionLostError) {
      reportDriverLoss(log, err.reason);
      await log.flush();
      return 1;
    }
    log.error(err instanceof Error ? err.message : String(err));
    await log.flush();
    return err instanceof ExitError ? err.exitCode : 1;
  }
}
