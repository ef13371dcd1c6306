import type { CsiConnection } from '../csi/connection.js';
import { classifyCreateError, errorText } from '../csi/errors.js';
import { createSnapshot, deleteSnapshot, getSnapshotStatus } from '../csi/snapshotter.js';
import type { Logger } from '../observe/logger.js';
import type { Outcome } from '../runtime/controller.js';
import { decideContent, isGroupMember } from './content-decision.js';
import {
  ANN_BEING_CREATED,
  ANN_DELETION_SECRET_NAME,
  ANN_DELETION_SECRET_NAMESPACE,
  FINALIZER_CONTENT,
} from './keys.js';
import { goQuote } from './messages.js';
import { csiSnapshotName } from './names.js';
import { driverParameters, snapshotMetadataParameters } from './parameters.js';
import {
  addAnnotation,
  clearedStatus,
  contentStatusUpdate,
  removeAnnotation,
  removeFinalizer,
  type PatchOp,
  type SnapshotObservation,
} from './patches.js';
import type { ObjectApi } from './content-api.js';
import { apiWriteError, eventSubject, nextStep, recordFailure, type EventSubject, type WarningRecorder } from './failure.js';
import { secretRefFromParameters, type SecretRef, annotationSecretData } from './secrets.js';
import type { VolumeSnapshotClass, VolumeSnapshotContent } from './types.js';

/** The API operations the content sync needs; implemented over the REST client (and by tests). */
export type ContentApi = ObjectApi<VolumeSnapshotContent>;

export type { WarningRecorder };

export interface ContentSyncSettings {
  snapshotNamePrefix: string;
  snapshotNameUuidLength: number;
  extraCreateMetadata: boolean;
  timeoutMs: number;
  /** The driver advertises LIST_SNAPSHOTS (read once at start-up). */
  listSnapshots: boolean;
  /** Longest pause between readiness polls of a snapshot that is not ready yet. */
  maxPollIntervalMs: number;
  /** --retry-interval-max, named in failure messages. */
  retryIntervalMaxMs: number;
}

export interface ContentSyncDeps {
  api: ContentApi;
  csi: CsiConnection;
  classes(name: string): VolumeSnapshotClass | undefined;
  events: WarningRecorder;
  settings: ContentSyncSettings;
  log: Logger;
  /** Called with every object the sync wrote, so the controller's view never goes back in time. */
  observed?(content: VolumeSnapshotContent): void;
  now?(): Date;
}

const done: Outcome = { type: 'done' };
const retry = (error?: unknown): Outcome => ({ type: 'retry', error });

const MIN_POLL_INTERVAL_MS = 1000;

/**
 * How long to wait before asking again about a snapshot that is not ready: a fifth of its age,
 * between 1 s and the maximum. A snapshot that turns ready within seconds is noticed within about a
 * second; one that uploads for an hour is asked about every few seconds, not hammered. This is
 * separate from error backoff, which only grows on failures.
 */
export function readinessPollDelay(content: VolumeSnapshotContent, maxMs: number, now: Date): number {
  const created = content.status?.creationTime;
  return pollDelayForAge(created !== undefined && BigInt(created) > 0n ? Number(BigInt(created) / 1_000_000n) : undefined, maxMs, now);
}

/** The readiness poll delay for something created at `createdMs` (Unix ms; undefined = just now). */
export function pollDelayForAge(createdMs: number | undefined, maxMs: number, now: Date): number {
  const ageMs = Math.max(0, now.getTime() - (createdMs ?? now.getTime()));
  return Math.min(Math.max(MIN_POLL_INTERVAL_MS, Math.round(ageMs / 5)), Math.max(MIN_POLL_INTERVAL_MS, maxMs));
}

function involved(content: VolumeSnapshotContent): EventSubject {
  return eventSubject('snapshot.storage.k8s.io/v1', 'VolumeSnapshotContent', content.metadata);
}

/** An error whose message is already the text to record (its `cause` keeps the original). */
class SyncError extends Error {}


/**
 * Performs the next step of one VolumeSnapshotContent. Returns what the queue should do next.
 * Every failure of a create or refresh is recorded in status.error with an Event (once per distinct
 * message) and retried with backoff; deletion failures get an Event and are retried.
 */
export async function syncContent(content: VolumeSnapshotContent, deps: ContentSyncDeps): Promise<Outcome> {
  const sync = new ContentSync(deps);
  return sync.run(content);
}

class ContentSync {
  private readonly now: () => Date;

  constructor(private readonly deps: ContentSyncDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async run(content: VolumeSnapshotContent): Promise<Outcome> {
    const step = decideContent(content, { listSnapshots: this.deps.settings.listSnapshots });
    this.deps.log.v(4).info('Syncing VolumeSnapshotContent', { content: content.metadata.name, step: step.kind });
    switch (step.kind) {
      case 'nothing':
        return done;
      case 'wait-for-controller':
        // The snapshot-controller writes a member's status; look again with growing backoff.
        return retry();
      case 'remove-being-created':
        return this.removeBeingCreated(content);
      case 'delete':
        return this.delete(content);
      case 'create':
        return this.withErrorStatus(content, step.reason, () => this.create(content));
      case 'poll':
      case 'refresh':
        return this.withErrorStatus(content, 'SnapshotContentCheckandUpdateFailed', () => this.refresh(content, step.kind === 'poll'));
    }
  }

  private async write(name: string, ops: PatchOp[], subresource?: 'status'): Promise<VolumeSnapshotContent> {
    const updated = await this.deps.api.patch(name, ops, subresource);
    this.deps.observed?.(updated);
    return updated;
  }

  private afterSuccess(content: VolumeSnapshotContent): Outcome {
    if (content.status?.readyToUse === true) return done;
    return { type: 'after', delayMs: readinessPollDelay(content, this.deps.settings.maxPollIntervalMs, this.now()) };
  }

  private async removeBeingCreated(content: VolumeSnapshotContent): Promise<Outcome> {
    let current = content;
    try {
      current = await this.write(content.metadata.name, removeAnnotation(content.metadata, ANN_BEING_CREATED));
    } catch (err) {
      return retry(new Error(`failed to remove VolumeSnapshotBeingCreated annotation from the content ${content.metadata.name}: ${goQuote(errorText(err))}`));
    }
    // Changes of this annotation do not re-queue the object, so the next step is scheduled here.
    return this.afterSuccess(current);
  }

  /** Runs a create or refresh; a failure is recorded on the object (status.error + Event) and retried. */
  private async withErrorStatus(
    content: VolumeSnapshotContent,
    reason: 'SnapshotCreationFailed' | 'SnapshotContentCheckandUpdateFailed',
    action: () => Promise<{ outcome: Outcome; latest: VolumeSnapshotContent } | { error: unknown; latest: VolumeSnapshotContent }>,
  ): Promise<Outcome> {
    const result = await action();
    if ('outcome' in result) return result.outcome;
    const prefix = reason === 'SnapshotCreationFailed' ? 'Failed to create snapshot: ' : 'Failed to check and update snapshot content: ';
    const message = prefix + errorText(result.error) + nextStep(result.error, this.deps.settings.retryIntervalMaxMs);
    await recordFailure({
      latest: result.latest,
      reason,
      message,
      now: this.now(),
      write: (ops) => this.write(content.metadata.name, ops, 'status'),
      subject: involved,
      events: this.deps.events,
      log: this.deps.log,
    });
    return retry(new Error(message));
  }

  private annotationSecrets(content: VolumeSnapshotContent): Promise<Record<string, string>> {
    return annotationSecretData({
      annotations: content.metadata.annotations,
      keys: { name: ANN_DELETION_SECRET_NAME, namespace: ANN_DELETION_SECRET_NAMESPACE },
      what: { kind: 'snapshot content', name: content.metadata.name },
      getSecret: (ref) => this.deps.api.getSecret(ref),
      log: this.deps.log,
    });
  }

  private deadline(): Date {
    return new Date(Date.now() + this.deps.settings.timeoutMs);
  }

  /** §6.4: cut the snapshot (or, repeated, ask again whether it is ready) and record it. */
  private async create(content: VolumeSnapshotContent): Promise<{ outcome: Outcome; latest: VolumeSnapshotContent } | { error: unknown; latest: VolumeSnapshotContent }> {
    const name = content.metadata.name;
    let klass: VolumeSnapshotClass | undefined;
    let secrets: Record<string, string>;
    try {
      const className = content.spec.volumeSnapshotClassName;
      if (className) {
        klass = this.deps.classes(className);
        if (!klass) throw new Error(`volumesnapshotclass.snapshot.storage.k8s.io ${goQuote(className)} not found`);
      } else if (content.spec.source.volumeHandle && !isGroupMember(content)) {
        throw new Error(`failed to take snapshot ${name} without a snapshot class`);
      }
      secrets = await this.annotationSecrets(content);
    } catch (err) {
      return { error: new SyncError(`failed to get input parameters to create snapshot for content ${name}: ${goQuote(errorText(err))}`), latest: content };
    }

    // The being-created mark goes on the object before the driver is asked, so that a crash at any
    // later point leaves a record that a storage snapshot may exist: deletion waits for it.
    let working = content;
    try {
      if (!(ANN_BEING_CREATED in (content.metadata.annotations ?? {}))) {
        working = await this.write(name, addAnnotation(content.metadata, ANN_BEING_CREATED, 'yes'));
      } else {
        // Retrying after an earlier attempt: read the object, the cache may not show our last write yet.
        working = await this.deps.api.get(name);
        this.deps.observed?.(working);
      }
    } catch (err) {
      return {
        error: new SyncError(`failed to add VolumeSnapshotBeingCreated annotation on the content ${name}: ${goQuote(apiWriteError(name, err))}`),
        latest: content,
      };
    }

    let parameters: Record<string, string>;
    try {
      parameters = driverParameters(klass?.parameters);
    } catch (err) {
      return { error: new SyncError(`failed to remove CSI Parameters of prefixed keys: ${errorText(err)}`), latest: working };
    }
    const ref = working.spec.volumeSnapshotRef;
    if (this.deps.settings.extraCreateMetadata) Object.assign(parameters, snapshotMetadataParameters(ref.name ?? '', ref.namespace ?? '', name));
    if (!ref.uid) return { error: new SyncError(`cannot create snapshot. Snapshot content ${name} not bound to a snapshot`), latest: working };
    const volumeHandle = working.spec.source.volumeHandle;
    if (!volumeHandle) return { error: new SyncError(`cannot create snapshot. Volume handle not found in snapshot content ${name}`), latest: working };

    let snapshotName: string;
    try {
      snapshotName = csiSnapshotName(this.deps.settings.snapshotNamePrefix, ref.uid, this.deps.settings.snapshotNameUuidLength);
    } catch (err) {
      return { error: err, latest: working };
    }

    let observation: SnapshotObservation;
    try {
      // The driver's identity was checked at start-up and a new driver process means a new
      // connection (the sidecar exits on connection loss), so CreateSnapshot is the only RPC.
      const { snapshot } = await createSnapshot(this.deps.csi, { name: snapshotName, sourceVolumeId: volumeHandle, parameters, secrets }, this.deadline());
      observation = {
        snapshotHandle: snapshot.snapshotId,
        readyToUse: snapshot.readyToUse,
        // A driver that sends no creation time gets the Unix epoch, as with the Go sidecar.
        creationTime: snapshot.creationTime ?? 0n,
        sizeBytes: snapshot.sizeBytes,
        groupSnapshotHandle: '',
      };
    } catch (err) {
      if (classifyCreateError(err) === 'final') {
        // The driver will not cut this snapshot: deletion may proceed again.
        try {
          working = await this.write(name, removeAnnotation(working.metadata, ANN_BEING_CREATED));
        } catch (patchErr) {
          this.deps.log.warn('Cannot remove the being-created annotation after a final error', { content: name, error: errorText(patchErr) });
        }
      }
      return { error: new SyncError(`failed to take snapshot of the volume ${volumeHandle}: ${goQuote(errorText(err))}`, { cause: err }), latest: working };
    }

    try {
      const ops = contentStatusUpdate(working.status, observation);
      if (ops.length > 0) working = await this.write(name, ops, 'status');
    } catch (err) {
      return { error: new SyncError(`error updating status for volume snapshot content ${name}: ${apiWriteError(name, err)}`), latest: working };
    }

    // The handle is recorded: the mark is no longer needed (the driver can be asked by handle now).
    try {
      working = await this.write(name, removeAnnotation(working.metadata, ANN_BEING_CREATED));
    } catch (err) {
      return { error: new SyncError(`failed to remove VolumeSnapshotBeingCreated annotation on the content ${name}: ${goQuote(errorText(err))}`), latest: working };
    }
    return { outcome: this.afterSuccess(working), latest: working };
  }

  /**
   * §6.5, and readiness polls of dynamic snapshots: ask ListSnapshots by handle and write status only
   * when something changed.
   */
  private async refresh(content: VolumeSnapshotContent, dynamicPoll: boolean): Promise<{ outcome: Outcome; latest: VolumeSnapshotContent } | { error: unknown; latest: VolumeSnapshotContent }> {
    const name = content.metadata.name;
    let secrets: Record<string, string> = {};
    if (dynamicPoll) {
      try {
        secrets = await this.annotationSecrets(content);
      } catch (err) {
        return { error: new SyncError(`failed to get credentials from annotation for snapshot content ${name}: ${errorText(err)}`), latest: content };
      }
    } else {
      const className = content.spec.volumeSnapshotClassName;
      if (className) {
        const klass = this.deps.classes(className);
        if (!klass) {
          return { error: new SyncError(`failed to get snapshot class ${className} for snapshot content ${name}: volumesnapshotclass.snapshot.storage.k8s.io ${goQuote(className)} not found`), latest: content };
        }
        let ref: SecretRef | undefined;
        try {
          ref = secretRefFromParameters(klass.parameters, 'csi.storage.k8s.io/snapshotter-list', 'SnapshotterList', { 'volumesnapshotcontent.name': name });
        } catch (err) {
          return { error: new SyncError(`failed to get secret reference for snapshot content ${name}: ${errorText(err)}`), latest: content };
        }
        if (ref) {
          try {
            secrets = await this.deps.api.getSecret(ref);
          } catch (err) {
            return { error: new SyncError(`failed to get credentials for snapshot content ${name}: ${errorText(err)}`), latest: content };
          }
        }
      }
      if (content.status?.volumeGroupSnapshotHandle) {
        try {
          secrets = await this.annotationSecrets(content);
        } catch (err) {
          return { error: new SyncError(`failed to get credentials from annotation for snapshot content ${name}: ${errorText(err)}`), latest: content };
        }
      }
    }

    const snapshotId = content.status?.snapshotHandle ?? content.spec.source.snapshotHandle;
    if (!snapshotId) return { error: new SyncError(`failed to list snapshot for content ${name}: snapshotHandle is missing`), latest: content };

    let observation: SnapshotObservation;
    try {
      const status = await getSnapshotStatus(this.deps.csi, { snapshotId, secrets, listSnapshotsSupported: this.deps.settings.listSnapshots }, this.deadline());
      observation = {
        snapshotHandle: content.spec.source.snapshotHandle ?? content.status?.snapshotHandle ?? snapshotId,
        readyToUse: status.readyToUse,
        creationTime: status.creationTime ?? 0n,
        sizeBytes: status.sizeBytes,
        groupSnapshotHandle: status.groupSnapshotId,
      };
    } catch (err) {
      return { error: new SyncError(`failed to list snapshot for content ${name}: ${goQuote(errorText(err))}`, { cause: err }), latest: content };
    }

    let latest = content;
    try {
      const ops = contentStatusUpdate(content.status, observation);
      if (ops.length > 0) latest = await this.write(name, ops, 'status');
    } catch (err) {
      return { error: new SyncError(apiWriteError(name, err)), latest: content };
    }
    return { outcome: this.afterSuccess(latest), latest };
  }

  /** §6.8: delete the storage snapshot when the policy says so, then release the content. */
  private async delete(content: VolumeSnapshotContent): Promise<Outcome> {
    const name = content.metadata.name;
    let working = content;
    const status = content.status;
    // A pre-provisioned content whose status was never refreshed still names its snapshot in spec;
    // with policy Delete that snapshot must go too (the Go sidecar leaks it).
    const handle = status?.snapshotHandle ?? content.spec.source.snapshotHandle;
    if (content.spec.deletionPolicy === 'Delete' && handle && !status?.volumeGroupSnapshotHandle) {
      let secrets: Record<string, string>;
      try {
        secrets = await this.annotationSecrets(content);
      } catch (err) {
        this.deps.events.warning(involved(content), 'SnapshotDeleteError', 'Failed to get snapshot credentials');
        return retry(new Error(`failed to get input parameters to delete snapshot for content ${name}: ${goQuote(errorText(err))}`));
      }
      try {
        await deleteSnapshot(this.deps.csi, { snapshotId: handle, secrets }, this.deadline());
      } catch (err) {
        this.deps.events.warning(involved(content), 'SnapshotDeleteError', 'Failed to delete snapshot');
        return retry(new Error(`failed to delete snapshot ${goQuote(name)}, err: failed to delete snapshot content ${name}: ${goQuote(errorText(err))}`));
      }
      try {
        const ops = clearedStatus(status);
        if (ops.length > 0) working = await this.write(name, ops, 'status');
      } catch (err) {
        this.deps.events.warning(involved(content), 'SnapshotDeleteError', 'Failed to clear content status');
        return retry(new Error(apiWriteError(name, err)));
      }
    }
    try {
      const ops = removeFinalizer(working.metadata, FINALIZER_CONTENT);
      if (ops.length > 0) await this.write(name, ops);
    } catch (err) {
      return retry(new Error(apiWriteError(name, err)));
    }
    return done;
  }
}
