/**
 * One adapter per served groupsnapshot.storage.k8s.io version (and, for v1alpha1, per schema
 * flavour): it turns what the API server sends into the version-free model and says how a status
 * written by the sidecar looks there. v1beta1 lists members as `volumeSnapshotHandlePairList`
 * (handles only); v1beta2 and v1 share one schema with `volumeSnapshotInfoList`, whose entries also
 * carry time, readiness and size. The two v1alpha1 schemas list the member VolumeSnapshotContents by
 * name instead (`volumeSnapshotContentRefList` in external-snapshotter v7.0,
 * `pvVolumeSnapshotContentList` with the source PersistentVolume in v8.0–8.1) and keep the group's
 * creationTime as int64 Unix nanoseconds.
 */
import { GROUP_SNAPSHOT_GROUP } from '../../kube/resources.js';
import { kubeTimeOfNanos } from '../messages.js';
import type { GroupContentStatus, GroupSnapshotMember, VolumeGroupSnapshotContent, WireGroupContent } from './types.js';
import type { SnapshotError } from '../types.js';

export type GroupSnapshotVersion = 'v1' | 'v1beta2' | 'v1beta1';

/**
 * How the sidecar speaks to the group API: a beta or GA version, or v1alpha1 in one of its two
 * schemas (`v1alpha1-v7`: external-snapshotter v7.0; `v1alpha1-v8`: v8.0–v8.1). Both v1alpha1
 * modes use the URL version v1alpha1.
 */
export type GroupApiMode = GroupSnapshotVersion | 'v1alpha1-v7' | 'v1alpha1-v8';

/** Most preferred first: the GA API, then the newest beta. */
export const SUPPORTED_GROUP_VERSIONS: readonly GroupSnapshotVersion[] = ['v1', 'v1beta2', 'v1beta1'];

/** Every mode, most preferred first (the order the scenario tests run in). */
export const GROUP_API_MODES: readonly GroupApiMode[] = ['v1', 'v1beta2', 'v1beta1', 'v1alpha1-v8', 'v1alpha1-v7'];

/** The served versions the sidecar can use, most preferred first: v1alpha1 only when nothing newer is served. */
export const GROUP_VERSION_PREFERENCE: readonly string[] = [...SUPPORTED_GROUP_VERSIONS, 'v1alpha1'];

/** The beta or GA version the sidecar uses among those the cluster serves; undefined when it can use none. */
export function preferredGroupVersion(served: readonly string[]): GroupSnapshotVersion | undefined {
  return SUPPORTED_GROUP_VERSIONS.find((v) => served.includes(v));
}

/** Like preferredGroupVersion, with v1alpha1 last (its schema flavour is found separately). */
export function preferredServedVersion(served: readonly string[]): string | undefined {
  return GROUP_VERSION_PREFERENCE.find((v) => served.includes(v));
}

export type MembersField = 'volumeSnapshotHandlePairList' | 'volumeSnapshotInfoList' | 'volumeSnapshotContentRefList' | 'pvVolumeSnapshotContentList';

export interface GroupVersionAdapter {
  readonly mode: GroupApiMode;
  /** The URL version: `v1alpha1` for both v1alpha1 modes. */
  readonly version: string;
  /** `groupsnapshot.storage.k8s.io/<version>`, for Events about the object. */
  readonly apiVersion: string;
  /** The status field holding the member list in this version. */
  readonly membersField: MembersField;
  /**
   * v1alpha1: the status lists member VolumeSnapshotContents by name (which the sidecar itself
   * creates in that era), not the storage handles; the handles are read from those contents.
   */
  readonly membersByContent: boolean;
  toModel(wire: WireGroupContent): VolumeGroupSnapshotContent;
  /** The members as this version stores them (fields it lacks are left out). */
  membersToWire(members: GroupSnapshotMember[]): Array<Record<string, unknown>>;
  /** The group's creationTime (Unix ns in the model) as this version stores it. */
  timeToWire(nanos: bigint): unknown;
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

/** A v1alpha1 entry: only the member content's name (and, in v8.0–8.1, the source PersistentVolume's). */
function alphaMemberFromWire(entry: unknown): GroupSnapshotMember {
  const e = (entry ?? {}) as Record<string, unknown>;
  const ref = (e.volumeSnapshotContentRef ?? e) as Record<string, unknown>;
  const member: GroupSnapshotMember = { volumeHandle: '', snapshotHandle: '', contentName: text(ref.name) ?? '' };
  const pv = text((e.persistentVolumeRef as Record<string, unknown> | undefined)?.name);
  if (pv !== undefined) member.persistentVolumeName = pv;
  return member;
}

function contentRefEntry(m: GroupSnapshotMember): Record<string, unknown> {
  return { kind: 'VolumeSnapshotContent', name: m.contentName ?? '' };
}

function pvContentEntry(m: GroupSnapshotMember): Record<string, unknown> {
  // The PersistentVolume is named when known; v8.0 wrote an empty name when no PV matched.
  return { volumeSnapshotContentRef: { name: m.contentName ?? '' }, persistentVolumeRef: { name: m.persistentVolumeName ?? '' } };
}

/** Unix nanoseconds of an RFC 3339 time; undefined when it is not one. */
function nanosOf(time: string): bigint | undefined {
  const ms = Date.parse(time);
  return Number.isFinite(ms) ? BigInt(ms) * 1_000_000n : undefined;
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

function makeAdapter(mode: GroupApiMode, membersField: MembersField, entry: (m: GroupSnapshotMember) => Record<string, unknown>): GroupVersionAdapter {
  const alpha = mode === 'v1alpha1-v7' || mode === 'v1alpha1-v8';
  const version = alpha ? 'v1alpha1' : mode;
  const membersToWire = (members: GroupSnapshotMember[]) => members.map(entry);
  const fromWire = alpha ? alphaMemberFromWire : memberFromWire;
  // v1alpha1 keeps the driver's int64 nanoseconds, every digit; later versions an RFC 3339 time
  // of whole seconds. The model holds nanoseconds, so nothing is rounded on the way to v1alpha1.
  const timeToWire = (nanos: bigint): unknown => (alpha ? nanos : kubeTimeOfNanos(nanos));
  const timeFromWire = (value: unknown): bigint | undefined => (alpha ? int64ToBigint(value) : typeof value === 'string' ? nanosOf(value) : undefined);
  return {
    mode,
    version,
    apiVersion: `${GROUP_SNAPSHOT_GROUP}/${version}`,
    membersField,
    membersByContent: alpha,
    membersToWire,
    timeToWire,
    toModel(wire: WireGroupContent): VolumeGroupSnapshotContent {
      const model: VolumeGroupSnapshotContent = { metadata: wire.metadata, spec: wire.spec };
      if (wire.status) {
        const s = wire.status;
        const status: GroupContentStatus = {};
        if (typeof s.volumeGroupSnapshotHandle === 'string') status.volumeGroupSnapshotHandle = s.volumeGroupSnapshotHandle;
        const creationTime = timeFromWire(s.creationTime);
        if (creationTime !== undefined) status.creationTime = creationTime;
        if (typeof s.readyToUse === 'boolean') status.readyToUse = s.readyToUse;
        if (s.error && typeof s.error === 'object') status.error = s.error as SnapshotError;
        if (Array.isArray(s[membersField])) status.members = (s[membersField] as unknown[]).map(fromWire);
        model.status = status;
      }
      return model;
    },
    statusToWire(status: GroupContentStatus): Record<string, unknown> {
      const out: Record<string, unknown> = {};
      if (status.volumeGroupSnapshotHandle !== undefined) out.volumeGroupSnapshotHandle = status.volumeGroupSnapshotHandle;
      if (status.creationTime !== undefined) out.creationTime = timeToWire(status.creationTime);
      if (status.readyToUse !== undefined) out.readyToUse = status.readyToUse;
      if (status.error !== undefined) out.error = status.error;
      if (status.members && status.members.length > 0) out[membersField] = membersToWire(status.members);
      return out;
    },
  };
}

const ADAPTERS: Record<GroupApiMode, GroupVersionAdapter> = {
  v1: makeAdapter('v1', 'volumeSnapshotInfoList', infoEntry),
  v1beta2: makeAdapter('v1beta2', 'volumeSnapshotInfoList', infoEntry),
  v1beta1: makeAdapter('v1beta1', 'volumeSnapshotHandlePairList', pairEntry),
  'v1alpha1-v8': makeAdapter('v1alpha1-v8', 'pvVolumeSnapshotContentList', pvContentEntry),
  'v1alpha1-v7': makeAdapter('v1alpha1-v7', 'volumeSnapshotContentRefList', contentRefEntry),
};

export function groupVersionAdapter(mode: GroupApiMode): GroupVersionAdapter {
  return ADAPTERS[mode];
}
