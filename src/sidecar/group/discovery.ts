import { errorText } from '../../csi/errors.js';
import { GROUP_SNAPSHOT_GROUP, volumeGroupSnapshotClasses, volumeGroupSnapshotContents, collectionPath } from '../../kube/resources.js';
import { isNotFound, type RestClient } from '../../kube/rest.js';
import type { Logger } from '../../observe/logger.js';
import { preferredGroupVersion, SUPPORTED_GROUP_VERSIONS, type GroupSnapshotVersion } from './versions.js';

/** The versions of groupsnapshot.storage.k8s.io the API server serves (discovery); none when the group is absent. */
export async function servedGroupSnapshotVersions(rest: RestClient, signal: AbortSignal): Promise<string[]> {
  try {
    const group = await rest.request<{ versions?: Array<{ version?: string }> }>({ method: 'GET', path: `/apis/${GROUP_SNAPSHOT_GROUP}`, signal });
    return (group.versions ?? []).map((v) => v.version ?? '').filter((v) => v !== '');
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/**
 * The groupsnapshot.storage.k8s.io version this run uses, or undefined when group snapshots are
 * off for the run. Discovery names the served versions and the most preferred one the sidecar
 * understands is taken (v1, then v1beta2, then v1beta1); one LIST of each kind at that version
 * then proves it can be used (as the Go sidecar's probe does, which also catches missing RBAC).
 * Any failure is one warning and single snapshots are served alone, bounded by `timeoutMs`.
 */
export async function chooseGroupSnapshotVersion(rest: RestClient, timeoutMs: number, log: Logger): Promise<GroupSnapshotVersion | undefined> {
  const signal = AbortSignal.timeout(timeoutMs);
  let served: string[] = [];
  try {
    served = await servedGroupSnapshotVersions(rest, signal);
    const version = preferredGroupVersion(served);
    if (!version) {
      log.warn(
        'VolumeGroupSnapshot CRDs were not found; disabling the VolumeGroupSnapshot feature for this run. Install the groupsnapshot.storage.k8s.io CRDs and restart to enable it.',
        { served, supported: SUPPORTED_GROUP_VERSIONS },
      );
      return undefined;
    }
    for (const resource of [volumeGroupSnapshotContents(version), volumeGroupSnapshotClasses(version)]) {
      await rest.request({ method: 'GET', path: collectionPath(resource), query: { limit: 1 }, signal });
    }
    log.info('Serving VolumeGroupSnapshotContents', { version: `${GROUP_SNAPSHOT_GROUP}/${version}`, served });
    return version;
  } catch (err) {
    log.warn(
      'VolumeGroupSnapshot CRDs cannot be used; disabling the VolumeGroupSnapshot feature for this run. Install the groupsnapshot.storage.k8s.io CRDs (and RBAC for them) and restart to enable it.',
      { served, error: errorText(err) },
    );
    return undefined;
  }
}
