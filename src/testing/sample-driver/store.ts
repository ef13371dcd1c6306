import { status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Gates } from './gate.js';

/**
 * The sample driver's backend. Layout of the data directory:
 *
 *   state.json          metadata of volumes, snapshots and groups (written to a temp file, then renamed)
 *   volumes/<id>/...    a volume's files
 *   snapshots/<id>/...  a snapshot's point-in-time copy of its volume's files
 *
 * Everything that answers a CSI call comes from state.json, so replies (ids, creation times, sizes)
 * are identical after a restart. Directories that state.json does not know (a copy cut short by a
 * crash) are removed at open.
 */

/** A protobuf Timestamp as the loader represents it (int64 seconds as a decimal string). */
export interface Timestamp {
  seconds: string;
  nanos: number;
}

export interface VolumeRecord {
  id: string;
  name: string;
  capacityBytes: string;
  parameters: Record<string, string>;
  sourceSnapshotId?: string;
  createdAt: Timestamp;
}

export interface SnapshotRecord {
  id: string;
  /** Empty for group members: they are created and found through their group. */
  name: string;
  sourceVolumeId: string;
  parameters: Record<string, string>;
  sizeBytes: string;
  createdAt: Timestamp;
  /** Epoch milliseconds from which the snapshot reports ready_to_use. */
  readyAtMs: number;
  groupId?: string;
}

export interface GroupRecord {
  id: string;
  name: string;
  sourceVolumeIds: string[];
  parameters: Record<string, string>;
  /** Member snapshot ids, in the order of sourceVolumeIds. */
  snapshotIds: string[];
  createdAt: Timestamp;
}

interface State {
  version: 1;
  volumes: Record<string, VolumeRecord>;
  snapshots: Record<string, SnapshotRecord>;
  groups: Record<string, GroupRecord>;
}

/** An error with the gRPC status the driver must answer. */
export class CsiError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

function now(): { ts: Timestamp } {
  const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
  const seconds = ns / 1_000_000_000n;
  const nanos = Number(ns % 1_000_000_000n);
  return { ts: { seconds: seconds.toString(), nanos } };
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** Resolves a client-given relative file path inside `root`, refusing anything that escapes it. */
export function safeJoin(root: string, path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..' || p.includes('\0') || p.includes('\\'))) {
    throw new CsiError(status.INVALID_ARGUMENT, `invalid file path ${JSON.stringify(path)}`);
  }
  const full = join(root, ...parts);
  const rel = relative(root, full);
  if (rel.startsWith('..') || rel.startsWith(sep)) throw new CsiError(status.INVALID_ARGUMENT, 'path escapes the volume');
  return full;
}

/** Copies a directory tree and returns the total bytes of the regular files copied. */
async function copyTree(from: string, to: string): Promise<number> {
  await fs.mkdir(to, { recursive: true });
  let total = 0;
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory()) total += await copyTree(src, dst);
    else if (entry.isFile()) {
      await fs.copyFile(src, dst, fsc.COPYFILE_FICLONE);
      total += (await fs.stat(dst)).size;
    }
  }
  return total;
}

export class Store {
  private state: State = { version: 1, volumes: {}, snapshots: {}, groups: {} };
  private readonly gates = new Gates();
  /** Names whose create is running now; a second create of the same name answers ABORTED. */
  private readonly pending = new Set<string>();
  private saving: Promise<void> = Promise.resolve();

  private constructor(readonly dataDir: string) {}

  static async open(dataDir: string): Promise<Store> {
    const store = new Store(dataDir);
    await store.load();
    return store;
  }

  private get statePath(): string {
    return join(this.dataDir, 'state.json');
  }

  private volumeDir(id: string): string {
    return join(this.dataDir, 'volumes', id);
  }

  private snapshotDir(id: string): string {
    return join(this.dataDir, 'snapshots', id);
  }

  private async load(): Promise<void> {
    await fs.mkdir(join(this.dataDir, 'volumes'), { recursive: true });
    await fs.mkdir(join(this.dataDir, 'snapshots'), { recursive: true });
    try {
      const parsed = JSON.parse(await fs.readFile(this.statePath, 'utf8')) as State;
      if (parsed.version !== 1) throw new Error(`unsupported state version ${String(parsed.version)}`);
      this.state = parsed;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // Remove leftovers of work a crash cut short: temp files and directories no record owns.
    for (const [kind, known] of [
      ['volumes', this.state.volumes],
      ['snapshots', this.state.snapshots],
    ] as const) {
      for (const name of await fs.readdir(join(this.dataDir, kind))) {
        if (!Object.hasOwn(known, name)) await fs.rm(join(this.dataDir, kind, name), { recursive: true, force: true });
      }
    }
    for (const name of await fs.readdir(this.dataDir)) {
      if (name.startsWith('state.json.tmp')) await fs.rm(join(this.dataDir, name), { force: true });
    }
  }

  /** Writes state.json atomically; calls are serialised so an older state never overwrites a newer one. */
  private save(): Promise<void> {
    const write = async (): Promise<void> => {
      const tmp = `${this.statePath}.tmp-${process.pid}`;
      const handle = await fs.open(tmp, 'w');
      try {
        await handle.writeFile(JSON.stringify(this.state));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, this.statePath);
    };
    this.saving = this.saving.then(write, write);
    return this.saving;
  }

  /** Runs a create under its name's pending marker: a concurrent create of the same name answers ABORTED. */
  private async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.pending.has(key)) throw new CsiError(status.ABORTED, `an operation for ${key} is already pending`);
    this.pending.add(key);
    try {
      return await fn();
    } finally {
      this.pending.delete(key);
    }
  }

  // ------------------------------------------------------------------ volumes

  volume(id: string): VolumeRecord | undefined {
    return this.state.volumes[id];
  }

  async createVolume(input: {
    name: string;
    capacityBytes: bigint;
    parameters: Record<string, string>;
    sourceSnapshotId?: string;
  }): Promise<VolumeRecord> {
    const existing = Object.values(this.state.volumes).find((v) => v.name === input.name);
    if (existing) {
      if (existing.sourceSnapshotId !== input.sourceSnapshotId || !sameMap(existing.parameters, input.parameters)) {
        throw new CsiError(status.ALREADY_EXISTS, `volume ${input.name} exists with another source or parameters`);
      }
      if (input.capacityBytes > 0n && BigInt(existing.capacityBytes) < input.capacityBytes) {
        throw new CsiError(status.ALREADY_EXISTS, `volume ${input.name} exists with a smaller capacity`);
      }
      return existing;
    }
    return this.exclusive(`volume name ${input.name}`, async () => {
      let capacity = input.capacityBytes;
      const snapshot = input.sourceSnapshotId !== undefined ? this.state.snapshots[input.sourceSnapshotId] : undefined;
      if (input.sourceSnapshotId !== undefined && !snapshot) {
        throw new CsiError(status.NOT_FOUND, `snapshot ${input.sourceSnapshotId} not found`);
      }
      if (snapshot) {
        if (capacity > 0n && capacity < BigInt(snapshot.sizeBytes)) {
          throw new CsiError(status.OUT_OF_RANGE, `snapshot ${snapshot.id} needs ${snapshot.sizeBytes} bytes, more than the requested capacity`);
        }
        if (capacity === 0n) capacity = BigInt(snapshot.sizeBytes);
      }
      const id = `vol-${randomUUID()}`;
      const dir = this.volumeDir(id);
      if (snapshot) await copyTree(this.snapshotDir(snapshot.id), dir);
      else await fs.mkdir(dir, { recursive: true });
      const record: VolumeRecord = {
        id,
        name: input.name,
        capacityBytes: capacity.toString(),
        parameters: input.parameters,
        createdAt: now().ts,
        ...(snapshot ? { sourceSnapshotId: snapshot.id } : {}),
      };
      this.state.volumes[id] = record;
      await this.save();
      return record;
    });
  }

  async deleteVolume(id: string): Promise<void> {
    if (!this.state.volumes[id]) return;
    const reopen = await this.gates.closeAll([id]);
    try {
      delete this.state.volumes[id];
      await this.save();
      await fs.rm(this.volumeDir(id), { recursive: true, force: true });
    } finally {
      reopen();
    }
  }

  /** Writes one file of a volume through the volume's gate (held while a snapshot is being cut). */
  async writeVolumeFile(id: string, path: string, content: Buffer): Promise<void> {
    if (!this.state.volumes[id]) throw new CsiError(status.NOT_FOUND, `volume ${id} not found`);
    const leave = await this.gates.get(id).enterWrite();
    try {
      if (!this.state.volumes[id]) throw new CsiError(status.NOT_FOUND, `volume ${id} not found`);
      const file = safeJoin(this.volumeDir(id), path);
      await fs.mkdir(dirname(file), { recursive: true });
      await fs.writeFile(file, content);
    } finally {
      leave();
    }
  }

  async readVolumeFile(id: string, path: string): Promise<Buffer> {
    if (!this.state.volumes[id]) throw new CsiError(status.NOT_FOUND, `volume ${id} not found`);
    return readOrNotFound(safeJoin(this.volumeDir(id), path));
  }

  async readSnapshotFile(id: string, path: string): Promise<Buffer> {
    if (!this.state.snapshots[id]) throw new CsiError(status.NOT_FOUND, `snapshot ${id} not found`);
    return readOrNotFound(safeJoin(this.snapshotDir(id), path));
  }

  // ------------------------------------------------------------------ snapshots

  snapshot(id: string): SnapshotRecord | undefined {
    return this.state.snapshots[id];
  }

  /** All snapshots in listing order: creation time, then id. */
  snapshots(): SnapshotRecord[] {
    return Object.values(this.state.snapshots).sort((a, b) => compareKeys(listKey(a), listKey(b)));
  }

  async createSnapshot(input: {
    name: string;
    sourceVolumeId: string;
    parameters: Record<string, string>;
    readyDelayMs: number;
  }): Promise<SnapshotRecord> {
    const existing = Object.values(this.state.snapshots).find((s) => s.name === input.name && !s.groupId);
    if (existing) {
      if (existing.sourceVolumeId !== input.sourceVolumeId) {
        throw new CsiError(
          status.ALREADY_EXISTS,
          `snapshot ${input.name} exists with source volume ${existing.sourceVolumeId}, not ${input.sourceVolumeId}`,
        );
      }
      return existing;
    }
    return this.exclusive(`snapshot name ${input.name}`, async () => {
      if (!this.state.volumes[input.sourceVolumeId]) {
        throw new CsiError(status.NOT_FOUND, `source volume ${input.sourceVolumeId} not found`);
      }
      const [record] = await this.cut([input.sourceVolumeId], input.readyDelayMs, (volumeId) => ({
        name: input.name,
        sourceVolumeId: volumeId,
        parameters: input.parameters,
      }));
      await this.save();
      return record as SnapshotRecord;
    });
  }

  /**
   * Cuts one snapshot per volume while the gates of all of them are closed, so the copies are
   * mutually consistent. Records are added to the state (not yet saved).
   */
  private async cut(
    volumeIds: string[],
    readyDelayMs: number,
    describe: (volumeId: string) => Pick<SnapshotRecord, 'name' | 'sourceVolumeId' | 'parameters' | 'groupId'>,
  ): Promise<SnapshotRecord[]> {
    const reopen = await this.gates.closeAll(volumeIds);
    const made: SnapshotRecord[] = [];
    try {
      const when = now();
      // Readiness is judged by the wall clock (Date.now()), so it is timed by the wall clock too:
      // the creation time's clock (timeOrigin + performance.now()) can run a millisecond or more
      // ahead of it, and a snapshot made without a delay then answered not ready at first.
      const readyAtMs = Date.now() + readyDelayMs;
      for (const volumeId of volumeIds) {
        if (!this.state.volumes[volumeId]) throw new CsiError(status.NOT_FOUND, `source volume ${volumeId} not found`);
        const id = `snap-${randomUUID()}`;
        const copied = await copyTree(this.volumeDir(volumeId), this.snapshotDir(id));
        // A snapshot's size is what a restore needs: its volume's capacity, as hostpathplugin (the
        // upstream reference driver) reports it. A volume made without a capacity has none; then
        // it is the bytes the copy holds.
        const capacity = BigInt(this.state.volumes[volumeId]?.capacityBytes ?? '0');
        const size = capacity > 0n ? capacity : BigInt(copied);
        made.push({ id, ...describe(volumeId), sizeBytes: size.toString(), createdAt: when.ts, readyAtMs });
      }
    } catch (err) {
      await Promise.all(made.map((s) => fs.rm(this.snapshotDir(s.id), { recursive: true, force: true })));
      throw err;
    } finally {
      reopen();
    }
    for (const record of made) this.state.snapshots[record.id] = record;
    return made;
  }

  async deleteSnapshot(id: string): Promise<void> {
    const record = this.state.snapshots[id];
    if (!record) return;
    if (record.groupId) {
      throw new CsiError(
        status.INVALID_ARGUMENT,
        `snapshot ${id} belongs to group snapshot ${record.groupId}; delete the group snapshot instead`,
      );
    }
    delete this.state.snapshots[id];
    await this.save();
    await fs.rm(this.snapshotDir(id), { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ group snapshots

  group(id: string): GroupRecord | undefined {
    return this.state.groups[id];
  }

  async createGroup(input: {
    name: string;
    sourceVolumeIds: string[];
    parameters: Record<string, string>;
    readyDelayMs: number;
  }): Promise<GroupRecord> {
    const existing = Object.values(this.state.groups).find((g) => g.name === input.name);
    if (existing) {
      const wanted = [...input.sourceVolumeIds].sort();
      const sameSources =
        existing.sourceVolumeIds.length === wanted.length && [...existing.sourceVolumeIds].sort().every((v, i) => v === wanted[i]);
      if (!sameSources || !sameMap(existing.parameters, input.parameters)) {
        throw new CsiError(status.ALREADY_EXISTS, `group snapshot ${input.name} exists with other source volumes or parameters`);
      }
      return existing;
    }
    return this.exclusive(`group snapshot name ${input.name}`, async () => {
      for (const volumeId of input.sourceVolumeIds) {
        if (!this.state.volumes[volumeId]) throw new CsiError(status.NOT_FOUND, `source volume ${volumeId} not found`);
      }
      const id = `group-${randomUUID()}`;
      const members = await this.cut(input.sourceVolumeIds, input.readyDelayMs, (volumeId) => ({
        name: '',
        sourceVolumeId: volumeId,
        parameters: input.parameters,
        groupId: id,
      }));
      const record: GroupRecord = {
        id,
        name: input.name,
        sourceVolumeIds: input.sourceVolumeIds,
        parameters: input.parameters,
        snapshotIds: members.map((m) => m.id),
        createdAt: members[0]?.createdAt ?? now().ts,
      };
      this.state.groups[id] = record;
      await this.save();
      return record;
    });
  }

  async deleteGroup(id: string): Promise<void> {
    const record = this.state.groups[id];
    if (!record) return;
    delete this.state.groups[id];
    for (const snapshotId of record.snapshotIds) delete this.state.snapshots[snapshotId];
    await this.save();
    await Promise.all(record.snapshotIds.map((s) => fs.rm(this.snapshotDir(s), { recursive: true, force: true })));
  }
}

async function readOrNotFound(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') throw new CsiError(status.NOT_FOUND, 'file not found');
    throw err;
  }
}

/** Sort key of a snapshot in ListSnapshots order; also what a page token encodes. */
export type ListKey = [seconds: bigint, nanos: number, id: string];

export function listKey(s: SnapshotRecord): ListKey {
  return [BigInt(s.createdAt.seconds), s.createdAt.nanos, s.id];
}

export function compareKeys(a: ListKey, b: ListKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] - b[1];
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}
