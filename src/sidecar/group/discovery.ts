import { errorText } from '../../csi/errors.js';
import { GROUP_SNAPSHOT_GROUP, volumeGroupSnapshotClasses, volumeGroupSnapshotContents, collectionPath } from '../../kube/resources.js';
import { isNotFound, type RestClient } from '../../kube/rest.js';
import type { Logger } from '../../observe/logger.js';
import { GROUP_VERSION_PREFERENCE, groupVersionAdapter, preferredServedVersion, type GroupApiMode, type GroupSnapshotVersion } from './versions.js';

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

/** Where each v1alpha1 flavour comes from, for the log line and the README. */
export const ALPHA_FLAVOURS: Record<'v1alpha1-v7' | 'v1alpha1-v8', { schema: string; membersField: string }> = {
  'v1alpha1-v7': { schema: 'external-snapshotter v7.0', membersField: 'volumeSnapshotContentRefList' },
  'v1alpha1-v8': { schema: 'external-snapshotter v8.0-v8.1', membersField: 'pvVolumeSnapshotContentList' },
};

interface OpenApiDefinition {
  properties?: { status?: { properties?: Record<string, unknown> } };
  'x-kubernetes-group-version-kind'?: Array<{ group?: string; version?: string; kind?: string }>;
}

const GROUP_VERSION_PATH = `apis/${GROUP_SNAPSHOT_GROUP}/v1alpha1`;
const CONTENT_DEFINITION = 'io.k8s.storage.groupsnapshot.v1alpha1.VolumeGroupSnapshotContent';

/**
 * Which of the two schemas published as v1alpha1 the cluster has installed, from the served
 * OpenAPI v3 document of groupsnapshot.storage.k8s.io/v1alpha1 (readable by every authenticated
 * client, unlike the CRD objects): the content's status lists members either as
 * `volumeSnapshotContentRefList` (v7.0) or as `pvVolumeSnapshotContentList` (v8.0–8.1). Writing
 * one flavour's fields to the other is silently pruned by the API server, so a schema showing
 * neither (or both) is refused rather than guessed.
 */
export async function alphaFlavour(rest: RestClient, signal: AbortSignal): Promise<'v1alpha1-v7' | 'v1alpha1-v8'> {
  const root = await rest.request<{ paths?: Record<string, { serverRelativeURL?: string }> }>({ method: 'GET', path: '/openapi/v3', signal });
  const relative = root.paths?.[GROUP_VERSION_PATH]?.serverRelativeURL;
  if (!relative) throw new Error(`the API server's OpenAPI v3 document does not list ${GROUP_VERSION_PATH}`);
  // serverRelativeURL carries a hash query (`?hash=...`) that makes the document cacheable.
  const url = new URL(relative, 'https://api-server.invalid');
  const doc = await rest.request<{ components?: { schemas?: Record<string, OpenApiDefinition> } }>({
    method: 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    signal,
  });
  const schemas = doc.components?.schemas ?? {};
  // Found by the group-version-kind the server tags it with, and by its usual name only as a fallback.
  const content =
    Object.values(schemas).find((d) => (d['x-kubernetes-group-version-kind'] ?? []).some((g) => g.group === GROUP_SNAPSHOT_GROUP && g.version === 'v1alpha1' && g.kind === 'VolumeGroupSnapshotContent')) ??
    schemas[CONTENT_DEFINITION];
  const status = content?.properties?.status?.properties ?? {};
  const v7 = 'volumeSnapshotContentRefList' in status;
  const v8 = 'pvVolumeSnapshotContentList' in status;
  if (v7 !== v8) return v7 ? 'v1alpha1-v7' : 'v1alpha1-v8';
  throw new Error(
    `the served schema of ${CONTENT_DEFINITION} lists ${v7 ? 'both' : 'neither'} volumeSnapshotContentRefList (v7.0) ${v7 ? 'and' : 'nor'} pvVolumeSnapshotContentList (v8.0-v8.1) in its status`,
  );
}

/**
 * The groupsnapshot.storage.k8s.io version (and, for v1alpha1, schema) this run uses, or undefined
 * when group snapshots are off for the run. Discovery names the served versions and the most
 * preferred one the sidecar understands is taken (v1, v1beta2, v1beta1, then v1alpha1, whose schema
 * is read from the served OpenAPI document); one LIST of each kind at that version then proves it
 * can be used (as the Go sidecar's probe does, which also catches missing RBAC). Any failure is one
 * warning and single snapshots are served alone, bounded by `timeoutMs`: group snapshots never stall
 * the rest.
 */
export async function chooseGroupSnapshotVersion(rest: RestClient, timeoutMs: number, log: Logger): Promise<GroupApiMode | undefined> {
  const signal = AbortSignal.timeout(timeoutMs);
  let served: string[] = [];
  try {
    served = await servedGroupSnapshotVersions(rest, signal);
    const version = preferredServedVersion(served);
    if (!version) {
      log.warn(
        'VolumeGroupSnapshot CRDs were not found; disabling the VolumeGroupSnapshot feature for this run. Install the groupsnapshot.storage.k8s.io CRDs and restart to enable it.',
        { served, supported: GROUP_VERSION_PREFERENCE },
      );
      return undefined;
    }
    const mode: GroupApiMode = version === 'v1alpha1' ? await alphaFlavour(rest, signal) : (version as GroupSnapshotVersion);
    const adapter = groupVersionAdapter(mode);
    for (const resource of [volumeGroupSnapshotContents(adapter.version), volumeGroupSnapshotClasses(adapter.version)]) {
      await rest.request({ method: 'GET', path: collectionPath(resource), query: { limit: 1 }, signal });
    }
    const alpha = mode === 'v1alpha1-v7' || mode === 'v1alpha1-v8' ? ALPHA_FLAVOURS[mode] : undefined;
    log.info('Serving VolumeGroupSnapshotContents', {
      version: adapter.apiVersion,
      ...(alpha ? { schema: alpha.schema, membersField: alpha.membersField } : {}),
      served,
    });
    return mode;
  } catch (err) {
    log.warn(
      'VolumeGroupSnapshot CRDs cannot be used; disabling the VolumeGroupSnapshot feature for this run. Install the groupsnapshot.storage.k8s.io CRDs (and RBAC for them) and restart to enable it.',
      { served, error: errorText(err) },
    );
    return undefined;
  }
}
