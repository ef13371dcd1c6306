import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { failure, raw, SNAP, startHarness, vsBody, vscBody, type Harness, type Obj } from './helpers.js';

const VSC = { ...SNAP, plural: 'volumesnapshotcontents' };
const VS = { ...SNAP, plural: 'volumesnapshots' };
const json = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ groupSnapshotVersions: ['v1beta1', 'v1beta2', 'v1'] });
});
afterAll(async () => {
  await h?.server.stop();
});

describe('create and get', () => {
  test('assigns uid, creationTimestamp, generation and a cluster-wide resourceVersion; generateName works', async () => {
    const before = h.server.resourceVersion();
    const created = (await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('', { metadata: { generateName: 'snapcontent-' } }) })) as Obj;
    expect(created.metadata.name).toMatch(/^snapcontent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(created.metadata.generation).toBe(1);
    expect(Number(created.metadata.resourceVersion)).toBe(before + 1);
    const other = (await h.custom.createNamespacedCustomObject({ ...VS, namespace: 'default', body: vsBody('rv-check') })) as Obj;
    expect(Number(other.metadata.resourceVersion)).toBe(before + 2);
    const got = (await h.custom.getClusterCustomObject({ ...VSC, name: created.metadata.name })) as Obj;
    expect(got).toEqual(created);
  });

  test('a second create of the same name is 409 AlreadyExists with a Status body', async () => {
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('dup') });
    const { code, body } = await failure(h.custom.createClusterCustomObject({ ...VSC, body: vscBody('dup') }));
    expect(code).toBe(409);
    expect(body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'volumesnapshotcontents.snapshot.storage.k8s.io "dup" already exists',
      reason: 'AlreadyExists',
      details: { name: 'dup', group: 'snapshot.storage.k8s.io', kind: 'volumesnapshotcontents' },
      code: 409,
    });
  });

  test('get of a missing object is 404 NotFound; create in a missing namespace is 404', async () => {
    const missing = await failure(h.custom.getClusterCustomObject({ ...VSC, name: 'nope' }));
    expect(missing.code).toBe(404);
    expect(missing.body.reason).toBe('NotFound');
    const noNs = await failure(h.custom.createNamespacedCustomObject({ ...VS, namespace: 'ghost', body: vsBody('x') }));
    expect(noNs.code).toBe(404);
    expect(noNs.body.message).toBe('namespaces "ghost" not found');
  });
});

describe('list', () => {
  beforeAll(async () => {
    await h.core.createNamespace({ body: { metadata: { name: 'listing' } } });
    for (let i = 0; i < 7; i++) {
      await h.custom.createNamespacedCustomObject({ ...VS, namespace: 'listing', body: vsBody(`item-${i}`, { tier: i % 2 ? 'odd' : 'even', idx: String(i) }) });
    }
  });

  test('label selectors: equality, inequality, set-based and existence', async () => {
    const names = async (labelSelector: string) =>
      ((await h.custom.listNamespacedCustomObject({ ...VS, namespace: 'listing', labelSelector })) as Obj).items.map((i: Obj) => i.metadata.name);
    expect(await names('tier=odd')).toEqual(['item-1', 'item-3', 'item-5']);
    expect(await names('tier!=odd')).toEqual(['item-0', 'item-2', 'item-4', 'item-6']);
    expect(await names('idx in (1,2),tier==even')).toEqual(['item-2']);
    expect(await names('idx notin (0,1,2,3,4,5)')).toEqual(['item-6']);
    expect(await names('!tier')).toEqual([]);
    expect(await names('tier')).toHaveLength(7);
  });

  test('field selectors on metadata.name and metadata.namespace; unsupported fields are 400', async () => {
    const all = (await h.custom.listClusterCustomObject({ ...VS, fieldSelector: 'metadata.namespace=listing,metadata.name!=item-0' })) as Obj;
    expect(all.items).toHaveLength(6);
    const one = (await h.custom.listNamespacedCustomObject({ ...VS, namespace: 'listing', fieldSelector: 'metadata.name=item-4' })) as Obj;
    expect(one.items.map((i: Obj) => i.metadata.name)).toEqual(['item-4']);
    const bad = await failure(h.custom.listClusterCustomObject({ ...VS, fieldSelector: 'spec.source=x' }));
    expect(bad.code).toBe(400);
    expect(bad.body.message).toBe('field label not supported: spec.source');
  });

  test('limit + continue pages consistently at the first page resourceVersion', async () => {
    const first = (await h.custom.listNamespacedCustomObject({ ...VS, namespace: 'listing', limit: 3 })) as Obj;
    expect(first.items.map((i: Obj) => i.metadata.name)).toEqual(['item-0', 'item-1', 'item-2']);
    expect(first.metadata.remainingItemCount).toBe(4);
    const listRv = first.metadata.resourceVersion;
    // A change between pages is not visible in later pages (consistent snapshot).
    await h.custom.deleteNamespacedCustomObject({ ...VS, namespace: 'listing', name: 'item-4' });
    const second = (await h.custom.listNamespacedCustomObject({ ...VS, namespace: 'listing', limit: 3, _continue: first.metadata.continue })) as Obj;
    expect(second.items.map((i: Obj) => i.metadata.name)).toEqual(['item-3', 'item-4', 'item-5']);
    expect(second.metadata.resourceVersion).toBe(listRv);
    const third = (await h.custom.listNamespacedCustomObject({ ...VS, namespace: 'listing', limit: 3, _continue: second.metadata.continue })) as Obj;
    expect(third.items.map((i: Obj) => i.metadata.name)).toEqual(['item-6']);
    // The last page of a paged list of custom resources says so with an empty continue member.
    expect(third.metadata.continue).toBe('');
  });

  test('resourceVersionMatch=Exact lists the past; a compacted one is 410 Expired', async () => {
    const rv = h.server.resourceVersion();
    await h.custom.createNamespacedCustomObject({ ...VS, namespace: 'listing', body: vsBody('late') });
    const past = await raw(h.server, 'GET', `/apis/snapshot.storage.k8s.io/v1/namespaces/listing/volumesnapshots?resourceVersion=${rv}&resourceVersionMatch=Exact`);
    expect(past.status).toBe(200);
    expect((past.json().items as Obj[]).map((i) => i.metadata.name)).not.toContain('late');
    expect((past.json().metadata as Obj).resourceVersion).toBe(String(rv));
    h.server.compact();
    const gone = await raw(h.server, 'GET', `/apis/snapshot.storage.k8s.io/v1/namespaces/listing/volumesnapshots?resourceVersion=${rv}&resourceVersionMatch=Exact`);
    expect(gone.status).toBe(410);
    expect(gone.json()).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
  });

  test('list resourceVersion is the cluster-wide one', async () => {
    const list = (await h.custom.listClusterCustomObject({ ...VSC })) as Obj;
    expect(list.metadata.resourceVersion).toBe(String(h.server.resourceVersion()));
    expect(list.kind).toBe('VolumeSnapshotContentList');
  });
});

describe('update', () => {
  test('a stale resourceVersion is 409 Conflict; generation moves on spec changes only', async () => {
    const created = (await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('upd') })) as Obj;
    const labelled = (await h.custom.replaceClusterCustomObject({
      ...VSC,
      name: 'upd',
      body: { ...created, metadata: { ...created.metadata, labels: { a: 'b' } } },
    })) as Obj;
    expect(labelled.metadata.generation).toBe(1);
    expect(Number(labelled.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    const stale = await failure(h.custom.replaceClusterCustomObject({ ...VSC, name: 'upd', body: created }));
    expect(stale.code).toBe(409);
    expect(stale.body.message).toBe(
      'Operation cannot be fulfilled on volumesnapshotcontents.snapshot.storage.k8s.io "upd": the object has been modified; please apply your changes to the latest version and try again',
    );
    const specChange = (await h.custom.replaceClusterCustomObject({
      ...VSC,
      name: 'upd',
      body: { ...labelled, spec: { ...labelled.spec, deletionPolicy: 'Retain' } },
    })) as Obj;
    expect(specChange.metadata.generation).toBe(2);
    // Writing the same object again is a no-op: no new resourceVersion.
    const same = (await h.custom.replaceClusterCustomObject({ ...VSC, name: 'upd', body: specChange })) as Obj;
    expect(same.metadata.resourceVersion).toBe(specChange.metadata.resourceVersion);
  });

  test('status subresource: /status changes only status, the main resource ignores status', async () => {
    const created = (await h.custom.createClusterCustomObject({ ...VSC, body: { ...vscBody('st'), status: { readyToUse: true } } })) as Obj;
    expect(created.status).toBeUndefined();
    const statusWrite = (await h.custom.replaceClusterCustomObjectStatus({
      ...VSC,
      name: 'st',
      body: { ...created, metadata: { ...created.metadata, labels: { ignored: 'yes' } }, spec: { ...created.spec, driver: 'ignored' }, status: { readyToUse: false, snapshotHandle: 'h-1' } },
    })) as Obj;
    expect(statusWrite.status).toEqual({ readyToUse: false, snapshotHandle: 'h-1' });
    expect(statusWrite.spec.driver).toBe('hostpath.csi.k8s.io');
    expect(statusWrite.metadata.labels).toBeUndefined();
    expect(statusWrite.metadata.generation).toBe(1);
    const mainWrite = (await h.custom.replaceClusterCustomObject({ ...VSC, name: 'st', body: { ...statusWrite, status: { readyToUse: true } } })) as Obj;
    expect(mainWrite.status).toEqual({ readyToUse: false, snapshotHandle: 'h-1' });
    // A status PUT without status clears it (the sidecar's "clear status" write).
    const { status: _dropped, ...withoutStatus } = mainWrite;
    const cleared = (await h.custom.replaceClusterCustomObjectStatus({ ...VSC, name: 'st', body: withoutStatus })) as Obj;
    expect(cleared.status).toBeUndefined();
  });
});

describe('patch', () => {
  test('JSON patch: replace on an absent member acts as add, test ops guard, remove of a missing key is 422', async () => {
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('jp') });
    const annotated = (await h.custom.patchClusterCustomObject(
      { ...VSC, name: 'jp', body: [{ op: 'replace', path: '/metadata/annotations', value: { 'snapshot.storage.kubernetes.io/volumesnapshot-being-created': 'yes' } }] },
      json,
    )) as Obj;
    expect(annotated.metadata.annotations).toEqual({ 'snapshot.storage.kubernetes.io/volumesnapshot-being-created': 'yes' });
    const status = (await h.custom.patchClusterCustomObjectStatus(
      { ...VSC, name: 'jp', body: [{ op: 'replace', path: '/status', value: { readyToUse: true, snapshotHandle: 'snap-1' } }] },
      json,
    )) as Obj;
    expect(status.status).toEqual({ readyToUse: true, snapshotHandle: 'snap-1' });
    const removed = (await h.custom.patchClusterCustomObject(
      { ...VSC, name: 'jp', body: [{ op: 'remove', path: '/metadata/annotations/snapshot.storage.kubernetes.io~1volumesnapshot-being-created' }] },
      json,
    )) as Obj;
    // The real server omits empty metadata maps: removing the last annotation removes the field.
    expect(removed.metadata.annotations).toBeUndefined();
    const failedTest = await failure(
      h.custom.patchClusterCustomObject({ ...VSC, name: 'jp', body: [{ op: 'test', path: '/spec/driver', value: 'other' }, { op: 'replace', path: '/spec/deletionPolicy', value: 'Retain' }] }, json),
    );
    expect(failedTest.code).toBe(422);
    expect(failedTest.body).toMatchObject({ kind: 'Status', reason: 'Invalid', message: 'the server rejected our request due to an error in our request' });
    const passedTest = (await h.custom.patchClusterCustomObject(
      { ...VSC, name: 'jp', body: [{ op: 'test', path: '/spec/driver', value: 'hostpath.csi.k8s.io' }, { op: 'replace', path: '/spec/deletionPolicy', value: 'Retain' }] },
      json,
    )) as Obj;
    expect(passedTest.spec.deletionPolicy).toBe('Retain');
    const missing = await failure(h.custom.patchClusterCustomObject({ ...VSC, name: 'jp', body: [{ op: 'remove', path: '/metadata/labels/x' }] }, json));
    expect(missing.code).toBe(422);
  });

  test('merge patch; a resourceVersion in the patch is a precondition', async () => {
    const created = (await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('mp') })) as Obj;
    const patched = (await h.custom.patchClusterCustomObject({ ...VSC, name: 'mp', body: { metadata: { labels: { x: 'y' } } } }, merge)) as Obj;
    expect(patched.metadata.labels).toEqual({ x: 'y' });
    const stale = await failure(
      h.custom.patchClusterCustomObject({ ...VSC, name: 'mp', body: { metadata: { resourceVersion: created.metadata.resourceVersion, labels: { x: 'z' } } } }, merge),
    );
    expect(stale.code).toBe(409);
  });

  test('strategic merge patch on a custom resource is 415, on a built-in it applies', async () => {
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('smp') });
    const res = await raw(h.server, 'PATCH', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/smp', '{"metadata":{"labels":{"a":"b"}}}', {
      'Content-Type': 'application/strategic-merge-patch+json',
    });
    expect(res.status).toBe(415);
    expect(res.json()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
      reason: 'UnsupportedMediaType',
      code: 415,
    });
    await h.core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's1' }, stringData: undefined, data: { k: 'dg==' } } });
    const secret = await raw(h.server, 'PATCH', '/api/v1/namespaces/default/secrets/s1', '{"metadata":{"labels":{"a":"b"}}}', {
      'Content-Type': 'application/strategic-merge-patch+json',
    });
    expect(secret.status).toBe(200);
    expect((secret.json().metadata as Obj).labels).toEqual({ a: 'b' });
  });
});

describe('delete', () => {
  test('finalizers hold the object with deletionTimestamp until the last one is removed (value null)', async () => {
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('fin', { metadata: { finalizers: ['example.com/a', 'example.com/b'] } }) });
    const marked = (await h.custom.deleteClusterCustomObject({ ...VSC, name: 'fin' })) as Obj;
    expect(marked.metadata.deletionTimestamp).toBeDefined();
    expect(marked.metadata.deletionGracePeriodSeconds).toBe(0);
    expect(marked.metadata.generation).toBe(2);
    const still = (await h.custom.getClusterCustomObject({ ...VSC, name: 'fin' })) as Obj;
    expect(still.metadata.finalizers).toEqual(['example.com/a', 'example.com/b']);
    const addFinalizer = await failure(
      h.custom.patchClusterCustomObject({ ...VSC, name: 'fin', body: [{ op: 'add', path: '/metadata/finalizers/-', value: 'example.com/c' }] }, json),
    );
    expect(addFinalizer.code).toBe(422);
    await h.custom.patchClusterCustomObject({ ...VSC, name: 'fin', body: [{ op: 'replace', path: '/metadata/finalizers', value: ['example.com/b'] }] }, json);
    await h.custom.getClusterCustomObject({ ...VSC, name: 'fin' });
    await h.custom.patchClusterCustomObject({ ...VSC, name: 'fin', body: [{ op: 'replace', path: '/metadata/finalizers', value: null }] }, json);
    expect((await failure(h.custom.getClusterCustomObject({ ...VSC, name: 'fin' }))).code).toBe(404);
  });

  test('preconditions on uid and resourceVersion; immediate delete answers a success Status', async () => {
    const created = (await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('pre') })) as Obj;
    const wrongUid = await failure(h.custom.deleteClusterCustomObject({ ...VSC, name: 'pre', body: { preconditions: { uid: 'not-it' } } }));
    expect(wrongUid.code).toBe(409);
    expect(wrongUid.body.message).toBe(
      `Operation cannot be fulfilled on volumesnapshotcontents.snapshot.storage.k8s.io "pre": Precondition failed: UID in precondition: not-it, UID in object meta: ${created.metadata.uid}`,
    );
    const wrongRv = await failure(h.custom.deleteClusterCustomObject({ ...VSC, name: 'pre', body: { preconditions: { resourceVersion: '1' } } }));
    expect(wrongRv.code).toBe(409);
    const done = (await h.custom.deleteClusterCustomObject({
      ...VSC,
      name: 'pre',
      body: { preconditions: { uid: created.metadata.uid, resourceVersion: created.metadata.resourceVersion } },
    })) as Obj;
    expect(done).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: 'pre', group: 'snapshot.storage.k8s.io', kind: 'volumesnapshotcontents', uid: created.metadata.uid },
    });
  });

  test('deletecollection removes the selected objects', async () => {
    await h.core.createNamespace({ body: { metadata: { name: 'dc' } } });
    for (const n of ['a', 'b', 'c']) await h.custom.createNamespacedCustomObject({ ...VS, namespace: 'dc', body: vsBody(n, { keep: n === 'c' ? 'yes' : 'no' }) });
    const res = await raw(h.server, 'DELETE', '/apis/snapshot.storage.k8s.io/v1/namespaces/dc/volumesnapshots?labelSelector=keep%3Dno');
    expect(res.status).toBe(200);
    expect((res.json().items as Obj[]).map((i) => i.metadata.name)).toEqual(['a', 'b']);
    const left = (await h.custom.listNamespacedCustomObject({ ...VS, namespace: 'dc' })) as Obj;
    expect(left.items.map((i: Obj) => i.metadata.name)).toEqual(['c']);
  });
});

describe('validation', () => {
  test('missing required fields and bad enums are 422 Invalid with causes, CEL rules skipped', async () => {
    const { code, body } = await failure(
      h.custom.createClusterCustomObject({ ...VSC, body: { ...vscBody('bad'), spec: { deletionPolicy: 'Sometimes', source: { volumeHandle: 'v' }, volumeSnapshotRef: { name: 'a', namespace: 'b' } } } }),
    );
    expect(code).toBe(422);
    expect(body.reason).toBe('Invalid');
    expect(body.message).toBe(
      'VolumeSnapshotContent.snapshot.storage.k8s.io "bad" is invalid: [spec.driver: Required value, spec.deletionPolicy: Unsupported value: "Sometimes": supported values: "Delete", "Retain", <nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]',
    );
    expect((body.details as Obj).causes).toContainEqual({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.driver' });
  });

  test('one-of and immutability rules answer the CRD messages', async () => {
    const both = await failure(
      h.custom.createClusterCustomObject({ ...VSC, body: vscBody('both', { spec: { source: { volumeHandle: 'a', snapshotHandle: 'b' } } }) }),
    );
    expect(both.code).toBe(422);
    expect(both.body.message).toBe(
      'VolumeSnapshotContent.snapshot.storage.k8s.io "both" is invalid: spec.source: Invalid value: exactly one of volumeHandle and snapshotHandle must be set',
    );
    const ref = await failure(h.custom.createClusterCustomObject({ ...VSC, body: vscBody('ref', { spec: { volumeSnapshotRef: { name: 'x' } } }) }));
    expect(ref.body.message).toContain('both spec.volumeSnapshotRef.name and spec.volumeSnapshotRef.namespace must be set');
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('imm') });
    const changed = await failure(h.custom.patchClusterCustomObject({ ...VSC, name: 'imm', body: { spec: { source: { volumeHandle: 'other' } } } }, merge));
    expect(changed.code).toBe(422);
    expect(changed.body.message).toBe('VolumeSnapshotContent.snapshot.storage.k8s.io "imm" is invalid: spec.source.volumeHandle: Invalid value: "other": volumeHandle is immutable');
    const emptyClass = await failure(
      h.custom.createNamespacedCustomObject({ ...VS, namespace: 'default', body: { ...vsBody('ec'), spec: { source: { persistentVolumeClaimName: 'p' }, volumeSnapshotClassName: '' } } }),
    );
    expect(emptyClass.body.message).toContain('spec.volumeSnapshotClassName: Invalid value: "": volumeSnapshotClassName must not be the empty string when set');
  });

  test('group snapshot content: ref uid may be set once, driver is immutable', async () => {
    const VGSC = { group: 'groupsnapshot.storage.k8s.io', version: 'v1', plural: 'volumegroupsnapshotcontents' };
    const body = {
      apiVersion: 'groupsnapshot.storage.k8s.io/v1',
      kind: 'VolumeGroupSnapshotContent',
      metadata: { name: 'g1' },
      spec: { deletionPolicy: 'Delete', driver: 'd', source: { volumeHandles: ['a', 'b'] }, volumeGroupSnapshotRef: { name: 'vgs', namespace: 'default' } },
    };
    await h.custom.createClusterCustomObject({ ...VGSC, body });
    await h.custom.patchClusterCustomObject({ ...VGSC, name: 'g1', body: { spec: { volumeGroupSnapshotRef: { uid: 'u-1' } } } }, merge);
    const uidChange = await failure(h.custom.patchClusterCustomObject({ ...VGSC, name: 'g1', body: { spec: { volumeGroupSnapshotRef: { uid: 'u-2' } } } }, merge));
    expect(uidChange.body.message).toContain('volumeGroupSnapshotRef.uid is immutable once set');
    const driver = await failure(h.custom.patchClusterCustomObject({ ...VGSC, name: 'g1', body: { spec: { driver: 'e' } } }, merge));
    expect(driver.body.message).toContain('spec.driver: Invalid value: "e": driver is immutable once set');
  });
});

describe('wire details', () => {
  test('int64 nanoseconds are stored and returned bit-exact', async () => {
    await h.custom.createClusterCustomObject({ ...VSC, body: vscBody('nanos') });
    const patch = '[{"op":"replace","path":"/status","value":{"creationTime":1763773512123456789,"restoreSize":9007199254740993,"readyToUse":true}}]';
    const written = await raw(h.server, 'PATCH', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/nanos/status', patch, {
      'Content-Type': 'application/json-patch+json',
    });
    expect(written.status).toBe(200);
    const read = await raw(h.server, 'GET', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/nanos');
    expect(read.text).toContain('"creationTime":1763773512123456789');
    expect(read.text).toContain('"restoreSize":9007199254740993');
    const listed = await raw(h.server, 'GET', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents?fieldSelector=metadata.name%3Dnanos');
    expect(listed.text).toContain('"creationTime":1763773512123456789');
  });

  test('requests without the bearer token get 401 Unauthorized', async () => {
    const res = await raw(h.server, 'GET', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents', undefined, {}, null);
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    const wrong = await raw(h.server, 'GET', '/version', undefined, {}, 'wrong-token');
    expect(wrong.status).toBe(401);
  });

  test('unknown paths and fields are answered like the real server', async () => {
    const res = await raw(h.server, 'GET', '/apis/snapshot.storage.k8s.io/v1/nothings');
    expect(res.status).toBe(404);
    expect(res.text).toBe('404 page not found\n');
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    const created = (await h.custom.createClusterCustomObject({ ...VSC, body: { ...vscBody('pruned'), spec: { ...(vscBody('x').spec as Obj), unknownField: 1 } } })) as Obj;
    expect(created.spec.unknownField).toBeUndefined();
  });

  test('SelfSubjectAccessReview answers allowed', async () => {
    const res = await raw(
      h.server,
      'POST',
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'list', resource: 'secrets' } } }),
    );
    expect(res.status).toBe(201);
    expect((res.json().status as Obj).allowed).toBe(true);
  });

  test('leases, events and PVCs are served by the typed clients', async () => {
    const lease = await h.leases.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'me', leaseDurationSeconds: 15 } } });
    expect(lease.spec?.holderIdentity).toBe('me');
    const event = await h.core.createNamespacedEvent({
      namespace: 'default',
      body: { metadata: { name: 'ev1' }, involvedObject: { kind: 'VolumeSnapshotContent', name: 'x' }, reason: 'Created', message: 'hi', type: 'Normal' },
    });
    expect(event.reason).toBe('Created');
    const listed = await h.core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=x,involvedObject.kind=VolumeSnapshotContent' });
    expect(listed.items.map((e) => e.metadata?.name)).toEqual(['ev1']);
    const asEventsV1 = await raw(h.server, 'GET', '/apis/events.k8s.io/v1/namespaces/default/events/ev1');
    expect(asEventsV1.json()).toMatchObject({ apiVersion: 'events.k8s.io/v1', regarding: { name: 'x' }, note: 'hi' });
    const pvc = await h.core.createNamespacedPersistentVolumeClaim({
      namespace: 'default',
      body: { metadata: { name: 'pvc-1' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
    });
    expect(pvc.status?.phase).toBe('Pending');
  });
});
