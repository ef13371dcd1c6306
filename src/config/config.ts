import { FeatureGateError, parseFeatureGates, type FeatureGates } from './feature-gates.js';
import type { ParsedFlags } from './flags.js';
import type { LogFormat } from '../observe/logger.js';

/** The sidecar's settings, typed, after validation. Durations are in milliseconds. */
export interface SidecarConfig {
  resyncPeriodMs: number;
  snapshotNamePrefix: string;
  snapshotNameUuidLength: number;
  workerThreads: number;
  timeoutMs: number;
  extraCreateMetadata: boolean;
  retryIntervalStartMs: number;
  retryIntervalMaxMs: number;
  nodeDeployment: boolean;
  groupSnapshotNamePrefix: string;
  groupSnapshotNameUuidLength: number;
  featureGates: FeatureGates;
  kubeconfig: string;
  csiAddress: string;
  leaderElection: boolean;
  leaderElectionNamespace: string;
  leaderElectionLeaseDurationMs: number;
  leaderElectionRenewDeadlineMs: number;
  leaderElectionRetryPeriodMs: number;
  leaderElectionLabels: Record<string, string>;
  kubeApiQps: number;
  kubeApiBurst: number;
  httpEndpoint: string;
  metricsAddress: string;
  metricsPath: string;
  verbosity: number;
  logFormat: LogFormat;
}

/** A start-up failure with the exit code the Go sidecar uses for it. */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Validates the logging flags (exit 1, as the Go sidecar's "LoggingConfiguration is invalid") and
 * the feature gates (exit 255), and builds the typed configuration.
 */
export function buildConfig(parsed: ParsedFlags): SidecarConfig {
  const v = parsed.values;
  const problems: string[] = [];
  const format = v['logging-format'] as string;
  if (format !== 'text' && format !== 'json') problems.push(`format: Unsupported value: ${JSON.stringify(format)}: supported values: "json", "text"`);
  if ((v['v'] as number) < 0) problems.push('verbosity: must be a non-negative number');
  if ((v['log-flush-frequency'] as number) <= 0) problems.push('flushFrequency: must be positive');
  if (v['vmodule'] !== '' && format !== 'text') problems.push('vmodule: only supported for the text log format');
  for (const [flag, setting] of [
    ['log-text-split-stream', 'options.text.splitStream'],
    ['log-json-split-stream', 'options.json.splitStream'],
  ] as const) {
    if (v[flag] === true) problems.push(`${setting}: Forbidden: Feature LoggingAlphaOptions is disabled`);
  }
  for (const [flag, setting] of [
    ['log-text-info-buffer-size', 'options.text.infoBufferSize'],
    ['log-json-info-buffer-size', 'options.json.infoBufferSize'],
  ] as const) {
    if (v[flag] !== 0) problems.push(`${setting}: Forbidden: Feature LoggingAlphaOptions is disabled`);
  }
  if (problems.length > 0) throw new ExitError(1, `LoggingConfiguration is invalid: ${problems.join(', ')}`);

  let featureGates: FeatureGates;
  try {
    const { gates, explicit } = parseFeatureGates(v['feature-gates'] as string[]);
    // Older charts switch group snapshots with the retired flag; honour it unless the gate is explicit.
    if (parsed.given.includes('enable-volume-group-snapshots') && !explicit.has('CSIVolumeGroupSnapshot')) {
      gates.CSIVolumeGroupSnapshot = v['enable-volume-group-snapshots'] as boolean;
    }
    featureGates = gates;
  } catch (err) {
    if (err instanceof FeatureGateError) throw new ExitError(255, `Error while parsing feature gates: ${err.message}`);
    throw err;
  }

  return {
    resyncPeriodMs: v['resync-period'] as number,
    snapshotNamePrefix: v['snapshot-name-prefix'] as string,
    snapshotNameUuidLength: v['snapshot-name-uuid-length'] as number,
    workerThreads: v['worker-threads'] as number,
    timeoutMs: v['timeout'] as number,
    extraCreateMetadata: v['extra-create-metadata'] as boolean,
    retryIntervalStartMs: v['retry-interval-start'] as number,
    retryIntervalMaxMs: v['retry-interval-max'] as number,
    nodeDeployment: v['node-deployment'] as boolean,
    groupSnapshotNamePrefix: v['groupsnapshot-name-prefix'] as string,
    groupSnapshotNameUuidLength: v['groupsnapshot-name-uuid-length'] as number,
    featureGates,
    kubeconfig: v['kubeconfig'] as string,
    csiAddress: v['csi-address'] as string,
    leaderElection: v['leader-election'] as boolean,
    leaderElectionNamespace: v['leader-election-namespace'] as string,
    leaderElectionLeaseDurationMs: v['leader-election-lease-duration'] as number,
    leaderElectionRenewDeadlineMs: v['leader-election-renew-deadline'] as number,
    leaderElectionRetryPeriodMs: v['leader-election-retry-period'] as number,
    leaderElectionLabels: v['leader-election-labels'] as Record<string, string>,
    kubeApiQps: v['kube-api-qps'] as number,
    kubeApiBurst: v['kube-api-burst'] as number,
    httpEndpoint: v['http-endpoint'] as string,
    metricsAddress: v['metrics-address'] as string,
    metricsPath: v['metrics-path'] as string,
    verbosity: v['v'] as number,
    logFormat: format as LogFormat,
  };
}
