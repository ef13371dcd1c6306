import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { request as httpsRequest } from 'node:https';
import { loadKubeConfig } from '../../src/kube/config.js';
import { collectionPath, objectPath, statusPath, SECRETS, VOLUME_SNAPSHOT_CONTENTS, volumeGroupSnapshotContents, type KubeObject } from '../../src/kube/resources.js';
import { ApiError, isConflict, isNotFound, RestClient, type WatchEvent } from '../../src/kube/rest.js';
import { TokenBucket } from '../../src/runtime/rate-limiter.js';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';

const NANOS = '1763773512123456789';

let server: TestApiServer;
let client: RestClient;

beforeAll(async () => {
  server = await startTestApiServer();
  client = new RestClient({ kubeConfig: loadKubeConfig(server.kubeconfigPath), userAgent: 'rest-test' });
});
afterAll(async () => {
  client?.close();
  await server?.stop();
});

function vsc(name: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name, labels },
    spec: {
      deletionPolicy: 'Delete',
      driver: 'hostpath.csi.k8s.io',
      source: { volumeHandle: `vol-${name}` },
      volumeSnapshotRef: { name: `vs-${name}`, namespace: 'default' },
    },
  };
}

/** The object as raw JSON text, read past our client, to check exact digits on the wire. */
function rawGet(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, server.url), { ca: server.caPem, headers: { Authorization: `Bearer ${server.token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end();
  });
}

const create = (obj: KubeObject) => client.request<KubeObject>({ method: 'POST', path: collectionPath(VOLUME_SNAPSHOT_CONTENTS), body: obj });

describe('paths', () => {
  test('collection, object and status paths for cluster-scoped and namespaced resources', () => {
    expect(statusPath(VOLUME_SNAPSHOT_CONTENTS, 'a b')).toBe('/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/a%20b/status');
    expect(collectionPath(volumeGroupSnapshotContents('v1beta2'))).toBe('/apis/groupsnapshot.storage.k8s.io/v1beta2/volumegroupsnapshotcontents');
    expect(objectPath(SECRETS, 's', 'ns')).toBe('/api/v1/namespaces/ns/secrets/s');
    expect(collectionPath(SECRETS)).toBe('/api/v1/secrets');
    expect(() => objectPath(SECRETS, 's')).toThrow(/namespace is required/);
    expect(() => objectPath(VOLUME_SNAPSHOT_CONTENTS, 'x', 'ns')).toThrow(/cluster-scoped/);
  });
});

describe('RestClient', () => {
  test('an int64 nanosecond creationTime written with a JSON patch round-trips bit for bit', async () => {
    await create(vsc('exact'));
    const patched = await client.request<KubeObject>({
      method: 'PATCH',
      path: statusPath(VOLUME_SNAPSHOT_CONTENTS, 'exact'),
      contentType: 'application/json-patch+json',
      body: [{ op: 'add', path: '/status', value: { creationTime: BigInt(NANOS), readyToUse: true, restoreSize: 1073741824, snapshotHandle: 'h' } }],
    });
    expect((patched.status as Record<string, unknown>).creationTime).toBe(BigInt(NANOS));
    const read = await client.request<KubeObject>({ method: 'GET', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'exact') });
    expect((read.status as Record<string, unknown>).creationTime).toBe(BigInt(NANOS));
    expect((read.status as Record<string, unknown>).restoreSize).toBe(1073741824);
    expect(await rawGet(objectPath(VOLUME_SNAPSHOT_CONTENTS, 'exact'))).toContain(`"creationTime":${NANOS}`);

    // A full-object PUT of what we read keeps the value too.
    const updated = await client.request<KubeObject>({ method: 'PUT', path: statusPath(VOLUME_SNAPSHOT_CONTENTS, 'exact'), body: read });
    expect((updated.status as Record<string, unknown>).creationTime).toBe(BigInt(NANOS));
    expect(await rawGet(objectPath(VOLUME_SNAPSHOT_CONTENTS, 'exact'))).toContain(`"creationTime":${NANOS}`);
  });

  test('merge patches are sent with their content type', async () => {
    await create(vsc('merge'));
    const patched = await client.request<KubeObject>({
      method: 'PATCH',
      path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'merge'),
      contentType: 'application/merge-patch+json',
      body: { metadata: { annotations: { a: 'b' } } },
    });
    expect(patched.metadata?.annotations).toEqual({ a: 'b' });
  });

  test('errors carry status code, reason and message from the Status body', async () => {
    const missing = await client.request({ method: 'GET', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'nope') }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApiError);
    expect(isNotFound(missing)).toBe(true);
    expect((missing as ApiError).message).toBe('volumesnapshotcontents.snapshot.storage.k8s.io "nope" not found');

    await create(vsc('twice'));
    const again = await create(vsc('twice')).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ApiError);
    expect((again as ApiError).reason).toBe('AlreadyExists');
    expect((again as ApiError).statusCode).toBe(409);

    const read = await client.request<KubeObject>({ method: 'GET', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'twice') });
    await client.request({ method: 'PATCH', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'twice'), contentType: 'application/merge-patch+json', body: { metadata: { labels: { x: 'y' } } } });
    const stale = await client.request({ method: 'PUT', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'twice'), body: read }).catch((e: unknown) => e);
    expect(isConflict(stale)).toBe(true);
    expect((stale as ApiError).reason).toBe('Conflict');

    const invalid = await client
      .request({ method: 'PATCH', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'twice'), contentType: 'application/json-patch+json', body: [{ op: 'replace', path: '/spec/driver', value: 42 }] })
      .catch((e: unknown) => e);
    expect((invalid as ApiError).statusCode).toBe(422);
    expect((invalid as ApiError).reason).toBe('Invalid');
  });

  test.each([
    [429, 'TooManyRequests', 7],
    [503, 'ServiceUnavailable', 3],
    [500, 'InternalError', undefined],
  ])('an injected %i becomes ApiError %s with retryAfterSeconds %p', async (code, reason, retryAfter) => {
    server.faults.fail({ verb: 'get', resource: 'volumesnapshotcontents', code, times: 1, retryAfterSeconds: retryAfter });
    const err = await client.request({ method: 'GET', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'exact') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).statusCode).toBe(code);
    expect((err as ApiError).reason).toBe(reason);
    expect((err as ApiError).retryAfterSeconds).toBe(retryAfter);
    expect((err as ApiError).message.length).toBeGreaterThan(0);
  });

  test('a transport failure is a one-line error naming the request', async () => {
    const down = await startTestApiServer();
    const c = new RestClient({ kubeConfig: loadKubeConfig(down.kubeconfigPath) });
    await down.stop();
    const err = await c.request({ method: 'GET', path: collectionPath(VOLUME_SNAPSHOT_CONTENTS) }).catch((e: unknown) => e);
    c.close();
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ApiError);
    expect((err as Error).message).toMatch(/^GET \/apis\/snapshot.storage.k8s.io\/v1\/volumesnapshotcontents: .*ECONNREFUSED/);
  });

  test('the limiter holds requests to its rate', async () => {
    const qps = 10;
    const burst = 2;
    const n = 8;
    const limited = new RestClient({ kubeConfig: loadKubeConfig(server.kubeconfigPath), limiter: new TokenBucket(qps, burst) });
    const before = server.requests.count({ verb: 'list', resource: 'volumesnapshotclasses' });
    const started = performance.now();
    const seenAt: number[] = [];
    try {
      await Promise.all(
        Array.from({ length: n }, () =>
          limited.request({ method: 'GET', path: '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses' }).then(() => seenAt.push(performance.now() - started)),
        ),
      );
    } finally {
      limited.close();
    }
    expect(server.requests.count({ verb: 'list', resource: 'volumesnapshotclasses' }) - before).toBe(n);
    // After the burst, one request per 1/qps seconds: the last cannot finish before (n - burst) / qps.
    const floorMs = ((n - burst) / qps) * 1000;
    expect(Math.max(...seenAt)).toBeGreaterThanOrEqual(floorMs - 15);
    // And at most burst + elapsed × qps requests can have completed by any moment.
    seenAt.sort((a, b) => a - b);
    seenAt.forEach((at, i) => expect(i + 1).toBeLessThanOrEqual(burst + Math.floor(((at + 15) / 1000) * qps) + 1));
  });
});

describe('RestClient.watch', () => {
  test('streams events in order and resolves when the server ends the watch', async () => {
    const from = String(server.resourceVersion());
    await create(vsc('w1'));
    await client.request({ method: 'DELETE', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'w1') });
    const events: WatchEvent<KubeObject>[] = [];
    await client.watch<KubeObject>({
      path: collectionPath(VOLUME_SNAPSHOT_CONTENTS),
      query: { resourceVersion: from, timeoutSeconds: 1 },
      onEvent: (e) => events.push(e),
    });
    expect(events.map((e) => `${e.type} ${(e.object as KubeObject).metadata?.name}`)).toEqual(['ADDED w1', 'DELETED w1']);
  });

  test('aborting the signal resolves the watch; closeWatches ends it from the server side', async () => {
    const controller = new AbortController();
    const events: string[] = [];
    const aborted = client.watch<KubeObject>({
      path: collectionPath(VOLUME_SNAPSHOT_CONTENTS),
      query: { resourceVersion: String(server.resourceVersion()) },
      signal: controller.signal,
      onEvent: (e) => events.push(e.type),
    });
    const closed = client.watch<KubeObject>({
      path: collectionPath(VOLUME_SNAPSHOT_CONTENTS),
      query: { resourceVersion: String(server.resourceVersion()) },
      onEvent: (e) => events.push(e.type),
    });
    const deadline = Date.now() + 20_000;
    while (server.openWatches() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(server.openWatches()).toBe(2);
    controller.abort();
    await aborted;
    server.closeWatches();
    await closed;
    expect(events).toEqual([]);
  });

  test('an expired resourceVersion arrives as an ERROR event with a 410 Status', async () => {
    await create(vsc('old'));
    const old = String(server.resourceVersion() - 1);
    server.compact();
    const events: WatchEvent<KubeObject>[] = [];
    await client.watch<KubeObject>({ path: collectionPath(VOLUME_SNAPSHOT_CONTENTS), query: { resourceVersion: old }, onEvent: (e) => events.push(e) });
    expect(events).toHaveLength(1);
    const event = events[0] as WatchEvent<KubeObject>;
    expect(event.type).toBe('ERROR');
    const err = ApiError.fromStatus(event.type === 'ERROR' ? event.object : {});
    expect(err.statusCode).toBe(410);
    expect(err.reason).toBe('Expired');
  });

  test('a refused watch rejects with ApiError', async () => {
    server.faults.fail({ verb: 'watch', resource: 'volumesnapshotcontents', code: 500, times: 1 });
    const err = await client.watch({ path: collectionPath(VOLUME_SNAPSHOT_CONTENTS), onEvent: () => undefined }).catch((e: unknown) => e);
    expect((err as ApiError).statusCode).toBe(500);
  });
});

describe('answers that never come', () => {
  test('a request without a complete answer within its time limit fails, saying so', async () => {
    const impatient = new RestClient({ kubeConfig: loadKubeConfig(server.kubeconfigPath), userAgent: 'rest-test', requestTimeoutMs: 300 });
    // The server would answer only after two minutes, long after the test's own time limit.
    server.faults.addLatency({ verb: 'get', resource: 'volumesnapshotcontents', name: 'slow-answer', ms: 120_000 });
    try {
      await expect(impatient.request({ method: 'GET', path: objectPath(VOLUME_SNAPSHOT_CONTENTS, 'slow-answer') })).rejects.toThrow(
        `GET ${objectPath(VOLUME_SNAPSHOT_CONTENTS, 'slow-answer')}: no complete answer within 0.3 s`,
      );
    } finally {
      server.faults.clear();
      impatient.close();
    }
  });

  test('a watch still open well past the timeoutSeconds it asked for is cut and rejects', async () => {
    const impatient = new RestClient({ kubeConfig: loadKubeConfig(server.kubeconfigPath), userAgent: 'rest-test', watchGraceMs: 300 });
    server.faults.addLatency({ verb: 'watch', resource: 'volumesnapshotcontents', ms: 120_000 });
    try {
      const watch = impatient.watch<KubeObject>({ path: collectionPath(VOLUME_SNAPSHOT_CONTENTS), query: { resourceVersion: String(server.resourceVersion()), timeoutSeconds: 1 }, onEvent: () => undefined });
      await expect(watch).rejects.toThrow(/aborted/i);
    } finally {
      server.faults.clear();
      impatient.close();
    }
  });
});
