import type { RestClient } from '../kube/rest.js';
import { objectPath, SECRETS, statusPath, VOLUME_SNAPSHOT_CONTENTS } from '../kube/resources.js';
import type { ContentApi } from './content-sync.js';
import type { PatchOp } from './patches.js';
import { secretData, type SecretRef } from './secrets.js';
import type { VolumeSnapshotContent } from './types.js';

/** ContentApi over the lossless REST client: JSON patches of VolumeSnapshotContents, Secret reads. */
export function restContentApi(client: RestClient): ContentApi {
  return {
    get: (name) => client.request<VolumeSnapshotContent>({ method: 'GET', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, name) }),
    patch: (name: string, ops: PatchOp[], subresource?: 'status') =>
      client.request<VolumeSnapshotContent>({
        method: 'PATCH',
        path: subresource === 'status' ? statusPath(VOLUME_SNAPSHOT_CONTENTS, name) : objectPath(VOLUME_SNAPSHOT_CONTENTS, name),
        body: ops,
        contentType: 'application/json-patch+json',
      }),
    getSecret: async (ref: SecretRef) => {
      const secret = await client.request<{ data?: Record<string, string> }>({ method: 'GET', path: objectPath(SECRETS, ref.name, ref.namespace) });
      return secretData(secret.data);
    },
  };
}
