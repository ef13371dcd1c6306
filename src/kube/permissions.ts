/**
 * Every API permission the sidecar uses, with the reason it needs it. `doctor` asks the API server
 * about each one (SelfSubjectAccessReview). A fast test holds manifests/ to exactly this list, and the
 * real-cluster suite holds manifests/ to exactly the requests the sidecar makes (audit log), so a
 * new call without its grant, or a grant nothing uses, is noticed.
 */
export type PermissionNeed =
  /** Every run that serves a cluster. */
  | 'always'
  /** Only when group snapshots are served. */
  | 'group-snapshots'
  /** Only with --leader-election; in the lease namespace. */
  | 'leader-election'
  /** Only when a snapshot class names Secrets; in the Secrets' namespaces. */
  | 'secrets'
  /**
   * Only when the cluster serves group snapshots at v1alpha1 alone (CRDs of external-snapshotter
   * v7.0–v8.1), where the sidecar creates the member objects itself.
   */
  | 'group-snapshots-v1alpha1';

export interface Permission {
  group: string;
  resource: string;
  subresource?: string;
  verbs: readonly string[];
  needed: PermissionNeed;
  /** What the sidecar does with it, in the words of a report. */
  why: string;
}

export const SIDECAR_PERMISSIONS: readonly Permission[] = [
  { group: 'snapshot.storage.k8s.io', resource: 'volumesnapshotcontents', verbs: ['get', 'list', 'watch', 'patch'], needed: 'always', why: 'watch the snapshot contents of this driver and set their marks and finalizers' },
  { group: 'snapshot.storage.k8s.io', resource: 'volumesnapshotcontents', subresource: 'status', verbs: ['patch'], needed: 'always', why: 'write snapshotHandle, readyToUse, restoreSize and errors' },
  { group: 'snapshot.storage.k8s.io', resource: 'volumesnapshotclasses', verbs: ['list', 'watch'], needed: 'always', why: 'read the parameters and secrets of snapshot classes' },
  { group: '', resource: 'events', verbs: ['create', 'patch'], needed: 'always', why: 'record Events on the objects it works on' },
  { group: 'groupsnapshot.storage.k8s.io', resource: 'volumegroupsnapshotcontents', verbs: ['get', 'list', 'watch', 'patch'], needed: 'group-snapshots', why: 'watch the group snapshot contents of this driver and set their marks and finalizers' },
  { group: 'groupsnapshot.storage.k8s.io', resource: 'volumegroupsnapshotcontents', subresource: 'status', verbs: ['patch'], needed: 'group-snapshots', why: 'write the group handle, readiness, members and errors' },
  { group: 'groupsnapshot.storage.k8s.io', resource: 'volumegroupsnapshotclasses', verbs: ['list', 'watch'], needed: 'group-snapshots', why: 'read the parameters and secrets of group snapshot classes' },
  { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update'], needed: 'leader-election', why: 'hold the leader lease' },
  { group: '', resource: 'secrets', verbs: ['get'], needed: 'secrets', why: 'read the credentials a snapshot class names' },
  { group: 'snapshot.storage.k8s.io', resource: 'volumesnapshotcontents', verbs: ['create'], needed: 'group-snapshots-v1alpha1', why: 'create the member snapshot contents of a v1alpha1 group' },
  { group: 'snapshot.storage.k8s.io', resource: 'volumesnapshots', verbs: ['get', 'create'], needed: 'group-snapshots-v1alpha1', why: 'create (or find again after a restart) the member snapshots of a v1alpha1 group' },
  { group: '', resource: 'persistentvolumes', verbs: ['list'], needed: 'group-snapshots-v1alpha1', why: 'name the PersistentVolume of each member of a v1alpha1 group (schema of v8.0-v8.1 only)' },
];

/** `resource/subresource` (or the resource alone), as RBAC rules and error messages write it. */
export function resourceText(p: Pick<Permission, 'resource' | 'subresource'>): string {
  return p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
}
