import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { GroupRecord, SnapshotRecord } from './store.js';

/** What a sample driver's data directory holds, read from disk. */
export interface Inventory {
  snapshots: SnapshotRecord[];
  groups: GroupRecord[];
}

/**
 * Reads the snapshots and groups a data directory holds, without asking the driver: it answers
 * while the driver is down or injecting faults, so a test can audit storage at any moment.
 * state.json is replaced by rename, so a read sees one whole state, never a half-written one.
 */
export async function readInventory(dataDir: string): Promise<Inventory> {
  let text: string;
  try {
    text = await fs.readFile(join(dataDir, 'state.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { snapshots: [], groups: [] };
    throw err;
  }
  const state = JSON.parse(text) as { snapshots: Record<string, SnapshotRecord>; groups: Record<string, GroupRecord> };
  return { snapshots: Object.values(state.snapshots), groups: Object.values(state.groups) };
}
