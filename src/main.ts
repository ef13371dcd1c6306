import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildConfig, ExitError, type SidecarConfig } from './config/config.js';
import { FlagError, HelpRequested, parseFlags, usage } from './config/flags.js';
import { CsiConnection } from './csi/connection.js';
import { errorText } from './csi/errors.js';
import {
  controllerCapabilities,
  getDriverName,
  groupControllerCapabilities,
  waitForDriverReady,
} from './csi/driver-info.js';
import { createLogger, type Logger } from './observe/logger.js';
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

const TERMINATION_LOG = '/dev/termination-log';

/**
 * Connects to the driver and checks it can serve snapshots, in the Go sidecar's order and with its
 * exit codes: a driver that cannot create snapshots, or a wrong name prefix, stops the process;
 * a driver without group snapshots only switches that feature off.
 */
export async function startDriver(config: SidecarConfig, log: Logger): Promise<{ conn: CsiConnection; facts: DriverFacts }> {
  let conn: CsiConnection;
  try {
    conn = await CsiConnection.connect({ address: config.csiAddress, log });
  } catch (err) {
    throw new ExitError(1, errorText(err).startsWith('error connecting') ? errorText(err) : `error connecting to CSI driver: ${errorText(err)}`);
  }
  try {
    let name: string;
    try {
      name = await getDriverName(conn, config.timeoutMs);
    } catch (err) {
      throw new ExitError(1, `error getting CSI driver name: ${errorText(err)}`);
    }
    log.v(2).info('CSI driver name', { driver: name });

    try {
      await waitForDriverReady(conn, { timeoutMs: config.timeoutMs, log });
    } catch (err) {
      throw new ExitError(1, `error waiting for CSI driver to be ready: ${errorText(err)}`);
    }

    let controller: Set<string>;
    try {
      controller = await controllerCapabilities(conn, config.timeoutMs);
    } catch (err) {
      throw new ExitError(1, `error determining if driver supports create/delete snapshot operations: ${errorText(err)}`);
    }
    if (!controller.has('CREATE_DELETE_SNAPSHOT')) throw new ExitError(1, `CSI driver ${name} does not support ControllerCreateSnapshot`);
    if (config.snapshotNamePrefix === '') throw new ExitError(1, 'Snapshot name prefix cannot be of length 0');

    let groupSnapshots = config.featureGates.CSIVolumeGroupSnapshot;
    let group = new Set<string>();
    if (groupSnapshots) {
      try {
        group = await groupControllerCapabilities(conn, config.timeoutMs);
      } catch (err) {
        log.warn('Cannot read the driver\'s group snapshot capabilities; group snapshots are disabled for this run', {
          driver: name,
          error: errorText(err),
        });
      }
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

    log.info('CSI driver ready', {
      driver: name,
      controllerCapabilities: [...controller].sort(),
      groupControllerCapabilities: [...group].sort(),
      groupSnapshots,
    });
    return { conn, facts: { name, controllerCapabilities: controller, groupCapabilities: group, groupSnapshots } };
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
  log.info('Version', { version: version() });
  for (const warning of parsed.warnings) log.warn(`Deprecated flag: ${warning}`);
  if (config.nodeDeployment && config.leaderElection) throw new ExitError(1, 'Leader election cannot happen when node-deployment is set to true');
  if (config.metricsAddress !== '' && config.httpEndpoint !== '') {
    throw new ExitError(1, 'only one of `--metrics-address` and `--http-endpoint` can be set.');
  }
  return config;
}

/**
 * The process: flags, then the driver, then serve until a signal or the loss of the driver.
 * Returns the exit code.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let config: SidecarConfig;
  const bootLog = createLogger({ name: PROGRAM });
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

  let conn: CsiConnection;
  try {
    ({ conn } = await startDriver(config, log));
  } catch (err) {
    log.error(err instanceof Error ? err.message : String(err));
    await log.flush();
    return err instanceof ExitError ? err.exitCode : 1;
  }

  return await new Promise<number>((resolve) => {
    // Keeps the process alive while it serves; the controllers will hold their own handles.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const finish = (code: number): void => {
      clearInterval(keepAlive);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      void log.flush().then(() => resolve(code));
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info('Received signal, shutting down', { signal });
      conn.close();
      finish(0);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    conn.onLost((reason) => {
      // Exiting lets Kubernetes restart the container, which then waits for the driver again.
      try {
        writeFileSync(TERMINATION_LOG, 'Lost connection to CSI driver, exiting');
      } catch {
        // Outside a container there is no termination log; the log line below says the same.
      }
      log.error('Lost connection to CSI driver, exiting', { reason });
      finish(1);
    });
  });
}
