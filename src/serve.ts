import { writeFileSync } from 'node:fs';
import type { ClusterConfig } from './kube/cluster-config.js';
import type { SidecarConfig } from './config/config.js';
import type { CsiConnection } from './csi/connection.js';
import { errorText } from './csi/errors.js';
import { EventRecorder } from './kube/events.js';
import { holderIdentity, leaseName, leaseNamespace, runLeaderElection, type LeaderElection } from './kube/leader.js';
import { RestClient } from './kube/rest.js';
import type { Logger } from './observe/logger.js';
import type { SidecarMetrics } from './observe/metrics.js';
import { TokenBucket } from './runtime/rate-limiter.js';
import type { QueueProgress } from './runtime/queue-metrics.js';
import { contentController } from './sidecar/snapshot/kind.js';
import { groupContentController } from './sidecar/group/kind.js';
import type { GroupApiMode } from './sidecar/group/versions.js';
import { LABEL_MANAGED_BY } from './sidecar/keys.js';
import type { DriverFacts } from './main.js';

const TERMINATION_LOG = '/dev/termination-log';
/** Longest wait for syncs in progress (their CSI calls) after SIGTERM, inside Kubernetes' default 30 s grace. */
const SHUTDOWN_GRACE_MS = 25_000;
/** Longest wait, after the syncs, for Events still queued (a sync's last Warning is often among them). */
const EVENT_FLUSH_MS = 4_000;

export interface ServeInputs {
  config: SidecarConfig;
  /** Absent in driver-check mode: nothing is served, the process waits for a signal. */
  kubeConfig?: ClusterConfig;
  conn: CsiConnection;
  facts: DriverFacts;
  metrics: SidecarMetrics;
  log: Logger;
  nodeName: string | undefined;
  /** The groupsnapshot.storage.k8s.io version (and v1alpha1 schema) to serve group contents at; unset: group snapshots are off. */
  groupSnapshotVersion?: GroupApiMode;
  /** Set once leader election runs, so the HTTP health check can read it. */
  onElection?(election: LeaderElection): void;
  userAgent: string;
}

/**
 * Runs the controllers until a signal, the loss of the driver, or the loss of leadership, and
 * returns the exit code: 0 after a graceful stop, 1 when the driver or the lease was lost.
 */
export async function serve(inputs: ServeInputs): Promise<number> {
  const { kubeConfig, conn, log } = inputs;
  if (!kubeConfig) return waitForStop(conn, log, async () => undefined).code;
  return serveCluster({ ...inputs, kubeConfig });
}

async function serveCluster(inputs: ServeInputs & { kubeConfig: ClusterConfig }): Promise<number> {
  const { config, kubeConfig, conn, facts, metrics, log } = inputs;
  // One client (and so one --kube-api-qps/--kube-api-burst budget) per logical client: the
  // controllers' reads and writes, the Events about them, and (below) the leader election.
  const client = (): RestClient => new RestClient({ kubeConfig, limiter: new TokenBucket(config.kubeApiQps, config.kubeApiBurst), userAgent: inputs.userAgent });
  const rest = client();
  const events = new EventRecorder({ client: client(), component: `csi-snapshotter ${facts.name}`, log });
  const loop = {
    client: rest,
    driverName: facts.name,
    workers: config.workerThreads,
    resyncPeriodMs: config.resyncPeriodMs,
    retryIntervalStartMs: config.retryIntervalStartMs,
    retryIntervalMaxMs: config.retryIntervalMaxMs,
    log,
    queueMetrics: metrics.queueSink,
    registerQueue: (q: QueueProgress) => metrics.registerQueue(q),
  };
  const nodeSelector = config.nodeDeployment && inputs.nodeName ? { labelSelector: `${LABEL_MANAGED_BY}=${inputs.nodeName}` } : {};
  // Readiness polls of a slow snapshot are spaced out, but never by more than this.
  const maxPollIntervalMs = Math.min(15_000, config.retryIntervalMaxMs);
  const controllers: Array<{ kind: string; start(signal: AbortSignal): Promise<void>; stop(): Promise<void> }> = [];
  controllers.push({ kind: 'VolumeSnapshotContent', ...bind(contentController({
    ...loop,
    csi: conn,
    settings: {
      snapshotNamePrefix: config.snapshotNamePrefix,
      snapshotNameUuidLength: config.snapshotNameUuidLength,
      extraCreateMetadata: config.extraCreateMetadata,
      timeoutMs: config.timeoutMs,
      listSnapshots: facts.controllerCapabilities.has('LIST_SNAPSHOTS'),
      maxPollIntervalMs,
      retryIntervalMaxMs: config.retryIntervalMaxMs,
    },
    ...nodeSelector,
    events,
    reportCounts: (counts) => metrics.setContentGauges('VolumeSnapshotContent', counts),
  })) });
  if (inputs.groupSnapshotVersion) {
    controllers.push({ kind: 'VolumeGroupSnapshotContent', ...bind(groupContentController({
      ...loop,
      csi: conn,
      version: inputs.groupSnapshotVersion,
      settings: {
        groupSnapshotNamePrefix: config.groupSnapshotNamePrefix,
        groupSnapshotNameUuidLength: config.groupSnapshotNameUuidLength,
        extraCreateMetadata: config.extraCreateMetadata,
        timeoutMs: config.timeoutMs,
        maxPollIntervalMs,
        retryIntervalMaxMs: config.retryIntervalMaxMs,
      },
      ...nodeSelector,
      events,
      reportCounts: (counts) => metrics.setContentGauges('VolumeGroupSnapshotContent', counts),
    })) });
  }

  const elected: { election?: LeaderElection } = {};
  const stopController = new AbortController();
  const stopping = waitForStop(conn, log, async () => {
    stopController.abort();
    const grace = new Promise<void>((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref());
    await Promise.race([Promise.all(controllers.map((c) => c.stop())), grace]);
    await Promise.all([
      // Warnings recorded by the last syncs would otherwise die with the process.
      events.stop(EVENT_FLUSH_MS),
      // With ReleaseLeaderElectionOnExit the lease is handed back so a successor takes over at once;
      // without it the lease is left to expire, as the Go sidecar does.
      elected.election?.stop(config.featureGates.ReleaseLeaderElectionOnExit),
    ]);
  });

  const startController = (): void => {
    // Logged at the default verbosity, as the Go sidecar does, so an operator sees the controllers start.
    log.info('Starting CSI snapshotter', { controllers: controllers.map((c) => c.kind) });
    for (const controller of controllers) {
      controller.start(stopController.signal).catch((err: unknown) => {
        if (stopController.signal.aborted) return;
        log.error(`Cannot start the ${controller.kind} controller`, { error: errorText(err) });
        stopping.exit(1);
      });
    }
  };

  if (!config.leaderElection) {
    startController();
    return stopping.code;
  }
  const namespace = leaseNamespace(config.leaderElectionNamespace, process.env.POD_NAMESPACE);
  const name = leaseName(facts.name);
  const identity = holderIdentity();
  log.info('Waiting to become leader', { lease: `${namespace}/${name}`, identity });
  const election = runLeaderElection({
    client: client(),
    namespace,
    name,
    identity,
    leaseDurationMs: config.leaderElectionLeaseDurationMs,
    renewDeadlineMs: config.leaderElectionRenewDeadlineMs,
    retryPeriodMs: config.leaderElectionRetryPeriodMs,
    labels: config.leaderElectionLabels,
    log,
    metrics: metrics.leaderElection(),
    // As client-go records them: `<identity> became leader` / `stopped leading`, on the Lease.
    recordEvent: (reason, message) => events.record({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name, namespace }, 'Normal', reason, message),
    onStartedLeading: () => {
      log.info('Became leader, starting', { lease: `${namespace}/${name}` });
      startController();
    },
    onStoppedLeading: () => {
      if (stopping.stopping()) return;
      // Another replica may already act on the same objects: stop at once, as the Go sidecar does.
      log.error('Stopped leading');
      stopping.exit(1);
    },
  });
  elected.election = election;
  inputs.onElection?.(election);
  return stopping.code;
}

/** start/stop of a controller, bound to it. */
function bind(controller: { start(signal?: AbortSignal): Promise<void>; stop(): Promise<void> }): { start(signal: AbortSignal): Promise<void>; stop(): Promise<void> } {
  return { start: (signal) => controller.start(signal), stop: () => controller.stop() };
}

/** What the sidecar leaves behind when the driver goes away: the container's termination message and one log line. */
export function reportDriverLoss(log: Logger, reason: string): void {
  try {
    writeFileSync(TERMINATION_LOG, 'Lost connection to CSI driver, exiting');
  } catch {
    // Outside a container there is no termination log; the log line says the same.
  }
  log.error('Lost connection to CSI driver, exiting', { reason });
}

interface Stopping {
  /** The exit code, once the process should end. */
  code: Promise<number>;
  /** Ends at once with this code. */
  exit(code: number): void;
  /** A graceful stop has begun. */
  stopping(): boolean;
}

/**
 * Waits for the end of the process: SIGTERM/SIGINT run `graceful` and give 0 (a second signal gives
 * 1 at once); losing the driver gives 1 after writing the container's termination message.
 */
function waitForStop(conn: CsiConnection, log: Logger, graceful: () => Promise<void>): Stopping {
  let resolveCode: (code: number) => void = () => undefined;
  const code = new Promise<number>((resolve) => (resolveCode = resolve));
  // The controllers' sockets keep the process alive; this covers driver-check mode and gaps between them.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let finished = false;
  let signalled = false;

  const exit = (value: number): void => {
    if (finished) return;
    finished = true;
    clearInterval(keepAlive);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    conn.close();
    resolveCode(value);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn('Second signal: exiting at once', { signal });
      exit(1);
      return;
    }
    signalled = true;
    log.info('Received signal: finishing work in progress, then exiting', { signal });
    graceful().then(
      () => exit(0),
      (err: unknown) => {
        log.error('Graceful shutdown failed', { error: errorText(err) });
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Also heard when the driver went away before serving began (onLost calls late listeners at once).
  conn.onLost((reason) => {
    reportDriverLoss(log, reason);
    exit(1);
  });
  return { code, exit, stopping: () => signalled };
}
