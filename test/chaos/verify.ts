import type { Inventory } from '../../src/testing/sample-driver/index.js';
import type { Plan } from './workload.js';

interface Meta {
  name: string;
  deletionTimestamp?: string;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

interface ContentView {
  metadata: Meta;
  spec: { volumeSnapshotRef?: { uid?: string } };
  status?: { readyToUse?: boolean; snapshotHandle?: string };
}

interface GroupView {
  metadata: Meta;
  spec: { volumeGroupSnapshotRef?: { uid?: string } };
  status?: { readyToUse?: boolean; volumeGroupSnapshotHandle?: string; volumeSnapshotInfoList?: Array<{ snapshotHandle?: string }> };
}

export interface Outcome {
  contentsReady: number;
  contentsExpected: number;
  groupsComplete: number;
  groupsExpected: number;
  deletedGone: number;
  deletedStorageGone: number;
  deletedExpected: number;
  deletedGroupsGone: number;
  deletedGroupsStorageGone: number;
  deletedGroupsExpected: number;
  leakedSnapshots: string[];
  leakedGroups: string[];
  duplicates: string[];
  /** Each deleted content or group still in the API, as it stands: what a failure needs to be explained. */
  lingering: string[];
}

export interface Names {
  snapshot: (uid: string) => string;
  group: (uid: string) => string;
}

/** True when the outcome is the one the run must end in. */
export function complete(o: Outcome): boolean {
  return (
    o.contentsReady === o.contentsExpected &&
    o.groupsComplete === o.groupsExpected &&
    o.deletedGone === o.deletedExpected &&
    o.deletedStorageGone === o.deletedExpected &&
    o.deletedGroupsGone === o.deletedGroupsExpected &&
    o.deletedGroupsStorageGone === o.deletedGroupsExpected &&
    o.leakedSnapshots.length === 0 &&
    o.leakedGroups.length === 0 &&
    o.duplicates.length === 0
  );
}

/**
 * Holds the API's objects against the driver's storage. A storage snapshot belongs to a content
 * by its CreateSnapshot name (built from the VolumeSnapshot UID) or by the handle the content
 * records; a group likewise. Anything no live object claims is a leak; two claimed by one object
 * are a duplicate.
 */
export function assess(plan: Plan, uidOf: (name: string) => string, contents: ContentView[], groups: GroupView[], stored: Inventory, names: Names): Outcome {
  const live = new Map(contents.map((c) => [c.metadata.name, c]));
  const liveGroups = new Map(groups.map((g) => [g.metadata.name, g]));
  const singles = stored.snapshots.filter((s) => !s.groupId);
  const claims = (name: string, handle: string | undefined) =>
    singles.filter((s) => s.name === names.snapshot(uidOf(name)) || (handle !== undefined && s.id === handle));

  const kept = plan.contents.filter((c) => c.deleteAfterMs === undefined);
  const deleted = plan.contents.filter((c) => c.deleteAfterMs !== undefined);
  const byId = new Set(singles.map((s) => s.id));
  const contentsReady = kept.filter((c) => {
    const s = live.get(c.name)?.status;
    return s?.readyToUse === true && !!s.snapshotHandle && byId.has(s.snapshotHandle);
  }).length;
  const keptGroups = plan.groups.filter((g) => g.deleteAfterMs === undefined);
  const deletedGroups = plan.groups.filter((g) => g.deleteAfterMs !== undefined);
  const groupsComplete = keptGroups.filter((g) => {
    const s = liveGroups.get(g.name)?.status;
    const members = s?.volumeSnapshotInfoList ?? [];
    return (
      s?.readyToUse === true &&
      stored.groups.some((sg) => sg.id === s.volumeGroupSnapshotHandle && sg.snapshotIds.length === g.volumes.length) &&
      members.length === g.volumes.length &&
      members.every((m) => !!m.snapshotHandle)
    );
  }).length;

  const claimed = new Set<string>();
  const duplicates: string[] = [];
  for (const c of contents) {
    const mine = claims(c.metadata.name, c.status?.snapshotHandle);
    mine.forEach((s) => claimed.add(s.id));
    if (mine.length > 1) duplicates.push(`${c.metadata.name}: ${mine.map((s) => s.id).join(', ')}`);
  }
  const claimedGroups = new Set<string>();
  for (const g of groups) {
    const mine = stored.groups.filter((sg) => sg.name === names.group(uidOf(g.metadata.name)) || sg.id === g.status?.volumeGroupSnapshotHandle);
    mine.forEach((sg) => claimedGroups.add(sg.id));
    if (mine.length > 1) duplicates.push(`${g.metadata.name}: ${mine.map((sg) => sg.id).join(', ')}`);
  }
  return {
    contentsReady,
    contentsExpected: kept.length,
    groupsComplete,
    groupsExpected: keptGroups.length,
    deletedGroupsGone: deletedGroups.filter((g) => !liveGroups.has(g.name)).length,
    // A deleted group leaves neither the group nor any of its member snapshots behind.
    // Group volumes are the group's alone: a deleted group leaves no group and no snapshot of them.
    deletedGroupsStorageGone: deletedGroups.filter(
      (g) => !stored.groups.some((sg) => sg.name === names.group(uidOf(g.name))) && !stored.snapshots.some((s) => g.volumes.includes(s.sourceVolumeId)),
    ).length,
    deletedGroupsExpected: deletedGroups.length,
    deletedGone: deleted.filter((c) => !live.has(c.name)).length,
    deletedStorageGone: deleted.filter((c) => claims(c.name, undefined).length === 0).length,
    deletedExpected: deleted.length,
    leakedSnapshots: [
      ...singles.filter((s) => !claimed.has(s.id)).map((s) => `${s.id} (${s.name})`),
      // A member outlives its group only through a broken delete.
      ...stored.snapshots.filter((s) => s.groupId && !stored.groups.some((g) => g.id === s.groupId)).map((s) => `${s.id} (member of ${s.groupId})`),
    ],
    leakedGroups: stored.groups.filter((g) => !claimedGroups.has(g.id)).map((g) => `${g.id} (${g.name})`),
    duplicates,
    lingering: [
      ...deleted.flatMap((c) => (live.has(c.name) ? [describe(live.get(c.name) as ContentView)] : [])),
      ...deletedGroups.flatMap((g) => (liveGroups.has(g.name) ? [describe(liveGroups.get(g.name) as GroupView)] : [])),
    ],
  };
}

function describe(obj: ContentView | GroupView): string {
  const { name, deletionTimestamp, annotations, finalizers } = obj.metadata;
  return `${name}: deletionTimestamp ${deletionTimestamp ?? 'none'}, readyToUse ${String(obj.status?.readyToUse)}, annotations [${Object.keys(annotations ?? {}).join(', ')}], finalizers [${(finalizers ?? []).join(', ')}]`;
}
