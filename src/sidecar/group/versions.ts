/**
 * One adapter per served groupsnapshot.storage.k8s.io version: it turns what the API server sends
 * into the version-free model and says how a status written by the sidecar looks in that version.
 * v1beta1 lists members as `volumeSnapshotHandlePairList` (handles only); v1beta2 and v1 share one
 * schema with `volumeSnapshotInfoList`, whose entries also carry time, readiness and size.
 */
import { GROUP_SNAPSHOT_GROUP } from '../../kube/resources.js';
import type { GroupContentStatus, GroupSnapshotMember, VolumeGroupSnapshotContent, WireGroupContent } from './types.js';
import type { SnapshotError } from '../types.js';

export type GroupSnapshotVersion = 'v1' | 'v1beta2' | 'v1beta1';

/** Most preferred first: the GA API, then the newest beta. */
export const SUPPORTED_GROUP_VERSIONS: readonly GroupSnapshotVersion[] = ['v1', 'v1beta2', 'v1beta1'];

/** The version the sidecar uses among those the cluster serves; undefined when it can use none. */
export function preferredGroupVersion(served: readonly string[]): GroupSnapshotVersion | undefined {
  return SUPPORTED_GROUP_VERSIONS.find((v) => served.includes(v));
}

export interface GroupVersionAdapter {
  readonly version: GroupSnapshotVersion;
  /** `groupsnapshot.storage.k8s.io/<version>`, for Events about the object. */
  readonly apiVersion: string;
  /** The status field holding the member list in this version. */
  readonly membersField: 'volumeSnapshotHandlePairList' | 'volumeSnapshotInfoList';
  toModel(wire: WireGroupContent): VolumeGroupSnapshotContent;
  /** The members as this version stores them (fields it lacks are left out). */
  membersToWire(members: GroupSnapshotMember[]): Array<Record<string, unknown>>;
  /** A whole status in this version's layout. */
  statusToWire(status: GroupContentStatus): Record<string, unknown>;
}

function int64ToBigint(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  return undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function memberFromWire(entry: unknown): GroupSnapshotMember {
  const e = (entry ?? {}) as Record<string, unknown>;
  const member: GroupSnapshotMember = { volumeHandle: text(e.volumeHandle) ?? '', snapshotHandle: text(e.snapshotHandle) ?? '' };
  const creationTime = int64ToBigint(e.creationTime);
  if (creationTime !== undefined) member.creationTime = creationTime;
  if (typeof e.readyToUse === 'boolean') member.readyToUse = e.readyToUse;
  const restoreSize = int64ToBigint(e.restoreSize);
  if (restoreSize !== undefined) member.restoreSize = restoreSize;
  return member;
}

function infoEntry(m: GroupSnapshotMember): Record<string, unknown> {
  const entry: Record<string, unknown> = { volumeHandle: m.volumeHandle, snapshotHandle: m.snapshotHandle };
  if (m.creationTime !== undefined) entry.creationTime = m.creationTime;
  if (m.readyToUse !== undefined) entry.readyToUse = m.readyToUse;
  if (m.restoreSize !== undefined) entry.restoreSize = m.restoreSize;
  return entry;
}

function pairEntry(m: GroupSnapshotMember): Record<string, unknown> {
  return { volumeHandle: m.volumeHandle, snapshotHandle: m.snapshotHandle };
}

function makeAdapter(version: GroupSnapshotVersion, membersField: GroupVersionAdapter['membersField'], entry: (m: GroupSnapshotMember) => Record<string, unknown>): GroupVersionAdapter {
  const membersToWire = (members: GroupSnapshotMember[]) => members.map(entry);
  return {
    version,
    apiVersion: `${GROUP_SNAPSHOT_GROUP}/${version}`,
    membersField,
    membersToWire,
    toModel(wire: WireGroupContent): VolumeGroupSnapshotContent {
      const model: VolumeGroupSnapshotContent = { metadata: wire.metadata, spec: wire.spec };
      if (wire.status) {
        const s = wire.status;
        const status: GroupContentStatus = {};
        if (typeof s.volumeGroupSnapshotHandle === 'string') status.volumeGroupSnapshotHandle = s.volumeGroupSnapshotHandle;
        if (typeof s.creationTime === 'string') status.creationTime = s.creationTime;
        if (typeof s.readyToUse === 'boolean') status.readyToUse = s.readyToUse;
        if (s.error && typeof s.error === 'object') status.error = s.error as SnapshotError;
        if (Array.isArray(s[membersField])) status.members = (s[membersField] as unknown[]).map(memberFromWire);
        model.status = status;
      }
      return model;
    },
    statusToWire(status: GroupContentStatus): Record<string, unknown> {
      const out: Record<string, unknown> = {};
      if (status.volumeGroupSnapshotHandle !== undefined) out.volumeGroupSnapshotHandle = status.volumeGroupSnapshotHandle;
      if (status.creationTime !== undefined) out.creationTime = status.creationTime;
      if (status.readyToUse !== undefined) out.readyToUse = status.readyToUse;
      if (status.error !== undefined) out.error = status.error;
      if (status.members && status.members.length > 0) out[membersField] = membersToWire(status.members);
      return out;
    },
  };
}

const ADAPTERS: Record<GroupSnapshotVersion, GroupVersionAdapter> = {
  v1: makeAdapter('v1', 'volumeSnapshotInfoList', infoEntry),
  v1beta2: makeAdapter('v1beta2', 'volumeSnapshotInfoList', infoEntry),
  v1beta1: makeAdapter('v1beta1', 'volumeSnapshotHandlePairList', pairEntry),
};

export function groupVersionAdapter(version: GroupSnapshotVersion): GroupVersionAdapter {
  return ADAPTERS[version];
}
