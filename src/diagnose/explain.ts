import { errorText } from '../csi/errors.js';
import { collectionPath, GROUP_SNAPSHOT_GROUP, objectPath, VOLUME_SNAPSHOT_CONTENTS, volumeGroupSnapshotContents, type KubeList, type KubeObject } from '../kube/resources.js';
import { ApiError, isNotFound, type RestClient } from '../kube/rest.js';
import { alphaFlavour, servedGroupSnapshotVersions } from '../sidecar/group/discovery.js';
import { decideGroup, shouldDeleteGroup, type GroupStep } from '../sidecar/group/decision.js';
import { memberContentName, recordedMemberIds } from '../sidecar/group/members.js';
import type { VolumeGroupSnapshotContent, WireGroupContent } from '../sidecar/group/types.js';
import { groupVersionAdapter, preferredServedVersion, type GroupApiMode } from '../sidecar/group/versions.js';
import {
  ANN_BEING_CREATED,
  ANN_BEING_DELETED,
  ANN_GROUP_BEING_CREATED,
  ANN_GROUP_BEING_DELETED,
  ANN_MEMBER_SNAPSHOT_IDS,
  FINALIZER_CONTENT,
  FINALIZER_GROUP_CONTENT,
} from '../sidecar/keys.js';
import { decideContent, shouldDelete, type ContentStep } from '../sidecar/snapshot/decision.js';
import type { ObjectReference, SnapshotError, VolumeSnapshotContent } from '../sidecar/types.js';
import { humanDuration } from './findings.js';

/**
 * `explain NAME`: why a snapshot content is not ready, or not deleted. It reads the object the way
 * the sidecar does and runs the sidecar's own decision on it, so the step it names is the step a
 * running sidecar takes next; then it adds what holds the object, the driver's last answer, when the
 * next retry comes and what a human can do.
 */
export interface ExplainOptions {
  rest: RestClient;
  name: string;
  /** --retry-interval-start and --retry-interval-max, to say when the next retry comes. */
  retryStartMs: number;
  retryMaxMs: number;
  /** Whether the driver lists snapshots; unknown when it could not be asked. */
  listSnapshots?: boolean;
  /** The driver this sidecar serves, when known: a content of another driver is not its business. */
  driverName?: string;
  now?: () => Date;
}

interface EventObject extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
}

/** Returns the explanation as text; throws when no content of either kind has that name. */
export async function explain(options: ExplainOptions): Promise<string> {
  const single = await getOrUndefined<VolumeSnapshotContent>(options.rest, objectPath(VOLUME_SNAPSHOT_CONTENTS, options.name));
  if (single) return (await explainContent(single, options)).join('\n') + '\n';
  const signal = AbortSignal.timeout(30_000);
  const version = preferredServedVersion(await servedGroupSnapshotVersions(options.rest, signal).catch(() => []));
  // v1alpha1 is read in the schema the cluster has, as the sidecar reads it.
  const mode: GroupApiMode | undefined = version === 'v1alpha1' ? await alphaFlavour(options.rest, signal).catch(() => undefined) : (version as GroupApiMode | undefined);
  if (mode) {
    const adapter = groupVersionAdapter(mode);
    const wire = await getOrUndefined<WireGroupContent>(options.rest, objectPath(volumeGroupSnapshotContents(adapter.version), options.name));
    if (wire) return (await explainGroup(adapter.toModel(wire), options)).join('\n') + '\n';
  }
  throw new Error(`no VolumeSnapshotContent${version ? ' or VolumeGroupSnapshotContent' : ''} is named ${options.name} (explain takes the name of a content, as kubectl get volumesnapshotcontents shows it)`);
}

async function getOrUndefined<T>(rest: RestClient, path: string): Promise<T | undefined> {
  try {
    return await rest.request<T>({ method: 'GET', path });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

const now = (o: ExplainOptions): number => (o.now ?? (() => new Date()))().getTime();

function refText(ref: ObjectReference | undefined): string {
  if (!ref?.name) return 'nothing (not bound)';
  return `${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

function errorLine(error: SnapshotError | undefined, at: number): string | undefined {
  if (!error?.message) return undefined;
  const when = error.time ? ` (${humanDuration(at - Date.parse(error.time))} ago)` : '';
  return `last error${when}: ${error.message}`;
}

/** What the sidecar does with a single content in each step, in the words of the explanation. */
function contentStepText(step: ContentStep, content: VolumeSnapshotContent, listSnapshots: boolean | undefined): string {
  switch (step.kind) {
    case 'delete':
      return content.spec.deletionPolicy === 'Delete' && (content.status?.snapshotHandle || content.spec.source.snapshotHandle)
        ? 'delete the storage snapshot (DeleteSnapshot), then clear status and remove the finalizer'
        : 'remove the finalizer (policy Retain, or no storage snapshot was made: the storage is left alone)';
    case 'create':
      return step.reason === 'SnapshotCreationFailed'
        ? 'cut the snapshot: set the being-created mark, then CreateSnapshot, then write status'
        : `call CreateSnapshot again to learn whether the snapshot is ready${listSnapshots === false ? ' (the driver has no LIST_SNAPSHOTS)' : ''}`;
    case 'remove-being-created':
      return 'remove the being-created mark: the snapshot is recorded in status';
    case 'refresh':
      return 'read the snapshot with ListSnapshots and update status';
    case 'poll':
      return listSnapshots === false
        ? 'call CreateSnapshot again to learn whether the snapshot is ready (the driver has no LIST_SNAPSHOTS)'
        : 'ask the driver with ListSnapshots whether the snapshot is ready, again after each readiness delay';
    case 'wait-for-controller':
      return 'wait: the status of a group member is written by the snapshot-controller from its group';
    case 'nothing':
      return content.metadata.deletionTimestamp ? 'nothing yet: the deletion is not cleared to go (see below)' : 'nothing: the snapshot is ready';
  }
}

function groupStepText(step: GroupStep): string {
  switch (step.kind) {
    case 'delete':
      return 'delete the storage group (DeleteVolumeGroupSnapshot with every member), then clear status and remove the finalizer';
    case 'release':
      return 'remove the finalizer (policy Retain, or no storage group was made: the storage is left alone)';
    case 'create':
      return step.reason === 'GroupSnapshotCreationFailed'
        ? 'cut the group: set the being-created mark, then CreateVolumeGroupSnapshot, then write status'
        : 'call CreateVolumeGroupSnapshot again: no usable group is recorded yet';
    case 'remove-being-created':
      return 'remove the being-created mark: the group is recorded in status';
    case 'refresh':
      return 'read the group with GetVolumeGroupSnapshot and update status';
    case 'poll':
      return 'ask the driver with GetVolumeGroupSnapshot whether the group is ready, again after each readiness delay';
    case 'nothing':
      return 'nothing: the group is ready, or its deletion is not cleared to go (see below)';
  }
}

/**
 * A content of either kind as the explanation sees it: what it is, what holds it, and the step the
 * sidecar's own decision takes next. One renderer prints both kinds.
 */
interface ContentView {
  kind: 'VolumeSnapshotContent' | 'VolumeGroupSnapshotContent';
  name: string;
  driver: string;
  /** Lines describing its spec and status, in order. */
  facts: string[];
  error: SnapshotError | undefined;
  ready: boolean;
  annotations: Record<string, string>;
  /** The kind's being-created and being-deleted annotation keys. */
  marks: { creating: string; deleting: string };
  finalizers: string[];
  ownFinalizer: string;
  deletionTimestamp: string | undefined;
  /** The sidecar's deletion rule allows the deletion path now. */
  cleared: boolean;
  stepText: string;
  /** The step only waits for the storage (a readiness poll or a create). */
  storageBusy: boolean;
  boundTo: ObjectReference | undefined;
  preProvisionedUnbound: boolean;
  bound: { kind: string; plural: string; group: string };
}

/** Why a deleted content is still there, and what can be done; lines to print. */
async function deletionLines(holds: ContentView, options: ExplainOptions): Promise<{ why: string[]; todo: string[] }> {
  const why: string[] = [];
  const todo: string[] = [];
  if (!holds.deletionTimestamp) return { why, todo };
  if (holds.cleared) {
    why.push('the deletion is cleared to go: the sidecar runs it (or retries it after a failure, see the last error)');
    todo.push('if it keeps failing, fix what the last error names; the sidecar retries by itself');
  } else if (holds.marks.creating in holds.annotations) {
    why.push('a create may still be cutting storage (being-created mark): the sidecar keeps the content until that create has resolved, so no snapshot is leaked');
    todo.push('wait for the create to finish or fail; the sidecar then removes the mark and the deletion proceeds');
  } else if (!(holds.marks.deleting in holds.annotations) && !holds.preProvisionedUnbound) {
    why.push(`waiting for the snapshot-controller: it marks the content being-deleted once the ${holds.bound.kind} bound to it is gone`);
    if (holds.boundTo?.name && holds.boundTo.namespace) {
      const path = `/apis/${holds.bound.group}/${holds.boundTo.apiVersion?.split('/')[1] ?? 'v1'}/namespaces/${holds.boundTo.namespace}/${holds.bound.plural}/${holds.boundTo.name}`;
      try {
        const bound = await getOrUndefined<{ metadata?: { uid?: string; deletionTimestamp?: string } }>(options.rest, path);
        if (bound && (!holds.boundTo.uid || bound.metadata?.uid === holds.boundTo.uid)) {
          why.push(`the ${holds.bound.kind} ${refText(holds.boundTo)} still exists${bound.metadata?.deletionTimestamp ? ' (being deleted)' : ''}`);
          todo.push(`delete the ${holds.bound.kind} ${refText(holds.boundTo)}, or wait for its own finalizers`);
        } else {
          why.push(`the ${holds.bound.kind} ${refText(holds.boundTo)} is gone, yet the mark is missing`);
          todo.push('check that the snapshot-controller is running and look at its log');
        }
      } catch (err) {
        why.push(`the ${holds.bound.kind} ${refText(holds.boundTo)} could not be read: ${errorText(err)}`);
      }
    }
  }
  const others = holds.finalizers.filter((f) => f !== holds.ownFinalizer);
  if (others.length > 0) {
    why.push(`finalizers of other controllers also hold it: ${others.join(', ')}`);
    todo.push('those are removed by the controllers that set them, not by this sidecar');
  }
  return { why, todo };
}

function finalizerLine(finalizers: string[], own: string): string {
  if (finalizers.length === 0) return 'finalizers: none';
  return `finalizers: ${finalizers.map((f) => (f === own ? `${f} (removed by this sidecar once the storage side is done)` : f)).join(', ')}`;
}

async function eventLines(options: ExplainOptions, kind: string): Promise<string[]> {
  try {
    const events = await options.rest.request<KubeList<EventObject>>({
      method: 'GET',
      path: '/api/v1/events',
      query: { fieldSelector: `involvedObject.name=${options.name},involvedObject.kind=${kind}` },
    });
    const at = now(options);
    const sorted = events.items
      .map((e) => ({ e, t: Date.parse(e.lastTimestamp ?? e.eventTime ?? (e.metadata?.creationTimestamp as string | undefined) ?? '') || 0 }))
      .sort((a, b) => a.t - b.t)
      .slice(-5);
    if (sorted.length === 0) return ['events: none'];
    return ['events (newest last):', ...sorted.map(({ e, t }) => `  ${humanDuration(at - t)} ago  ${e.type ?? ''} ${e.reason ?? ''}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}: ${e.message ?? ''}`)];
  } catch (err) {
    return [`events: cannot be listed (${err instanceof ApiError ? `${err.statusCode} ${err.reason}` : errorText(err)})`];
  }
}

/**
 * When the next attempt comes after a failure at `failedAt`. The sidecar's backoff doubles from
 * --retry-interval-start to --retry-interval-max per consecutive failure; the count of the Warning
 * Event is not visible here without guessing, so the bound is given as a range.
 */
function retryLine(error: SnapshotError | undefined, options: ExplainOptions): string | undefined {
  if (!error?.time) return undefined;
  const failedAt = Date.parse(error.time);
  const at = now(options);
  const earliest = failedAt + options.retryStartMs;
  const latest = failedAt + options.retryMaxMs;
  if (at >= latest) return `next retry: overdue (the longest backoff, ${humanDuration(options.retryMaxMs)}, has passed since the last error; is the sidecar running and the leader?)`;
  if (at < earliest) return `next retry: in about ${humanDuration(earliest - at)} to ${humanDuration(latest - at)} (backoff doubles from ${humanDuration(options.retryStartMs)} up to ${humanDuration(options.retryMaxMs)})`;
  return `next retry: within ${humanDuration(latest - at)} (backoff doubles from ${humanDuration(options.retryStartMs)} up to ${humanDuration(options.retryMaxMs)})`;
}

/** The explanation of one content: its facts, what holds it, the next step, Events, what to do. */
async function render(view: ContentView, options: ExplainOptions, indent: string): Promise<string[]> {
  const at = now(options);
  const lines: string[] = [...view.facts];
  const errText = errorLine(view.error, at);
  if (errText) lines.push(errText);
  const marks = [view.marks.creating, view.marks.deleting].filter((k) => k in view.annotations);
  lines.push(`marks: ${marks.length ? marks.join(', ') : 'none'}`);
  lines.push(finalizerLine(view.finalizers, view.ownFinalizer));
  if (view.deletionTimestamp) lines.push(`deletion asked for ${humanDuration(at - Date.parse(view.deletionTimestamp))} ago`);
  if (options.driverName !== undefined && options.driverName !== view.driver) {
    lines.push(`note: this content belongs to driver ${view.driver}; this sidecar serves ${options.driverName} and leaves it alone`);
  }
  lines.push(`next step of the sidecar: ${view.stepText}`);
  const { why, todo } = await deletionLines(view, options);
  if (!view.deletionTimestamp && !view.ready) {
    if (view.error) todo.push('fix what the last error names (driver log, class parameters, Secrets); the sidecar retries by itself');
    else if (view.storageBusy) todo.push('the storage is still preparing the snapshot; if it never becomes ready, look at the driver\'s log');
  }
  lines.push(...why.map((w) => `why: ${w}`));
  const retry = retryLine(view.error, options);
  if (retry) lines.push(retry);
  lines.push(...(await eventLines({ ...options, name: view.name }, view.kind)));
  lines.push(...todo.map((t) => `what you can do: ${t}`));
  return [`${indent}${view.kind} ${view.name}`, ...lines.map((l) => `${indent}  ${l}`)];
}

/** What both kinds hold in the same places. */
function sharedFacts(content: VolumeSnapshotContent | VolumeGroupSnapshotContent): Pick<ContentView, 'name' | 'driver' | 'error' | 'ready' | 'annotations' | 'finalizers' | 'deletionTimestamp'> {
  return {
    name: content.metadata.name,
    driver: content.spec.driver,
    error: content.status?.error,
    ready: content.status?.readyToUse === true,
    annotations: content.metadata.annotations ?? {},
    finalizers: content.metadata.finalizers ?? [],
    deletionTimestamp: content.metadata.deletionTimestamp,
  };
}

function contentView(content: VolumeSnapshotContent, options: ExplainOptions): ContentView {
  const status = content.status;
  const member = status?.volumeGroupSnapshotHandle ? `, member of group ${status.volumeGroupSnapshotHandle}` : '';
  const source = content.spec.source.volumeHandle ? `dynamic, from volume ${content.spec.source.volumeHandle}` : `pre-provisioned, storage snapshot ${content.spec.source.snapshotHandle ?? '(none named)'}`;
  const facts = [
    `driver: ${content.spec.driver}; deletionPolicy: ${content.spec.deletionPolicy}; class: ${content.spec.volumeSnapshotClassName ?? '(none)'}`,
    `source: ${source}${member}; bound to VolumeSnapshot ${refText(content.spec.volumeSnapshotRef)}`,
  ];
  if (!status) facts.push('status: none yet (no snapshot recorded)');
  else {
    const parts = [status.readyToUse === true ? 'ready' : 'not ready'];
    if (status.snapshotHandle) parts.push(`snapshot ${status.snapshotHandle}`);
    if (status.restoreSize !== undefined) parts.push(`restore size ${String(status.restoreSize)} bytes`);
    facts.push(`status: ${parts.join('; ')}`);
  }
  const step = decideContent(content, { listSnapshots: options.listSnapshots ?? true });
  return {
    kind: 'VolumeSnapshotContent',
    ...sharedFacts(content),
    facts,
    marks: { creating: ANN_BEING_CREATED, deleting: ANN_BEING_DELETED },
    ownFinalizer: FINALIZER_CONTENT,
    cleared: shouldDelete(content),
    stepText: contentStepText(step, content, options.listSnapshots),
    storageBusy: step.kind === 'poll' || step.kind === 'create',
    boundTo: content.spec.volumeSnapshotRef,
    preProvisionedUnbound: Boolean(content.spec.source.snapshotHandle && !content.spec.volumeSnapshotRef.uid),
    bound: { kind: 'VolumeSnapshot', plural: 'volumesnapshots', group: 'snapshot.storage.k8s.io' },
  };
}

function groupView(content: VolumeGroupSnapshotContent): ContentView {
  const status = content.status;
  const source = content.spec.source.volumeHandles
    ? `dynamic, from volumes ${content.spec.source.volumeHandles.join(', ')}`
    : `pre-provisioned, storage group ${content.spec.source.groupSnapshotHandles?.volumeGroupSnapshotHandle ?? '(none named)'}`;
  const facts = [
    `driver: ${content.spec.driver}; deletionPolicy: ${content.spec.deletionPolicy}; class: ${content.spec.volumeGroupSnapshotClassName ?? '(none)'}`,
    `source: ${source}; bound to VolumeGroupSnapshot ${refText(content.spec.volumeGroupSnapshotRef)}`,
    status
      ? `status: ${status.readyToUse === true ? 'ready' : 'not ready'}${status.volumeGroupSnapshotHandle ? `; group ${status.volumeGroupSnapshotHandle}` : ''}; ${status.members?.length ?? 0} members`
      : 'status: none yet (no group recorded)',
  ];
  const step = decideGroup(content);
  return {
    kind: 'VolumeGroupSnapshotContent',
    ...sharedFacts(content),
    facts,
    marks: { creating: ANN_GROUP_BEING_CREATED, deleting: ANN_GROUP_BEING_DELETED },
    ownFinalizer: FINALIZER_GROUP_CONTENT,
    cleared: shouldDeleteGroup(content),
    stepText: groupStepText(step),
    storageBusy: step.kind === 'poll' || step.kind === 'create',
    boundTo: content.spec.volumeGroupSnapshotRef,
    preProvisionedUnbound: Boolean(content.spec.source.groupSnapshotHandles && !content.spec.volumeGroupSnapshotRef.uid),
    bound: { kind: 'VolumeGroupSnapshot', plural: 'volumegroupsnapshots', group: GROUP_SNAPSHOT_GROUP },
  };
}

function explainContent(content: VolumeSnapshotContent, options: ExplainOptions, indent = ''): Promise<string[]> {
  return render(contentView(content, options), options, indent);
}

/** For a v1alpha1 member content that is gone: whether the group's own record still holds its snapshot id. */
function recordedNote(group: VolumeGroupSnapshotContent, contentName: string): string {
  for (const [volume, id] of recordedMemberIds(group)) {
    if (memberContentName(group.metadata.uid ?? '', volume) === contentName) {
      return `; the group records its snapshot ${id} of volume ${volume} (${ANN_MEMBER_SNAPSHOT_IDS}), so deleting the group still deletes it`;
    }
  }
  return '';
}

/** The group, then each member: its VolumeSnapshotContent explained, or why there is none yet. */
async function explainGroup(content: VolumeGroupSnapshotContent, options: ExplainOptions): Promise<string[]> {
  const lines = await render(groupView(content), options, '');
  const members = content.status?.members ?? [];
  if (members.length === 0) return lines;
  const all = await options.rest.request<KubeList<VolumeSnapshotContent>>({ method: 'GET', path: collectionPath(VOLUME_SNAPSHOT_CONTENTS) }).catch(() => undefined);
  lines.push('  members:');
  for (const m of members) {
    // v1alpha1 lists member contents by name (this sidecar creates them); later versions by handle.
    const found = m.contentName
      ? all?.items.find((c) => c.metadata.name === m.contentName)
      : all?.items.find((c) => c.status?.snapshotHandle === m.snapshotHandle || c.spec.source.snapshotHandle === m.snapshotHandle);
    if (found) lines.push(...(await explainContent(found, options, '    ')));
    else if (m.contentName) lines.push(`    VolumeSnapshotContent ${m.contentName}: listed by the group but not found (deleted, or not readable by this user)${recordedNote(content, m.contentName)}`);
    else lines.push(`    snapshot ${m.snapshotHandle} of volume ${m.volumeHandle}: no VolumeSnapshotContent yet (the snapshot-controller creates one per member)`);
  }
  return lines;
}
