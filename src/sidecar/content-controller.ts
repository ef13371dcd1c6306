import type { CsiConnection } from '../csi/connection.js';
import type { Informer } from '../kube/informer.js';
import { VOLUME_SNAPSHOT_CLASSES, VOLUME_SNAPSHOT_CONTENTS } from '../kube/resources.js';
import type { Outcome } from '../runtime/controller.js';
import { restContentApi } from './content-api.js';
import { isForDriver, shouldEnqueueUpdate } from './content-filter.js';
import { syncContent, type ContentApi, type ContentSyncSettings, type WarningRecorder } from './content-sync.js';
import { ContentLoop, type LoopOptions } from './object-controller.js';
import type { VolumeSnapshotClass, VolumeSnapshotContent } from './types.js';

export type { ContentCounts } from './object-controller.js';

export const CONTENT_QUEUE_NAME = 'csi-snapshotter-content';

export interface ContentControllerOptions extends LoopOptions {
  csi: CsiConnection;
  settings: ContentSyncSettings;
  /** `--node-deployment`: only contents labelled for this node. */
  labelSelector?: string;
  events: WarningRecorder;
  /** Replaces the REST-backed API (tests). */
  api?: ContentApi;
}

/**
 * Watches VolumeSnapshotContents and VolumeSnapshotClasses and keeps every content of this driver
 * moving towards its goal, one step per sync, with --worker-threads workers.
 */
export class ContentController {
  private readonly loop: ContentLoop<VolumeSnapshotContent, VolumeSnapshotContent, VolumeSnapshotClass>;

  constructor(options: ContentControllerOptions) {
    const api = options.api ?? restContentApi(options.client);
    this.loop = new ContentLoop(options, {
      kind: 'VolumeSnapshotContent',
      queueName: CONTENT_QUEUE_NAME,
      objects: VOLUME_SNAPSHOT_CONTENTS,
      classes: VOLUME_SNAPSHOT_CLASSES,
      ...(options.labelSelector ? { objectLabelSelector: options.labelSelector } : {}),
      toModel: (wire) => wire,
      shouldEnqueueUpdate,
      isForDriver: (content, classes) => isForDriver(content, options.driverName, classes),
      sync: (content, classes, observed) =>
        syncContent(content, { api, csi: options.csi, classes, events: options.events, settings: options.settings, log: options.log, observed }),
    });
  }

  get contents(): Informer<VolumeSnapshotContent> {
    return this.loop.objects;
  }

  get classes(): Informer<VolumeSnapshotClass> {
    return this.loop.classes;
  }

  start(signal?: AbortSignal): Promise<void> {
    return this.loop.start(signal);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  reconcile(name: string): Promise<Outcome> {
    return this.loop.reconcile(name);
  }
}
