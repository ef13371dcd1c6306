import { silentLogger, type Logger } from '../../../src/observe/logger.js';
import type { Outcome } from '../../../src/runtime/controller.js';
import { restContentApi } from '../../../src/sidecar/snapshot/kind.js';
import { syncContent, type ContentSyncSettings } from '../../../src/sidecar/snapshot/kind.js';
import { ANN_BEING_DELETED, FINALIZER_CONTENT } from '../../../src/sidecar/keys.js';
import type { VolumeSnapshotClass, VolumeSnapshotContent, VolumeSnapshotContentStatus } from '../../../src/sidecar/types.js';
import type { TestApiServer } from '../../../src/testing/apiserver/index.js';
import type { CallRecord } from '../../../src/testing/sample-driver/index.js';
import { DRIVER, Testbed } from '../engine/testbed.js';

export { DRIVER };
export const VSC = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';

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
export class ScenarioEnv extends Testbed {
  warnings: Warning[] = [];

  /** The API test server (its faults and request log). */
  get api(): TestApiServer {
    return this.apiServer;
  }

  static async start(): Promise<ScenarioEnv> {
    const env = new ScenarioEnv(await Testbed.boot());
    // F-SECRETS
    await env.secret('default', 'secret', { foo: 'bar' });
    await env.secret('default', 'emptysecret', {});
    return env;
  }

  async reset(): Promise<void> {
    this.warnings = [];
    await this.driver.clearFaults();
    await this.driver.clearCalls();
  }

  secret(namespace: string, name: string, data: Record<string, string>): Promise<void> {
    return this.storeSecret(namespace, name, data);
  }

  volume(name: string, bytes = 1000): Promise<string> {
    return this.createVolume(name, 'data.bin', Buffer.alloc(bytes, 1));
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

  exists(name: string): Promise<boolean> {
    return this.found(() => this.get(name));
  }

  /** Runs one sync of the stored object. */
  async sync(name: string, settings: Partial<ContentSyncSettings> = {}, log: Logger = silentLogger): Promise<{ outcome: Outcome; calls: CallRecord[] }> {
    return this.syncCopy(await this.get(name), settings, log);
  }

  /** Runs one sync of a given copy of a content (one read earlier, say, like an informer's). */
  async syncCopy(content: VolumeSnapshotContent, settings: Partial<ContentSyncSettings> = {}, log: Logger = silentLogger): Promise<{ outcome: Outcome; calls: CallRecord[] }> {
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
      log,
    });
    return { outcome, calls: await this.driver.calls() };
  }
}

export const EXTRA = (vs: string, vsc: string): Record<string, string> => ({
  'csi.storage.k8s.io/volumesnapshot/name': vs,
  'csi.storage.k8s.io/volumesnapshot/namespace': 'default',
  'csi.storage.k8s.io/volumesnapshotcontent/name': vsc,
});
