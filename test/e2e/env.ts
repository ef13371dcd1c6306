import { CsiConnection } from '../../src/csi/connection.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { RestClient } from '../../src/kube/rest.js';
import { silentLogger } from '../../src/observe/logger.js';
import { collectionPath, objectPath, volumeGroupSnapshotClasses, volumeGroupSnapshotContents } from '../../src/kube/resources.js';
import type { WireGroupContent } from '../../src/sidecar/group/types.js';
import { ANN_GROUP_BEING_DELETED, FINALIZER_CONTENT, FINALIZER_GROUP_CONTENT } from '../../src/sidecar/keys.js';
import type { DeletionPolicy, VolumeSnapshotContent } from '../../src/sidecar/types.js';
import {
  startTestApiServer,
  startTestApiServerProcess,
  type GroupVersion,
  type TestApiServer,
  type TestApiServerOptions,
  type TestApiServerProcess,
  type TestApiServerProcessOptions,
} from '../../src/testing/apiserver/index.js';
import { startSampleDriver, type Faults, type SampleDriverOptions, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { startSidecar, waitFor, type RunningProcess } from '../helpers/process.js';
import { uidFor } from '../helpers/uid.js';

export const VSC_PATH = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
export const CLASS_PATH = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses';
export const VGSC_PATH = collectionPath(volumeGroupSnapshotContents('v1'));

/** What an environment needs of its API server, in-process or a child process. */
export interface ApiEndpoint {
  readonly kubeconfigPath: string;
  stop(): Promise<unknown>;
}

/**
 * One end-to-end environment: the test API server, the sample driver and the sidecar, each as the
 * program users run, talking over real sockets. The API server runs in-process for its fault and
 * accounting controls (`Env.start`), or as its own process steered over its control socket
 * (`Env.startWithApiProcess`, the chaos run's).
 */
export class Env<A extends ApiEndpoint = TestApiServer> {
  sidecar: RunningProcess | undefined;
  driverName = 'sample.csi.example.com';
  /** GETs of each content made by the test itself, so the sidecar's own reads can be counted. */
  private readonly ownGets = new Map<string, number>();

  private constructor(
    readonly api: A,
    readonly driver: SampleDriverProcess,
    readonly rest: RestClient,
    readonly csi: CsiConnection,
  ) {}

  static async start(
    options: { faults?: Faults; groupSnapshotVersions?: GroupVersion[]; recordObjects?: boolean; api?: TestApiServerOptions; driver?: SampleDriverOptions } = {},
  ): Promise<Env> {
    const api = await startTestApiServer({
      ...options.api,
      ...(options.groupSnapshotVersions ? { groupSnapshotVersions: options.groupSnapshotVersions } : {}),
      recordObjects: options.recordObjects ?? false,
    });
    const driver = await startSampleDriver({ ...options.driver, ...(options.faults ? { faults: options.faults } : {}) });
    const rest = new RestClient({ kubeConfig: loadKubeConfig(api.kubeconfigPath) });
    const csi = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger });
    return new Env(api, driver, rest, csi);
  }

  /**
   * The same environment with `kube-test-apiserver` as a child process: `api` steers it over its
   * control socket (the in-process names, each returning a promise).
   */
  static async startWithApiProcess(options: { api?: TestApiServerProcessOptions; driver?: SampleDriverOptions } = {}): Promise<Env<TestApiServerProcess>> {
    const api = await startTestApiServerProcess(options.api);
    let driver: SampleDriverProcess | undefined;
    try {
      driver = await startSampleDriver(options.driver);
      const rest = new RestClient({ kubeConfig: loadKubeConfig(api.kubeconfigPath) });
      const csi = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger });
      return new Env(api, driver, rest, csi);
    } catch (err) {
      await driver?.dispose();
      await api.stop();
      throw err;
    }
  }

  /** Helm-chart style flags for a sidecar of this environment, plus `extra` (a later flag wins). */
  sidecarArgs(extra: string[] = []): string[] {
    return [
      `--csi-address=${this.driver.socketPath}`,
      `--kubeconfig=${this.api.kubeconfigPath}`,
      '--v=5',
      '--timeout=20s',
      '--retry-interval-start=200ms',
      '--retry-interval-max=2s',
      '--worker-threads=4',
      ...extra,
    ];
  }

  /** Starts the sidecar with Helm-chart style flags plus `extra`. */
  startSidecar(extra: string[] = []): RunningProcess {
    this.sidecar = startSidecar(this.sidecarArgs(extra));
    return this.sidecar;
  }

  async stop(): Promise<void> {
    await this.sidecar?.stop();
    this.csi.close();
    await this.driver.dispose();
    await this.api.stop();
  }

  async createVolume(name: string, content = 'hello'): Promise<string> {
    const reply = await this.csi.call(
      '/csi.v1.Controller/CreateVolume',
      { name, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] },
      new Date(Date.now() + 10_000),
    );
    const id = reply.volume?.volume_id as string;
    await this.driver.writeFile(id, 'data.txt', content);
    return id;
  }

  async createClass(name: string, options: { parameters?: Record<string, string>; policy?: DeletionPolicy; driver?: string } = {}): Promise<void> {
    await this.rest.request({
      method: 'POST',
      path: CLASS_PATH,
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotClass',
        metadata: { name },
        driver: options.driver ?? this.driverName,
        deletionPolicy: options.policy ?? 'Delete',
        ...(options.parameters ? { parameters: options.parameters } : {}),
      },
    });
  }

  /** A content as the snapshot-controller creates it for a VolumeSnapshot: bound, with the finalizer. */
  async createContent(options: {
    name: string;
    volumeHandle?: string;
    snapshotHandle?: string;
    className?: string;
    policy?: DeletionPolicy;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    uid?: string;
    /** Another driver's content (default: this driver's). */
    driver?: string;
  }): Promise<VolumeSnapshotContent> {
    return this.rest.request<VolumeSnapshotContent>({
      method: 'POST',
      path: VSC_PATH,
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        metadata: { name: options.name, finalizers: [FINALIZER_CONTENT], ...(options.annotations ? { annotations: options.annotations } : {}), ...(options.labels ? { labels: options.labels } : {}) },
        spec: {
          volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', name: `vs-${options.name}`, namespace: 'default', uid: options.uid ?? uidFor(options.name) },
          deletionPolicy: options.policy ?? 'Delete',
          driver: options.driver ?? this.driverName,
          ...(options.className ? { volumeSnapshotClassName: options.className } : {}),
          source: options.snapshotHandle ? { snapshotHandle: options.snapshotHandle } : { volumeHandle: options.volumeHandle },
        },
      },
    });
  }

  /** A VolumeGroupSnapshotClass of this driver at the URL `version` (`v1alpha1` for both of its schemas). */
  async createGroupClass(version: string, name: string, options: { parameters?: Record<string, string>; policy?: DeletionPolicy } = {}): Promise<void> {
    await this.rest.request({
      method: 'POST',
      path: collectionPath(volumeGroupSnapshotClasses(version)),
      body: {
        apiVersion: `groupsnapshot.storage.k8s.io/${version}`,
        kind: 'VolumeGroupSnapshotClass',
        metadata: { name },
        driver: this.driverName,
        deletionPolicy: options.policy ?? 'Delete',
        ...(options.parameters ? { parameters: options.parameters } : {}),
      },
    });
  }

  /**
   * A group content at the URL `version` as the snapshot-controller creates it for a
   * VolumeGroupSnapshot `vgs-<name>` (bound, with the finalizer): dynamic over `volumeHandles`, or
   * pre-provisioned over an existing storage group (`pre`).
   */
  createGroupContent(version: string, options: {
    name: string;
    volumeHandles?: string[];
    pre?: { groupId: string; snapshotIds: string[] };
    className?: string;
    policy?: DeletionPolicy;
    uid?: string;
  }): Promise<WireGroupContent> {
    return this.rest.request<WireGroupContent>({
      method: 'POST',
      path: collectionPath(volumeGroupSnapshotContents(version)),
      body: {
        apiVersion: `groupsnapshot.storage.k8s.io/${version}`,
        kind: 'VolumeGroupSnapshotContent',
        metadata: { name: options.name, finalizers: [FINALIZER_GROUP_CONTENT] },
        spec: {
          volumeGroupSnapshotRef: { kind: 'VolumeGroupSnapshot', apiVersion: `groupsnapshot.storage.k8s.io/${version}`, name: `vgs-${options.name}`, namespace: 'default', uid: options.uid ?? uidFor(options.name) },
          deletionPolicy: options.policy ?? 'Delete',
          driver: this.driverName,
          ...(options.className ? { volumeGroupSnapshotClassName: options.className } : {}),
          source: options.pre
            ? { groupSnapshotHandles: { volumeGroupSnapshotHandle: options.pre.groupId, volumeSnapshotHandles: options.pre.snapshotIds } }
            : { volumeHandles: options.volumeHandles ?? [] },
        },
      },
    });
  }

  getGroupContent(version: string, name: string): Promise<WireGroupContent> {
    return this.rest.request<WireGroupContent>({ method: 'GET', path: objectPath(volumeGroupSnapshotContents(version), name) });
  }

  async waitForGroup(version: string, name: string, what: string, predicate: (c: WireGroupContent) => boolean, timeoutMs = 60_000): Promise<WireGroupContent> {
    return waitFor(`${name}: ${what}`, async () => {
      const c = await this.getGroupContent(version, name);
      return predicate(c) ? c : undefined;
    }, timeoutMs);
  }

  /** Waits for a 404 of the group content; any other failed read is an error at once, never taken for "gone". */
  async waitForGroupGone(version: string, name: string): Promise<void> {
    await waitFor(`${name} to be deleted`, async () => {
      try {
        await this.getGroupContent(version, name);
        return false;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return true;
        throw err;
      }
    });
  }

  /** What the snapshot-controller does to the group content when the user deletes the VolumeGroupSnapshot. */
  async deleteGroupAsController(version: string, name: string): Promise<void> {
    const path = objectPath(volumeGroupSnapshotContents(version), name);
    await this.rest.request({ method: 'PATCH', path, contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ANN_GROUP_BEING_DELETED]: 'yes' } } } });
    await this.rest.request({ method: 'DELETE', path });
  }

  /** A storage group cut directly on the driver (for pre-provisioned group contents). */
  async storageGroup(name: string, volumes: string[]): Promise<{ groupId: string; snapshotIds: string[] }> {
    const reply = await this.csi.call('/csi.v1.GroupController/CreateVolumeGroupSnapshot', { name, source_volume_ids: volumes, parameters: {}, secrets: {} }, new Date(Date.now() + 10_000));
    return { groupId: reply.group_snapshot?.group_snapshot_id ?? '', snapshotIds: (reply.group_snapshot?.snapshots ?? []).map((s) => s.snapshot_id) };
  }

  /** Requests the sidecar made for one content (the test's own reads subtracted). */
  sidecarRequests(this: Env<TestApiServer>, name: string): { patches: number; gets: number; statusPatches: number } {
    const all = this.api.requests.all({ resource: 'volumesnapshotcontents', name });
    const gets = all.filter((r) => r.verb === 'get').length - (this.ownGets.get(name) ?? 0);
    return {
      patches: all.filter((r) => r.verb === 'patch' && r.subresource === '').length,
      statusPatches: all.filter((r) => r.verb === 'patch' && r.subresource === 'status').length,
      gets,
    };
  }

  getContent(name: string): Promise<VolumeSnapshotContent> {
    this.ownGets.set(name, (this.ownGets.get(name) ?? 0) + 1);
    return this.rest.request<VolumeSnapshotContent>({ method: 'GET', path: `${VSC_PATH}/${name}` });
  }

  async waitForContent(name: string, what: string, predicate: (c: VolumeSnapshotContent) => boolean, timeoutMs = 30_000): Promise<VolumeSnapshotContent> {
    return waitFor(`${name}: ${what}`, async () => {
      const c = await this.getContent(name);
      return predicate(c) ? c : undefined;
    }, timeoutMs);
  }

  /** Waits for a 404; any other failed read is an error at once, never taken for "gone". */
  async waitForGone(name: string, timeoutMs = 30_000): Promise<void> {
    await waitFor(`${name} to be deleted`, async () => {
      try {
        await this.getContent(name);
        return false;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return true;
        throw err;
      }
    }, timeoutMs);
  }

  /**
   * Records every stored version of one content, in order, through a watch that starts at the
   * current resourceVersion: what the sidecar wrote and when in the sequence, however late the test
   * looks. Call before the content is created; `stop()` ends the watch.
   */
  history(this: Env<TestApiServer>, name: string): { versions: VolumeSnapshotContent[]; stop: () => Promise<void> } {
    const versions: VolumeSnapshotContent[] = [];
    const abort = new AbortController();
    let failed: unknown;
    let endedEarly = false;
    const watching = this.rest
      .watch<VolumeSnapshotContent>({
        path: VSC_PATH,
        query: { resourceVersion: String(this.api.resourceVersion()), timeoutSeconds: 600 },
        signal: abort.signal,
        onEvent: (e) => {
          if (e.type === 'ERROR') throw new Error(`the watch of ${name} failed: ${JSON.stringify(e.object)}`);
          if (e.type !== 'BOOKMARK' && e.object.metadata.name === name) versions.push(e.object);
        },
      })
      .then(
        () => {
          endedEarly = !abort.signal.aborted;
        },
        (err: unknown) => {
          failed = err;
        },
      );
    return {
      versions,
      stop: async () => {
        abort.abort();
        await watching;
        // A watch that ended on its own may have missed versions: the history would be incomplete.
        if (failed) throw failed;
        if (endedEarly) throw new Error(`the watch of ${name} ended before the test stopped it`);
      },
    };
  }

  /** What the snapshot-controller does when the user deletes the VolumeSnapshot. */
  async deleteAsController(name: string): Promise<void> {
    await this.rest.request({
      method: 'PATCH',
      path: `${VSC_PATH}/${name}`,
      contentType: 'application/merge-patch+json',
      body: { metadata: { annotations: { 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted': 'yes' } } },
    });
    await this.rest.request({ method: 'DELETE', path: `${VSC_PATH}/${name}` });
  }

  /** A storage snapshot cut directly on the driver (for pre-provisioned contents); returns its id. */
  async storageSnapshot(volumeName: string, snapshotName: string): Promise<string> {
    const volume = await this.createVolume(volumeName);
    const reply = await this.csi.call('/csi.v1.Controller/CreateSnapshot', { name: snapshotName, source_volume_id: volume }, new Date(Date.now() + 10_000));
    return reply.snapshot?.snapshot_id as string;
  }

  /** Snapshots the driver holds for a volume. */
  async driverSnapshots(volumeId: string): Promise<string[]> {
    const reply = await this.csi.call('/csi.v1.Controller/ListSnapshots', { source_volume_id: volumeId }, new Date(Date.now() + 10_000));
    return reply.entries.map((e) => e.snapshot?.snapshot_id ?? '');
  }
}
