import { FeatureGateError, parseFeatureGates, type FeatureGates } from './feature-gates.js';
import type { ParsedFlags } from './flags.js';
import { formatGoDuration } from './go-values.js';
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
  const format = v['logging-format'];
  if (format !== 'text' && format !== 'json') problems.push(`format: Unsupported value: ${JSON.stringify(format)}: supported values: "json", "text"`);
  if (v['v'] < 0) problems.push('verbosity: must be a non-negative number');
  if (v['log-flush-frequency'] <= 0) problems.push('flushFrequency: must be positive');
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
    const { gates, explicit } = parseFeatureGates(v['feature-gates']);
    // Older charts switch group snapshots with the retired flag; honour it unless the gate is explicit.
    if (parsed.given.includes('enable-volume-group-snapshots') && !explicit.has('CSIVolumeGroupSnapshot')) {
      gates.CSIVolumeGroupSnapshot = v['enable-volume-group-snapshots'];
    }
    featureGates = gates;
  } catch (err) {
    if (err instanceof FeatureGateError) throw new ExitError(255, `Error while parsing feature gates: ${err.message}`);
    throw err;
  }

  return {
    resyncPeriodMs: v['resync-period'],
    snapshotNamePrefix: v['snapshot-name-prefix'],
    snapshotNameUuidLength: v['snapshot-name-uuid-length'],
    workerThreads: v['worker-threads'],
    timeoutMs: v['timeout'],
    extraCreateMetadata: v['extra-create-metadata'],
    retryIntervalStartMs: v['retry-interval-start'],
    retryIntervalMaxMs: v['retry-interval-max'],
    nodeDeployment: v['node-deployment'],
    groupSnapshotNamePrefix: v['groupsnapshot-name-prefix'],
    groupSnapshotNameUuidLength: v['groupsnapshot-name-uuid-length'],
    featureGates,
    kubeconfig: v['kubeconfig'],
    csiAddress: v['csi-address'],
    leaderElection: v['leader-election'],
    leaderElectionNamespace: v['leader-election-namespace'],
    leaderElectionLeaseDurationMs: v['leader-election-lease-duration'],
    leaderElectionRenewDeadlineMs: v['leader-election-renew-deadline'],
    leaderElectionRetryPeriodMs: v['leader-election-retry-period'],
    leaderElectionLabels: v['leader-election-labels'],
    kubeApiQps: v['kube-api-qps'],
    kubeApiBurst: v['kube-api-burst'],
    httpEndpoint: v['http-endpoint'],
    metricsAddress: v['metrics-address'],
    metricsPath: v['metrics-path'],
    verbosity: v['v'],
    logFormat: format === 'json' ? 'json' : 'text',
  };
}

/**
 * The durations that mean nothing at zero or below. Go accepts them all, and then every CSI call
 * fails at once with DeadlineExceeded (`--timeout=0s`) or failed objects are retried in a tight
 * loop (`--retry-interval-*`); refusing them at start-up names the mistake instead. The resync
 * period is 0 to turn the periodic pass off, so only a negative one is refused. The leader-election
 * durations are checked, when election is on, by their own nesting rule; `--log-flush-frequency`
 * with the logging options. In the flag table's order, so the message reads like --help.
 */
const DURATION_RULES: ReadonlyArray<{ flag: string; value: (c: SidecarConfig) => number; zeroAllowed: boolean; what: string; example: string }> = [
  { flag: 'resync-period', value: (c) => c.resyncPeriodMs, zeroAllowed: true, what: 'how often every object is looked at again; 0 turns that off', example: '15m' },
  { flag: 'timeout', value: (c) => c.timeoutMs, zeroAllowed: false, what: 'the deadline of every CSI call', example: '1m' },
  { flag: 'retry-interval-start', value: (c) => c.retryIntervalStartMs, zeroAllowed: false, what: 'the first retry delay after a failure', example: '1s' },
  { flag: 'retry-interval-max', value: (c) => c.retryIntervalMaxMs, zeroAllowed: false, what: 'the longest retry delay', example: '5m' },
];

/**
 * One line naming every duration flag whose value cannot work, with what the flag is for and a
 * value that does; undefined when all are usable. Start-up refuses them with exit 1, as it does the
 * Go sidecar's own semantic checks (an invalid --log-flush-frequency, say); exit 2 stays for values
 * that do not parse.
 */
export function invalidDurations(config: SidecarConfig): string | undefined {
  const problems = DURATION_RULES.flatMap(({ flag, value, zeroAllowed, what, example }) => {
    const ms = value(config);
    if (ms > 0 || (zeroAllowed && ms === 0)) return [];
    const need = zeroAllowed ? 'must not be negative' : 'must be positive';
    return [`--${flag}=${formatGoDuration(ms)} is invalid: it ${need} (${what}), for example --${flag}=${example}`];
  });
  return problems.length > 0 ? problems.join('; ') : undefined;
}
