/**
 * The API resources the sidecar reads and writes, and the REST paths that address them.
 * Group snapshot resources take their version as an argument because the served version
 * (v1beta1, v1beta2 or v1) is only known after asking the API server at start-up.
 */
export interface ResourceDescriptor {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  kind: string;
}

/** The metadata fields the runtime relies on; everything else passes through untouched. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface KubeList<T extends KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
export const GROUP_SNAPSHOT_GROUP = 'groupsnapshot.storage.k8s.io';

export const VOLUME_SNAPSHOT_CONTENTS: ResourceDescriptor = {
  group: SNAPSHOT_GROUP,
  version: 'v1',
  plural: 'volumesnapshotcontents',
  namespaced: false,
  kind: 'VolumeSnapshotContent',
};

export const VOLUME_SNAPSHOT_CLASSES: ResourceDescriptor = {
  group: SNAPSHOT_GROUP,
  version: 'v1',
  plural: 'volumesnapshotclasses',
  namespaced: false,
  kind: 'VolumeSnapshotClass',
};

/** Written only in the v1alpha1 group snapshot era, when the sidecar created each member VolumeSnapshot. */
export const VOLUME_SNAPSHOTS: ResourceDescriptor = {
  group: SNAPSHOT_GROUP,
  version: 'v1',
  plural: 'volumesnapshots',
  namespaced: true,
  kind: 'VolumeSnapshot',
};

/** Read only in the v1alpha1 (v8.0–8.1 schema) group snapshot mode, to name each member's source volume. */
export const PERSISTENT_VOLUMES: ResourceDescriptor = { group: '', version: 'v1', plural: 'persistentvolumes', namespaced: false, kind: 'PersistentVolume' };

export const SECRETS: ResourceDescriptor = { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' };

export const EVENTS: ResourceDescriptor = { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' };

export const LEASES: ResourceDescriptor = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true, kind: 'Lease' };

export function volumeGroupSnapshotContents(version: string): ResourceDescriptor {
  return { group: GROUP_SNAPSHOT_GROUP, version, plural: 'volumegroupsnapshotcontents', namespaced: false, kind: 'VolumeGroupSnapshotContent' };
}

export function volumeGroupSnapshotClasses(version: string): ResourceDescriptor {
  return { group: GROUP_SNAPSHOT_GROUP, version, plural: 'volumegroupsnapshotclasses', namespaced: false, kind: 'VolumeGroupSnapshotClass' };
}

/** `snapshot.storage.k8s.io/v1`, or `v1` for the core group. */
export function apiVersionOf(resource: ResourceDescriptor): string {
  return resource.group ? `${resource.group}/${resource.version}` : resource.version;
}

function checkScope(resource: ResourceDescriptor, namespace: string | undefined): void {
  if (resource.namespaced && !namespace) throw new Error(`${resource.plural} are namespaced: a namespace is required`);
  if (!resource.namespaced && namespace) throw new Error(`${resource.plural} are cluster-scoped: no namespace may be given (got "${namespace}")`);
}

/**
 * `/apis/<group>/<version>[/namespaces/<ns>]/<plural>`. For a namespaced resource without a
 * namespace this is the all-namespaces collection (list and watch only).
 */
export function collectionPath(resource: ResourceDescriptor, namespace?: string): string {
  if (!resource.namespaced && namespace) checkScope(resource, namespace);
  const root = resource.group ? `/apis/${resource.group}/${resource.version}` : `/api/${resource.version}`;
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${root}${scope}/${resource.plural}`;
}

export function objectPath(resource: ResourceDescriptor, name: string, namespace?: string): string {
  checkScope(resource, namespace);
  if (!name) throw new Error(`a ${resource.kind} name is required`);
  return `${collectionPath(resource, namespace)}/${encodeURIComponent(name)}`;
}

/** The `/status` subresource of one object. */
export function statusPath(resource: ResourceDescriptor, name: string, namespace?: string): string {
  return `${objectPath(resource, name, namespace)}/status`;
}

/** The cache and queue key: `name` for cluster-scoped objects, `namespace/name` otherwise. */
export function objectKey(obj: KubeObject): string {
  const meta = obj.metadata ?? {};
  return meta.namespace ? `${meta.namespace}/${meta.name ?? ''}` : (meta.name ?? '');
}
