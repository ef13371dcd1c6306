import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { failure, raw, SNAP, startHarness, vscBody, type Harness } from './helpers.js';
import { Faults } from '../../src/testing/apiserver/index.js';

const VSC = { ...SNAP, plural: 'volumesnapshotcontents' };

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.server.stop();
});

describe('fault injection', () => {
  test('fails the next N matching requests with the given code, then recovers', async () => {
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('f1') });
    h.server.faults.fail({ verb: 'get', resource: 'volumesnapshotcontents', code: 500, times: 2 });
    expect((await failure(h.custom.getClusterCustomObject({ ...VSC, name: 'f1' }))).code).toBe(500);
    // Other verbs are not affected.
    await h.custom.listClusterCustomObject({ ...VSC });
    const second = await failure(h.custom.getClusterCustomObject({ ...VSC, name: 'f1' }));
    expect(second.body).toMatchObject({ kind: 'Status', reason: 'InternalError', code: 500 });
    await h.custom.getClusterCustomObject({ ...VSC, name: 'f1' });
  });

  test('429 carries Retry-After and retryAfterSeconds; 503 and 409 have their reasons', async () => {
    h.server.faults.fail({ verb: 'patch', resource: 'volumesnapshotcontents', code: 429, retryAfterSeconds: 3 });
    const res = await raw(h.server, 'PATCH', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/f1', '{}', { 'Content-Type': 'application/merge-patch+json' });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('3');
    expect(res.json()).toMatchObject({ reason: 'TooManyRequests', details: { retryAfterSeconds: 3 }, code: 429 });
    h.server.faults.fail({ verb: 'update', code: 503 });
    const unavailable = await raw(h.server, 'PUT', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/f1', '{}');
    expect(unavailable.json()).toMatchObject({ reason: 'ServiceUnavailable', code: 503 });
    h.server.faults.fail({ verb: 'patch', subresource: 'status', code: 409 });
    const conflict = await raw(h.server, 'PATCH', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/f1/status', '{}', {
      'Content-Type': 'application/merge-patch+json',
    });
    expect(conflict.json()).toMatchObject({ reason: 'Conflict', code: 409 });
  });

  test('a fraction of requests fails, decided by the seeded generator', async () => {
    const id = h.server.faults.fail({ verb: 'list', resource: 'volumesnapshotcontents', code: 500, fraction: 0.5 });
    let failed = 0;
    for (let i = 0; i < 40; i++) {
      const res = await raw(h.server, 'GET', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents');
      if (res.status === 500) failed++;
    }
    h.server.faults.remove(id);
    expect(failed).toBeGreaterThan(5);
    expect(failed).toBeLessThan(35);
  });

  test('latency delays matching requests', async () => {
    h.server.faults.addLatency({ verb: 'get', resource: 'volumesnapshotcontents', ms: 300 });
    const started = Date.now();
    await h.custom.getClusterCustomObject({ ...VSC, name: 'f1' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    h.server.faults.clear();
  });
});

describe('faults aimed at one client', () => {
  const LIST = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
  test('userAgent matches the start of the User-Agent header; other clients are served', async () => {
    h.server.requests.reset();
    const id = h.server.faults.fail({ resource: 'volumesnapshotcontents', userAgent: 'csi-snapshotter/', code: 429, fraction: 1 });
    const sidecar = await raw(h.server, 'GET', LIST, undefined, { 'User-Agent': 'csi-snapshotter/v9.9.9' });
    const other = await raw(h.server, 'GET', LIST, undefined, { 'User-Agent': 'chaos-test' });
    h.server.faults.remove(id);
    expect([sidecar.status, other.status]).toEqual([429, 200]);
    // The accounting tells the clients apart the same way.
    expect(h.server.requests.all().map((r) => [r.userAgent, r.code, r.injected])).toEqual([
      ['csi-snapshotter/v9.9.9', 429, true],
      ['chaos-test', 200, false],
    ]);
  });

  test('410 answers Expired, as a watch from a compacted resourceVersion does', async () => {
    h.server.faults.fail({ verb: 'watch', userAgent: 'csi-snapshotter/', code: 410, times: 1 });
    const expired = await raw(h.server, 'GET', `${LIST}?watch=true`, undefined, { 'User-Agent': 'csi-snapshotter/v9.9.9' });
    expect(expired.status).toBe(410);
    expect(expired.json()).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
    expect(h.server.faults.pending()).toEqual([]);
  });
});

describe('request accounting', () => {
  test('counts by verb, resource, subresource and name (exactly 2 writes for one object)', async () => {
    h.server.requests.reset();
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('acct') });
    await h.custom.getClusterCustomObject({ ...VSC, name: 'acct' });
    await h.custom.patchClusterCustomObjectStatus({ ...VSC, name: 'acct', body: [{ op: 'replace', path: '/status', value: { readyToUse: true } }] });
    expect(h.server.requests.writes({ resource: 'volumesnapshotcontents', name: 'acct' })).toHaveLength(1);
    expect(h.server.requests.writes({ resource: 'volumesnapshotcontents' })).toHaveLength(2);
    expect(h.server.requests.count({ verb: 'patch', subresource: 'status', name: 'acct' })).toBe(1);
    expect(h.server.requests.count({ verb: 'get', resource: 'volumesnapshotcontents' })).toBe(1);
    expect(h.server.requests.summary()).toEqual({
      'create volumesnapshotcontents': 1,
      'get volumesnapshotcontents': 1,
      'patch volumesnapshotcontents/status': 1,
    });
    const rec = h.server.requests.all({ verb: 'create' })[0];
    expect(rec).toMatchObject({ group: 'snapshot.storage.k8s.io', version: 'v1', code: 201, injected: false });
  });
});

describe('watch lag', () => {
  test('clear() ends every lag, per-resource ones included, before watches are told to release', () => {
    const faults = new Faults();
    faults.setWatchLag({ resource: 'volumesnapshotcontents', ms: 60_000 });
    expect(faults.watchLagFor('volumesnapshotcontents')).toBe(60_000);
    expect(faults.watchLagFor('secrets')).toBe(0);
    const seen: number[] = [];
    faults.onWatchLagChange(() => seen.push(faults.watchLagFor('volumesnapshotcontents')));
    faults.clear();
    expect(seen).toEqual([0]);
  });
});
