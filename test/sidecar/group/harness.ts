import { collectionPath, objectPath, statusPath, volumeGroupSnapshotClasses, volumeGroupSnapshotContents } from '../../../src/kube/resources.js';
import { silentLogger } from '../../../src/observe/logger.js';
import type { Outcome } from '../../../src/runtime/controller.js';
import { restObjectApi } from '../../../src/sidecar/engine/object-api.js';
import type { EventSubject, WarningRecorder } from '../../../src/sidecar/engine/failure.js';
import { syncGroupContent, type GroupContentApi, type GroupSyncDeps, type GroupSyncSettings } from '../../../src/sidecar/group/kind.js';
import type { VolumeGroupSnapshotClass, VolumeGroupSnapshotContent, VolumeGroupSnapshotContentSpec, WireGroupContent } from '../../../src/sidecar/group/types.js';
import { groupVersionAdapter, type GroupApiMode, type GroupVersionAdapter } from '../../../src/sidecar/group/versions.js';
import { restMemberObjects, type MemberObjects } from '../../../src/sidecar/group/members.js';
import { ANN_GROUP_BEING_DELETED, FINALIZER_GROUP_CONTENT } from '../../../src/sidecar/keys.js';
import type { DeletionPolicy } from '../../../src/sidecar/types.js';
import type { GroupVersion, TestApiServer } from '../../../src/testing/apiserver/index.js';
import { DRIVER, Testbed, type TestbedParts } from '../engine/testbed.js';

export { DRIVER };

/** What the API test server is told to serve for each mode of the sidecar. */
const SERVED: Record<GroupApiMode, GroupVersion> = { v1: 'v1', v1beta2: 'v1beta2', v1beta1: 'v1beta1', 'v1alpha1-v8': 'v1alpha1', 'v1alpha1-v7': 'v1alpha1-v7' };

export interface RecordedEvent {
  subject: EventSubject;
  reason: string;
  message: string;
}

/**
 * The group sync against the real pieces: the API test server serving exactly one group snapshot
 * version, the sample driver over gRPC, and the REST client the sidecar uses. Events are collected
 * from the recorder interface instead of being sent.
 */
export class GroupHarness extends Testbed {
  readonly events: RecordedEvent[] = [];
  readonly classes = new Map<string, VolumeGroupSnapshotClass>();
  readonly adapter: GroupVersionAdapter;
  readonly api: GroupContentApi;
  settings: GroupSyncSettings = { groupSnapshotNamePrefix: 'groupsnapshot', groupSnapshotNameUuidLength: -1, extraCreateMetadata: true, timeoutMs: 15_000, maxPollIntervalMs: 1000, retryIntervalMaxMs: 300_000 };
  private volumeCount = 0;

  /** v1alpha1: member VolumeSnapshotContents and VolumeSnapshots, which the sidecar creates in that era. */
  readonly members: MemberObjects;
  /** The URL version (v1alpha1 for both v1alpha1 modes). */
  readonly version: string;

  private constructor(readonly mode: GroupApiMode, parts: TestbedParts) {
    super(parts);
    this.adapter = groupVersionAdapter(mode);
    this.version = this.adapter.version;
    this.api = restObjectApi(this.rest, volumeGroupSnapshotContents(this.version), (wire) => this.adapter.toModel(wire as WireGroupContent));
    this.members = restMemberObjects(this.rest);
  }

  /** The API test server serving exactly this mode's version and schema. */
  static async start(mode: GroupApiMode): Promise<GroupHarness> {
    return new GroupHarness(mode, await Testbed.boot({ groupSnapshotVersions: [SERVED[mode]] }));
  }

  /** The API test server serving only `version` (its faults and request log). */
  get server(): TestApiServer {
    return this.apiServer;
  }

  async reset(): Promise<void> {
    this.events.length = 0;
    this.server.faults.clear();
    await this.driver.clearFaults();
    await this.driver.clearCalls();
  }

  readonly recorder: WarningRecorder = { warning: (subject, reason, message) => this.events.push({ subject, reason, message }) };

  /** One sync; `overrides` replaces dependencies such as the clock or the logger. */
  sync(content: VolumeGroupSnapshotContent, overrides: Partial<GroupSyncDeps> = {}): Promise<Outcome> {
    return syncGroupContent(content, {
      api: this.api,
      csi: this.csi,
      classes: (name) => this.classes.get(name),
      events: this.recorder,
      settings: this.settings,
      adapter: this.adapter,
      members: this.members,
      log: silentLogger,
      ...overrides,
    });
  }

  /** Reads the object and runs one sync on it. */
  async syncByName(name: string, overrides: Partial<GroupSyncDeps> = {}): Promise<Outcome> {
    return this.sync(await this.get(name), overrides);
  }

  get(name: string): Promise<VolumeGroupSnapshotContent> {
    return this.api.get(name);
  }

  async wire(name: string): Promise<WireGroupContent> {
    return this.rest.request<WireGroupContent>({ method: 'GET', path: objectPath(volumeGroupSnapshotContents(this.version), name) });
  }

  exists(name: string): Promise<boolean> {
    return this.found(() => this.wire(name));
  }

  async createVolumes(count: number, sizeText = 'data'): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push(await this.createVolume(`${this.mode}-vol-${++this.volumeCount}`, 'data.txt', sizeText));
    return ids;
  }

  /** A storage group cut directly at the driver, for pre-provisioned contents. */
  async cutGroup(name: string, volumes: string[]): Promise<{ groupId: string; snapshotIds: string[] }> {
    const reply = await this.csi.call('/csi.v1.GroupController/CreateVolumeGroupSnapshot', { name, source_volume_ids: volumes, parameters: {}, secrets: {} }, new Date(Date.now() + 10_000));
    return { groupId: reply.group_snapshot?.group_snapshot_id ?? '', snapshotIds: (reply.group_snapshot?.snapshots ?? []).map((s) => s.snapshot_id) };
  }

  async createClass(name: string, parameters?: Record<string, string>, labels?: Record<string, string>): Promise<void> {
    const klass = await this.rest.request<VolumeGroupSnapshotClass>({
      method: 'POST',
      path: collectionPath(volumeGroupSnapshotClasses(this.version)),
      body: { apiVersion: this.adapter.apiVersion, kind: 'VolumeGroupSnapshotClass', metadata: { name, ...(labels ? { labels } : {}) }, driver: DRIVER, deletionPolicy: 'Delete', ...(parameters ? { parameters } : {}) },
    });
    this.classes.set(name, klass);
  }

  createSecret(name: string, data: Record<string, string>): Promise<void> {
    return this.storeSecret('default', name, data);
  }

  /** A group content as the snapshot-controller (or a user, for pre-provisioned ones) creates it. */
  async createContent(options: {
    name: string;
    volumeHandles?: string[];
    pre?: { groupId: string; snapshotIds: string[] };
    className?: string;
    uid?: string;
    policy?: DeletionPolicy;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    finalizer?: boolean;
    /** A source naming neither volumes nor a group (only a schema without CEL rules, v1alpha1 of v7.0, stores it). */
    emptySource?: boolean;
  }): Promise<VolumeGroupSnapshotContent> {
    const spec: VolumeGroupSnapshotContentSpec = {
      volumeGroupSnapshotRef: { kind: 'VolumeGroupSnapshot', apiVersion: this.adapter.apiVersion, name: `vgs-${options.name}`, namespace: 'default', ...(options.uid !== undefined ? { uid: options.uid } : {}) },
      deletionPolicy: options.policy ?? 'Delete',
      driver: DRIVER,
      ...(options.className ? { volumeGroupSnapshotClassName: options.className } : {}),
      source: options.emptySource
        ? {}
        : options.pre
        ? { groupSnapshotHandles: { volumeGroupSnapshotHandle: options.pre.groupId, volumeSnapshotHandles: options.pre.snapshotIds } }
        : { volumeHandles: options.volumeHandles ?? [] },
    };
    const wire = await this.rest.request<WireGroupContent>({
      method: 'POST',
      path: collectionPath(volumeGroupSnapshotContents(this.version)),
      body: {
        apiVersion: this.adapter.apiVersion,
        kind: 'VolumeGroupSnapshotContent',
        metadata: { name: options.name, ...(options.finalizer === false ? {} : { finalizers: [FINALIZER_GROUP_CONTENT] }), ...(options.annotations ? { annotations: options.annotations } : {}), ...(options.labels ? { labels: options.labels } : {}) },
        spec,
      },
    });
    return this.adapter.toModel(wire);
  }

  /** Writes a status as another client would (merge patch of the status subresource). */
  async setStatus(name: string, status: Record<string, unknown>): Promise<void> {
    await this.rest.request({ method: 'PATCH', path: statusPath(volumeGroupSnapshotContents(this.version), name), contentType: 'application/merge-patch+json', body: { status } });
  }

  /** What the snapshot-controller does when the VolumeGroupSnapshot is deleted. */
  async deleteAsController(name: string): Promise<void> {
    const path = objectPath(volumeGroupSnapshotContents(this.version), name);
    await this.rest.request({ method: 'PATCH', path, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_GROUP_BEING_DELETED]: 'yes' } } } });
    await this.rest.request({ method: 'DELETE', path });
  }

  async calls(method: string): Promise<Array<Record<string, unknown>>> {
    return (await this.driver.calls()).filter((c) => c.method === method).map((c) => c.request);
  }

  /** The storage snapshots the driver holds of one volume. */
  async volumeSnapshots(volumeId: string): Promise<string[]> {
    const reply = await this.csi.call('/csi.v1.Controller/ListSnapshots', { source_volume_id: volumeId }, new Date(Date.now() + 10_000));
    return reply.entries.map((e) => e.snapshot?.snapshot_id ?? '');
  }

  async groupExists(groupId: string, snapshotIds: string[]): Promise<boolean> {
    try {
      await this.csi.call('/csi.v1.GroupController/GetVolumeGroupSnapshot', { group_snapshot_id: groupId, snapshot_ids: snapshotIds, secrets: {} }, new Date(Date.now() + 10_000));
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 5) return false;
      throw err;
    }
  }
}
