import type { CsiConnection } from '../csi/connection.js';
import { errorText } from '../csi/errors.js';
import { Informer } from '../kube/informer.js';
import { VOLUME_SNAPSHOT_CLASSES, VOLUME_SNAPSHOT_CONTENTS } from '../kube/resources.js';
import type { RestClient } from '../kube/rest.js';
import type { Logger } from '../observe/logger.js';
import { runWorkers, type Outcome, type Workers } from '../runtime/controller.js';
import type { QueueMetricsSink, QueueProgress } from '../runtime/queue-metrics.js';
import { WorkQueue } from '../runtime/queue.js';
import { restContentApi } from './content-api.js';
import { isForDriver, shouldEnqueueUpdate, VersionStore } from './content-filter.js';
import { syncContent, type ContentApi, type ContentSyncSettings, type WarningRecorder } from './content-sync.js';
import type { VolumeSnapshotClass, VolumeSnapshotContent } from './types.js';

export const CONTENT_QUEUE_NAME = 'csi-snapshotter-content';

export interface ContentCounts {
  pending: number;
  inError: number;
  beingDeleted: number;
}

export interface ContentControllerOptions {
  client: RestClient;
  csi: CsiConnection;
  driverName: string;
  settings: ContentSyncSettings;
  workers: number;
  resyncPeriodMs: number;
  retryIntervalStartMs: number;
  retryIntervalMaxMs: number;
  /** `--node-deployment`: only contents labelled for this node. */
  labelSelector?: string;
  events: WarningRecorder;
  log: Logger;
  queueMetrics?: QueueMetricsSink;
  registerQueue?(progress: QueueProgress): void;
  /** Receives the pending / in-error / being-deleted counts of this driver's contents. */
  reportCounts?(counts: ContentCounts): void;
  /** Replaces the REST-backed API (tests). */
  api?: ContentApi;
}

/**
 * Watches VolumeSnapshotContents and VolumeSnapshotClasses and keeps every content of this driver
 * moving towards its goal, one step per sync, with --worker-threads workers.
 */
export class ContentController {
  readonly contents: Informer<VolumeSnapshotContent>;
  readonly classes: Informer<VolumeSnapshotClass>;
  private readonly queue: WorkQueue;
  private readonly store = new VersionStore<VolumeSnapshotContent>();
  private readonly api: ContentApi;
  private workers: Workers | undefined;
  private countsTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ContentControllerOptions) {
    const { client, log } = options;
    this.api = options.api ?? restContentApi(client);
    this.queue = new WorkQueue({
      name: CONTENT_QUEUE_NAME,
      baseDelayMs: options.retryIntervalStartMs,
      maxDelayMs: options.retryIntervalMaxMs,
      ...(options.queueMetrics ? { metrics: options.queueMetrics } : {}),
    });
    options.registerQueue?.(this.queue);
    this.classes = new Informer<VolumeSnapshotClass>({ client, resource: VOLUME_SNAPSHOT_CLASSES, resyncPeriodMs: options.resyncPeriodMs, log });
    this.contents = new Informer<VolumeSnapshotContent>({
      client,
      resource: VOLUME_SNAPSHOT_CONTENTS,
      resyncPeriodMs: options.resyncPeriodMs,
      log,
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
      handlers: {
        onAdd: (obj) => this.queue.add(obj.metadata.name),
        onUpdate: (oldObj, newObj) => {
          if (shouldEnqueueUpdate(oldObj, newObj)) this.queue.add(newObj.metadata.name);
        },
        onDelete: (obj) => this.queue.add(obj.metadata.name),
      },
    });
  }

  /** Starts the watches, waits until both caches are filled, then starts the workers. */
  async start(signal?: AbortSignal): Promise<void> {
    this.classes.start();
    this.contents.start();
    await Promise.all([this.classes.waitForSync(signal), this.contents.waitForSync(signal)]);
    this.options.log.v(2).info('VolumeSnapshotContent caches synced', { contents: this.contents.list().length, classes: this.classes.list().length });
    if (this.options.workers <= 0) this.options.log.warn('--worker-threads is 0 or less: no VolumeSnapshotContent will be processed');
    this.workers = runWorkers({ queue: this.queue, workers: this.options.workers, reconcile: (key) => this.reconcile(key), log: this.options.log });
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
    await Promise.all([this.contents.stop(), this.classes.stop()]);
  }

  private classByName = (name: string): VolumeSnapshotClass | undefined => this.classes.get(name);

  async reconcile(name: string): Promise<Outcome> {
    const cached = this.contents.get(name);
    if (!cached) {
      // Gone from the API server: nothing is left to do for it.
      this.store.delete(name);
      return { type: 'done' };
    }
    if (!isForDriver(cached, this.options.driverName, this.classByName)) return { type: 'done' };
    let content: VolumeSnapshotContent;
    try {
      // After our own writes the cache may lag behind what we already know; act on the newest copy.
      content = this.store.offer(cached).newest;
    } catch (err) {
      this.options.log.error('Skipping VolumeSnapshotContent', { content: name, error: errorText(err) });
      return { type: 'done' };
    }
    return syncContent(content, {
      api: this.api,
      csi: this.options.csi,
      classes: this.classByName,
      events: this.options.events,
      settings: this.options.settings,
      log: this.options.log,
      observed: (obj) => {
        this.store.offer(obj);
      },
    });
  }

  private reportCounts(): void {
    const counts: ContentCounts = { pending: 0, inError: 0, beingDeleted: 0 };
    for (const content of this.contents.list()) {
      if (!isForDriver(content, this.options.driverName, this.classByName)) continue;
      if (content.metadata.deletionTimestamp) counts.beingDeleted++;
      else if (content.status?.readyToUse !== true) {
        counts.pending++;
        if (content.status?.error) counts.inError++;
      }
    }
    this.options.reportCounts?.(counts);
  }
}
