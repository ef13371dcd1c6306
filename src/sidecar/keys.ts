/** Annotation, finalizer and label keys shared with the snapshot-controller; exact strings matter. */
export const ANN_BEING_CREATED = 'snapshot.storage.kubernetes.io/volumesnapshot-being-created';
export const ANN_BEING_DELETED = 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted';
export const ANN_DELETION_SECRET_NAME = 'snapshot.storage.kubernetes.io/deletion-secret-name';
export const ANN_DELETION_SECRET_NAMESPACE = 'snapshot.storage.kubernetes.io/deletion-secret-namespace';
/** Marks a content as a member of a group snapshot; only its presence matters. */
export const ANN_GROUP_MEMBER = 'groupsnapshot.storage.k8s.io/volumeGroupSnapshotHandle';

export const ANN_GROUP_BEING_CREATED = 'groupsnapshot.storage.kubernetes.io/volumegroupsnapshot-being-created';
export const ANN_GROUP_BEING_DELETED = 'groupsnapshot.storage.kubernetes.io/volumegroupsnapshot-being-deleted';
export const ANN_GROUP_DELETION_SECRET_NAME = 'groupsnapshot.storage.kubernetes.io/deletion-secret-name';
export const ANN_GROUP_DELETION_SECRET_NAMESPACE = 'groupsnapshot.storage.kubernetes.io/deletion-secret-namespace';

/** On member VolumeSnapshots: one member cannot be deleted while its group exists. */
export const FINALIZER_IN_GROUP = 'snapshot.storage.kubernetes.io/volumesnapshot-in-group-protection';
/** v1alpha1 member VolumeSnapshots carry their group's name under this plain key (as the Go sidecar wrote it). */
export const LABEL_GROUP_NAME = 'volumeGroupSnapshotName';
export const FINALIZER_CONTENT = 'snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection';
export const FINALIZER_GROUP_CONTENT = 'groupsnapshot.storage.kubernetes.io/volumegroupsnapshotcontent-bound-protection';

/**
 * This project's own annotation, read by no other controller: on a v1alpha1 group content, the
 * storage snapshot id of each member by source volume (a JSON object), written before the first
 * member object is created. Deleting the group needs every id, also when the member contents that
 * hold them were deleted first.
 */
export const ANN_MEMBER_SNAPSHOT_IDS = 'csi-snapshotter-ts/member-snapshot-ids';

export const LABEL_MANAGED_BY = 'snapshot.storage.kubernetes.io/managed-by';

/** Class parameters with this prefix are reserved for Kubernetes and never passed to the driver. */
export const RESERVED_PREFIX = 'csi.storage.k8s.io/';
