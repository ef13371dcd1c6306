import * as grpc from '@grpc/grpc-js';
import { csiGrpc, type csi } from '../../csi/proto.js';
import type { Logger } from '../../observe/logger.js';
import { FaultState, statusName } from './faults.js';
import type { Journal } from './journal.js';
import { compareKeys, CsiError, listKey, type GroupRecord, type ListKey, type SnapshotRecord, type Store } from './store.js';

/** What the CSI services need from the rest of the driver. */
export interface ServiceContext {
  store: Store;
  faults: FaultState;
  journal: Journal;
  logger: Logger;
  driverName: string;
  vendorVersion: string;
  nodeId: string;
  /** Called when the exitAfterCalls fault fires; must not return (the bin kills its own process). */
  crash: () => void;
}

type Request = Record<string, unknown>;
type Implementation = (request: Request) => Promise<object> | object;

/** Request fields that identify objects; the only request content ever logged (never secrets). */
const ID_FIELDS = ['name', 'volume_id', 'snapshot_id', 'source_volume_id', 'source_volume_ids', 'group_snapshot_id', 'snapshot_ids'];

function idsOf(request: Request): Record<string, unknown> {
  const ids: Record<string, unknown> = {};
  for (const key of ID_FIELDS) {
    const value = request[key];
    if ((typeof value === 'string' && value !== '') || (Array.isArray(value) && value.length > 0)) ids[key] = value;
  }
  return ids;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function invalid(message: string): CsiError {
  return new CsiError(grpc.status.INVALID_ARGUMENT, message);
}

/** A CSI object name: required, and free of the control characters the spec forbids. */
function requireName(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(`${what} is required`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(value)) throw invalid(`${what} contains control characters`);
  return value;
}

function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(`${what} is required`);
  return value;
}

function requireIds(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid(`${what} is required`);
  if (value.some((v) => typeof v !== 'string' || v === '')) throw invalid(`${what} must not contain empty ids`);
  if (new Set(value).size !== value.length) throw invalid(`${what} must not contain duplicates`);
  return value as string[];
}

function stringMap(value: unknown): Record<string, string> {
  return { ...((value ?? {}) as Record<string, string>) };
}

function validateCapabilities(value: unknown): csi.VolumeCapability__Output[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('volume_capabilities is required');
  for (const cap of value as csi.VolumeCapability__Output[]) {
    if (!cap.access_type) throw invalid('every volume capability needs an access type (block or mount)');
    if (!cap.access_mode) throw invalid('every volume capability needs an access mode');
  }
  return value as csi.VolumeCapability__Output[];
}

function sameIdSet(a: string[], b: string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((id) => sa.has(id));
}

function encodeToken(key: ListKey): string {
  return Buffer.from(JSON.stringify([key[0].toString(), key[1], key[2]])).toString('base64url');
}

function decodeToken(token: string): ListKey {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 3 &&
      typeof parsed[0] === 'string' &&
      /^\d+$/.test(parsed[0]) &&
      Number.isInteger(parsed[1]) &&
      typeof parsed[2] === 'string'
    ) {
      return [BigInt(parsed[0]), parsed[1] as number, parsed[2]];
    }
  } catch {
    // falls through to ABORTED
  }
  throw new CsiError(grpc.status.ABORTED, `invalid starting_token ${JSON.stringify(token)}; restart the listing`);
}

export function snapshotReply(s: SnapshotRecord): csi.Snapshot {
  return {
    size_bytes: s.sizeBytes,
    snapshot_id: s.id,
    source_volume_id: s.sourceVolumeId,
    creation_time: s.createdAt,
    ready_to_use: Date.now() >= s.readyAtMs,
    group_snapshot_id: s.groupId ?? '',
  };
}

/** Builds the Identity, Controller and GroupController implementations over the store. */
export function csiImplementations(ctx: ServiceContext): Record<'Identity' | 'Controller' | 'GroupController' | 'Node', Record<string, Implementation>> {
  const { store, faults } = ctx;

  const groupReply = (g: GroupRecord): csi.VolumeGroupSnapshot => {
    const snapshots = g.snapshotIds.map((id) => {
      const member = store.snapshot(id);
      if (!member) throw new CsiError(grpc.status.INTERNAL, `member snapshot ${id} of group ${g.id} is missing`);
      return snapshotReply(member);
    });
    return {
      group_snapshot_id: g.id,
      snapshots,
      creation_time: g.createdAt,
      ready_to_use: snapshots.every((s) => s.ready_to_use),
    };
  };

  const rpcCaps = <T extends string>(all: T[], withheld: Set<string>) =>
    all.filter((type) => !withheld.has(type)).map((type) => ({ rpc: { type } }));

  return {
    Identity: {
      GetPluginInfo: () => ({ name: ctx.driverName, vendor_version: ctx.vendorVersion, manifest: { node_id: ctx.nodeId } }),
      GetPluginCapabilities: () => {
        const withheld = faults.withheld('plugin');
        return {
          capabilities: (['CONTROLLER_SERVICE', 'GROUP_CONTROLLER_SERVICE'] as const)
            .filter((type) => !withheld.has(type))
            .map((type) => ({ service: { type } })),
        };
      },
      Probe: () => (faults.takeProbeNotReady() ? { ready: { value: false } } : {}),
    },

    Controller: {
      ControllerGetCapabilities: () => ({
        capabilities: rpcCaps(['CREATE_DELETE_VOLUME', 'CREATE_DELETE_SNAPSHOT', 'LIST_SNAPSHOTS'], faults.withheld('controller')),
      }),

      CreateVolume: async (req) => {
        const name = requireName(req.name, 'name');
        validateCapabilities(req.volume_capabilities);
        const range = req.capacity_range as csi.CapacityRange__Output | null;
        const required = BigInt(range?.required_bytes ?? 0);
        const limit = BigInt(range?.limit_bytes ?? 0);
        if (required < 0n || limit < 0n) throw invalid('capacity_range must not be negative');
        if (limit > 0n && limit < required) throw invalid('capacity_range.limit_bytes is below required_bytes');
        const source = req.volume_content_source as csi.VolumeContentSource__Output | null;
        let sourceSnapshotId: string | undefined;
        if (source?.type === 'snapshot') sourceSnapshotId = requireString(source.snapshot?.snapshot_id, 'volume_content_source.snapshot.snapshot_id');
        else if (source?.type === 'volume') throw invalid('cloning volumes is not supported (no CLONE_VOLUME capability)');
        const volume = await store.createVolume({ name, capacityBytes: required, parameters: stringMap(req.parameters), sourceSnapshotId });
        return {
          volume: {
            volume_id: volume.id,
            capacity_bytes: volume.capacityBytes,
            volume_context: {},
            content_source: volume.sourceSnapshotId ? { snapshot: { snapshot_id: volume.sourceSnapshotId } } : null,
          },
        };
      },

      DeleteVolume: async (req) => {
        await store.deleteVolume(requireString(req.volume_id, 'volume_id'));
        return {};
      },

      ValidateVolumeCapabilities: (req) => {
        const id = requireString(req.volume_id, 'volume_id');
        const caps = validateCapabilities(req.volume_capabilities);
        if (!store.volume(id)) throw new CsiError(grpc.status.NOT_FOUND, `volume ${id} not found`);
        return {
          confirmed: { volume_context: stringMap(req.volume_context), volume_capabilities: caps, parameters: stringMap(req.parameters) },
        };
      },

      CreateSnapshot: async (req) => {
        const sourceVolumeId = requireString(req.source_volume_id, 'source_volume_id');
        const name = requireName(req.name, 'name');
        const snapshot = await store.createSnapshot({
          name,
          sourceVolumeId,
          parameters: stringMap(req.parameters),
          readyDelayMs: faults.drawReadyDelayMs(),
        });
        return { snapshot: faults.answerSnapshot(snapshotReply(snapshot), 'CreateSnapshot') };
      },

      DeleteSnapshot: async (req) => {
        await store.deleteSnapshot(requireString(req.snapshot_id, 'snapshot_id'));
        return {};
      },

      ListSnapshots: (req) => {
        const max = Number(req.max_entries ?? 0);
        if (max < 0) throw invalid('max_entries must not be negative');
        let rest = store.snapshots();
        if (req.snapshot_id) rest = rest.filter((s) => s.id === req.snapshot_id);
        if (req.source_volume_id) rest = rest.filter((s) => s.sourceVolumeId === req.source_volume_id);
        if (req.starting_token) {
          const after = decodeToken(String(req.starting_token));
          rest = rest.filter((s) => compareKeys(listKey(s), after) > 0);
        }
        const page = max > 0 ? rest.slice(0, max) : rest;
        const last = page.at(-1);
        return {
          entries: page.map((s) => ({ snapshot: faults.answerSnapshot(snapshotReply(s), 'ListSnapshots') })),
          next_token: last && page.length < rest.length ? encodeToken(listKey(last)) : '',
        };
      },
    },

    GroupController: {
      GroupControllerGetCapabilities: () => ({
        capabilities: rpcCaps(['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT'], faults.withheld('groupController')),
      }),

      CreateVolumeGroupSnapshot: async (req) => {
        const name = requireName(req.name, 'name');
        const sourceVolumeIds = requireIds(req.source_volume_ids, 'source_volume_ids');
        const group = await store.createGroup({
          name,
          sourceVolumeIds,
          parameters: stringMap(req.parameters),
          readyDelayMs: faults.drawReadyDelayMs(),
        });
        return { group_snapshot: faults.answerGroup(groupReply(group)) };
      },

      DeleteVolumeGroupSnapshot: async (req) => {
        const id = requireString(req.group_snapshot_id, 'group_snapshot_id');
        // An unknown group is already deleted, whatever the member list says (idempotent delete).
        const group = store.group(id);
        if (!group) return {};
        const snapshotIds = requireIds(req.snapshot_ids, 'snapshot_ids');
        if (!sameIdSet(group.snapshotIds, snapshotIds)) {
          throw invalid(`snapshot_ids do not match the members of group snapshot ${id}`);
        }
        await store.deleteGroup(id);
        return {};
      },

      GetVolumeGroupSnapshot: (req) => {
        const id = requireString(req.group_snapshot_id, 'group_snapshot_id');
        const group = store.group(id);
        if (!group) throw new CsiError(grpc.status.NOT_FOUND, `group snapshot ${id} not found`);
        const snapshotIds = requireIds(req.snapshot_ids, 'snapshot_ids');
        if (!sameIdSet(group.snapshotIds, snapshotIds)) {
          throw invalid(`snapshot_ids do not match the members of group snapshot ${id}`);
        }
        return { group_snapshot: faults.answerGroup(groupReply(group)) };
      },
    },

    // The sample driver has no node side: it publishes nothing, so there is nothing to unpublish.
    Node: {
      NodeGetCapabilities: () => ({ capabilities: [] }),
      NodeUnpublishVolume: (req) => {
        const volumeId = requireString(req.volume_id, 'volume_id');
        requireString(req.target_path, 'target_path');
        if (!store.volume(volumeId)) throw new CsiError(grpc.status.NOT_FOUND, `volume ${volumeId} not found`);
        return {};
      },
    },
  };
}

/**
 * Registers the three services on a grpc-js server. Every call goes through the same steps: journal
 * entry, fault decision (crash, UNIMPLEMENTED, latency, injected error), the implementation, and
 * one log line with the method, the ids and the status code — never the request itself.
 */
export function addCsiServices(server: grpc.Server, ctx: ServiceContext): void {
  const v1 = csiGrpc().csi.v1;
  const implementations = csiImplementations(ctx);
  const definitions = {
    Identity: v1.Identity.service,
    Controller: v1.Controller.service,
    GroupController: v1.GroupController.service,
    Node: v1.Node.service,
  };

  for (const [service, definition] of Object.entries(definitions) as Array<[keyof typeof definitions, grpc.ServiceDefinition]>) {
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of Object.keys(definition)) {
      const impl = implementations[service][method];
      handlers[method] = ((call: grpc.ServerUnaryCall<Request, object>, callback: grpc.sendUnaryData<object>) => {
        void handle(ctx, service, method, impl, call.request, callback);
      }) as grpc.handleUnaryCall<Request, object>;
    }
    server.addService(definition, handlers);
  }
}

async function handle(
  ctx: ServiceContext,
  service: string,
  method: string,
  impl: Implementation | undefined,
  request: Request,
  callback: grpc.sendUnaryData<object>,
): Promise<void> {
  const decision = ctx.faults.onCall(service, method);
  if (decision.crash) {
    ctx.logger.warn('Crashing on purpose (exitAfterCalls fault)', { method });
    ctx.crash();
  }
  const finish = ctx.journal.begin(service, method, `${method}Request`, request);
  const ids = idsOf(request);
  ctx.logger.v(4).info('RPC received', { method, ...ids });
  const started = performance.now();
  let code: number = grpc.status.OK;
  let message: string | undefined;
  let reply: object | undefined;
  try {
    if (decision.unimplemented || !impl) throw new CsiError(grpc.status.UNIMPLEMENTED, `${method} is not implemented`);
    if (decision.latencyMs > 0) await sleep(decision.latencyMs);
    if (decision.error && !decision.error.afterWork) throw new CsiError(decision.error.code, decision.error.message);
    reply = await impl(request);
    if (decision.error) throw new CsiError(decision.error.code, decision.error.message);
  } catch (err) {
    if (err instanceof CsiError) {
      code = err.code;
      message = err.message;
    } else {
      code = grpc.status.INTERNAL;
      message = err instanceof Error ? err.message : String(err);
      ctx.logger.error('RPC failed unexpectedly', { method, ...ids, err: message });
    }
  }
  finish(code, message);
  const fields = { method, ...ids, code: statusName(code), ms: Math.round(performance.now() - started) };
  if (code === grpc.status.OK) ctx.logger.v(2).info('RPC done', fields);
  else ctx.logger.v(2).info('RPC failed', { ...fields, message });
  if (code === grpc.status.OK) callback(null, reply);
  else callback({ code, details: message ?? statusName(code) } as grpc.ServiceError);
}
