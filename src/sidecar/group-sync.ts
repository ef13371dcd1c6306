import type { CsiConnection } from '../csi/connection.js';
import { classifyCreateError, errorText } from '../csi/errors.js';
import { createGroupSnapshot, deleteGroupSnapshot, getGroupSnapshot, type GroupSnapshotInfo } from '../csi/group-snapshotter.js';
import type { SnapshotInfo } from '../csi/snapshotter.js';
import type { Logger } from '../observe/logger.js';
import type { Outcome } from '../runtime/controller.js';
import type { ObjectApi } from './content-api.js';
import { pollDelayForAge } from './content-sync.js';
import { apiWriteError, eventSubject, nextStep, recordFailure, type EventSubject, type WarningRecorder } from './failure.js';
import { decideGroup, recordedGroupHandle, type GroupFailureReason } from './group-decision.js';
import { clearedGroupStatus, groupStatusUpdate, type GroupObservation } from './group-patches.js';
import type { GroupSnapshotMember, VolumeGroupSnapshotClass, VolumeGroupSnapshotContent } from './group-types.js';
import type { GroupVersionAdapter } from './group-versions.js';
import {
  ANN_GROUP_BEING_CREATED,
  ANN_GROUP_DELETION_SECRET_NAME,
  ANN_GROUP_DELETION_SECRET_NAMESPACE,
  FINALIZER_GROUP_CONTENT,
} from './keys.js';
import { goQuote, kubeTime } from './messages.js';
import { csiSnapshotName } from './names.js';
import { driverParameters, groupMetadataParameters } from './parameters.js';
import { addAnnotation, removeAnnotation, removeFinalizer, type PatchOp } from './patches.js';
import { secretRefFromParameters, type SecretRef, annotationSecretData } from './secrets.js';

export type GroupContentApi = ObjectApi<VolumeGroupSnapshotContent>;

export interface GroupSyncSettings {
  groupSnapshotNamePrefix: string;
  groupSnapshotNameUuidLength: number;
  extraCreateMetadata: boolean;
  timeoutMs: number;
  /** Longest pause between readiness polls of a group that is not ready yet. */
  maxPollIntervalMs: number;
  /** --retry-interval-max, named in failure messages. */
  retryIntervalMaxMs: number;
}

export interface GroupSyncDeps {
  api: GroupContentApi;
  csi: CsiConnection;
  classes(name: string): VolumeGroupSnapshotClass | undefined;
  events: WarningRecorder;
  settings: GroupSyncSettings;
  /** The served API version in use: Event subjects and the member-list layout follow it. */
  adapter: GroupVersionAdapter;
  log: Logger;
  /** Called with every object the sync wrote, so the controller's view never goes back in time. */
  observed?(content: VolumeGroupSnapshotContent): void;
  now?(): Date;
}

type StepResult = { outcome: Outcome; latest: VolumeGroupSnapshotContent } | { error: unknown; latest: VolumeGroupSnapshotContent };

const done: Outcome = { type: 'done' };
const retry = (error?: unknown): Outcome => ({ type: 'retry', error });

const FAILURE_PREFIX: Record<GroupFailureReason, string> = {
  GroupSnapshotCreationFailed: 'Failed to create group snapshot: ',
  GroupSnapshotContentCheckandUpdateFailed: 'Failed to check and update group snapshot content: ',
};

/** `failed ... not found` as the Kubernetes client words a missing group class. */
function classNotFound(name: string): string {
  return `volumegroupsnapshotclass.groupsnapshot.storage.k8s.io ${goQuote(name)} not found`;
}

/** A CSI time as the group status takes it: RFC 3339 seconds; no time at all is the Unix epoch (as in Go). */
function groupTime(nanos: bigint | undefined): string {
  return kubeTime(new Date(Number((nanos ?? 0n) / 1_000_000n)));
}

/** A member as the info list records it: no time when the driver sent none, no size when it is 0. */
export function memberFromSnapshot(snapshot: SnapshotInfo): GroupSnapshotMember {
  const member: GroupSnapshotMember = { volumeHandle: snapshot.sourceVolumeId, snapshotHandle: snapshot.snapshotId, readyToUse: snapshot.readyToUse };
  if (snapshot.creationTime !== undefined) member.creationTime = snapshot.creationTime;
  if (snapshot.sizeBytes > 0n) member.restoreSize = snapshot.sizeBytes;
  return member;
}

/**
 * Performs the next step of one VolumeGroupSnapshotContent (§7 of the behaviour contract) and says
 * what the queue should do next. Failures of create and refresh are recorded in status.error with
 * an Event (once per distinct message) and retried with backoff; deletion failures get an Event.
 */
export async function syncGroupContent(content: VolumeGroupSnapshotContent, deps: GroupSyncDeps): Promise<Outcome> {
  return new GroupContentSync(deps).run(content);
}

class GroupContentSync {
  private readonly now: () => Date;

  constructor(private readonly deps: GroupSyncDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async run(content: VolumeGroupSnapshotContent): Promise<Outcome> {
    const step = decideGroup(content);
    this.deps.log.v(4).info('Syncing VolumeGroupSnapshotContent', { content: content.metadata.name, step: step.kind });
    switch (step.kind) {
      case 'nothing':
        return done;
      case 'remove-being-created':
        return this.removeBeingCreated(content);
      case 'release':
        return this.release(content);
      case 'delete':
        return this.delete(content);
      case 'create':
        return this.withErrorStatus(content, step.reason, () => this.create(content));
      case 'poll':
        return this.withErrorStatus(content, 'GroupSnapshotContentCheckandUpdateFailed', () => this.poll(content));
      case 'refresh':
        return this.withErrorStatus(content, 'GroupSnapshotContentCheckandUpdateFailed', () => this.refresh(content));
    }
  }

  private subject = (content: VolumeGroupSnapshotContent): EventSubject =>
    eventSubject(this.deps.adapter.apiVersion, 'VolumeGroupSnapshotContent', content.metadata);

  private async write(name: string, ops: PatchOp[], subresource?: 'status'): Promise<VolumeGroupSnapshotContent> {
    const updated = await this.deps.api.patch(name, ops, subresource);
    this.deps.observed?.(updated);
    return updated;
  }

  private deadline(): Date {
    return new Date(Date.now() + this.deps.settings.timeoutMs);
  }

  private afterSuccess(content: VolumeGroupSnapshotContent): Outcome {
    if (content.status?.readyToUse === true) return done;
    const created = content.status?.creationTime ? Date.parse(content.status.creationTime) : NaN;
    return { type: 'after', delayMs: pollDelayForAge(Number.isFinite(created) && created > 0 ? created : undefined, this.deps.settings.maxPollIntervalMs, this.now()) };
  }

  private async withErrorStatus(content: VolumeGroupSnapshotContent, reason: GroupFailureReason, action: () => Promise<StepResult>): Promise<Outcome> {
    const result = await action();
    if ('outcome' in result) return result.outcome;
    const message = FAILURE_PREFIX[reason] + errorText(result.error) + nextStep(result.error, this.deps.settings.retryIntervalMaxMs);
    await recordFailure({
      latest: result.latest,
      reason,
      message,
      now: this.now(),
      write: (ops) => this.write(content.metadata.name, ops, 'status'),
      subject: this.subject,
      events: this.deps.events,
      log: this.deps.log,
    });
    return retry(new Error(message));
  }

  /** Secrets named by the group deletion-secret annotations (used to create, poll and delete). */
  private annotationSecrets(content: VolumeGroupSnapshotContent): Promise<Record<string, string>> {
    return annotationSecretData({
      annotations: content.metadata.annotations,
      keys: { name: ANN_GROUP_DELETION_SECRET_NAME, namespace: ANN_GROUP_DELETION_SECRET_NAMESPACE },
      what: { kind: 'group snapshot content', name: content.metadata.name },
      getSecret: (ref) => this.deps.api.getSecret(ref),
      log: this.deps.log,
    });
  }

  private async removeBeingCreated(content: VolumeGroupSnapshotContent): Promise<Outcome> {
    let current = content;
    try {
      current = await this.write(content.metadata.name, removeAnnotation(content.metadata, ANN_GROUP_BEING_CREATED));
    } catch (err) {
      return retry(new Error(`failed to remove VolumeGroupSnapshotBeingCreated annotation on the groupSnapshotContent ${content.metadata.name}: ${goQuote(errorText(err))}`));
    }
    return this.afterSuccess(current);
  }

  /** §7.4: cut the group (or, repeated with the same name, find it again) and record it. */
  private async create(content: VolumeGroupSnapshotContent): Promise<StepResult> {
    const name = content.metadata.name;
    let klass: VolumeGroupSnapshotClass | undefined;
    let secrets: Record<string, string>;
    try {
      const className = content.spec.volumeGroupSnapshotClassName;
      if (className) {
        klass = this.deps.classes(className);
        if (!klass) throw new Error(classNotFound(className));
      } else if ((content.spec.source.volumeHandles?.length ?? 0) > 0) {
        throw new Error(`failed to take group snapshot ${name} without a group snapshot class`);
      }
      secrets = await this.annotationSecrets(content);
    } catch (err) {
      return { error: new Error(`failed to get input parameters to create group snapshot for group snapshot content ${name}: ${goQuote(errorText(err))}`), latest: content };
    }

    // The mark goes on before the driver is asked: after a crash at any later point it records that
    // a storage group may exist, and deletion waits for it.
    let working = content;
    try {
      if (!(ANN_GROUP_BEING_CREATED in (content.metadata.annotations ?? {}))) {
        working = await this.write(name, addAnnotation(content.metadata, ANN_GROUP_BEING_CREATED, 'yes'));
      } else {
        // A retry after an earlier attempt: read the object, the cache may not show our last write yet.
        working = await this.deps.api.get(name);
        this.deps.observed?.(working);
      }
    } catch (err) {
      return {
        error: new Error(`failed to add VolumeGroupSnapshotBeingCreated annotation on the group snapshot content ${name}: ${goQuote(apiWriteError(name, err))}`),
        latest: content,
      };
    }

    let parameters: Record<string, string>;
    try {
      parameters = driverParameters(klass?.parameters);
    } catch (err) {
      return { error: new Error(`failed to remove CSI Parameters of prefixed keys: ${errorText(err)}`), latest: working };
    }
    const ref = working.spec.volumeGroupSnapshotRef;
    if (this.deps.settings.extraCreateMetadata) Object.assign(parameters, groupMetadataParameters(ref.name ?? '', ref.namespace ?? '', name));
    if (!ref.uid) return { error: new Error(`cannot create group snapshot. Group snapshot content ${name} not bound to a group snapshot`), latest: working };
    const volumeHandles = working.spec.source.volumeHandles ?? [];
    if (volumeHandles.length === 0) {
      return { error: new Error(`cannot create group snapshot. PVCs to be snapshotted not found in group snapshot content ${name}`), latest: working };
    }

    let group: GroupSnapshotInfo;
    try {
      const groupName = csiSnapshotName(this.deps.settings.groupSnapshotNamePrefix, ref.uid, this.deps.settings.groupSnapshotNameUuidLength);
      ({ group } = await createGroupSnapshot(this.deps.csi, { name: groupName, sourceVolumeIds: volumeHandles, parameters, secrets }, this.deadline()));
    } catch (err) {
      if (classifyCreateError(err) === 'final') {
        // The driver will not cut this group: deletion may proceed again.
        try {
          working = await this.write(name, removeAnnotation(working.metadata, ANN_GROUP_BEING_CREATED));
        } catch (patchErr) {
          this.deps.log.warn('Cannot remove the group being-created annotation after a final error', { content: name, error: errorText(patchErr) });
        }
      }
      return { error: new Error(`failed to take group snapshot of the volumes [${volumeHandles.join(' ')}]: ${goQuote(errorText(err))}`, { cause: err }), latest: working };
    }

    const seen: GroupObservation = {
      groupSnapshotHandle: group.groupSnapshotId,
      readyToUse: group.readyToUse,
      creationTime: groupTime(group.creationTime),
      members: group.snapshots.map(memberFromSnapshot),
    };
    try {
      const ops = groupStatusUpdate(working.status, seen, this.deps.adapter);
      if (ops.length > 0) working = await this.write(name, ops, 'status');
    } catch (err) {
      return { error: new Error(`error updating status for volume group snapshot content ${name}: ${apiWriteError(name, err)}`), latest: working };
    }

    // The group is recorded by handle: the mark is no longer needed.
    try {
      working = await this.write(name, removeAnnotation(working.metadata, ANN_GROUP_BEING_CREATED));
    } catch (err) {
      return { error: new Error(`failed to remove VolumeGroupSnapshotBeingCreated annotation on the groupSnapshotContent ${name}: ${goQuote(errorText(err))}`), latest: working };
    }
    return { outcome: this.afterSuccess(working), latest: working };
  }

  /** Readiness of a recorded dynamic group, by GetVolumeGroupSnapshot; a write only when something changed. */
  private async poll(content: VolumeGroupSnapshotContent): Promise<StepResult> {
    const name = content.metadata.name;
    let secrets: Record<string, string>;
    try {
      secrets = await this.annotationSecrets(content);
    } catch (err) {
      return { error: new Error(`failed to get credentials from annotation for group snapshot content ${name}: ${errorText(err)}`), latest: content };
    }
    const groupSnapshotId = content.status?.volumeGroupSnapshotHandle ?? '';
    const snapshotIds = (content.status?.members ?? []).map((m) => m.snapshotHandle);
    return this.readAndRecord(content, { groupSnapshotId, snapshotIds, secrets }, groupSnapshotId);
  }

  /** §7.5: a pre-provisioned group, read with GetVolumeGroupSnapshot (secrets from its class). */
  private async refresh(content: VolumeGroupSnapshotContent): Promise<StepResult> {
    const name = content.metadata.name;
    let secrets: Record<string, string> = {};
    const className = content.spec.volumeGroupSnapshotClassName;
    if (className) {
      const klass = this.deps.classes(className);
      if (!klass) return { error: new Error(`failed to get group snapshot class ${className} for group snapshot content ${name}: ${classNotFound(className)}`), latest: content };
      let ref: SecretRef | undefined;
      try {
        ref = secretRefFromParameters(klass.parameters, 'csi.storage.k8s.io/group-snapshotter-get', 'GroupSnapshotterGet', { 'volumegroupsnapshotcontent.name': name });
      } catch (err) {
        return { error: new Error(`failed to get secret reference for group snapshot content ${name}: ${errorText(err)}`), latest: content };
      }
      if (ref) {
        try {
          secrets = await this.deps.api.getSecret(ref);
        } catch (err) {
          return { error: new Error(`failed to get credentials for group snapshot content ${name}: ${errorText(err)}`), latest: content };
        }
      }
    }
    const handles = content.spec.source.groupSnapshotHandles;
    const snapshotIds = handles?.volumeSnapshotHandles ?? [];
    if (snapshotIds.length === 0) return { error: new Error(`cannot list group snapshot ${name}. No snapshots found in the group snapshot content`), latest: content };
    const groupSnapshotId = recordedGroupHandle(content);
    if (!groupSnapshotId) return { error: new Error(`failed to list group snapshot for group snapshot content ${name}: groupSnapshotHandle is missing`), latest: content };
    return this.readAndRecord(content, { groupSnapshotId, snapshotIds, secrets }, handles?.volumeGroupSnapshotHandle ?? groupSnapshotId, false);
  }

  /**
   * GetVolumeGroupSnapshot and the status update it implies. `withMembers` false: the reply's
   * members are not recorded (a pre-provisioned group lists its members in spec).
   */
  private async readAndRecord(
    content: VolumeGroupSnapshotContent,
    request: { groupSnapshotId: string; snapshotIds: string[]; secrets: Record<string, string> },
    handle: string,
    withMembers = true,
  ): Promise<StepResult> {
    const name = content.metadata.name;
    let group: GroupSnapshotInfo;
    try {
      group = await getGroupSnapshot(this.deps.csi, request, this.deadline());
    } catch (err) {
      return { error: new Error(`failed to list group snapshot for group snapshot content ${name}: ${goQuote(errorText(err))}`, { cause: err }), latest: content };
    }
    const seen: GroupObservation = {
      groupSnapshotHandle: handle,
      readyToUse: group.readyToUse,
      creationTime: group.creationTime !== undefined ? groupTime(group.creationTime) : kubeTime(this.now()),
      members: withMembers ? group.snapshots.map(memberFromSnapshot) : [],
    };
    let latest = content;
    try {
      const ops = groupStatusUpdate(content.status, seen, this.deps.adapter);
      if (ops.length > 0) latest = await this.write(name, ops, 'status');
    } catch (err) {
      return { error: new Error(apiWriteError(name, err)), latest: content };
    }
    return { outcome: this.afterSuccess(latest), latest };
  }

  /** Rule GF: nothing on storage to delete; let the object go. */
  private async release(content: VolumeGroupSnapshotContent): Promise<Outcome> {
    try {
      const ops = removeFinalizer(content.metadata, FINALIZER_GROUP_CONTENT);
      if (ops.length > 0) await this.write(content.metadata.name, ops);
    } catch (err) {
      return retry(new Error(apiWriteError(content.metadata.name, err)));
    }
    return done;
  }

  /** §7.8: DeleteVolumeGroupSnapshot with every member id, clear the status, release the object. */
  private async delete(content: VolumeGroupSnapshotContent): Promise<Outcome> {
    const name = content.metadata.name;
    let secrets: Record<string, string>;
    try {
      secrets = await this.annotationSecrets(content);
    } catch (err) {
      this.deps.events.warning(this.subject(content), 'GroupSnapshotDeleteError', 'Failed to get snapshot credentials');
      return retry(new Error(`failed to get input parameters to delete group snapshot for group snapshot content ${name}: ${goQuote(errorText(err))}`));
    }
    try {
      const recorded = content.status?.members ?? [];
      const snapshotIds = recorded.length > 0 ? recorded.map((m) => m.snapshotHandle) : (content.spec.source.groupSnapshotHandles?.volumeSnapshotHandles ?? []);
      if (snapshotIds.length === 0) throw new Error(`cannot delete group snapshot content ${name}. No snapshots found in the group snapshot`);
      const groupSnapshotId = recordedGroupHandle(content);
      if (!groupSnapshotId) throw new Error(`failed to delete group snapshot content ${name}: groupsnapshotHandle is missing`);
      await deleteGroupSnapshot(this.deps.csi, { groupSnapshotId, snapshotIds, secrets }, this.deadline());
    } catch (err) {
      this.deps.events.warning(this.subject(content), 'GroupSnapshotDeleteError', 'Failed to delete group snapshot');
      return retry(new Error(`failed to delete group snapshot ${goQuote(name)}, err: ${errorText(err)}`));
    }
    let working = content;
    try {
      const ops = clearedGroupStatus(content.status);
      if (ops.length > 0) working = await this.write(name, ops, 'status');
    } catch (err) {
      this.deps.events.warning(this.subject(content), 'GroupSnapshotDeleteError', 'Failed to clear content status');
      return retry(new Error(apiWriteError(name, err)));
    }
    // The storage group is gone: the finalizer can go in the same sync.
    return this.release(working);
  }
}
