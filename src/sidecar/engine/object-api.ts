import type { RestClient } from '../../kube/rest.js';
import { objectPath, SECRETS, statusPath, type ResourceDescriptor } from '../../kube/resources.js';
import type { PatchOp } from './patches.js';
import { secretData, type SecretRef } from '../secrets.js';

/** The API operations a content sync needs (single or group); implemented over REST and by tests. */
export interface ObjectApi<T> {
  get(name: string): Promise<T>;
  /** A JSON patch of the object or its status; resolves with the object as stored afterwards. */
  patch(name: string, ops: PatchOp[], subresource?: 'status'): Promise<T>;
  /** A Secret's data, decoded. */
  getSecret(ref: SecretRef): Promise<Record<string, string>>;
}

/**
 * ObjectApi of one cluster-scoped resource over the lossless REST client: JSON patches, Secret
 * reads. `toModel` converts what the server sends into the sync's own shape (the identity for
 * VolumeSnapshotContents; a version adapter for group contents).
 */
export function restObjectApi<T>(client: RestClient, resource: ResourceDescriptor, toModel: (wire: unknown) => T): ObjectApi<T> {
  return {
    get: async (name) => toModel(await client.request<unknown>({ method: 'GET', path: objectPath(resource, name) })),
    patch: async (name: string, ops: PatchOp[], subresource?: 'status') =>
      toModel(
        await client.request<unknown>({
          method: 'PATCH',
          path: subresource === 'status' ? statusPath(resource, name) : objectPath(resource, name),
          body: ops,
          contentType: 'application/json-patch+json',
        }),
      ),
    getSecret: async (ref: SecretRef) => {
      const secret = await client.request<{ data?: Record<string, string> }>({ method: 'GET', path: objectPath(SECRETS, ref.name, ref.namespace) });
      return secretData(secret.data);
    },
  };
}
