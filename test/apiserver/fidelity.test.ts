import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { raw, startHarness, vscBody, type Harness, type Obj } from './helpers.js';

// Answers the differential runner showed the real kube-apiserver (v1.36) gives, which the test
// server once gave differently (test/real-cluster/differential-testserver.test.ts keeps them equal).
const CLASSES = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses';
const CONTENTS = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
const MERGE = { 'Content-Type': 'application/merge-patch+json' };
const JSON_PATCH = { 'Content-Type': 'application/json-patch+json' };

function vsclass(name: string, extra: Obj = {}): string {
  return JSON.stringify({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name, labels: {} }, driver: 'd.example.com', deletionPolicy: 'Delete', ...extra });
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.server.stop();
});

describe('answers as the real server gives them', () => {
  test('/version names the emulated and minimum compatible versions', async () => {
    const version = (await raw(h.server, 'GET', '/version')).json();
    expect(Object.keys(version)).toEqual(expect.arrayContaining(['emulationMajor', 'emulationMinor', 'minCompatibilityMajor', 'minCompatibilityMinor']));
  });

  test('empty labels are not stored; a JSON patch removing the last annotation drops the map', async () => {
    const created = await raw(h.server, 'POST', CLASSES, vsclass('meta'));
    expect(created.status).toBe(201);
    expect(created.json().metadata).not.toHaveProperty('labels');
    await raw(h.server, 'PATCH', `${CLASSES}/meta`, JSON.stringify({ metadata: { annotations: { note: 'one' } } }), MERGE);
    const removed = await raw(h.server, 'PATCH', `${CLASSES}/meta`, JSON.stringify([{ op: 'remove', path: '/metadata/annotations/note' }]), JSON_PATCH);
    expect(removed.status).toBe(200);
    expect(removed.json().metadata).not.toHaveProperty('annotations');
    const empty = await raw(h.server, 'PATCH', `${CLASSES}/meta`, JSON.stringify([{ op: 'add', path: '/metadata/annotations', value: {} }]), JSON_PATCH);
    expect(empty.json().metadata).not.toHaveProperty('annotations');
  });

  test('a body of another kind is 422 Invalid naming that kind', async () => {
    const res = await raw(h.server, 'POST', CLASSES, vsclass('kind', { kind: 'VolumeSnapshot' }));
    expect(res.status).toBe(422);
    expect(res.json()).toMatchObject({
      reason: 'Invalid',
      message: 'VolumeSnapshot.snapshot.storage.k8s.io "kind" is invalid: kind: Invalid value: "VolumeSnapshot": must be VolumeSnapshotClass',
      details: { kind: 'VolumeSnapshot', group: 'snapshot.storage.k8s.io', name: 'kind' },
    });
  });

  test('an update without resourceVersion names the resource', async () => {
    await raw(h.server, 'POST', CLASSES, vsclass('norv'));
    const res = await raw(h.server, 'PUT', `${CLASSES}/norv`, vsclass('norv'));
    expect(res.status).toBe(422);
    expect(res.json().message).toBe('volumesnapshotclasses.snapshot.storage.k8s.io "norv" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update');
  });

  test('selector and continue token errors use the real wording', async () => {
    const selector = await raw(h.server, 'GET', `${CLASSES}?labelSelector=${encodeURIComponent('tier in (a')}`);
    expect(selector.json().message).toBe("unable to parse requirement: found '', expected: ',' or ')'");
    const token = await raw(h.server, 'GET', `${CLASSES}?limit=1&continue=not-a-token`);
    expect(token.status).toBe(400);
    expect(token.json().message).toBe("invalid continue token: continue key is not valid: invalid character '\\u009e' looking for beginning of value");
  });

  test('status subresource messages name the field relative to status', async () => {
    const created = await raw(h.server, 'POST', CONTENTS, JSON.stringify(vscBody('neg')));
    expect(created.status).toBe(201);
    const res = await raw(h.server, 'PATCH', `${CONTENTS}/neg/status`, JSON.stringify({ status: { restoreSize: -1 } }), MERGE);
    expect(res.status).toBe(422);
    expect(res.json().message).toBe(
      'VolumeSnapshotContent.snapshot.storage.k8s.io "neg" is invalid: status.restoreSize: Invalid value: -1: restoreSize in body should be greater than or equal to 0',
    );
  });

  test('removing the last finalizer of a deleted object: DELETED carries the last stored state', async () => {
    await raw(h.server, 'POST', CLASSES, vsclass('held', { metadata: { name: 'held', finalizers: ['example.com/hold'] } }));
    const from = (await raw(h.server, 'GET', `${CLASSES}?fieldSelector=metadata.name%3Dheld`)).json().metadata as Obj;
    expect((await raw(h.server, 'DELETE', `${CLASSES}/held`)).status).toBe(200);
    const released = await raw(h.server, 'PATCH', `${CLASSES}/held`, JSON.stringify({ metadata: { finalizers: null } }), MERGE);
    expect(released.status).toBe(200);
    expect(released.json().metadata).not.toHaveProperty('finalizers');
    const watch = await raw(h.server, 'GET', `${CLASSES}?watch=true&fieldSelector=metadata.name%3Dheld&resourceVersion=${String(from.resourceVersion)}&timeoutSeconds=1`);
    const events = watch.text.trim().split('\n').map((line) => JSON.parse(line) as Obj);
    expect(events.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED']);
    expect(events[1]?.object.metadata.finalizers).toEqual(['example.com/hold']);
  });
});
