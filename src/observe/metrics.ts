import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallRecord } from '../csi/connection.js';
import { codeName } from '../csi/errors.js';
import type { QueueMetricsSink, QueueProgress } from '../runtime/queue-metrics.js';

/**
 * How often the nodejs_eventloop_lag_* series sample the event loop. Each sample is one timer
 * wake-up, so this is what they cost an idle process; their values include the period (a loop with
 * no lag reads about 0.1 s).
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * The sidecar's Prometheus series. Names, labels, buckets and help texts are the Go sidecar's, so
 * dashboards and alerts written for it keep working; the csi_snapshotter_contents_* gauges are
 * ours. Every series we know we will expose exists (at zero) from construction, so a scrape right
 * after start-up already shows the full set and `rate()` has a starting point.
 */

/** Seconds; the CSI operation histogram's upper bounds. */
export const CSI_OPERATION_BUCKETS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 25, 50, 120, 300, 600];

/** Seconds; 1e-8 up to 10, one bucket per power of ten, for both work-queue histograms. */
export const WORKQUEUE_BUCKETS: readonly number[] = Array.from({ length: 10 }, (_, i) => Number(`1e${i - 8}`));

/** Driver label value until GetPluginInfo has answered. */
export const UNKNOWN_DRIVER = 'unknown-driver';

/** Status label value for a failure that carried no gRPC status (a local error). */
export const NON_GRPC_STATUS = 'unknown-non-grpc';

export type ContentKind = 'VolumeSnapshotContent' | 'VolumeGroupSnapshotContent';
export const CONTENT_KINDS: readonly ContentKind[] = ['VolumeSnapshotContent', 'VolumeGroupSnapshotContent'];

export interface ContentCounts {
  /** Contents whose snapshot is not ready yet. */
  pending: number;
  /** Contents whose status carries an error. */
  inError: number;
  /** Contents with a deletion timestamp that still wait for the driver or a finalizer. */
  beingDeleted: number;
}

/** What the leader elector reports. */
export interface LeaderElectionMetrics {
  /** This replica started (true) or stopped (false) leading. */
  leading(isLeader: boolean): void;
  /** A renewal could not use the cached Lease and had to read it first. */
  slowpath(): void;
}

/**
 * A number as Go's strconv.FormatFloat(f, 'g', -1, 64) prints it: Prometheus clients in Go render
 * bucket bounds this way (`1e-08`, `1e-05`, `0.0001`), and `le` selectors are matched as strings.
 */
export function goFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (n === 0) return '0';
  const [mantissa, exponentText] = n.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent >= -4 && exponent < 6) return n.toString();
  const digits = Math.abs(exponent).toString().padStart(2, '0');
  return `${mantissa}e${exponent < 0 ? '-' : '+'}${digits}`;
}

/** A registry whose text output spells bucket bounds like the Go sidecar. */
export class GoCompatibleRegistry extends Registry {
  override async metrics(): Promise<string> {
    const text = await super.metrics();
    return text.replace(/le="([^"]+)"/g, (whole, bound: string) => (bound === '+Inf' ? whole : `le="${goFloat(Number(bound))}"`));
  }
}

const ZERO_COUNTS: ContentCounts = { pending: 0, inError: 0, beingDeleted: 0 };

// Go's component-base prefixes help texts with the metric's stability level.
const alpha = (help: string): string => `[ALPHA] ${help}`;
const beta = (help: string): string => `[BETA] ${help}`;

export class SidecarMetrics {
  readonly registry: Registry = new GoCompatibleRegistry();
  private driverName = UNKNOWN_DRIVER;
  private readonly contentCounts = new Map<ContentKind, ContentCounts>(CONTENT_KINDS.map((k) => [k, { ...ZERO_COUNTS }]));
  private readonly queues = new Map<string, QueueProgress>();

  private readonly csiOperations = new Histogram({
    name: 'csi_sidecar_operations_seconds',
    help: alpha('Container Storage Interface operation duration with gRPC error code status total'),
    labelNames: ['driver_name', 'method_name', 'grpc_status_code'] as const,
    buckets: [...CSI_OPERATION_BUCKETS],
    registers: [this.registry],
  });

  private readonly queueDepth = new Gauge({ name: 'workqueue_depth', help: alpha('Current depth of workqueue'), labelNames: ['name'] as const, registers: [this.registry] });
  private readonly queueAdds = new Counter({ name: 'workqueue_adds_total', help: alpha('Total number of adds handled by workqueue'), labelNames: ['name'] as const, registers: [this.registry] });
  private readonly queueLatency = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: alpha('How long in seconds an item stays in workqueue before being requested.'),
    labelNames: ['name'] as const,
    buckets: [...WORKQUEUE_BUCKETS],
    registers: [this.registry],
  });
  private readonly workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: alpha('How long in seconds processing an item from workqueue takes.'),
    labelNames: ['name'] as const,
    buckets: [...WORKQUEUE_BUCKETS],
    registers: [this.registry],
  });
  private readonly queueRetries = new Counter({ name: 'workqueue_retries_total', help: alpha('Total number of retries handled by workqueue'), labelNames: ['name'] as const, registers: [this.registry] });

  private readonly leaderStatus = new Gauge({
    name: 'leader_election_master_status',
    help: alpha(
      "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
    ),
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  private readonly leaderSlowpath = new Counter({
    name: 'leader_election_slowpath_total',
    help: alpha("Total number of slow path exercised in renewing leader leases. 'name' is the string used to identify the lease. Please make sure to group by name."),
    labelNames: ['name'] as const,
    registers: [this.registry],
  });

  /** Ready to hand to a work queue. */
  readonly queueSink: QueueMetricsSink = {
    added: (queue) => this.queueAdds.inc({ name: queue }),
    depth: (queue, depth) => this.queueDepth.set({ name: queue }, depth),
    queueLatency: (queue, seconds) => this.queueLatency.observe({ name: queue }, seconds),
    workDuration: (queue, seconds) => this.workDuration.observe({ name: queue }, seconds),
    retried: (queue) => this.queueRetries.inc({ name: queue }),
  };

  constructor() {
    // Node's equivalents of the Go process collector (plus nodejs_* runtime series in place of go_*).
    // The event-loop lag series sample with a timer every EVENT_LOOP_SAMPLE_MS: at prom-client's
    // default of 10 ms that timer alone cost an idle sidecar 4.5 ms of CPU a second (BENCHMARKS.md).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // The Go sidecar's own process_start_time_seconds carries the [ALPHA] help; keep one family.
    this.registry.removeSingleMetric('process_start_time_seconds');
    const startSeconds = Math.round(performance.timeOrigin) / 1000;
    new Gauge({
      name: 'process_start_time_seconds',
      help: alpha('Start time of the process since unix epoch in seconds.'),
      registers: [this.registry],
      collect() {
        this.set(startSeconds);
      },
    });

    const queues = this.queues;
    new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: alpha(
        "How many seconds of work has done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
      ),
      labelNames: ['name'] as const,
      registers: [this.registry],
      collect() {
        for (const q of queues.values()) this.set({ name: q.name }, q.unfinishedWorkSeconds());
      },
    });
    new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: alpha('How many seconds has the longest running processor for workqueue been running.'),
      labelNames: ['name'] as const,
      registers: [this.registry],
      collect() {
        for (const q of queues.values()) this.set({ name: q.name }, q.longestRunningProcessorSeconds());
      },
    });

    this.registerContentGauge('csi_snapshotter_contents_pending', 'Snapshot contents of this driver whose snapshot is not ready to use yet.', 'pending');
    this.registerContentGauge('csi_snapshotter_contents_in_error', 'Snapshot contents of this driver whose status reports an error.', 'inError');
    this.registerContentGauge('csi_snapshotter_contents_being_deleted', 'Snapshot contents of this driver marked for deletion and not yet removed.', 'beingDeleted');

    this.registerMetaMetrics();
  }

  /** Labels every later CSI observation (and the content gauges) with the driver's name. */
  setDriverName(name: string): void {
    this.driverName = name;
  }

  /** One finished CSI call; pass as `observeCall` to the CSI connection. */
  observeCsiCall(record: CallRecord): void {
    const status = record.code === undefined ? NON_GRPC_STATUS : codeName(record.code);
    this.csiOperations.observe({ driver_name: this.driverName, method_name: record.method, grpc_status_code: status }, record.durationSeconds);
  }

  /** Creates the queue's series at zero and reads its in-progress gauges at every scrape. */
  registerQueue(progress: QueueProgress): void {
    const labels = { name: progress.name };
    this.queues.set(progress.name, progress);
    this.queueDepth.set(labels, 0);
    this.queueAdds.inc(labels, 0);
    this.queueRetries.inc(labels, 0);
    this.queueLatency.zero(labels);
    this.workDuration.zero(labels);
  }

  /** Turns on the leader-election series (at 0: not leading) and returns their sink. */
  leaderElection(name = ''): LeaderElectionMetrics {
    this.leaderStatus.set({ name }, 0);
    this.leaderSlowpath.inc({ name }, 0);
    return {
      leading: (isLeader) => this.leaderStatus.set({ name }, isLeader ? 1 : 0),
      slowpath: () => this.leaderSlowpath.inc({ name }),
    };
  }

  /** The latest counts of one kind of content, as the controller computed them. */
  setContentGauges(kind: ContentKind, counts: ContentCounts): void {
    this.contentCounts.set(kind, { ...counts });
  }

  /** The Prometheus text exposition of every series. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  private registerContentGauge(name: string, help: string, field: keyof ContentCounts): void {
    const counts = this.contentCounts;
    const driver = () => this.driverName;
    new Gauge({
      name,
      help,
      labelNames: ['driver_name', 'kind'] as const,
      registers: [this.registry],
      collect() {
        // Rebuilt on every scrape so a driver name learnt after start-up replaces unknown-driver.
        this.reset();
        for (const [kind, c] of counts) this.set({ driver_name: driver(), kind }, c[field]);
      },
    });
  }

  /** component-base's bookkeeping series, which tooling scraping Kubernetes components expects. */
  private registerMetaMetrics(): void {
    const registry = this.registry;
    new Counter({
      name: 'registered_metrics_total',
      help: beta('The count of registered metrics broken by stability level and deprecation version.'),
      labelNames: ['stability_level', 'deprecated_version'] as const,
      registers: [registry],
      collect() {
        const byLevel = new Map<string, number>();
        for (const metric of registry.getMetricsAsArray()) {
          const level = /^\[(ALPHA|BETA|STABLE)\] /.exec(metric.help)?.[1];
          if (level) byLevel.set(level, (byLevel.get(level) ?? 0) + 1);
        }
        this.reset();
        for (const [level, n] of byLevel) this.inc({ stability_level: level, deprecated_version: '' }, n);
      },
    });
    new Counter({ name: 'disabled_metrics_total', help: beta('The count of disabled metrics.'), registers: [registry] });
    new Counter({ name: 'hidden_metrics_total', help: beta('The count of hidden metrics.'), registers: [registry] });
  }
}

export function createMetrics(): SidecarMetrics {
  return new SidecarMetrics();
}
