import { afterEach, describe, expect, test } from '@jest/globals';
import { ApisApi } from '@kubernetes/client-node';
import type { GroupVersion } from '../../src/testing/apiserver/index.js';
import { raw, startHarness, type Harness, type Obj } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.server.stop();
  h = undefined;
});

describe('discovery', () => {
  test('/version, /api, /apis and group resource lists with kinds, verbs, short names and status', async () => {
    h = await startHarness({ groupSnapshotVersions: ['v1beta1', 'v1beta2', 'v1'] });
    expect((await raw(h.server, 'GET', '/version')).json()).toMatchObject({ major: '1', minor: '32' });
    expect((await raw(h.server, 'GET', '/api')).json()).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = await h.kc.makeApiClient(ApisApi).getAPIVersions();
    const group = groups.groups.find((g) => g.name === 'groupsnapshot.storage.k8s.io');
    expect(group?.versions.map((v) => v.version)).toEqual(['v1', 'v1beta2', 'v1beta1']);
    expect(group?.preferredVersion?.version).toBe('v1');
    const snap = (await raw(h.server, 'GET', '/apis/snapshot.storage.k8s.io/v1')).json();
    const resources = snap.resources as Obj[];
    expect(resources.map((r) => r.name)).toEqual([
      'volumesnapshotclasses',
      'volumesnapshotcontents',
      'volumesnapshotcontents/status',
      'volumesnapshots',
      'volumesnapshots/status',
    ]);
    expect(resources.find((r) => r.name === 'volumesnapshotcontents')).toMatchObject({
      singularName: 'volumesnapshotcontent',
      namespaced: false,
      kind: 'VolumeSnapshotContent',
      verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
      shortNames: ['vsc', 'vscs'],
    });
    const core = (await raw(h.server, 'GET', '/api/v1')).json();
    expect((core.resources as Obj[]).map((r) => r.name)).toEqual(
      expect.arrayContaining(['namespaces', 'secrets', 'events', 'persistentvolumeclaims', 'persistentvolumes']),
    );
  });

  test.each([
    // With v1 served, "v1.groupsnapshot.storage.k8s.io" sorts before "v1.snapshot.storage.k8s.io".
    [['v1beta1', 'v1beta2', 'v1'], ['events.k8s.io', 'authorization.k8s.io', 'coordination.k8s.io', 'groupsnapshot.storage.k8s.io', 'snapshot.storage.k8s.io']],
    [['v1'], ['events.k8s.io', 'authorization.k8s.io', 'coordination.k8s.io', 'groupsnapshot.storage.k8s.io', 'snapshot.storage.k8s.io']],
    // Served at v1beta* only, the group snapshot APIServices sort after "v1.snapshot.storage.k8s.io".
    [['v1beta1', 'v1beta2'], ['events.k8s.io', 'authorization.k8s.io', 'coordination.k8s.io', 'snapshot.storage.k8s.io', 'groupsnapshot.storage.k8s.io']],
  ] as Array<[GroupVersion[], string[]]>)('/apis lists groups in the real server\'s order (group snapshot versions %j)', async (versions, order) => {
    h = await startHarness({ groupSnapshotVersions: versions });
    const list = (await raw(h.server, 'GET', '/apis')).json();
    expect((list.groups as Obj[]).map((g) => g.name)).toEqual(order);
  });

  test('only the configured group snapshot versions are served', async () => {
    h = await startHarness({ groupSnapshotVersions: ['v1beta1'] });
    const group = (await raw(h.server, 'GET', '/apis/groupsnapshot.storage.k8s.io')).json();
    expect(group).toMatchObject({ name: 'groupsnapshot.storage.k8s.io', preferredVersion: { version: 'v1beta1' } });
    expect((await raw(h.server, 'GET', '/apis/groupsnapshot.storage.k8s.io/v1')).status).toBe(404);
    expect((await raw(h.server, 'GET', '/apis/groupsnapshot.storage.k8s.io/v1/volumegroupsnapshotcontents')).status).toBe(404);
  });

  test('v1 and v1beta2 see one object; v1beta1 prunes the info list and gets a deprecation warning', async () => {
    h = await startHarness({ groupSnapshotVersions: ['v1beta1', 'v1beta2', 'v1'] });
    const body = {
      apiVersion: 'groupsnapshot.storage.k8s.io/v1',
      kind: 'VolumeGroupSnapshotContent',
      metadata: { name: 'conv' },
      spec: { deletionPolicy: 'Delete', driver: 'd', source: { volumeHandles: ['a'] }, volumeGroupSnapshotRef: { name: 'g', namespace: 'default' } },
    };
    expect((await raw(h.server, 'POST', '/apis/groupsnapshot.storage.k8s.io/v1/volumegroupsnapshotcontents', JSON.stringify(body))).status).toBe(201);
    // Written as text: JSON.stringify would round the int64 nanoseconds before they leave the test.
    const status = '{"status":{"readyToUse":true,"volumeSnapshotInfoList":[{"volumeHandle":"a","snapshotHandle":"s","creationTime":1763773512123456789,"readyToUse":true,"restoreSize":1}]}}';
    const patched = await raw(h.server, 'PATCH', '/apis/groupsnapshot.storage.k8s.io/v1/volumegroupsnapshotcontents/conv/status', status, {
      'Content-Type': 'application/merge-patch+json',
    });
    expect(patched.status).toBe(200);
    const beta2 = await raw(h.server, 'GET', '/apis/groupsnapshot.storage.k8s.io/v1beta2/volumegroupsnapshotcontents/conv');
    expect(beta2.json().apiVersion).toBe('groupsnapshot.storage.k8s.io/v1beta2');
    expect(beta2.text).toContain('"creationTime":1763773512123456789');
    const beta1 = await raw(h.server, 'GET', '/apis/groupsnapshot.storage.k8s.io/v1beta1/volumegroupsnapshotcontents/conv');
    expect(beta1.json().status).toEqual({ readyToUse: true });
    expect(beta1.headers.warning).toBe('299 - "groupsnapshot.storage.k8s.io/v1beta1 VolumeGroupSnapshotContent is deprecated; use groupsnapshot.storage.k8s.io/v1 VolumeGroupSnapshotContent"');
  });
});
