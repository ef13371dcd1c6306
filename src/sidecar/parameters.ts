import { RESERVED_PREFIX } from './keys.js';

/** Reserved keys that name secrets; they configure Kubernetes and are removed before the driver sees them. */
const SECRET_PARAMETER_KEYS = new Set([
  'csi.storage.k8s.io/snapshotter-secret-name',
  'csi.storage.k8s.io/snapshotter-secret-namespace',
  'csi.storage.k8s.io/snapshotter-list-secret-name',
  'csi.storage.k8s.io/snapshotter-list-secret-namespace',
  'csi.storage.k8s.io/group-snapshotter-secret-name',
  'csi.storage.k8s.io/group-snapshotter-secret-namespace',
  'csi.storage.k8s.io/group-snapshotter-get-secret-name',
  'csi.storage.k8s.io/group-snapshotter-get-secret-namespace',
]);

/**
 * The class parameters a create call passes to the driver: everything outside the reserved prefix
 * unchanged, the secret keys removed, and any other reserved key refused (it is a typo or a key only
 * the sidecar may set, and passing it on would be wrong either way).
 */
export function driverParameters(classParameters: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(classParameters ?? {})) {
    if (!key.startsWith(RESERVED_PREFIX)) out[key] = value;
    else if (!SECRET_PARAMETER_KEYS.has(key)) throw new Error(`found unknown parameter key "${key}" with reserved namespace ${RESERVED_PREFIX}`);
  }
  return out;
}

/** The --extra-create-metadata parameters of CreateSnapshot. */
export function snapshotMetadataParameters(vsName: string, vsNamespace: string, contentName: string): Record<string, string> {
  return {
    'csi.storage.k8s.io/volumesnapshot/name': vsName,
    'csi.storage.k8s.io/volumesnapshot/namespace': vsNamespace,
    'csi.storage.k8s.io/volumesnapshotcontent/name': contentName,
  };
}

/** The --extra-create-metadata parameters of CreateVolumeGroupSnapshot. */
export function groupMetadataParameters(vgsName: string, vgsNamespace: string, contentName: string): Record<string, string> {
  return {
    'csi.storage.k8s.io/volumegroupsnapshot/name': vgsName,
    'csi.storage.k8s.io/volumegroupsnapshot/namespace': vgsNamespace,
    'csi.storage.k8s.io/volumegroupsnapshotcontent/name': contentName,
  };
}
