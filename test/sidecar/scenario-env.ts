import { CsiConnection } from '../../src/csi/connection.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { RestClient } from '../../src/kube/rest.js';
import { silentLogger } from '../../src/observe/logger.js';
import type { Outcome } from '../../src/runtime/controller.js';
import { restContentApi } from '../../src/sidecar/snapshot/kind.js';
import { syncContent, type ContentSyncSettings } from '../../src/sidecar/snapshot/kind.js';
import { ANN_BEING_DELETED, FINALIZER_CONTENT } from '../../src/sidecar/keys.js';
import type { VolumeSnapshotClass, VolumeSnapshotContent, VolumeSnapshotContentStatus } from '../../src/sidecar/types.js';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';
import { startSampleDriver, type CallRecord, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';

export const DRIVER = 'sample.csi.example.com';
const VSC = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';

/** F-CLASSES of the conformance scenarios, for this driver. */
export const CLASSES: Record<string, VolumeSnapshotClass> = Object.fromEntries(
  (
    [
      ['gold', { param1: 'value1' }],
      ['reserved', { 'csi.storage.k8s.io/volumesnapshot/name': 'x' }],
      ['silver', { param2: 'value2' }],
      ['empty-secret-class', { 'snapshot.storage.kubernetes.io/deletion-secret-name': 'emptysecret', 'snapshot.storage.kubernetes.io/deletion-secret-namespace': 'default' }],
      ['invalid-secret-class', { param2: 'value2' }],
      ['valid-secret-class', { 'snapshot.storage.kubernetes.io/deletion-secret-name': 'secret', 'snapshot.storage.kubernetes.io/deletion-secret-namespace': 'default' }],
      [
        'default-class',
        {
          'csi.storage.k8s.io/snapshotter-secret-name': 'secret',
          'csi.storage.k8s.io/snapshotter-secret-namespace': 'default',
          'csi.storage.k8s.io/snapshotter-list-secret-name': 'secret',
          'csi.storage.k8s.io/snapshotter-list-secret-namespace': 'default',
        },
      ],
    ] as Array<[string, Record<string, string>]>
  ).map(([name, parameters]) => [name, { metadata: { name }, driver: DRIVER, deletionPolicy: 'Delete', parameters }]),
);

export interface ScenarioContent {
  name: string;
  refUid?: string;
  refName?: string;
  className?: string;
  volumeHandle?: string;
  snapshotHandle?: string;
  policy?: 'Delete' | 'Retain';
  annotations?: Record<string, string>;
  status?: VolumeSnapshotContentStatus;
  /** deletionTimestamp + the controller's being-deleted annotation (F-VSC's deletionTime). */
  deleting?: boolean;
  /** Only a deletionTimestamp. */
  deletionTimestampOnly?: boolean;
}

export interface Warning {
  reason: string;
  message: string;
  name: string;
}

/**
 * The scenario tier: one sync of one content, against the test API server (in-process) and the
 * sample driver (a process), as the upstream sync tests run one sync per fixture.
 */
export class ScenarioEnv {
  warnings: Warning[] = [];

  private constructor(
    readonly api: TestApiServer,
    readonly driver: SampleDriverProcess,
    readonly rest: RestClient,
    readonly csi: CsiConnection,
  ) {}

  static async start(): Promise<ScenarioEnv> {
    const api = await startTestApiServer();
    const driver = await startSampleDriver();
    const rest = new RestClient({ kubeConfig: loadKubeConfig(api.kubeconfigPath) });
    const csi = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger });
    const env = new ScenarioEnv(api, driver, rest, csi);
    // F-SECRETS
    await env.secret('default', 'secret', { foo: 'bar' });
    await env.secret('default', 'emptysecret', {});
    return env;
  }

  async stop(): Promise<void> {
    this.csi.close();
    await this.driver.dispose();
    await this.api.stop();
  }

  async reset(): Promise<void> {
    this.warnings = [];
    await this.driver.clearFaults();
    await this.driver.clearCalls();
  }

  async secret(namespace: string, name: string, data: Record<string, string>): Promise<void> {
    const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    await this.rest.request({ method: 'POST', path: `/api/v1/namespaces/${namespace}/secrets`, body: { apiVersion: 'v1', kind: 'Secret', metadata: { name }, data: encoded } });
  }

  async volume(name: string, bytes = 1000): Promise<string> {
    const reply = await this.csi.call(
      '/csi.v1.Controller/CreateVolume',
      { name, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] },
      new Date(Date.now() + 10_000),
    );
    const id = reply.volume?.volume_id as string;
    await this.driver.writeFile(id, 'data.bin', Buffer.alloc(bytes, 1));
    return id;
  }

  async storageSnapshot(volume: string, name: string): Promise<string> {
    const reply = await this.csi.call('/csi.v1.Controller/CreateSnapshot', { name, source_volume_id: volume }, new Date(Date.now() + 10_000));
    return reply.snapshot?.snapshot_id as string;
  }

  /** Stores a content as the fixture describes it (status through /status, deletion through DELETE). */
  async content(f: ScenarioContent): Promise<VolumeSnapshotContent> {
    const annotations = { ...(f.annotations ?? {}), ...(f.deleting ? { [ANN_BEING_DELETED]: 'yes' } : {}) };
    await this.rest.request({
      method: 'POST',
      path: VSC,
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        metadata: { name: f.name, finalizers: [FINALIZER_CONTENT], ...(Object.keys(annotations).length ? { annotations } : {}) },
        spec: {
          volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', name: f.refName ?? `snap-${f.name}`, namespace: 'default', ...(f.refUid !== undefined ? { uid: f.refUid } : {}) },
          deletionPolicy: f.policy ?? 'Delete',
          driver: DRIVER,
          ...(f.className ? { volumeSnapshotClassName: f.className } : {}),
          source: f.snapshotHandle ? { snapshotHandle: f.snapshotHandle } : { volumeHandle: f.volumeHandle ?? 'no-such-volume' },
        },
      },
    });
    if (f.status) {
      await this.rest.request({ method: 'PATCH', path: `${VSC}/${f.name}/status`, contentType: 'application/json-patch+json', body: [{ op: 'add', path: '/status', value: f.status }] });
    }
    if (f.deleting || f.deletionTimestampOnly) await this.rest.request({ method: 'DELETE', path: `${VSC}/${f.name}` });
    return this.get(f.name);
  }

  get(name: string): Promise<VolumeSnapshotContent> {
    return this.rest.request<VolumeSnapshotContent>({ method: 'GET', path: `${VSC}/${name}` });
  }

  /** False only when the API server answers 404: any other failure is an error, never "gone". */
  async exists(name: string): Promise<boolean> {
    try {
      await this.get(name);
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false;
      throw err;
    }
  }

  /** Runs one sync of the stored object. */
  async sync(name: string, settings: Partial<ContentSyncSettings> = {}): Promise<{ outcome: Outcome; calls: CallRecord[] }> {
    const content = await this.get(name);
    await this.driver.clearCalls();
    const outcome = await syncContent(content, {
      api: restContentApi(this.rest),
      csi: this.csi,
      classes: (n) => CLASSES[n],
      events: { warning: (obj, reason, message) => this.warnings.push({ reason, message, name: obj.name }) },
      settings: {
        snapshotNamePrefix: 'snapshot',
        snapshotNameUuidLength: -1,
        extraCreateMetadata: true,
        timeoutMs: 10_000,
        listSnapshots: true,
        maxPollIntervalMs: 15_000,
        retryIntervalMaxMs: 300_000,
        ...settings,
      },
      log: silentLogger,
    });
    return { outcome, calls: await this.driver.calls() };
  }
}

export const EXTRA = (vs: string, vsc: string): Record<string, string> => ({
  'csi.storage.k8s.io/volumesnapshot/name': vs,
  'csi.storage.k8s.io/volumesnapshot/namespace': 'default',
  'csi.storage.k8s.io/volumesnapshotcontent/name': vsc,
});
