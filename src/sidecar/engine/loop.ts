import { errorText } from '../../csi/errors.js';
import { Informer } from '../../kube/informer.js';
import type { KubeObject, ResourceDescriptor } from '../../kube/resources.js';
import { slimObject } from '../../kube/slim.js';
import { isConflict, type RestClient } from '../../kube/rest.js';
import type { Logger } from '../../observe/logger.js';
import type { ContentCounts } from '../../observe/metrics.js';
import { runWorkers, type Outcome, type Severity, type Workers } from '../../runtime/controller.js';
import type { QueueMetricsSink, QueueProgress } from '../../runtime/queue-metrics.js';
import { WorkQueue } from '../../runtime/queue.js';
import type { ObjectMeta, SnapshotError } from '../types.js';
import { VersionStore } from './updates.js';

/** Conflicts are routine (someone else wrote first): they are retried quietly; other errors are errors. */
export function reconcileErrorSeverity(error: unknown): Severity {
  return isConflict(error) ? 'quiet' : 'error';
}

/** What the loop needs to know about an object: its metadata, and readiness/error for the gauges. */
export interface ControlledObject {
  metadata: ObjectMeta;
  status?: { readyToUse?: boolean; error?: SnapshotError };
}

/** The parts every content controller shares: cluster, queue, backoff, metrics. */
export interface LoopOptions {
  client: RestClient;
  driverName: string;
  workers: number;
  resyncPeriodMs: number;
  retryIntervalStartMs: number;
  retryIntervalMaxMs: number;
  log: Logger;
  queueMetrics?: QueueMetricsSink;
  registerQueue?(progress: QueueProgress): void;
  /** Receives the pending / in-error / being-deleted counts of this driver's objects. */
  reportCounts?(counts: ContentCounts): void;
}

/**
 * One kind of content: what to watch and how to act on one object. W is the object as the API
 * server sends it, T the sync's own shape (the same for VolumeSnapshotContents; version-free for
 * group contents), C its class.
 */
export interface LoopKind<W extends KubeObject, T extends ControlledObject, C extends KubeObject> {
  /** Kind name for logs ("<kind> caches synced"). */
  kind: string;
  queueName: string;
  objects: ResourceDescriptor;
  classes: ResourceDescriptor;
  objectLabelSelector?: string;
  classLabelSelector?: string;
  toModel(wire: W): T;
  /** Whether an informer update needs a sync (filters out the sidecar's own writes). */
  shouldEnqueueUpdate(oldObj: W, newObj: W): boolean;
  isForDriver(obj: T, classByName: (name: string) => C | undefined): boolean;
  sync(obj: T, classByName: (name: string) => C | undefined, observed: (obj: T) => void): Promise<Outcome>;
}

/**
 * The controller loop shared by VolumeSnapshotContents and VolumeGroupSnapshotContents: watches the
 * objects and their classes, keeps a store of the newest copy seen, and runs --worker-threads
 * workers over a rate-limited queue, one sync per key at a time.
 */
export class ControllerLoop<W extends KubeObject & { metadata: ObjectMeta }, T extends ControlledObject, C extends KubeObject & { metadata: ObjectMeta }> {
  readonly objects: Informer<W>;
  readonly classes: Informer<C>;
  private readonly queue: WorkQueue;
  private readonly store = new VersionStore<T>();
  private workers: Workers | undefined;
  private countsTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LoopOptions, private readonly kind: LoopKind<W, T, C>) {
    const { client, log } = options;
    this.queue = new WorkQueue({
      name: kind.queueName,
      baseDelayMs: options.retryIntervalStartMs,
      maxDelayMs: options.retryIntervalMaxMs,
      ...(options.queueMetrics ? { metrics: options.queueMetrics } : {}),
    });
    options.registerQueue?.(this.queue);
    this.classes = new Informer<C>({
      client,
      resource: kind.classes,
      transform: slimObject,
      resyncPeriodMs: options.resyncPeriodMs,
      log,
      ...(kind.classLabelSelector ? { labelSelector: kind.classLabelSelector } : {}),
    });
    this.objects = new Informer<W>({
      client,
      resource: kind.objects,
      transform: slimObject,
      resyncPeriodMs: options.resyncPeriodMs,
      log,
      ...(kind.objectLabelSelector ? { labelSelector: kind.objectLabelSelector } : {}),
      handlers: {
        onAdd: (obj) => this.queue.add(obj.metadata.name),
        onUpdate: (oldObj, newObj) => {
          if (kind.shouldEnqueueUpdate(oldObj, newObj)) this.queue.add(newObj.metadata.name);
        },
        onDelete: (obj) => this.queue.add(obj.metadata.name),
      },
    });
  }

  /** Starts the watches, waits until both caches are filled, then starts the workers. */
  async start(signal?: AbortSignal): Promise<void> {
    const { log, workers } = this.options;
    this.classes.start();
    this.objects.start();
    await Promise.all([this.classes.waitForSync(signal), this.objects.waitForSync(signal)]);
    log.v(2).info(`${this.kind.kind} caches synced`, { objects: this.objects.list().length, classes: this.classes.list().length });
    if (workers <= 0) log.warn(`--worker-threads is 0 or less: no ${this.kind.kind} will be processed`);
    this.workers = runWorkers({
      queue: this.queue,
      workers,
      reconcile: (key) => this.reconcile(key),
      log,
      classify: reconcileErrorSeverity,
    });
    if (this.options.reportCounts) {
      this.reportCounts();
      this.countsTimer = setInterval(() => this.reportCounts(), 5000);
      this.countsTimer.unref();
    }
  }

  /** Stops taking work, waits for syncs in progress (their CSI calls included), stops the watches. */
  async stop(): Promise<void> {
    if (this.countsTimer) clearInterval(this.countsTimer);
    if (this.workers) await this.workers.stop();
    else this.queue.shutdown();
    await Promise.all([this.objects.stop(), this.classes.stop()]);
  }

  private classByName = (name: string): C | undefined => this.classes.get(name);

  async reconcile(name: string): Promise<Outcome> {
    const cached = this.objects.get(name);
    if (!cached) {
      // Gone from the API server: nothing is left to do for it.
      this.store.delete(name);
      return { type: 'done' };
    }
    const model = this.kind.toModel(cached);
    if (!this.kind.isForDriver(model, this.classByName)) return { type: 'done' };
    let current: T;
    try {
      // After our own writes the cache may lag behind what we already know; act on the newest copy.
      current = this.store.offer(model).newest;
    } catch (err) {
      this.options.log.error(`Skipping ${this.kind.kind}`, { object: name, error: errorText(err) });
      return { type: 'done' };
    }
    return this.kind.sync(current, this.classByName, (obj) => {
      this.store.offer(obj);
    });
  }

  private reportCounts(): void {
    const counts: ContentCounts = { pending: 0, inError: 0, beingDeleted: 0 };
    for (const wire of this.objects.list()) {
      const obj = this.kind.toModel(wire);
      if (!this.kind.isForDriver(obj, this.classByName)) continue;
      if (obj.metadata.deletionTimestamp) counts.beingDeleted++;
      else if (obj.status?.readyToUse !== true) {
        counts.pending++;
        if (obj.status?.error) counts.inError++;
      }
    }
    this.options.reportCounts?.(counts);
  }
}
