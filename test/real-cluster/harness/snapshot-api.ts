import type { KubeHttp } from '../kube/http.js';
import { pollUntil } from './wait.js';

/** Small typed view of the snapshot objects the suites look at. */
export interface KubeObject {
  metadata: { name: string; namespace?: string; uid: string; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string; uid: string }[]; finalizers?: string[] };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { readyToUse?: boolean; error?: { message?: string } };
}

export const SNAPSHOT_API = '/apis/snapshot.storage.k8s.io/v1';
export const GROUP_SNAPSHOT_API = '/apis/groupsnapshot.storage.k8s.io/v1';

export async function createSnapshotClass(admin: KubeHttp, name: string, driver: string): Promise<void> {
  await admin.json('POST', `${SNAPSHOT_API}/volumesnapshotclasses`, {
    body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name }, driver, deletionPolicy: 'Delete' },
  });
}

export async function createGroupSnapshotClass(admin: KubeHttp, name: string, driver: string): Promise<void> {
  await admin.json('POST', `${GROUP_SNAPSHOT_API}/volumegroupsnapshotclasses`, {
    body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1', kind: 'VolumeGroupSnapshotClass', metadata: { name }, driver, deletionPolicy: 'Delete' },
  });
}

/** GETs an object, undefined when it does not exist (404). */
export async function getObject(admin: KubeHttp, path: string): Promise<KubeObject | undefined> {
  const response = await admin.request('GET', path);
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET ${path} -> ${response.status}: ${response.body}`);
  return JSON.parse(response.body) as KubeObject;
}

export async function listObjects(admin: KubeHttp, path: string): Promise<KubeObject[]> {
  return (await admin.json<{ items: KubeObject[] }>('GET', path)).items;
}

/**
 * Waits until the object at `path` exists with `status.readyToUse: true`. A status error is
 * reported in the timeout message, since it usually says why (RBAC, driver, controller).
 */
export async function waitForReady(admin: KubeHttp, path: string, timeoutMs: number, diagnostics?: () => string): Promise<KubeObject> {
  let last: KubeObject | undefined;
  return pollUntil(
    async () => {
      last = await getObject(admin, path);
      return last?.status?.readyToUse === true ? last : undefined;
    },
    { description: `${path} to become readyToUse`, timeoutMs, intervalMs: 250, diagnostics: () => `last seen: ${JSON.stringify(last?.status)}\n${diagnostics?.() ?? ''}` },
  );
}

/**
 * Waits until the object at `path` carries `finalizer`. The snapshot-controller adds its
 * bound-protection finalizers only after the object turned ready; a VolumeGroupSnapshot deleted
 * before that (it has no other finalizer) vanishes at once and its content is left behind, so a
 * test deletes only after this.
 */
export async function waitForFinalizer(admin: KubeHttp, path: string, finalizer: string, timeoutMs: number, diagnostics?: () => string): Promise<KubeObject> {
  return pollUntil(
    async () => {
      const object = await getObject(admin, path);
      return object?.metadata.finalizers?.includes(finalizer) ? object : undefined;
    },
    { description: `${path} to carry the finalizer ${finalizer}`, timeoutMs, intervalMs: 250, diagnostics },
  );
}

export const SNAPSHOT_BOUND_FINALIZER = 'snapshot.storage.kubernetes.io/volumesnapshot-bound-protection';
export const GROUP_SNAPSHOT_BOUND_FINALIZER = 'groupsnapshot.storage.kubernetes.io/volumegroupsnapshot-bound-protection';

export async function waitForGone(admin: KubeHttp, path: string, timeoutMs: number, diagnostics?: () => string): Promise<void> {
  await pollUntil(async () => ((await getObject(admin, path)) === undefined ? true : undefined), {
    description: `${path} to be deleted`,
    timeoutMs,
    intervalMs: 250,
    diagnostics,
  });
}
