import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CoreV1Api, KubeConfig, type CoreV1Event } from '@kubernetes/client-node';
import { loadKubeConfig, type ClusterConfig } from '../../src/kube/config.js';
import { EventRecorder, type InvolvedObject } from '../../src/kube/events.js';
import { RestClient } from '../../src/kube/rest.js';
import { silentLogger } from '../../src/observe/logger.js';
import { capturingLogger } from '../helpers/logger.js';
import { TokenBucket } from '../../src/runtime/rate-limiter.js';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';

let server: TestApiServer;
let kc: KubeConfig;
let cluster: ClusterConfig;

beforeAll(async () => {
  server = await startTestApiServer();
  kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  cluster = loadKubeConfig(server.kubeconfigPath);
});
afterAll(async () => {
  await server?.stop();
});

function content(name: string): InvolvedObject {
  return { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', name, uid: `uid-${name}`, resourceVersion: '42' };
}

function client(): RestClient {
  return new RestClient({ kubeConfig: cluster, limiter: new TokenBucket(100, 100) });
}

function recorder(log = silentLogger): EventRecorder {
  return new EventRecorder({ client: client(), component: 'csi-snapshotter hostpath.csi.k8s.io', log, host: 'node-a' });
}

// Read back with client-node's typed client: a second, independent reading of what was stored.
async function eventsAbout(name: string): Promise<CoreV1Event[]> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'default' });
  return list.items.filter((e) => e.involvedObject.name === name);
}

const capture = () => capturingLogger();

describe('EventRecorder', () => {
  test('records a Warning on a cluster-scoped object in namespace default, and logs it', async () => {
    const { log, lines } = capture();
    const events = recorder(log);
    events.warning(content('snapcontent-1'), 'SnapshotCreationFailed', 'Failed to create snapshot: boom');
    await events.flush();

    const [event, ...others] = await eventsAbout('snapcontent-1');
    expect(others).toHaveLength(0);
    expect(event?.metadata?.namespace).toBe('default');
    expect(event?.metadata?.name).toMatch(/^snapcontent-1\.[0-9a-f]+$/);
    expect(event).toMatchObject({
      type: 'Warning',
      reason: 'SnapshotCreationFailed',
      message: 'Failed to create snapshot: boom',
      count: 1,
      source: { component: 'csi-snapshotter hostpath.csi.k8s.io' },
      involvedObject: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', name: 'snapcontent-1', uid: 'uid-snapcontent-1', resourceVersion: '42' },
    });
    expect(event?.firstTimestamp).toBeDefined();
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'Event occurred');
    expect(logged).toMatchObject({ v: 0, type: 'Warning', reason: 'SnapshotCreationFailed', message: 'Failed to create snapshot: boom', kind: 'VolumeSnapshotContent' });
  });

  test('an identical repeat is aggregated into one Event with count 2, by PATCH', async () => {
    const events = recorder();
    const patchesBefore = server.requests.count({ verb: 'patch', resource: 'events' });
    events.warning(content('snapcontent-2'), 'SnapshotDeleteError', 'Failed to delete snapshot');
    events.warning(content('snapcontent-2'), 'SnapshotDeleteError', 'Failed to delete snapshot');
    // A different message is a different Event.
    events.warning(content('snapcontent-2'), 'SnapshotDeleteError', 'Failed to clear content status');
    await events.flush();

    const stored = await eventsAbout('snapcontent-2');
    expect(stored.map((e) => [e.message, e.count]).sort()).toEqual([
      ['Failed to clear content status', 1],
      ['Failed to delete snapshot', 2],
    ]);
    expect(server.requests.count({ verb: 'patch', resource: 'events' }) - patchesBefore).toBe(1);
    const repeated = stored.find((e) => e.count === 2);
    expect(new Date(String(repeated?.lastTimestamp)).getTime()).toBeGreaterThanOrEqual(new Date(String(repeated?.firstTimestamp)).getTime());
  });

  test('API failures are logged, never thrown, and do not stop later events', async () => {
    const { log, lines } = capture();
    const events = recorder(log);
    server.faults.fail({ verb: 'create', resource: 'events', code: 500, times: 1 });
    expect(() => events.warning(content('snapcontent-3'), 'SnapshotCreationFailed', 'first')).not.toThrow();
    events.warning(content('snapcontent-3'), 'SnapshotCreationFailed', 'second');
    await events.flush();

    expect((await eventsAbout('snapcontent-3')).map((e) => e.message)).toEqual(['second']);
    const errors = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'Unable to write event');
    expect(errors).toHaveLength(1);
    expect(String(errors[0]?.err)).toContain('HTTP 500');
  });

  test('recording returns before the API server answers, and the backlog is bounded', async () => {
    const { log, lines } = capture();
    const events = new EventRecorder({ client: client(), component: 'c', log, maxBacklog: 2 });
    server.faults.addLatency({ verb: 'create', resource: 'events', ms: 300 });
    const before = server.requests.count({ resource: 'events' });
    try {
      for (let i = 0; i < 5; i++) expect(events.warning(content('snapcontent-4'), 'R', `m${i}`)).toBeUndefined();
      // All five calls returned in this same turn of the event loop, so the API server (in this
      // process) cannot have answered, or even received, any of them; the backlog is full already.
      expect(server.requests.count({ resource: 'events' })).toBe(before);
      expect(lines.filter((l) => l.includes('Dropping event'))).toHaveLength(2);
      await events.flush();
    } finally {
      server.faults.clear();
    }
    // The first is sent at once; two wait; the last two are dropped.
    expect((await eventsAbout('snapcontent-4')).map((e) => e.message).sort()).toEqual(['m0', 'm1', 'm2']);
    expect(lines.filter((l) => l.includes('Dropping event'))).toHaveLength(2);
  });

  test('stop() waits for queued events, but only as long as it is told to; what is left is dropped and counted', async () => {
    const { log, lines } = capture();
    const events = recorder(log);
    server.faults.addLatency({ verb: 'create', resource: 'events', ms: 400 });
    try {
      for (const m of ['s0', 's1', 's2']) events.warning(content('snapcontent-5'), 'R', m);
      const started = performance.now();
      await events.stop(150);
      // The first is still on its way when the time is up; the two behind it are dropped.
      expect(performance.now() - started).toBeLessThan(400);
      const dropped = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'Dropping events not sent before shutdown');
      expect(dropped).toMatchObject({ events: 2 });
      // Stopped: nothing new is queued.
      events.warning(content('snapcontent-5'), 'R', 'after stop');
      await events.flush();
    } finally {
      server.faults.clear();
    }
    expect((await eventsAbout('snapcontent-5')).map((e) => e.message)).toEqual(['s0']);

    const patient = recorder();
    patient.warning(content('snapcontent-6'), 'R', 'sent');
    await patient.stop(10_000);
    expect((await eventsAbout('snapcontent-6')).map((e) => e.message)).toEqual(['sent']);
  });
});
