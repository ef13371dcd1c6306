import type { CsiConnection } from '../../csi/connection.js';
import { createSnapshot, deleteSnapshot, getSnapshotStatus } from '../../csi/snapshotter.js';
import { recordedCreationTime } from '../../csi/timestamps.js';
import type { RestClient } from '../../kube/rest.js';
import { VOLUME_SNAPSHOT_CLASSES, VOLUME_SNAPSHOT_CONTENTS } from '../../kube/resources.js';
import type { Outcome } from '../../runtime/controller.js';
import { decideContent, isGroupMember } from './decision.js';
import { shouldEnqueueUpdate } from '../engine/updates.js';
import { isForDriver } from './filter.js';
import { eventSubject, type WarningRecorder } from '../engine/failure.js';
import { ControllerLoop, type LoopOptions } from '../engine/loop.js';
import { restObjectApi, type ObjectApi } from '../engine/object-api.js';
import { pollDelayForAge } from '../engine/poll-delay.js';
import { SyncError, syncObject, type SyncDeps, type Step, type SyncKind, type SyncTimings } from '../engine/sync.js';
import { ANN_BEING_CREATED, ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE, FINALIZER_CONTENT } from '../keys.js';
import { goQuote } from '../messages.js';
import { snapshotMetadataParameters } from '../parameters.js';
import { clearedStatus, contentStatusUpdate, type SnapshotObservation } from './status.js';
import type { VolumeSnapshotClass, VolumeSnapshotContent } from '../types.js';

/** The API operations the content sync needs; implemented over the REST client (and by tests). */
export type ContentApi = ObjectApi<VolumeSnapshotContent>;

export interface ContentSyncSettings extends SyncTimings {
  snapshotNamePrefix: string;
  snapshotNameUuidLength: number;
  extraCreateMetadata: boolean;
  /** The driver advertises LIST_SNAPSHOTS (read once at start-up). */
  listSnapshots: boolean;
}

/** What a VolumeSnapshotContent sync is given: the engine's dependencies and the driver. */
export interface ContentSyncDeps extends SyncDeps<VolumeSnapshotContent, VolumeSnapshotClass, ContentSyncSettings> {
  csi: CsiConnection;
}

export const CONTENT_QUEUE_NAME = 'csi-snapshotter-content';

/** ObjectApi of VolumeSnapshotContents over the lossless REST client. */
export function restContentApi(client: RestClient): ContentApi {
  return restObjectApi(client, VOLUME_SNAPSHOT_CONTENTS, (wire) => wire as VolumeSnapshotContent);
}

/** Unix ms of a status creationTime (Unix ns); none, or the epoch, is "unknown". */
function creationTimeMs(content: VolumeSnapshotContent): number | undefined {
  const created = content.status?.creationTime;
  return created !== undefined && BigInt(created) > 0n ? Number(BigInt(created) / 1_000_000n) : undefined;
}

/** The readiness poll delay of a content not ready yet, from when its snapshot was cut. */
export function readinessPollDelay(content: VolumeSnapshotContent, maxMs: number, now: Date): number {
  return pollDelayForAge(creationTimeMs(content), maxMs, now);
}

function step(content: VolumeSnapshotContent, listSnapshots: boolean): Step {
  const decided = decideContent(content, { listSnapshots });
  // A group member waits for the snapshot-controller to write its status: a healthy wait.
  return decided.kind === 'wait-for-controller' ? { kind: 'wait' } : decided;
}

/** VolumeSnapshotContents as the sync engine sees them: CreateSnapshot, ListSnapshots, DeleteSnapshot. */
export function snapshotKind(csi: CsiConnection, settings: ContentSyncSettings): SyncKind<VolumeSnapshotContent, SnapshotObservation> {
  return {
    kind: 'VolumeSnapshotContent',
    subject: (content) => eventSubject('snapshot.storage.k8s.io/v1', 'VolumeSnapshotContent', content.metadata),
    decide: (content) => step(content, settings.listSnapshots),
    beingCreated: ANN_BEING_CREATED,
    finalizer: FINALIZER_CONTENT,
    deletionSecretKeys: { name: ANN_DELETION_SECRET_NAME, namespace: ANN_DELETION_SECRET_NAMESPACE },
    noun: 'snapshot',
    className: (content) => content.spec.volumeSnapshotClassName,
    needsClass: (content) => Boolean(content.spec.source.volumeHandle) && !isGroupMember(content),
    reasonPrefix: '',

    ref: (content) => content.spec.volumeSnapshotRef,
    naming: { prefix: settings.snapshotNamePrefix, uuidLength: settings.snapshotNameUuidLength },
    ...(settings.extraCreateMetadata ? { metadataParameters: snapshotMetadataParameters } : {}),
    missingSource: (content) => (content.spec.source.volumeHandle ? undefined : `cannot create snapshot. Volume handle not found in snapshot content ${content.metadata.name}`),
    cut: async ({ object, name, parameters, secrets, deadline, log }) => {
      // The driver's identity was checked at start-up and a new driver process means a new
      // connection (the sidecar exits on connection loss), so CreateSnapshot is the only RPC.
      const { snapshot } = await createSnapshot(
        csi,
        // Stryker disable next-line StringLiteral: the cut comes only after missingSource found a volume handle.
        { name, sourceVolumeId: object.spec.source.volumeHandle ?? '', parameters, secrets },
        deadline,
      );
      // A repeated CreateSnapshot (a readiness check without LIST_SNAPSHOTS) should name the snapshot
      // already recorded: CSI ties one snapshot to one name. The recorded handle is kept, as the Go
      // sidecar keeps it, and its readiness is taken; the mismatch is the driver's fault and is said.
      const recorded = object.status?.snapshotHandle;
      if (recorded && snapshot.snapshotId !== recorded) {
        log.warn('The CSI driver answered CreateSnapshot with another snapshot id than the one recorded; the recorded id is kept. The driver should answer one id per name: report it to its vendor', {
          content: object.metadata.name,
          name,
          recorded,
          answered: snapshot.snapshotId,
        });
      }
      return {
        snapshotHandle: snapshot.snapshotId,
        readyToUse: snapshot.readyToUse,
        // No creation time is the Unix epoch, Go's zero time now, as with the Go sidecar.
        creationTime: recordedCreationTime(snapshot.creationTime),
        sizeBytes: snapshot.sizeBytes,
        groupSnapshotHandle: '',
      };
    },
    readSecrets: (content, mode) =>
      mode === 'poll'
        ? { fromAnnotations: true }
        : {
          fromClass: { prefix: 'csi.storage.k8s.io/snapshotter-list', label: 'SnapshotterList', variables: { 'volumesnapshotcontent.name': content.metadata.name } },
          // A group member's Secret is the group's, named in its annotations.
          fromAnnotations: Boolean(content.status?.volumeGroupSnapshotHandle),
        },
    read: async (content, _mode, secrets, deadline) => {
      const snapshotId = content.status?.snapshotHandle ?? content.spec.source.snapshotHandle;
      if (!snapshotId) throw new SyncError(`failed to list snapshot for content ${content.metadata.name}: snapshotHandle is missing`);
      const status = await getSnapshotStatus(csi, { snapshotId, secrets, listSnapshotsSupported: settings.listSnapshots }, deadline);
      return {
        // Stryker disable next-line LogicalOperator,OptionalChaining: the observed handle reaches the status only when the status has none (a recorded handle is never replaced), and then the id read is the spec's handle.
        snapshotHandle: content.spec.source.snapshotHandle ?? content.status?.snapshotHandle ?? snapshotId,
        readyToUse: status.readyToUse,
        creationTime: status.creationTime ?? 0n,
        sizeBytes: status.sizeBytes,
        groupSnapshotHandle: status.groupSnapshotId,
      };
    },
    statusUpdate: contentStatusUpdate,
    clearedStatus,
    // A pre-provisioned content whose status was never refreshed still names its snapshot in spec;
    // with policy Delete that snapshot must go too. A group member goes with its group.
    hasStorageToDelete: (content) =>
      content.spec.deletionPolicy === 'Delete' && Boolean(content.status?.snapshotHandle ?? content.spec.source.snapshotHandle) && !content.status?.volumeGroupSnapshotHandle,
    deleteFromStorage: async (content, secrets, deadline) => {
      // Stryker disable next-line StringLiteral: asked only when hasStorageToDelete found a handle.
      await deleteSnapshot(csi, { snapshotId: content.status?.snapshotHandle ?? content.spec.source.snapshotHandle ?? '', secrets }, deadline);
    },
    createdAtMs: creationTimeMs,
    words: {
      createInputs: (name, err) => `failed to get input parameters to create snapshot for content ${name}: ${err}`,
      notBound: (name) => `cannot create snapshot. Snapshot content ${name} not bound to a snapshot`,
      classNotFound: (className) => `volumesnapshotclass.snapshot.storage.k8s.io ${goQuote(className)} not found`,
      mark: (name, err) => `failed to add VolumeSnapshotBeingCreated annotation on the content ${name}: ${err}`,
      cutFailed: (content, err) => `failed to take snapshot of the volume ${(content as VolumeSnapshotContent).spec.source.volumeHandle}: ${err}`,
      unmarkAfterCut: (name, err) => `failed to remove VolumeSnapshotBeingCreated annotation on the content ${name}: ${err}`,
      unmarkStep: (name, err) => `failed to remove VolumeSnapshotBeingCreated annotation from the content ${name}: ${err}`,
      unmarkAfterFinalError: (name, err) => `failed to remove VolumeSnapshotBeingCreated annotation from the content ${name}: ${err}`,
      unmarkAfterFinalErrorLog: 'Cannot remove the being-created annotation after a final error',
      readFailed: (name, err) => `failed to list snapshot for content ${name}: ${err}`,
      deleteInputs: (name, err) => `failed to get input parameters to delete snapshot for content ${name}: ${err}`,
      deleteFailed: (name, err) => `failed to delete snapshot ${goQuote(name)}, err: failed to delete snapshot content ${name}: ${goQuote(err)}`,
      deleteEvent: 'Failed to delete snapshot',
    },
  };
}

/** Performs the next step of one VolumeSnapshotContent. Returns what the queue should do next. */
export function syncContent(content: VolumeSnapshotContent, deps: ContentSyncDeps): Promise<Outcome> {
  return syncObject(snapshotKind(deps.csi, deps.settings), content, deps);
}

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
 * The VolumeSnapshotContent controller: the shared loop over VolumeSnapshotContents and
 * VolumeSnapshotClasses, keeping every content of this driver moving towards its goal.
 */
export function contentController(options: ContentControllerOptions): ControllerLoop<VolumeSnapshotContent, VolumeSnapshotContent, VolumeSnapshotClass> {
  const api = options.api ?? restContentApi(options.client);
  const kind = snapshotKind(options.csi, options.settings);
  return new ControllerLoop(options, {
    kind: 'VolumeSnapshotContent',
    queueName: CONTENT_QUEUE_NAME,
    objects: VOLUME_SNAPSHOT_CONTENTS,
    classes: VOLUME_SNAPSHOT_CLASSES,
    ...(options.labelSelector ? { objectLabelSelector: options.labelSelector } : {}),
    toModel: (wire) => wire,
    shouldEnqueueUpdate,
    isForDriver: (content, classes) => isForDriver(content, options.driverName, classes),
    sync: (content, classes, observed) => syncObject(kind, content, { ...options, api, classes, observed }),
  });
}
