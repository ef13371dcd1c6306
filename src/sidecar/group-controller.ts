import type { CsiConnection } from '../csi/connection.js';
import type { Informer } from '../kube/informer.js';
import { volumeGroupSnapshotClasses, volumeGroupSnapshotContents } from '../kube/resources.js';
import type { Outcome } from '../runtime/controller.js';
import { restObjectApi } from './content-api.js';
import { shouldEnqueueUpdate } from './content-filter.js';
import type { WarningRecorder } from './failure.js';
import { isGroupForDriver } from './group-filter.js';
import { syncGroupContent, type GroupContentApi, type GroupSyncSettings } from './group-sync.js';
import type { VolumeGroupSnapshotClass, VolumeGroupSnapshotContent, WireGroupContent } from './group-types.js';
import { groupVersionAdapter, type GroupSnapshotVersion } from './group-versions.js';
import { ANN_GROUP_BEING_CREATED } from './keys.js';
import { ContentLoop, type LoopOptions } from './object-controller.js';

export const GROUP_CONTENT_QUEUE_NAME = 'csi-snapshotter-groupsnapshotcontent';

export interface GroupContentControllerOptions extends LoopOptions {
  csi: CsiConnection;
  /** The served groupsnapshot.storage.k8s.io version chosen at start-up. */
  version: GroupSnapshotVersion;
  settings: GroupSyncSettings;
  /** `--node-deployment`: only group contents (and, as in Go, group classes) labelled for this node. */
  labelSelector?: string;
  events: WarningRecorder;
  /** Replaces the REST-backed API (tests). */
  api?: GroupContentApi;
}

/**
 * Watches VolumeGroupSnapshotContents and VolumeGroupSnapshotClasses at the served version and
 * keeps every group content of this driver moving towards its goal. The loop (informers, queue,
 * backoff, store) is the one the single-snapshot controller runs; only the sync differs, and it
 * sees the version-free model: the version adapter converts at the API edge.
 */
export class GroupContentController {
  private readonly loop: ContentLoop<WireGroupContent, VolumeGroupSnapshotContent, VolumeGroupSnapshotClass>;

  constructor(options: GroupContentControllerOptions) {
    const adapter = groupVersionAdapter(options.version);
    const resource = volumeGroupSnapshotContents(options.version);
    const api = options.api ?? restObjectApi(options.client, resource, (wire) => adapter.toModel(wire as WireGroupContent));
    this.loop = new ContentLoop(options, {
      kind: 'VolumeGroupSnapshotContent',
      queueName: GROUP_CONTENT_QUEUE_NAME,
      objects: resource,
      classes: volumeGroupSnapshotClasses(options.version),
      ...(options.labelSelector ? { objectLabelSelector: options.labelSelector, classLabelSelector: options.labelSelector } : {}),
      toModel: (wire) => adapter.toModel(wire),
      // The Go sidecar queues every update; the sidecar's own writes are skipped here as for
      // single contents (the version store already keeps stale copies from being acted on).
      shouldEnqueueUpdate: (oldObj, newObj) => shouldEnqueueUpdate(oldObj, newObj, ANN_GROUP_BEING_CREATED),
      isForDriver: (content, classes) => isGroupForDriver(content, options.driverName, classes),
      sync: (content, classes, observed) =>
        syncGroupContent(content, { api, csi: options.csi, classes, events: options.events, settings: options.settings, adapter, log: options.log, observed }),
    });
  }

  get contents(): Informer<WireGroupContent> {
    return this.loop.objects;
  }

  get classes(): Informer<VolumeGroupSnapshotClass> {
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
