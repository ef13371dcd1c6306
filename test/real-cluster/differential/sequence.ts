import { ExactNumber } from '../../../src/testing/apiserver/json.js';
import type { Recorder } from './recorder.js';

const SNAP = '/apis/snapshot.storage.k8s.io/v1';
const GROUP = '/apis/groupsnapshot.storage.k8s.io';
const MERGE = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';
const APPLY = 'application/apply-patch+yaml';
/** A driver no sidecar serves, so nothing but the API server touches these objects. */
const DRIVER = 'differential.example.com';
const HOLD = 'differential.example.com/hold';

type Body = Record<string, unknown>;
const metadataOf = (body: Body): Body => (body.metadata ?? {}) as Body;
const namesOf = (body: Body): unknown => ((body.items ?? []) as Body[]).map((item) => metadataOf(item).name);

function snapshotClass(name: string, labels: Record<string, string>, extra: Body = {}): Body {
  return { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name, labels }, driver: DRIVER, deletionPolicy: 'Delete', ...extra };
}

/** The API groups both servers serve; the real one serves many more, which the order step leaves out. */
const SHARED_GROUPS = new Set(['events.k8s.io', 'authorization.k8s.io', 'coordination.k8s.io', 'snapshot.storage.k8s.io', 'groupsnapshot.storage.k8s.io']);

async function discovery(r: Recorder): Promise<void> {
  await r.send('version document keys', 'GET', '/version', {}, (body) => Object.keys(body).sort());
  // The real server's group order is stable (aggregator priorities, then APIService names), and
  // clients such as kubectl resolve resource names in that order: compared as each server sends it.
  await r.send('API group order', 'GET', '/apis', {}, (body) =>
    ((body.groups ?? []) as Body[]).map((group) => String(group.name)).filter((name) => SHARED_GROUPS.has(name)),
  );
  await r.send('snapshot group', 'GET', '/apis/snapshot.storage.k8s.io');
  await r.send('snapshot v1 resources', 'GET', SNAP);
  await r.send('group snapshot group', 'GET', GROUP);
  for (const version of ['v1', 'v1beta2', 'v1beta1']) await r.send(`group snapshot ${version} resources`, 'GET', `${GROUP}/${version}`);
  await r.send('unserved snapshot version', 'GET', '/apis/snapshot.storage.k8s.io/v1beta1/volumesnapshotclasses');
  await r.send('unknown group', 'GET', '/apis/nothing.example.com/v1');
  await r.send('unknown resource', 'GET', `${SNAP}/nothings`);
}

/** Create, conflicts, validation, update, the patch flavours, and deletion held by a finalizer. */
async function classLifecycle(r: Recorder, s: string): Promise<void> {
  const a = `diff-a-${s}`;
  const classes = `${SNAP}/volumesnapshotclasses`;
  const created = await r.send('create class a (with finalizer)', 'POST', classes, {
    body: snapshotClass(a, { suite: `diff-${s}`, tier: 'a' }, { metadata: { name: a, labels: { suite: `diff-${s}`, tier: 'a' }, finalizers: [HOLD] }, parameters: { p: '1' } }),
  });
  const firstVersion = metadataOf(created.body).resourceVersion;
  await r.send('create class a again', 'POST', classes, { body: snapshotClass(a, {}) });
  await r.send('create class b', 'POST', classes, { body: snapshotClass(`diff-b-${s}`, { suite: `diff-${s}`, tier: 'b' }) });
  await r.send('create class c', 'POST', classes, { body: snapshotClass(`diff-c-${s}`, { suite: `diff-${s}`, tier: 'c' }) });
  await r.send('create class with bad deletionPolicy', 'POST', classes, { body: snapshotClass(`diff-bad-${s}`, {}, { deletionPolicy: 'Sometimes' }) });
  await r.send('create class without driver', 'POST', classes, {
    body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: `diff-nodriver-${s}` }, deletionPolicy: 'Delete' },
  });
  await r.send('create class with mismatched kind', 'POST', classes, { body: { ...snapshotClass(`diff-kind-${s}`, {}), kind: 'VolumeSnapshot' } });
  await r.send('create class with bad name', 'POST', classes, { body: snapshotClass(`Diff_Bad_${s}`, {}) });
  await r.send('dry-run create', 'POST', `${classes}?dryRun=All`, { body: snapshotClass(`diff-dry-${s}`, {}) });
  await r.send('dry-run object is absent', 'GET', `${classes}/diff-dry-${s}`);

  await r.send('get class a', 'GET', `${classes}/${a}`);
  await r.send('merge patch labels', 'PATCH', `${classes}/${a}`, { contentType: MERGE, body: { metadata: { labels: { patched: 'merge' } } } });
  const current = await r.send('get after patch', 'GET', `${classes}/${a}`);
  await r.send('update with stale resourceVersion', 'PUT', `${classes}/${a}`, {
    body: { ...current.body, metadata: { ...metadataOf(current.body), resourceVersion: firstVersion }, parameters: { p: 'stale' } },
  });
  await r.send('update with current resourceVersion', 'PUT', `${classes}/${a}`, { body: { ...current.body, parameters: { p: '2' } } });
  await r.send('update without resourceVersion', 'PUT', `${classes}/${a}`, {
    body: { ...current.body, metadata: { ...metadataOf(current.body), resourceVersion: undefined }, parameters: { p: '3' } },
  });
  await r.send('update with changed name', 'PUT', `${classes}/${a}`, { body: { ...current.body, metadata: { ...metadataOf(current.body), name: `diff-other-${s}` } } });
  await r.send('json patch', 'PATCH', `${classes}/${a}`, { contentType: JSON_PATCH, body: [{ op: 'add', path: '/parameters/q', value: 'x' }] });
  // After a JSON patch removes the last annotation (or adds an empty map), does the stored object
  // keep `annotations: {}` or lose the field?
  await r.send('add an annotation', 'PATCH', `${classes}/${a}`, { contentType: MERGE, body: { metadata: { annotations: { note: 'one' } } } });
  await r.send('json patch removes the last annotation', 'PATCH', `${classes}/${a}`, { contentType: JSON_PATCH, body: [{ op: 'remove', path: '/metadata/annotations/note' }] });
  await r.send('json patch sets empty annotations', 'PATCH', `${classes}/${a}`, { contentType: JSON_PATCH, body: [{ op: 'add', path: '/metadata/annotations', value: {} }] });
  await r.send('json patch with failing test', 'PATCH', `${classes}/${a}`, { contentType: JSON_PATCH, body: [{ op: 'test', path: '/parameters/q', value: 'y' }] });
  // The sidecar's first annotation goes on as a whole map, guarded by a test that no map is there
  // yet: where another client wrote one meanwhile, the patch must fail and leave that map as it is.
  const guard = `diff-guard-${s}`;
  const guarded = [{ op: 'test', path: '/metadata/annotations', value: null }, { op: 'add', path: '/metadata/annotations', value: { mine: 'yes' } }];
  await r.send('create class guard', 'POST', classes, { body: snapshotClass(guard, {}) });
  await r.send('guarded first annotation, no map yet', 'PATCH', `${classes}/${guard}`, { contentType: JSON_PATCH, body: guarded });
  await r.send('another client adds an annotation', 'PATCH', `${classes}/${guard}`, { contentType: MERGE, body: { metadata: { annotations: { theirs: 'yes' } } } });
  await r.send('guarded first annotation, map there', 'PATCH', `${classes}/${guard}`, { contentType: JSON_PATCH, body: guarded });
  await r.send('both annotations kept', 'GET', `${classes}/${guard}`);
  // Gone before the list steps: the real server pages before it filters, so one more object moves its pages.
  await r.send('delete class guard', 'DELETE', `${classes}/${guard}`);
  await r.send('strategic merge patch on a custom resource', 'PATCH', `${classes}/${a}`, { contentType: 'application/strategic-merge-patch+json', body: { parameters: { r: 'z' } } });
  await r.send('patch of an absent object', 'PATCH', `${classes}/diff-absent-${s}`, { contentType: MERGE, body: { parameters: { p: '1' } } });
}

/**
 * Server-side apply, on class b: later steps show b only by name and table columns, so a server
 * that refuses apply differs in these three steps alone.
 */
async function serverSideApply(r: Recorder, s: string): Promise<void> {
  const classes = `${SNAP}/volumesnapshotclasses`;
  const b = `diff-b-${s}`;
  await r.send('server-side apply', 'PATCH', `${classes}/${b}?fieldManager=differential-one`, {
    contentType: APPLY,
    body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: b }, parameters: { applied: 'one' } },
  });
  await r.send('server-side apply conflict', 'PATCH', `${classes}/${b}?fieldManager=differential-two`, {
    contentType: APPLY,
    body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: b }, parameters: { applied: 'two' } },
  });
  await r.send('server-side apply forced', 'PATCH', `${classes}/${b}?fieldManager=differential-two&force=true`, {
    contentType: APPLY,
    body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: b }, parameters: { applied: 'two' } },
  });
}

async function selectorsAndPaging(r: Recorder, s: string): Promise<void> {
  const classes = `${SNAP}/volumesnapshotclasses`;
  await r.send('list by label', 'GET', `${classes}?labelSelector=suite%3Ddiff-${s}`, {}, namesOf);
  await r.send('list by set selector', 'GET', `${classes}?labelSelector=${encodeURIComponent(`suite=diff-${s},tier in (a,c)`)}`, {}, namesOf);
  await r.send('list by negated selector', 'GET', `${classes}?labelSelector=${encodeURIComponent(`suite=diff-${s},tier!=a`)}`, {}, namesOf);
  await r.send('list by field selector', 'GET', `${classes}?fieldSelector=metadata.name%3Ddiff-b-${s}`, {}, namesOf);
  await r.send('malformed label selector', 'GET', `${classes}?labelSelector=${encodeURIComponent('tier in (a')}`);
  await r.send('unsupported field selector', 'GET', `${classes}?fieldSelector=driver%3Dx`);
  let token = '';
  for (let page = 1; page <= 4; page++) {
    const query = `labelSelector=suite%3Ddiff-${s}&limit=1${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
    const result = await r.send(`page ${page}`, 'GET', `${classes}?${query}`, {}, (body) => ({ names: namesOf(body), metadata: body.metadata }));
    token = String(metadataOf(result.body).continue ?? '');
    if (!token) break;
  }
  await r.send('invalid continue token', 'GET', `${classes}?limit=1&continue=not-a-token`);
  // The last column is the age ("3s"), which changes with the clock: left out.
  await r.send('table output', 'GET', `${classes}?labelSelector=suite%3Ddiff-${s}`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' }, (body) => ({
    kind: body.kind,
    columns: ((body.columnDefinitions ?? []) as Body[]).map((column) => `${column.name}:${column.type}`),
    rows: ((body.rows ?? []) as Body[]).map((row) => (row.cells as unknown[]).slice(0, -1)),
  }));
}

/** Changes recorded from a resource version, then read back with a watch from that version. */
async function watchAndFinalizers(r: Recorder, s: string): Promise<void> {
  const classes = `${SNAP}/volumesnapshotclasses`;
  const a = `diff-a-${s}`;
  const start = await r.send('list before watch', 'GET', `${classes}?fieldSelector=metadata.name%3D${a}`, {}, namesOf);
  const fromVersion = String(metadataOf(start.body).resourceVersion);
  await r.send('label change', 'PATCH', `${classes}/${a}`, { contentType: MERGE, body: { metadata: { labels: { watched: 'yes' } } } });
  await r.send('delete held by finalizer', 'DELETE', `${classes}/${a}`);
  await r.send('object still present while finalizing', 'GET', `${classes}/${a}`, {}, (body) => ({
    deletionTimestamp: metadataOf(body).deletionTimestamp,
    finalizers: metadataOf(body).finalizers,
  }));
  await r.send('update during deletion', 'PATCH', `${classes}/${a}`, { contentType: MERGE, body: { metadata: { labels: { late: 'yes' } } } });
  await r.send('delete again while finalizing', 'DELETE', `${classes}/${a}`, {}, (body) => ({ kind: body.kind, finalizers: metadataOf(body).finalizers }));
  await r.send('remove finalizer', 'PATCH', `${classes}/${a}`, { contentType: MERGE, body: { metadata: { finalizers: null } } });
  await r.send('gone after finalizer removal', 'GET', `${classes}/${a}`);
  await r.watch('watch from before the changes', `${classes}?watch=true&fieldSelector=metadata.name%3D${a}&resourceVersion=${fromVersion}`, 'DELETED');
  await r.send('delete absent', 'DELETE', `${classes}/${a}`);
  await r.send('delete collection by label', 'DELETE', `${classes}?labelSelector=suite%3Ddiff-${s}`, {}, namesOf);
  await r.send('list after delete collection', 'GET', `${classes}?labelSelector=suite%3Ddiff-${s}`, {}, namesOf);
}

/** Status subresource, CEL validation and int64 nanosecond fields of VolumeSnapshotContent. */
async function contentStatus(r: Recorder, s: string): Promise<void> {
  const contents = `${SNAP}/volumesnapshotcontents`;
  const name = `diff-content-${s}`;
  const content = (source: Body): Body => ({
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name },
    spec: { deletionPolicy: 'Retain', driver: DRIVER, source, volumeSnapshotRef: { name: 'nothing', namespace: `diff-${s}` } },
  });
  await r.send('content with two sources', 'POST', contents, { body: content({ snapshotHandle: 'h', volumeHandle: 'v' }) });
  await r.send('content without reference namespace', 'POST', contents, {
    body: { ...content({ snapshotHandle: 'h' }), spec: { deletionPolicy: 'Retain', driver: DRIVER, source: { snapshotHandle: 'h' }, volumeSnapshotRef: { name: 'x' } } },
  });
  const created = await r.send('pre-provisioned content', 'POST', contents, { body: content({ snapshotHandle: 'snap-handle-1' }) });
  // 1700000000123456789 does not fit a double: a server that parses it as one changes the digits.
  await r.send('status update', 'PUT', `${contents}/${name}/status`, {
    body: { ...created.body, status: { snapshotHandle: 'snap-handle-1', readyToUse: true, restoreSize: 1048576, creationTime: new ExactNumber('1700000000123456789') } },
  });
  await r.send('status is kept', 'GET', `${contents}/${name}`);
  await r.send('spec change through status is ignored', 'PATCH', `${contents}/${name}/status`, { contentType: MERGE, body: { spec: { deletionPolicy: 'Delete' }, status: { readyToUse: false } } });
  await r.send('status change through main resource is ignored', 'PATCH', `${contents}/${name}`, { contentType: MERGE, body: { spec: { deletionPolicy: 'Delete' }, status: { readyToUse: true } } });
  await r.send('immutable snapshot handle', 'PATCH', `${contents}/${name}`, { contentType: MERGE, body: { spec: { source: { snapshotHandle: 'other' } } } });
  await r.send('negative restore size', 'PATCH', `${contents}/${name}/status`, { contentType: MERGE, body: { status: { restoreSize: -1 } } });
  await r.send('delete content', 'DELETE', `${contents}/${name}`, {}, (body) => ({ kind: body.kind, status: body.status }));
}

async function namespacedSnapshots(r: Recorder, s: string): Promise<void> {
  const namespace = `diff-${s}`;
  await r.send('create namespace', 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } }, (body) => ({
    name: metadataOf(body).name,
    phase: (body.status as Body | undefined)?.phase,
  }));
  const snapshots = `${SNAP}/namespaces/${namespace}/volumesnapshots`;
  const snapshot = (name: string, source: Body): Body => ({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name, labels: { suite: namespace } }, spec: { source } });
  await r.send('snapshot with two sources', 'POST', snapshots, { body: snapshot('two', { persistentVolumeClaimName: 'p', volumeSnapshotContentName: 'c' }) });
  await r.send('snapshot without source', 'POST', snapshots, { body: snapshot('none', {}) });
  await r.send('snapshot of a claim', 'POST', snapshots, { body: snapshot('claim', { persistentVolumeClaimName: 'data' }) });
  await r.send('snapshot in another namespace in the body', 'POST', snapshots, { body: { ...snapshot('elsewhere', { persistentVolumeClaimName: 'data' }), metadata: { name: 'elsewhere', namespace: 'default' } } });
  await r.send('snapshot in an absent namespace', 'POST', `${SNAP}/namespaces/diff-absent-${s}/volumesnapshots`, { body: snapshot('x', { persistentVolumeClaimName: 'data' }) });
  await r.send('change of source', 'PATCH', `${snapshots}/claim`, { contentType: MERGE, body: { spec: { source: { persistentVolumeClaimName: 'other' } } } });
  await r.send('snapshot status', 'PATCH', `${snapshots}/claim/status`, { contentType: MERGE, body: { status: { readyToUse: false, error: { message: 'waiting', time: '2024-01-02T03:04:05Z' } } } });
  await r.send('list across namespaces', 'GET', `${SNAP}/volumesnapshots?labelSelector=suite%3D${namespace}`, {}, namesOf);
  await r.send('wrong namespace', 'GET', `${SNAP}/namespaces/default/volumesnapshots/claim`);
  await r.send('json patch removes the last label', 'PATCH', `${snapshots}/claim`, { contentType: JSON_PATCH, body: [{ op: 'remove', path: '/metadata/labels/suite' }] });
  await r.send('delete snapshot', 'DELETE', `${snapshots}/claim`, {}, (body) => ({ kind: body.kind, name: metadataOf(body).name }));
}

/** The group API is served at v1beta1, v1beta2 (storage) and v1 without a conversion webhook. */
async function groupVersions(r: Recorder, s: string): Promise<void> {
  const className = `diff-group-${s}`;
  await r.send('group class via v1beta1', 'POST', `${GROUP}/v1beta1/volumegroupsnapshotclasses`, {
    body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1beta1', kind: 'VolumeGroupSnapshotClass', metadata: { name: className }, driver: DRIVER, deletionPolicy: 'Delete' },
  });
  await r.send('group class read via v1', 'GET', `${GROUP}/v1/volumegroupsnapshotclasses/${className}`);
  await r.send('group class read via v1beta2', 'GET', `${GROUP}/v1beta2/volumegroupsnapshotclasses/${className}`);

  const contentName = `diff-groupcontent-${s}`;
  const created = await r.send('group content via v1', 'POST', `${GROUP}/v1/volumegroupsnapshotcontents`, {
    body: {
      apiVersion: 'groupsnapshot.storage.k8s.io/v1',
      kind: 'VolumeGroupSnapshotContent',
      metadata: { name: contentName },
      spec: {
        deletionPolicy: 'Retain',
        driver: DRIVER,
        source: { groupSnapshotHandles: { volumeGroupSnapshotHandle: 'group-1', volumeSnapshotHandles: ['snap-1', 'snap-2'] } },
        volumeGroupSnapshotRef: { name: 'nothing', namespace: `diff-${s}` },
      },
    },
  });
  await r.send('group content status via v1', 'PUT', `${GROUP}/v1/volumegroupsnapshotcontents/${contentName}/status`, {
    body: {
      ...created.body,
      status: {
        volumeGroupSnapshotHandle: 'group-1',
        readyToUse: true,
        creationTime: '2024-01-02T03:04:05Z',
        volumeSnapshotInfoList: [
          { volumeHandle: 'vol-1', snapshotHandle: 'snap-1', readyToUse: true, restoreSize: 1024 },
          { volumeHandle: 'vol-2', snapshotHandle: 'snap-2', readyToUse: true, restoreSize: 2048 },
        ],
      },
    },
  });
  for (const version of ['v1', 'v1beta2', 'v1beta1']) {
    await r.send(`group content read via ${version}`, 'GET', `${GROUP}/${version}/volumegroupsnapshotcontents/${contentName}`);
  }
  await r.send('group content status via v1beta1 pair list', 'PATCH', `${GROUP}/v1beta1/volumegroupsnapshotcontents/${contentName}/status`, {
    contentType: MERGE,
    body: { status: { volumeSnapshotHandlePairList: [{ volumeHandle: 'vol-1', snapshotHandle: 'snap-1' }] } },
  });
  await r.send('group content after v1beta1 status write', 'GET', `${GROUP}/v1/volumegroupsnapshotcontents/${contentName}`);
  await r.send('group content with two sources', 'POST', `${GROUP}/v1/volumegroupsnapshotcontents`, {
    body: {
      apiVersion: 'groupsnapshot.storage.k8s.io/v1',
      kind: 'VolumeGroupSnapshotContent',
      metadata: { name: `diff-groupcontent-bad-${s}` },
      spec: {
        deletionPolicy: 'Retain',
        driver: DRIVER,
        source: { volumeHandles: ['v'], groupSnapshotHandles: { volumeGroupSnapshotHandle: 'g', volumeSnapshotHandles: ['s'] } },
        volumeGroupSnapshotRef: { name: 'nothing', namespace: `diff-${s}` },
      },
    },
  });
  const namespace = `diff-${s}`;
  await r.send('group snapshot via v1beta1', 'POST', `${GROUP}/v1beta1/namespaces/${namespace}/volumegroupsnapshots`, {
    body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1beta1', kind: 'VolumeGroupSnapshot', metadata: { name: 'group' }, spec: { source: { selector: { matchLabels: { app: 'x' } } } } },
  });
  await r.send('group snapshot read via v1', 'GET', `${GROUP}/v1/namespaces/${namespace}/volumegroupsnapshots/group`);
  await r.send('group snapshot selector change', 'PATCH', `${GROUP}/v1/namespaces/${namespace}/volumegroupsnapshots/group`, {
    contentType: MERGE,
    body: { spec: { source: { selector: { matchLabels: { app: 'y' } } } } },
  });
  await r.send('delete group content', 'DELETE', `${GROUP}/v1/volumegroupsnapshotcontents/${contentName}`, {}, (body) => ({ kind: body.kind }));
  await r.send('delete group class', 'DELETE', `${GROUP}/v1/volumegroupsnapshotclasses/${className}`, {}, (body) => ({ kind: body.kind }));
}

/** The whole sequence, in order; every name it creates carries the run's suffix `s`. */
export async function runSequence(r: Recorder, s: string): Promise<void> {
  await discovery(r);
  await classLifecycle(r, s);
  await serverSideApply(r, s);
  await selectorsAndPaging(r, s);
  await watchAndFinalizers(r, s);
  await contentStatus(r, s);
  await namespacedSnapshots(r, s);
  await groupVersions(r, s);
}
