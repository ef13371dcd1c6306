import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CsiConnection } from '../../src/csi/connection.js';
import type { CsiMethod, RequestOf } from '../../src/csi/methods.js';
import { silentLogger } from '../../src/observe/logger.js';
import { DRIVER_KINDS, RealCluster, type DriverHandle, type DriverKind } from './harness/harness.js';

// The answers the sidecar can see, from both drivers: the same sequence of the CSI calls the sidecar
// makes (and the ones a provisioner makes to restore) goes to csi-sample-driver and to the upstream
// hostpathplugin, and the two transcripts must be equal once ids and times are replaced by names.
// The sample driver is the driver of most of this project's tests; where it answered differently
// from the reference driver, the sidecar was tested against answers no real driver gives.
// Deliberate differences are the last test, pinned so that they stay as documented.

const MIB = 1024 * 1024;
const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE'];

/** Replaces driver-made ids and times by stable names, in order of first appearance. */
class Normaliser {
  private readonly names = new Map<string, string>();
  constructor(private readonly known: Map<string, string>) {}

  value(key: string, v: unknown): unknown {
    if (typeof v === 'string' && /(_id|_ids)$/.test(key) && v !== '') return this.known.get(v) ?? this.name(v, 'id');
    if (key === 'creation_time' && v && typeof v === 'object') return this.name(JSON.stringify(v), 'time');
    return v;
  }

  private name(raw: string, kind: string): string {
    let name = this.names.get(raw);
    if (!name) {
      name = `${kind}-${this.names.size + 1}`;
      this.names.set(raw, name);
    }
    return name;
  }

  /** A reply with ids and times named, empty fields and defaults dropped (as proto3 has no presence). */
  reply(o: unknown, key = ''): unknown {
    if (Array.isArray(o)) return o.map((item) => this.reply(item, key));
    if (o && typeof o === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
        if (v === '' || v === false || v === null || v === '0' || (Array.isArray(v) && v.length === 0)) continue;
        if (k === 'creation_time') out[k] = this.value(k, v);
        else out[k] = typeof v === 'object' ? this.reply(v, k) : this.value(k, v);
      }
      return out;
    }
    return this.value(key, o);
  }
}

interface Step {
  step: string;
  code: string;
  reply?: unknown;
}

/** Runs the fixed sequence against one driver and returns its normalised transcript. */
async function transcript(driver: DriverHandle): Promise<Step[]> {
  const conn = await CsiConnection.connect({ address: driver.socketPath, log: silentLogger });
  const known = new Map<string, string>();
  const norm = new Normaliser(known);
  const steps: Step[] = [];
  const raw: Record<string, Record<string, unknown>> = {};
  const call = async <M extends CsiMethod>(step: string, method: M, request: RequestOf<M>): Promise<Record<string, unknown> | undefined> => {
    try {
      const reply = (await conn.call(method, request, new Date(Date.now() + 30_000))) as unknown as Record<string, unknown>;
      raw[step] = reply;
      steps.push({ step, code: 'OK', reply: norm.reply(reply) });
      return reply;
    } catch (error) {
      const code = (error as { code?: number }).code;
      steps.push({ step, code: GRPC_CODES[code ?? 2] ?? String(code) });
      return undefined;
    }
  };
  const volume = async (name: string, data: string): Promise<string> => {
    const reply = await conn.call(
      '/csi.v1.Controller/CreateVolume',
      { name, capacity_range: { required_bytes: MIB }, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] },
      new Date(Date.now() + 30_000),
    );
    const id = reply.volume?.volume_id as string;
    known.set(id, name);
    await driver.writeVolumeFile(id, 'data.txt', data);
    return id;
  };
  try {
    const a = await volume('volume-a', 'data of a');
    const b = await volume('volume-b', 'data of b, longer');

    const first = await call('CreateSnapshot', '/csi.v1.Controller/CreateSnapshot', { name: 'snap-1', source_volume_id: a });
    const snap = (first?.snapshot as { snapshot_id?: string } | undefined)?.snapshot_id ?? '';
    await call('CreateSnapshot again', '/csi.v1.Controller/CreateSnapshot', { name: 'snap-1', source_volume_id: a });
    await call('CreateSnapshot, same name, other volume', '/csi.v1.Controller/CreateSnapshot', { name: 'snap-1', source_volume_id: b });
    await call('CreateSnapshot of an unknown volume', '/csi.v1.Controller/CreateSnapshot', { name: 'snap-2', source_volume_id: 'no-such-volume' });
    await call('ListSnapshots by id', '/csi.v1.Controller/ListSnapshots', { snapshot_id: snap });
    await call('ListSnapshots by an unknown id', '/csi.v1.Controller/ListSnapshots', { snapshot_id: 'no-such-snapshot' });

    const group = await call('CreateVolumeGroupSnapshot', '/csi.v1.GroupController/CreateVolumeGroupSnapshot', { name: 'group-1', source_volume_ids: [a, b] });
    const made = group?.group_snapshot as { group_snapshot_id: string; snapshots: Array<{ snapshot_id: string; source_volume_id: string }> } | undefined;
    const groupId = made?.group_snapshot_id ?? '';
    const members = (made?.snapshots ?? []).map((s) => s.snapshot_id);
    await call('CreateVolumeGroupSnapshot again', '/csi.v1.GroupController/CreateVolumeGroupSnapshot', { name: 'group-1', source_volume_ids: [a, b] });
    await call('CreateVolumeGroupSnapshot, same name, other volumes', '/csi.v1.GroupController/CreateVolumeGroupSnapshot', { name: 'group-1', source_volume_ids: [a] });
    await call('GetVolumeGroupSnapshot', '/csi.v1.GroupController/GetVolumeGroupSnapshot', { group_snapshot_id: groupId, snapshot_ids: members });
    await call('GetVolumeGroupSnapshot with one member missing', '/csi.v1.GroupController/GetVolumeGroupSnapshot', { group_snapshot_id: groupId, snapshot_ids: members.slice(1) });
    await call('GetVolumeGroupSnapshot of an unknown group', '/csi.v1.GroupController/GetVolumeGroupSnapshot', { group_snapshot_id: 'no-such-group', snapshot_ids: ['x'] });
    await call('ListSnapshots of a member', '/csi.v1.Controller/ListSnapshots', { snapshot_id: members[0] ?? '' });
    await call('DeleteSnapshot of a member', '/csi.v1.Controller/DeleteSnapshot', { snapshot_id: members[0] ?? '' });

    // What a provisioner does with a ready snapshot: a volume of at least its size, with its data.
    const memberSize = (raw.GetVolumeGroupSnapshot?.group_snapshot as { snapshots?: Array<{ size_bytes: string }> } | undefined)?.snapshots?.[0]?.size_bytes ?? '0';
    const restored = await call('CreateVolume from a member, of its size', '/csi.v1.Controller/CreateVolume', {
      name: 'restored-1',
      capacity_range: { required_bytes: memberSize },
      volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
      volume_content_source: { snapshot: { snapshot_id: members[0] ?? '' } },
    });
    // Topology is the provisioner's business (hostpathplugin reports its node), not the sidecar's.
    delete ((steps.at(-1)?.reply as { volume?: Record<string, unknown> } | undefined)?.volume ?? {}).accessible_topology;
    const restoredId = (restored?.volume as { volume_id?: string } | undefined)?.volume_id;
    steps.push({ step: 'data of the restored volume', code: 'OK', reply: restoredId ? await driver.readVolumeFile(restoredId, 'data.txt') : undefined });

    await call('DeleteVolumeGroupSnapshot', '/csi.v1.GroupController/DeleteVolumeGroupSnapshot', { group_snapshot_id: groupId, snapshot_ids: members });
    await call('ListSnapshots of a deleted member', '/csi.v1.Controller/ListSnapshots', { snapshot_id: members[0] ?? '' });
    await call('DeleteVolumeGroupSnapshot again', '/csi.v1.GroupController/DeleteVolumeGroupSnapshot', { group_snapshot_id: groupId, snapshot_ids: members });
    await call('DeleteSnapshot', '/csi.v1.Controller/DeleteSnapshot', { snapshot_id: snap });
    await call('DeleteSnapshot again', '/csi.v1.Controller/DeleteSnapshot', { snapshot_id: snap });
    await call('ListSnapshots by the deleted id', '/csi.v1.Controller/ListSnapshots', { snapshot_id: snap });
    return steps;
  } finally {
    conn.close();
  }
}

/**
 * The answers in which the two drivers differ on purpose, or where hostpathplugin's answer is not
 * one the sidecar relies on (see "Sample driver and hostpathplugin" in test/real-cluster/README.md).
 */
async function differences(driver: DriverHandle): Promise<Record<string, unknown>> {
  const conn = await CsiConnection.connect({ address: driver.socketPath, log: silentLogger });
  const deadline = (): Date => new Date(Date.now() + 30_000);
  const code = async (call: Promise<unknown>): Promise<string> => {
    try {
      await call;
      return 'OK';
    } catch (error) {
      return GRPC_CODES[(error as { code?: number }).code ?? 2] ?? 'UNKNOWN';
    }
  };
  const mount = [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' as const } }];
  try {
    const volume = await conn.call('/csi.v1.Controller/CreateVolume', { name: 'diff-volume', capacity_range: { required_bytes: MIB }, volume_capabilities: mount }, deadline());
    const id = volume.volume?.volume_id as string;
    const snap = await conn.call('/csi.v1.Controller/CreateSnapshot', { name: 'diff-1', source_volume_id: id }, deadline());
    await conn.call('/csi.v1.Controller/CreateSnapshot', { name: 'diff-2', source_volume_id: id }, deadline());
    const bySource = await conn.call('/csi.v1.Controller/ListSnapshots', { source_volume_id: id }, deadline());
    const restore = (name: string, bytes: number) =>
      conn.call(
        '/csi.v1.Controller/CreateVolume',
        { name, capacity_range: { required_bytes: bytes }, volume_capabilities: mount, volume_content_source: { snapshot: { snapshot_id: snap.snapshot?.snapshot_id as string } } },
        deadline(),
      );
    const group = await conn.call('/csi.v1.GroupController/CreateVolumeGroupSnapshot', { name: 'diff-group', source_volume_ids: [id] }, deadline());
    const groupId = group.group_snapshot?.group_snapshot_id as string;
    return {
      'CreateVolume reports topology': (volume.volume?.accessible_topology.length ?? 0) > 0,
      'ListSnapshots by source volume, of two snapshots': bySource.entries.length,
      'restore into a volume smaller than the snapshot': await code(restore('diff-small', MIB - 1)),
      'restore without a capacity': await code(restore('diff-unsized', 0)),
      'CreateVolumeGroupSnapshot again with other parameters': await code(
        conn.call('/csi.v1.GroupController/CreateVolumeGroupSnapshot', { name: 'diff-group', source_volume_ids: [id], parameters: { other: 'yes' } }, deadline()),
      ),
      'CreateSnapshot named <group name>-<volume id>': await conn
        .call('/csi.v1.Controller/CreateSnapshot', { name: `diff-group-${id}`, source_volume_id: id }, deadline())
        .then((r) => (group.group_snapshot?.snapshots.some((m) => m.snapshot_id === r.snapshot?.snapshot_id) ? 'the group member' : 'a new snapshot')),
      'DeleteVolumeGroupSnapshot with a wrong member list': await code(
        conn.call('/csi.v1.GroupController/DeleteVolumeGroupSnapshot', { group_snapshot_id: groupId, snapshot_ids: ['not-a-member'] }, deadline()),
      ),
    };
  } finally {
    conn.close();
  }
}

describe('the answers the sidecar sees: csi-sample-driver against hostpathplugin', () => {
  let cluster: RealCluster;
  const drivers = new Map<DriverKind, DriverHandle>();

  beforeAll(async () => {
    cluster = await RealCluster.connect();
    for (const kind of DRIVER_KINDS) drivers.set(kind, await cluster.startDriver(kind, `answers-${kind}`));
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('the same calls get the same answers, ids and times aside', async () => {
    const sample = await transcript(drivers.get('sample') as DriverHandle);
    const hostpath = await transcript(drivers.get('hostpath') as DriverHandle);
    // Two transcripts of failures would be equal too: the reference driver's must show the flow working.
    expect(hostpath.find((s) => s.step === 'CreateVolumeGroupSnapshot')).toMatchObject({
      code: 'OK',
      reply: { group_snapshot: { ready_to_use: true, snapshots: [{ size_bytes: String(MIB) }, { size_bytes: String(MIB) }] } },
    });
    expect(hostpath.find((s) => s.step === 'data of the restored volume')?.reply).toBe('data of a');
    expect(sample).toEqual(hostpath);
  });

  test('the deliberate differences are the documented ones', async () => {
    const sample = await differences(drivers.get('sample') as DriverHandle);
    const hostpath = await differences(drivers.get('hostpath') as DriverHandle);
    expect({ sample, hostpath }).toEqual({
      sample: {
        'CreateVolume reports topology': false,
        'ListSnapshots by source volume, of two snapshots': 2,
        'restore into a volume smaller than the snapshot': 'OUT_OF_RANGE',
        'restore without a capacity': 'OK',
        'CreateVolumeGroupSnapshot again with other parameters': 'ALREADY_EXISTS',
        'CreateSnapshot named <group name>-<volume id>': 'a new snapshot',
        'DeleteVolumeGroupSnapshot with a wrong member list': 'INVALID_ARGUMENT',
      },
      hostpath: {
        'CreateVolume reports topology': true,
        // Only the first match: a filter by source volume is not how the sidecar finds snapshots.
        'ListSnapshots by source volume, of two snapshots': 1,
        'restore into a volume smaller than the snapshot': 'INVALID_ARGUMENT',
        'restore without a capacity': 'INVALID_ARGUMENT',
        'CreateVolumeGroupSnapshot again with other parameters': 'OK',
        // Its group members are named so, and found by name like any snapshot.
        'CreateSnapshot named <group name>-<volume id>': 'the group member',
        'DeleteVolumeGroupSnapshot with a wrong member list': 'OK',
      },
    });
  });
});
