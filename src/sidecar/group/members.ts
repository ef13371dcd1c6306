/**
 * The member objects of a v1alpha1 group. In that era (external-snapshotter v7.0 to v8.1) the
 * sidecar itself created one VolumeSnapshotContent and one VolumeSnapshot per member and listed the
 * contents by name in the group content's status; the storage handles live only in those member
 * contents. Names are derived from the group content's UID and the member's source volume, so
 * whoever computes them again (a retry, another replica, a restart in the middle) finds the same
 * objects and adopts them. The Go sidecars of that era added a time suffix, which made every
 * resync of a group that was not ready yet a new, orphaned set.
 */
import { createHash } from 'node:crypto';
import type { SnapshotInfo } from '../../csi/snapshotter.js';
import { collectionPath, objectPath, PERSISTENT_VOLUMES, statusPath, VOLUME_SNAPSHOT_CONTENTS, VOLUME_SNAPSHOTS, volumeGroupSnapshotContents } from '../../kube/resources.js';
import { isConflict, isNotFound, type RestClient } from '../../kube/rest.js';
import { ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE, ANN_GROUP_DELETION_SECRET_NAME, ANN_GROUP_DELETION_SECRET_NAMESPACE, ANN_MEMBER_SNAPSHOT_IDS, FINALIZER_IN_GROUP, LABEL_GROUP_NAME } from '../keys.js';
import { errorText } from '../../csi/errors.js';
import type { VolumeSnapshotContent } from '../types.js';
import type { VolumeGroupSnapshotContent } from './types.js';

/** The hash both member names share: hex sha256 of the group content's UID and the source volume id. */
export function memberNameHash(groupContentUid: string, volumeHandle: string): string {
  return createHash('sha256').update(groupContentUid + volumeHandle).digest('hex');
}

export function memberContentName(groupContentUid: string, volumeHandle: string): string {
  return `snapcontent-${memberNameHash(groupContentUid, volumeHandle)}`;
}

export function memberSnapshotName(groupContentUid: string, volumeHandle: string): string {
  return `snapshot-${memberNameHash(groupContentUid, volumeHandle)}`;
}

export interface MemberSnapshot {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; finalizers?: string[] };
  spec: { source: { volumeSnapshotContentName?: string; persistentVolumeClaimName?: string } };
}

/** A PersistentVolume as far as naming a member's source volume needs it. */
export interface PersistentVolumeRef {
  metadata: { name: string };
  spec?: { csi?: { driver?: string; volumeHandle?: string } };
}

/** The API operations on member objects; over REST in the sidecar. Reads answer undefined for a 404. */
export interface MemberObjects {
  /** Every PersistentVolume (v8.0–8.1 name each member's source volume in the group's status). */
  listPersistentVolumes(): Promise<PersistentVolumeRef[]>;
  getContent(name: string): Promise<VolumeSnapshotContent | undefined>;
  createContent(body: Record<string, unknown>): Promise<VolumeSnapshotContent>;
  /** A merge patch of the content's status subresource. */
  patchContentStatus(name: string, status: Record<string, unknown>): Promise<VolumeSnapshotContent>;
  getSnapshot(namespace: string, name: string): Promise<MemberSnapshot | undefined>;
  createSnapshot(namespace: string, body: Record<string, unknown>): Promise<MemberSnapshot>;
  /** Sets one annotation on the (v1alpha1) group content, by merge patch. */
  annotateGroup(name: string, key: string, value: string): Promise<void>;
}

async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function restMemberObjects(client: RestClient): MemberObjects {
  return {
    // Stryker disable next-line ArrayDeclaration: a list of one string would name no volume either, as a string has no spec.
    listPersistentVolumes: async () => (await client.request<{ items?: PersistentVolumeRef[] }>({ method: 'GET', path: collectionPath(PERSISTENT_VOLUMES) })).items ?? [],
    getContent: (name) => orUndefined(client.request<VolumeSnapshotContent>({ method: 'GET', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, name) })),
    createContent: (body) => client.request<VolumeSnapshotContent>({ method: 'POST', path: collectionPath(VOLUME_SNAPSHOT_CONTENTS), body }),
    patchContentStatus: (name, status) =>
      client.request<VolumeSnapshotContent>({ method: 'PATCH', path: statusPath(VOLUME_SNAPSHOT_CONTENTS, name), body: { status }, contentType: 'application/merge-patch+json' }),
    getSnapshot: (namespace, name) => orUndefined(client.request<MemberSnapshot>({ method: 'GET', path: objectPath(VOLUME_SNAPSHOTS, name, namespace) })),
    createSnapshot: (namespace, body) => client.request<MemberSnapshot>({ method: 'POST', path: collectionPath(VOLUME_SNAPSHOTS, namespace), body }),
    annotateGroup: async (name, key, value) => {
      // Member objects exist only in the v1alpha1 era, so their group is always at that version.
      await client.request({ method: 'PATCH', path: objectPath(volumeGroupSnapshotContents('v1alpha1'), name), body: { metadata: { annotations: { [key]: value } } }, contentType: 'application/merge-patch+json' });
    },
  };
}

/** The storage snapshot id a member content records: its status handle, else the immutable one in its spec. */
export function memberSnapshotHandle(content: VolumeSnapshotContent | undefined): string | undefined {
  return content?.status?.snapshotHandle || content?.spec.source.snapshotHandle || undefined;
}

/** The annotation's value for what the driver cut: each member's snapshot id by source volume, in the driver's order. */
export function memberIdsAnnotation(snapshots: SnapshotInfo[]): string {
  return JSON.stringify(Object.fromEntries(snapshots.map((s) => [s.sourceVolumeId, s.snapshotId])));
}

/**
 * The member snapshot ids a group content recorded when it was cut, by source volume. None when
 * it has no record (a group cut before the record existed, or by another sidecar) or when the
 * record was edited into something unreadable: the member contents are asked instead.
 */
export function recordedMemberIds(group: VolumeGroupSnapshotContent): Map<string, string> {
  const ids = new Map<string, string>();
  const text = group.metadata.annotations?.[ANN_MEMBER_SNAPSHOT_IDS];
  // Stryker disable next-line ConditionalExpression: JSON.parse of undefined or '' throws, and the catch below returns the same empty map.
  if (!text) return ids;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  }
  // Stryker disable next-line BlockStatement: without the early return `parsed` stays undefined, which the next check returns the same empty map for.
  catch {
    return ids;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return ids;
  for (const [volume, id] of Object.entries(parsed)) if (typeof id === 'string' && id !== '') ids.set(volume, id);
  return ids;
}

/**
 * Every storage id of a v1alpha1 group's members, for GetVolumeGroupSnapshot and
 * DeleteVolumeGroupSnapshot: the ids the group content recorded when it was cut, then for each
 * listed member that record does not cover, the id its member content holds. A member content
 * already gone, or whose ids were cleared, adds nothing and fails nothing.
 */
export async function alphaMemberSnapshotIds(group: VolumeGroupSnapshotContent, api: MemberObjects | undefined): Promise<string[]> {
  const recorded = recordedMemberIds(group);
  const uid = group.metadata.uid ?? '';
  const covered = new Set([...recorded.keys()].map((volume) => memberContentName(uid, volume)));
  const ids = [...recorded.values()];
  // Stryker disable next-line ArrayDeclaration: a list of one string adds nothing either, as a string has no contentName.
  for (const member of group.status?.members ?? []) {
    if (!member.contentName || covered.has(member.contentName)) continue;
    const id = member.snapshotHandle || (api ? memberSnapshotHandle(await api.getContent(member.contentName)) : undefined);
    if (id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

/** A member step that failed: its message is the text to record (status.error, the Event). */
export class MemberError extends Error {}

/**
 * Creates (or adopts) the member VolumeSnapshotContent and VolumeSnapshot of every snapshot the
 * driver cut for the group, in the driver's order, content before snapshot as the Go sidecar did.
 * An object that already exists under the derived name is adopted when it is this member (same
 * snapshot handle, same content) and refused otherwise: a name is never taken over from another
 * snapshot. The member content's status is written at once (with the group handle), so the
 * snapshot-controller of that era finds the group even when the driver's ListSnapshots does not
 * report group ids.
 */
export async function ensureMembers(api: MemberObjects, group: VolumeGroupSnapshotContent, groupSnapshotId: string, snapshots: SnapshotInfo[]): Promise<void> {
  const groupName = group.metadata.name;
  const uid = group.metadata.uid ?? '';
  if (!uid) throw new MemberError(`cannot create the members of group snapshot content ${groupName}: it has no UID to derive their names from`);
  const ref = group.spec.volumeGroupSnapshotRef;
  const namespace = ref.namespace ?? '';
  const annotations: Record<string, string> = {};
  const groupAnnotations = group.metadata.annotations ?? {};
  // The group's deletion Secret is the members' too (the v8.0 sidecar wrote it from the same class parameters).
  // Stryker disable ConditionalExpression: `true` copies an absent annotation as undefined, which JSON leaves out of the request (`false`, copying none, is what the tests of a group with one Secret annotation catch).
  if (groupAnnotations[ANN_GROUP_DELETION_SECRET_NAME] !== undefined) annotations[ANN_DELETION_SECRET_NAME] = groupAnnotations[ANN_GROUP_DELETION_SECRET_NAME];
  if (groupAnnotations[ANN_GROUP_DELETION_SECRET_NAMESPACE] !== undefined) annotations[ANN_DELETION_SECRET_NAMESPACE] = groupAnnotations[ANN_GROUP_DELETION_SECRET_NAMESPACE];
  // Stryker restore ConditionalExpression

  // The ids go on the group before any member object exists: whatever happens to the member
  // contents later (a user or the controller deleting them first), the group's deletion has them.
  const ids = memberIdsAnnotation(snapshots);
  if (groupAnnotations[ANN_MEMBER_SNAPSHOT_IDS] !== ids) {
    try {
      await api.annotateGroup(groupName, ANN_MEMBER_SNAPSHOT_IDS, ids);
    } catch (err) {
      throw new MemberError(`failed to record the member snapshot ids on group snapshot content ${groupName}: ${errorText(err)}`, { cause: err });
    }
  }

  for (const snapshot of snapshots) {
    const contentName = memberContentName(uid, snapshot.sourceVolumeId);
    const snapshotName = memberSnapshotName(uid, snapshot.sourceVolumeId);
    const what = `member VolumeSnapshotContent ${contentName} of group snapshot content ${groupName}`;

    let content: VolumeSnapshotContent | undefined;
    try {
      content = await api.createContent({
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        // Stryker disable next-line EqualityOperator,ConditionalExpression: `>= 0` and `true` send an empty annotations map, which the API server stores as none (`<= 0` and `false`, dropping the Secret annotations, are what the tests of the member's annotations catch).
        metadata: { name: contentName, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
        spec: {
          volumeSnapshotRef: { kind: 'VolumeSnapshot', name: snapshotName, namespace },
          deletionPolicy: group.spec.deletionPolicy,
          driver: group.spec.driver,
          // A member looks pre-provisioned: the snapshot-controller of that era binds it as such.
          source: { snapshotHandle: snapshot.snapshotId },
        },
      });
    } catch (err) {
      if (!isConflict(err)) throw new MemberError(`failed to create ${what}: ${errorText(err)}`, { cause: err });
      content = await readOr(api.getContent(contentName), `failed to read ${what}`);
      if (!content) throw new MemberError(`failed to create ${what}: it exists, then could not be found`);
      if (content.spec.source.snapshotHandle !== snapshot.snapshotId) {
        throw new MemberError(`${what} already exists for snapshot ${content.spec.source.snapshotHandle ?? '(none)'}, not ${snapshot.snapshotId}: it is left alone`);
      }
    }
    if (!content.status?.snapshotHandle) {
      const status: Record<string, unknown> = {
        snapshotHandle: snapshot.snapshotId,
        readyToUse: snapshot.readyToUse,
        volumeGroupSnapshotHandle: groupSnapshotId,
      };
      // Stryker disable next-line ConditionalExpression: an undefined creationTime is left out of the JSON body all the same.
      if (snapshot.creationTime !== undefined) status.creationTime = snapshot.creationTime;
      if (snapshot.sizeBytes > 0n) status.restoreSize = snapshot.sizeBytes;
      try {
        await api.patchContentStatus(contentName, status);
      } catch (err) {
        throw new MemberError(`failed to update the status of ${what}: ${errorText(err)}`, { cause: err });
      }
    }

    const snapshotWhat = `member VolumeSnapshot ${namespace}/${snapshotName} of group snapshot content ${groupName}`;
    try {
      await api.createSnapshot(namespace, {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshot',
        metadata: { name: snapshotName, namespace, labels: { [LABEL_GROUP_NAME]: ref.name ?? '' }, finalizers: [FINALIZER_IN_GROUP] },
        spec: { source: { volumeSnapshotContentName: contentName } },
      });
    } catch (err) {
      if (!isConflict(err)) throw new MemberError(`failed to create ${snapshotWhat}: ${errorText(err)}`, { cause: err });
      const existing = await readOr(api.getSnapshot(namespace, snapshotName), `failed to read ${snapshotWhat}`);
      if (existing?.spec.source.volumeSnapshotContentName !== contentName) {
        throw new MemberError(`${snapshotWhat} already exists for another source: it is left alone`);
      }
    }
  }
}

async function readOr<T>(read: Promise<T>, words: string): Promise<T> {
  try {
    return await read;
  } catch (err) {
    throw new MemberError(`${words}: ${errorText(err)}`, { cause: err });
  }
}

/**
 * The PersistentVolume of each source volume, by CSI volume handle, among the volumes of `driver`
 * (as the v8.0 sidecar matched them); a volume without one is absent from the map.
 */
export async function persistentVolumesByHandle(api: MemberObjects, driver: string): Promise<Map<string, string>> {
  const byHandle = new Map<string, string>();
  for (const pv of await api.listPersistentVolumes()) {
    const csi = pv.spec?.csi;
    if (csi?.driver === driver && csi.volumeHandle) byHandle.set(csi.volumeHandle, pv.metadata.name);
  }
  return byHandle;
}
