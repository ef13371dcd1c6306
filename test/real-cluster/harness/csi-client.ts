import * as grpc from '@grpc/grpc-js';
import { csiGrpc } from '../../../src/csi/proto.js';

export interface StorageSnapshot {
  snapshotId: string;
  volumeId: string;
}

/** Just enough of a CSI client to prepare test volumes on a driver, like an external-provisioner would. */
export class CsiTestClient {
  private readonly identity: grpc.Client & Record<string, unknown>;
  private readonly controller: grpc.Client & Record<string, unknown>;

  constructor(readonly socketPath: string) {
    const csi = csiGrpc().csi.v1;
    const target = `unix://${socketPath}`;
    this.identity = new csi.Identity(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, unknown>;
    this.controller = new csi.Controller(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, unknown>;
  }

  private call<T>(client: grpc.Client & Record<string, unknown>, method: string, request: object): Promise<T> {
    return new Promise((resolve, reject) => {
      const fn = client[method] as (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: T) => void) => void;
      fn.call(client, request, { deadline: Date.now() + 30_000 }, (error, response) => (error ? reject(error) : resolve(response)));
    });
  }

  async driverName(): Promise<string> {
    const info = await this.call<{ name: string }>(this.identity, 'GetPluginInfo', {});
    return info.name;
  }

  /** CreateVolume of a mounted single-node-writer volume; returns the volume id (the PV's volumeHandle). */
  async createVolume(name: string, sizeBytes: number): Promise<string> {
    const response = await this.call<{ volume: { volume_id: string } }>(this.controller, 'CreateVolume', {
      name,
      capacity_range: { required_bytes: String(sizeBytes) },
      volume_capabilities: [{ mount: { fs_type: '', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
    });
    return response.volume.volume_id;
  }

  /**
   * Every snapshot the driver holds, read page by page. The whole list is read and callers filter
   * it: hostpathplugin answers a ListSnapshots filtered by source volume with its first match only.
   */
  async snapshots(): Promise<StorageSnapshot[]> {
    const found: StorageSnapshot[] = [];
    let token = '';
    do {
      const reply = await this.call<{ entries: Array<{ snapshot?: { snapshot_id: string; source_volume_id: string } }>; next_token: string }>(this.controller, 'ListSnapshots', { starting_token: token });
      for (const entry of reply.entries) if (entry.snapshot) found.push({ snapshotId: entry.snapshot.snapshot_id, volumeId: entry.snapshot.source_volume_id });
      token = reply.next_token;
    } while (token !== '');
    return found;
  }

  /** The driver's snapshots of one volume. */
  async snapshotsOf(volumeId: string): Promise<string[]> {
    return (await this.snapshots()).filter((s) => s.volumeId === volumeId).map((s) => s.snapshotId);
  }

  close(): void {
    this.identity.close();
    this.controller.close();
  }
}
