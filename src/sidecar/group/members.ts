/**
 * The member VolumeSnapshotContents of a v1alpha1 group. In that era (external-snapshotter v7.0 to
 * v8.1) the sidecar itself created one VolumeSnapshotContent and one VolumeSnapshot per member and
 * listed the contents by name in the group content's status; the storage handles live only in
 * those member contents. Names are derived from the group content's UID and the member's source
 * volume, so whoever computes them again (a retry, another replica, a restart) finds the same
 * objects. Unlike the Go sidecars of that era, no time suffix: that made every retry a new set.
 */
import { createHash } from 'node:crypto';
import { objectPath, VOLUME_SNAPSHOT_CONTENTS } from '../../kube/resources.js';
import { isNotFound, type RestClient } from '../../kube/rest.js';
import type { VolumeSnapshotContent } from '../types.js';

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

/** Reads member VolumeSnapshotContents; undefined for one that does not exist (any more). */
export interface MemberContents {
  get(name: string): Promise<VolumeSnapshotContent | undefined>;
}

export function restMemberContents(client: RestClient): MemberContents {
  return {
    async get(name) {
      try {
        return await client.request<VolumeSnapshotContent>({ method: 'GET', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, name) });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
  };
}

/** The storage snapshot id a member content records: its status handle, else the immutable one in its spec. */
export function memberSnapshotHandle(content: VolumeSnapshotContent | undefined): string | undefined {
  return content?.status?.snapshotHandle || content?.spec?.source?.snapshotHandle || undefined;
}
