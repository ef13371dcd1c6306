import type { CsiConnection } from '../../csi/connection.js';
import { errorText } from '../../csi/errors.js';
import { recordedCreationTime } from '../../csi/timestamps.js';
import { createGroupSnapshot, deleteGroupSnapshot, getGroupSnapshot, type GroupSnapshotInfo } from '../../csi/group-snapshotter.js';
import type { SnapshotInfo } from '../../csi/snapshotter.js';
import { volumeGroupSnapshotClasses, volumeGroupSnapshotContents } from '../../kube/resources.js';
import type { Outcome } from '../../runtime/controller.js';
import { shouldEnqueueUpdate } from '../engine/updates.js';
import { eventSubject, type WarningRecorder } from '../engine/failure.js';
import { ControllerLoop, type LoopOptions } from '../engine/loop.js';
import { restObjectApi, type ObjectApi } from '../engine/object-api.js';
import { SyncError, syncObject, type ReadSecretSource, type SyncDeps, type SyncKind, type SyncTimings } from '../engine/sync.js';
import { decideGroup, recordedGroupHandle } from './decision.js';
import { isGroupForDriver } from './filter.js';
import { clearedGroupStatus, groupStatusUpdate, type GroupObservation } from './status.js';
import type { GroupSnapshotMember, VolumeGroupSnapshotClass, VolumeGroupSnapshotContent, WireGroupContent } from './types.js';
import { groupVersionAdapter, type GroupApiMode, type GroupVersionAdapter } from './versions.js';
import { alphaMemberSnapshotIds, ensureMembers, MemberError, memberContentName, persistentVolumesByHandle, restMemberObjects, type MemberObjects } from './members.js';
import { ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE, ANN_GROUP_BEING_CREATED, ANN_GROUP_DELETION_SECRET_NAME, ANN_GROUP_DELETION_SECRET_NAMESPACE, FINALIZER_GROUP_CONTENT } from '../keys.js';
import { goQuote } from '../messages.js';
import { groupMetadataParameters } from '../parameters.js';

export type GroupContentApi = ObjectApi<VolumeGroupSnapshotContent>;

export interface GroupSyncSettings extends SyncTimings {
  groupSnapshotNamePrefix: string;
  groupSnapshotNameUuidLength: number;
  extraCreateMetadata: boolean;
}

export interface GroupSyncDeps extends SyncDeps<VolumeGroupSnapshotContent, VolumeGroupSnapshotClass, GroupSyncSettings> {
  csi: CsiConnection;
  /** The served API version in use: Event subjects and the member-list layout follow it. */
  adapter: GroupVersionAdapter;
  /** v1alpha1: where member objects are created and read (the status names them; their handles are theirs). */
  members?: MemberObjects;
}

export const GROUP_CONTENT_QUEUE_NAME = 'csi-snapshotter-groupsnapshotcontent';

/** `... not found` as the Kubernetes client words a missing group class. */
function classNotFound(name: string): string {
  return `volumegroupsnapshotclass.groupsnapshot.storage.k8s.io ${goQuote(name)} not found`;
}

/** A member as the info list records it: no time when the driver sent none, no size when it is 0. */
export function memberFromSnapshot(snapshot: SnapshotInfo): GroupSnapshotMember {
  const member: GroupSnapshotMember = { volumeHandle: snapshot.sourceVolumeId, snapshotHandle: snapshot.snapshotId, readyToUse: snapshot.readyToUse };
  // Stryker disable next-line ConditionalExpression: a member whose creationTime is undefined is written exactly as one without it (JSON leaves undefined out).
  if (snapshot.creationTime !== undefined) member.creationTime = snapshot.creationTime;
  if (snapshot.sizeBytes > 0n) member.restoreSize = snapshot.sizeBytes;
  return member;
}

type GroupKind = SyncKind<VolumeGroupSnapshotContent, GroupObservation>;

/** The volumes a dynamic group content asks to snapshot; none for a pre-provisioned one (or a malformed one that lists neither). */
function sourceVolumes(content: VolumeGroupSnapshotContent): string[] {
  return content.spec.source.volumeHandles ?? [];
}

/**
 * The class parameters naming the Secret for GetVolumeGroupSnapshot of a pre-provisioned group, as
 * each era's sidecar read them: v7.0 used the single-snapshot list keys (its template variable
 * `${volumesnapshotcontent.name}` being the group content's name), v8.0–8.1 the group snapshotter
 * keys, v8.2 on the group get keys.
 */
function getSecretSource(mode: GroupApiMode, contentName: string): ReadSecretSource {
  if (mode === 'v1alpha1-v7') return { prefix: 'csi.storage.k8s.io/snapshotter-list', label: 'SnapshotterList', variables: { 'volumesnapshotcontent.name': contentName } };
  if (mode === 'v1alpha1-v8') return { prefix: 'csi.storage.k8s.io/group-snapshotter', label: 'GroupSnapshotter', variables: { 'volumegroupsnapshotcontent.name': contentName } };
  return { prefix: 'csi.storage.k8s.io/group-snapshotter-get', label: 'GroupSnapshotterGet', variables: { 'volumegroupsnapshotcontent.name': contentName } };
}

/**
 * The group content's annotations naming its Secret (for create, poll and delete): v7.0's sidecar
 * read the single-snapshot keys there (which its controller never set; users did), v8.0 on the group
 * keys that the snapshot-controller copies from the class.
 */
function deletionSecretKeys(mode: GroupApiMode): { name: string; namespace: string } {
  if (mode === 'v1alpha1-v7') return { name: ANN_DELETION_SECRET_NAME, namespace: ANN_DELETION_SECRET_NAMESPACE };
  return { name: ANN_GROUP_DELETION_SECRET_NAME, namespace: ANN_GROUP_DELETION_SECRET_NAMESPACE };
}

/**
 * VolumeGroupSnapshotContents as the sync engine sees them, in the version-free model (the version
 * adapter converts at the API edge): CreateVolumeGroupSnapshot, GetVolumeGroupSnapshot,
 * DeleteVolumeGroupSnapshot.
 */
export function groupKind(csi: CsiConnection, settings: GroupSyncSettings, adapter: GroupVersionAdapter, now: () => Date, memberObjects?: MemberObjects): GroupKind {
  /**
   * The storage ids of the recorded members. Beta and GA versions record them in status; v1alpha1
   * lists member contents by name, and the ids are in the group's own record or those contents.
   */
  const recordedSnapshotIds = async (content: VolumeGroupSnapshotContent): Promise<string[]> => {
    if (adapter.membersByContent) return alphaMemberSnapshotIds(content, memberObjects);
    return (content.status?.members ?? []).map((m) => m.snapshotHandle);
  };
  /** The members as the status records them; in v1alpha1 each also names its member content. */
  const membersOf = (content: VolumeGroupSnapshotContent, snapshots: SnapshotInfo[]): GroupSnapshotMember[] =>
    snapshots.map((snapshot) => {
      const member = memberFromSnapshot(snapshot);
      // Stryker disable next-line ConditionalExpression,StringLiteral: the v1beta1 and later layouts have no member content name, so their adapters never write one; every object the API server returns has a uid.
      if (adapter.membersByContent) member.contentName = memberContentName(content.metadata.uid ?? '', snapshot.sourceVolumeId);
      return member;
    });
  /** A group's creation time as the status takes it (Unix ns, exact; none is the epoch, Go's zero time the sync's now). */
  const groupTime = (nanos: bigint | undefined): bigint => recordedCreationTime(nanos, () => BigInt(now().getTime()) * 1_000_000n);
  /** What GetVolumeGroupSnapshot says, as the status takes it; `members` false for a pre-provisioned group (its spec lists them). */
  const observe = (content: VolumeGroupSnapshotContent, group: GroupSnapshotInfo, handle: string, members: boolean): GroupObservation => ({
    groupSnapshotHandle: handle,
    readyToUse: group.readyToUse,
    creationTime: groupTime(group.creationTime),
    members: members ? membersOf(content, group.snapshots) : [],
  });
  return {
    kind: 'VolumeGroupSnapshotContent',
    subject: (content) => eventSubject(adapter.apiVersion, 'VolumeGroupSnapshotContent', content.metadata),
    decide: decideGroup,
    beingCreated: ANN_GROUP_BEING_CREATED,
    finalizer: FINALIZER_GROUP_CONTENT,
    deletionSecretKeys: deletionSecretKeys(adapter.mode),
    noun: 'group snapshot',
    className: (content) => content.spec.volumeGroupSnapshotClassName,
    needsClass: (content) => sourceVolumes(content).length > 0,
    reasonPrefix: 'Group',

    ref: (content) => content.spec.volumeGroupSnapshotRef,
    naming: { prefix: settings.groupSnapshotNamePrefix, uuidLength: settings.groupSnapshotNameUuidLength },
    ...(settings.extraCreateMetadata ? { metadataParameters: groupMetadataParameters } : {}),
    missingSource: (content) =>
      sourceVolumes(content).length > 0 ? undefined : `cannot create group snapshot. PVCs to be snapshotted not found in group snapshot content ${content.metadata.name}`,
    cut: async ({ object, name, parameters, secrets, deadline }) => {
      const { group } = await createGroupSnapshot(
        csi,
        { name, sourceVolumeIds: sourceVolumes(object), parameters, secrets },
        deadline,
      );
      if (adapter.membersByContent) {
        // v1alpha1: the members exist before the status names them. A failure keeps the
        // being-created mark (a SyncError), so the retry cuts nothing new and adopts what exists.
        // Stryker disable next-line ConditionalExpression,StringLiteral: the controller always passes the member API in v1alpha1 (see groupContentController); the guard only narrows the type.
        if (!memberObjects) throw new SyncError(`cannot create the members of group snapshot content ${object.metadata.name}: no API for member objects`);
        let volumes = new Map<string, string>();
        try {
          // v8.0–8.1 name each member's PersistentVolume; asked before any member exists, so a
          // missing `list persistentvolumes` grant stops the create before it leaves anything behind.
          if (adapter.mode === 'v1alpha1-v8') volumes = await persistentVolumesByHandle(memberObjects, object.spec.driver);
        } catch (err) {
          // Stryker disable next-line ObjectLiteral: the cause is an API error, and the engine follows causes only to find a gRPC status.
          throw new SyncError(`failed to list persistentvolumes to name the volumes of the members of group snapshot content ${object.metadata.name}: ${errorText(err)}`, { cause: err });
        }
        try {
          await ensureMembers(memberObjects, object, group.groupSnapshotId, group.snapshots);
        } catch (err) {
          // Stryker disable next-line StringLiteral,ObjectLiteral: ensureMembers reports every failure as a MemberError (the other text is for a programming error); the cause is an API error, which the engine does not look into.
          throw new SyncError(err instanceof MemberError ? err.message : `failed to create the members of group snapshot content ${object.metadata.name}: ${errorText(err)}`, { cause: err });
        }
        return {
          groupSnapshotHandle: group.groupSnapshotId,
          readyToUse: group.readyToUse,
          creationTime: groupTime(group.creationTime),
          // No PV for a volume: an empty name, as the v8.0 sidecar wrote it.
          // Stryker disable next-line ConditionalExpression: the v7.0 layout has no PV field, so its adapter never writes the name.
          members: membersOf(object, group.snapshots).map((m) => (adapter.mode === 'v1alpha1-v8' ? { ...m, persistentVolumeName: volumes.get(m.volumeHandle) ?? '' } : m)),
        };
      }
      return {
        groupSnapshotHandle: group.groupSnapshotId,
        readyToUse: group.readyToUse,
        creationTime: groupTime(group.creationTime),
        members: membersOf(object, group.snapshots),
      };
    },
    readSecrets: (content, mode) =>
      mode === 'poll'
        ? { fromAnnotations: true }
        : { fromClass: getSecretSource(adapter.mode, content.metadata.name), fromAnnotations: false },
    read: async (content, mode, secrets, deadline) => {
      const name = content.metadata.name;
      if (mode === 'poll') {
        // Stryker disable next-line OptionalChaining,StringLiteral: a poll is decided only once the status records the group handle and its members.
        const groupSnapshotId = content.status?.volumeGroupSnapshotHandle ?? '';
        const snapshotIds = await recordedSnapshotIds(content);
        // Stryker disable next-line BooleanLiteral: the member list is written only when the status has none, and a poll is decided only when it has them.
        return observe(content, await getGroupSnapshot(csi, { groupSnapshotId, snapshotIds, secrets }, deadline), groupSnapshotId, true);
      }
      // Stryker disable next-line OptionalChaining,ArrayDeclaration: a refresh is decided only when spec.source.groupSnapshotHandles is set, and its schema requires volumeSnapshotHandles.
      const snapshotIds = content.spec.source.groupSnapshotHandles?.volumeSnapshotHandles ?? [];
      if (snapshotIds.length === 0) throw new SyncError(`cannot list group snapshot ${name}. No snapshots found in the group snapshot content`);
      const groupSnapshotId = recordedGroupHandle(content);
      if (!groupSnapshotId) throw new SyncError(`failed to list group snapshot for group snapshot content ${name}: groupSnapshotHandle is missing`);
      // The status records the handle the group was read by: the spec's (a status handle, once written, is never replaced).
      return observe(content, await getGroupSnapshot(csi, { groupSnapshotId, snapshotIds, secrets }, deadline), groupSnapshotId, false);
    },
    statusUpdate: (current, seen) => groupStatusUpdate(current, seen, adapter),
    clearedStatus: clearedGroupStatus,
    // The decision already chose between deleting the group on storage and only releasing it.
    hasStorageToDelete: () => true,
    deleteFromStorage: async (content, secrets, deadline) => {
      const name = content.metadata.name;
      const recorded = await recordedSnapshotIds(content);
      const snapshotIds = recorded.length > 0 ? recorded : (content.spec.source.groupSnapshotHandles?.volumeSnapshotHandles ?? []);
      if (snapshotIds.length === 0) throw new Error(`cannot delete group snapshot content ${name}. No snapshots found in the group snapshot`);
      const groupSnapshotId = recordedGroupHandle(content);
      // Stryker disable next-line ConditionalExpression,StringLiteral: the decision deletes from storage only when a group handle is recorded; the guard keeps an empty id from ever reaching the driver.
      if (!groupSnapshotId) throw new Error(`failed to delete group snapshot content ${name}: groupsnapshotHandle is missing`);
      await deleteGroupSnapshot(csi, { groupSnapshotId, snapshotIds, secrets }, deadline);
    },
    createdAtMs: (content) => {
      // Stryker disable next-line OptionalChaining: asked only after a status write or a step decided from a written status.
      const created = content.status?.creationTime ?? 0n;
      // A time of 0 is the driver sending none (see groupTime): the age is then unknown.
      return created > 0n ? Number(created / 1_000_000n) : undefined;
    },
    words: {
      createInputs: (name, err) => `failed to get input parameters to create group snapshot for group snapshot content ${name}: ${err}`,
      notBound: (name) => `cannot create group snapshot. Group snapshot content ${name} not bound to a group snapshot`,
      classNotFound,
      mark: (name, err) => `failed to add VolumeGroupSnapshotBeingCreated annotation on the group snapshot content ${name}: ${err}`,
      cutFailed: (content, err) => `failed to take group snapshot of the volumes [${sourceVolumes(content as VolumeGroupSnapshotContent).join(' ')}]: ${err}`,
      unmarkAfterCut: (name, err) => `failed to remove VolumeGroupSnapshotBeingCreated annotation on the groupSnapshotContent ${name}: ${err}`,
      unmarkStep: (name, err) => `failed to remove VolumeGroupSnapshotBeingCreated annotation on the groupSnapshotContent ${name}: ${err}`,
      unmarkAfterFinalError: (name, err) => `failed to remove VolumeGroupSnapshotBeingCreated annotation from the group snapshot content ${name}: ${err}`,
      unmarkAfterFinalErrorLog: 'Cannot remove the group being-created annotation after a final error',
      readFailed: (name, err) => `failed to list group snapshot for group snapshot content ${name}: ${err}`,
      deleteInputs: (name, err) => `failed to get input parameters to delete group snapshot for group snapshot content ${name}: ${err}`,
      deleteFailed: (name, err) => `failed to delete group snapshot ${goQuote(name)}, err: ${err}`,
      deleteEvent: 'Failed to delete group snapshot',
    },
  };
}

/** Performs the next step of one VolumeGroupSnapshotContent and says what the queue should do next. */
export function syncGroupContent(content: VolumeGroupSnapshotContent, deps: GroupSyncDeps): Promise<Outcome> {
  const kind = groupKind(deps.csi, deps.settings, deps.adapter, deps.now ?? (() => new Date()), deps.members);
  return syncObject(kind, content, deps);
}

export interface GroupContentControllerOptions extends LoopOptions {
  csi: CsiConnection;
  /** The served groupsnapshot.storage.k8s.io version (and v1alpha1 schema) chosen at start-up. */
  version: GroupApiMode;
  settings: GroupSyncSettings;
  /** `--node-deployment`: only group contents (and, as in Go, group classes) labelled for this node. */
  labelSelector?: string;
  events: WarningRecorder;
  /** Replaces the REST-backed API (tests). */
  api?: GroupContentApi;
}

/**
 * The VolumeGroupSnapshotContent controller: the shared loop over group contents and group classes
 * at the served version. The sync sees the version-free model: the adapter converts at the API edge.
 */
export function groupContentController(options: GroupContentControllerOptions): ControllerLoop<WireGroupContent, VolumeGroupSnapshotContent, VolumeGroupSnapshotClass> {
  const adapter = groupVersionAdapter(options.version);
  const resource = volumeGroupSnapshotContents(adapter.version);
  const api = options.api ?? restObjectApi(options.client, resource, (wire) => adapter.toModel(wire as WireGroupContent));
  const kind = groupKind(options.csi, options.settings, adapter, () => new Date(), adapter.membersByContent ? restMemberObjects(options.client) : undefined);
  return new ControllerLoop(options, {
    kind: 'VolumeGroupSnapshotContent',
    queueName: GROUP_CONTENT_QUEUE_NAME,
    objects: resource,
    classes: volumeGroupSnapshotClasses(adapter.version),
    ...(options.labelSelector ? { objectLabelSelector: options.labelSelector, classLabelSelector: options.labelSelector } : {}),
    toModel: (wire) => adapter.toModel(wire),
    // Updates that are only the sidecar's own writes are skipped, as for single contents (the
    // version store already keeps stale copies from being acted on).
    shouldEnqueueUpdate: (oldObj, newObj) => shouldEnqueueUpdate(oldObj, newObj, ANN_GROUP_BEING_CREATED),
    isForDriver: (content, classes) => isGroupForDriver(content, options.driverName, classes),
    sync: (content, classes, observed) => syncObject(kind, content, { ...options, api, classes, observed }),
  });
}
