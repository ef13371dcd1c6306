import type { KubeHttp } from '../kube/http.js';

export interface BoundVolumeRequest {
  namespace: string;
  name: string;
  driverName: string;
  /** CSI volume id already created on the driver. */
  volumeHandle: string;
  sizeBytes: number;
  labels?: Record<string, string>;
}

export interface BoundVolume {
  pvcName: string;
  pvName: string;
  volumeHandle: string;
}

/**
 * Creates a PV for an existing CSI volume and a PVC, and binds them the way the PV controller of
 * kube-controller-manager would (which this harness does not run): PV `claimRef` and PVC
 * `volumeName` pointing at each other, the controller's bind annotations, and both statuses set to
 * Bound. That is all the snapshot-controller looks at before it snapshots a PVC.
 */
export async function createBoundVolume(admin: KubeHttp, request: BoundVolumeRequest): Promise<BoundVolume> {
  const pvName = `pv-${request.namespace}-${request.name}`;
  const storage = String(request.sizeBytes);
  const pvc = await admin.json<{ metadata: { uid: string } }>('POST', `/api/v1/namespaces/${request.namespace}/persistentvolumeclaims`, {
    body: {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: request.name,
        labels: request.labels ?? {},
        annotations: { 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' },
      },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage } },
        storageClassName: '',
        volumeName: pvName,
      },
    },
  });
  await admin.json('POST', '/api/v1/persistentvolumes', {
    body: {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName, annotations: { 'pv.kubernetes.io/bound-by-controller': 'yes' } },
      spec: {
        capacity: { storage },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        volumeMode: 'Filesystem',
        csi: { driver: request.driverName, volumeHandle: request.volumeHandle },
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: request.namespace, name: request.name, uid: pvc.metadata.uid },
      },
    },
  });
  await admin.json('PATCH', `/api/v1/persistentvolumes/${pvName}/status`, {
    contentType: 'application/merge-patch+json',
    body: { status: { phase: 'Bound' } },
  });
  await admin.json('PATCH', `/api/v1/namespaces/${request.namespace}/persistentvolumeclaims/${request.name}/status`, {
    contentType: 'application/merge-patch+json',
    body: { status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage } } },
  });
  return { pvcName: request.name, pvName, volumeHandle: request.volumeHandle };
}
