import { CsiConnection } from '../../../src/csi/connection.js';
import { silentLogger } from '../../../src/observe/logger.js';

export interface StorageSnapshot {
  snapshotId: string;
  volumeId: string;
}

/**
 * Every snapshot a driver holds, read with ListSnapshots page by page. The whole list is read and
 * callers filter it: hostpathplugin answers a ListSnapshots filtered by source volume with its first
 * match only.
 */
export async function listStorageSnapshots(socketPath: string): Promise<StorageSnapshot[]> {
  const conn = await CsiConnection.connect({ address: socketPath, log: silentLogger });
  try {
    const found: StorageSnapshot[] = [];
    let token = '';
    do {
      const reply = await conn.call('/csi.v1.Controller/ListSnapshots', { starting_token: token }, new Date(Date.now() + 10_000));
      for (const entry of reply.entries) if (entry.snapshot) found.push({ snapshotId: entry.snapshot.snapshot_id, volumeId: entry.snapshot.source_volume_id });
      token = reply.next_token;
    } while (token !== '');
    return found;
  } finally {
    conn.close();
  }
}
