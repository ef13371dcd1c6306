import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';
import { RealCluster } from './harness/harness.js';
import type { ManagedProcess } from './harness/managed-process.js';
import { pollUntil } from './harness/wait.js';

// The project's API test server must serve the real kubectl (v1.37.2, built by the harness) for
// the snapshot objects: create/apply, get (tables, -o json, jsonpath), watch, patch (merge, json,
// status subresource), describe and delete, all with the kubeconfig the test server writes.

// Above 2^53: only a client that keeps int64 exact prints it back unchanged.
const CREATION_TIME = '1763773512123456789';
const CLASS = 'kubectl-class';
const CONTENT = 'kubectl-content';
const SNAPSHOT = 'kubectl-snap';
const DRIVER = 'hostpath.csi.k8s.io';
const WAIT_MS = 60_000;

interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

const CLASS_YAML = `apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata:
  name: ${CLASS}
driver: ${DRIVER}
deletionPolicy: Delete
parameters:
  tier: gold
`;

const CONTENT_YAML = `apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotContent
metadata:
  name: ${CONTENT}
spec:
  deletionPolicy: Delete
  driver: ${DRIVER}
  source:
    snapshotHandle: handle-kubectl-1
  volumeSnapshotClassName: ${CLASS}
  volumeSnapshotRef:
    apiVersion: snapshot.storage.k8s.io/v1
    kind: VolumeSnapshot
    name: ${SNAPSHOT}
    namespace: default
`;

const snapshotYaml = (labels: Record<string, string>): string => `apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: ${SNAPSHOT}
  namespace: default
  labels:
${Object.entries(labels)
  .map(([key, value]) => `    ${key}: ${value}`)
  .join('\n')}
spec:
  volumeSnapshotClassName: ${CLASS}
  source:
    volumeSnapshotContentName: ${CONTENT}
`;

describe('the real kubectl against the API test server', () => {
  let cluster: RealCluster;
  let server: TestApiServer;
  let kubectlPath: string;
  let dir: string;
  let watcher: ManagedProcess | undefined;

  /** Runs kubectl with the test server's kubeconfig; never throws, the exit code is the caller's to check. */
  const kubectl = (...args: string[]): Promise<KubectlResult> =>
    new Promise((resolve) => {
      const fullArgs = ['--kubeconfig', server.kubeconfigPath, '--cache-dir', join(dir, 'kube-cache'), ...args];
      execFile(kubectlPath, fullArgs, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
    });

  /** kubectl that must succeed; returns stdout. */
  const ok = async (...args: string[]): Promise<string> => {
    const result = await kubectl(...args);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited with ${result.code}: ${result.stderr}`);
    expect(result.code).toBe(0);
    return result.stdout;
  };

  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(async () => {
    cluster = await RealCluster.connect();
    kubectlPath = cluster.program('kubectl');
    dir = cluster.scratchDir(cluster.uniqueName('kubectl-testserver'));
    server = await startTestApiServer();
  });

  afterAll(async () => {
    await watcher?.stop();
    await server?.stop();
    await cluster?.stop();
  });

  test('create and apply a class, a bound content with status, and a snapshot', async () => {
    expect(await ok('create', '-f', file('class.yaml', CLASS_YAML))).toBe(`volumesnapshotclass.snapshot.storage.k8s.io/${CLASS} created\n`);
    expect(await ok('apply', '-f', file('content.yaml', CONTENT_YAML))).toBe(`volumesnapshotcontent.snapshot.storage.k8s.io/${CONTENT} created\n`);
    expect(await ok('apply', '-f', file('snapshot.yaml', snapshotYaml({ app: 'demo' })))).toBe(`volumesnapshot.snapshot.storage.k8s.io/${SNAPSHOT} created\n`);

    // Creating it again is a conflict, with kubectl's exit code 1.
    const again = await kubectl('create', '-f', join(dir, 'class.yaml'));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`Error from server (AlreadyExists): error when creating "${join(dir, 'class.yaml')}": volumesnapshotclasses.snapshot.storage.k8s.io "${CLASS}" already exists`);

    // A second apply with a changed label goes through kubectl's three-way merge patch.
    expect(await ok('apply', '-f', file('snapshot.yaml', snapshotYaml({ app: 'demo', tier: 'gold' })))).toBe(`volumesnapshot.snapshot.storage.k8s.io/${SNAPSHOT} configured\n`);
    expect(await ok('apply', '-f', join(dir, 'snapshot.yaml'))).toBe(`volumesnapshot.snapshot.storage.k8s.io/${SNAPSHOT} unchanged\n`);

    const status = `{"status":{"creationTime":${CREATION_TIME},"readyToUse":true,"restoreSize":1048576,"snapshotHandle":"handle-kubectl-1"}}`;
    expect(await ok('patch', 'volumesnapshotcontent', CONTENT, '--subresource=status', '--type=merge', '-p', status)).toBe(
      `volumesnapshotcontent.snapshot.storage.k8s.io/${CONTENT} patched\n`,
    );
    const snapshotStatus = `{"status":{"boundVolumeSnapshotContentName":"${CONTENT}","creationTime":"2025-11-22T01:05:12Z","readyToUse":true,"restoreSize":"1Mi"}}`;
    expect(await ok('patch', 'volumesnapshot', SNAPSHOT, '-n', 'default', '--subresource=status', '--type=merge', '-p', snapshotStatus)).toBe(
      `volumesnapshot.snapshot.storage.k8s.io/${SNAPSHOT} patched\n`,
    );

    expect(server.requests.count({ verb: 'create', resource: 'volumesnapshotclasses', code: 201 })).toBe(1);
    expect(server.requests.count({ verb: 'create', resource: 'volumesnapshotclasses', code: 409 })).toBe(1);
    expect(server.requests.count({ verb: 'create', resource: 'volumesnapshotcontents', code: 201 })).toBe(1);
    expect(server.requests.count({ verb: 'create', resource: 'volumesnapshots', namespace: 'default', code: 201 })).toBe(1);
    expect(server.requests.count({ verb: 'patch', resource: 'volumesnapshots', subresource: '', code: 200 })).toBe(1);
    expect(server.requests.count({ verb: 'patch', resource: 'volumesnapshotcontents', subresource: 'status', code: 200 })).toBe(1);
    expect(server.requests.count({ verb: 'patch', resource: 'volumesnapshots', subresource: 'status', code: 200 })).toBe(1);
  });

  test('get prints the printer columns, -o json keeps int64 creationTime exact', async () => {
    const classes = await ok('get', 'volumesnapshotclasses');
    expect(classes).toMatch(/^NAME\s+DRIVER\s+DELETIONPOLICY\s+AGE\n/);
    expect(classes).toMatch(new RegExp(`^${CLASS}\\s+${DRIVER}\\s+Delete\\s+\\d+s$`, 'm'));

    const contents = await ok('get', 'volumesnapshotcontents');
    expect(contents).toMatch(/^NAME\s+READYTOUSE\s+RESTORESIZE\s+DELETIONPOLICY\s+DRIVER\s+VOLUMESNAPSHOTCLASS\s+VOLUMESNAPSHOT\s+VOLUMESNAPSHOTNAMESPACE\s+AGE\n/);
    expect(contents).toMatch(new RegExp(`^${CONTENT}\\s+true\\s+1048576\\s+Delete\\s+${DRIVER}\\s+${CLASS}\\s+${SNAPSHOT}\\s+default\\s+\\d+s$`, 'm'));

    const snapshots = await ok('get', 'volumesnapshots', '-n', 'default', '-l', 'tier=gold');
    expect(snapshots).toMatch(/^NAME\s+READYTOUSE\s+SOURCEPVC\s+SOURCESNAPSHOTCONTENT\s+RESTORESIZE\s+SNAPSHOTCLASS\s+SNAPSHOTCONTENT\s+CREATIONTIME\s+AGE\n/);
    expect(snapshots).toMatch(new RegExp(`^${SNAPSHOT}\\s+true\\s+${CONTENT}\\s+1Mi\\s+${CLASS}\\s+${CONTENT}\\s+\\S+\\s+\\d+s$`, 'm'));
    expect(await ok('get', 'volumesnapshots', '-A', '-o', 'name')).toBe(`volumesnapshot.snapshot.storage.k8s.io/${SNAPSHOT}\n`);
    const none = await kubectl('get', 'volumesnapshots', '-n', 'default', '-l', 'tier=silver');
    expect(none).toEqual({ code: 0, stdout: '', stderr: 'No resources found in default namespace.\n' });

    const contentJson = await ok('get', 'volumesnapshotcontent', CONTENT, '-o', 'json');
    // JSON.parse would round the int64; the text must carry it digit for digit.
    expect(contentJson).toContain(`"creationTime": ${CREATION_TIME},`);
    const content = JSON.parse(contentJson) as {
      apiVersion: string;
      kind: string;
      metadata: { name: string; uid: string; resourceVersion: string; annotations?: Record<string, string> };
      spec: Record<string, unknown>;
      status: Record<string, unknown>;
    };
    expect(content.apiVersion).toBe('snapshot.storage.k8s.io/v1');
    expect(content.kind).toBe('VolumeSnapshotContent');
    expect(content.metadata.name).toBe(CONTENT);
    expect(content.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(content.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toContain(`"name":"${CONTENT}"`);
    expect(content.spec).toEqual({
      deletionPolicy: 'Delete',
      driver: DRIVER,
      source: { snapshotHandle: 'handle-kubectl-1' },
      volumeSnapshotClassName: CLASS,
      volumeSnapshotRef: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', name: SNAPSHOT, namespace: 'default' },
    });
    expect(content.status).toMatchObject({ readyToUse: true, restoreSize: 1048576, snapshotHandle: 'handle-kubectl-1' });
    expect(await ok('get', 'volumesnapshotcontent', CONTENT, '-o', 'jsonpath={.status.creationTime}')).toBe(CREATION_TIME);

    const list = JSON.parse(await ok('get', 'volumesnapshots', '-n', 'default', '-o', 'json')) as { kind: string; items: { metadata: { name: string; labels: Record<string, string> }; status: Record<string, unknown> }[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((item) => item.metadata.name)).toEqual([SNAPSHOT]);
    expect(list.items[0]?.metadata.labels).toEqual({ app: 'demo', tier: 'gold' });
    expect(list.items[0]?.status).toEqual({ boundVolumeSnapshotContentName: CONTENT, creationTime: '2025-11-22T01:05:12Z', readyToUse: true, restoreSize: '1Mi' });

    const missing = await kubectl('get', 'volumesnapshot', 'nope', '-n', 'default');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('Error from server (NotFound): volumesnapshots.snapshot.storage.k8s.io "nope" not found\n');

    expect(server.requests.count({ verb: 'list', resource: 'volumesnapshotcontents', code: 200 })).toBeGreaterThanOrEqual(1);
    expect(server.requests.count({ verb: 'get', resource: 'volumesnapshotcontents', name: CONTENT, code: 200 })).toBeGreaterThanOrEqual(2);
    expect(server.requests.count({ verb: 'get', resource: 'volumesnapshots', name: 'nope', code: 404 })).toBe(1);
  });

  test('get -w shows the MODIFIED row of a patch made while it watches', async () => {
    const watchesBefore = server.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents' });
    watcher = cluster.startProcess('kubectl-watch', kubectlPath, [
      '--kubeconfig', server.kubeconfigPath, '--cache-dir', join(dir, 'kube-cache'),
      'get', 'volumesnapshotcontents', '-w', '--output-watch-events',
    ]);
    const running = watcher;
    await running.waitForLog(new RegExp(`^ADDED\\s+${CONTENT}\\s`, 'm'), WAIT_MS);
    // The initial ADDED event is written after the watch subscribed, so the patch cannot be missed.
    await pollUntil(() => (server.openWatches() >= 1 ? true : undefined), { description: 'the kubectl watch to be open', timeoutMs: WAIT_MS });

    expect(await ok('patch', 'volumesnapshotcontent', CONTENT, '--type=merge', '-p', '{"metadata":{"labels":{"watched":"yes"}}}')).toBe(
      `volumesnapshotcontent.snapshot.storage.k8s.io/${CONTENT} patched\n`,
    );
    // As with kube-apiserver, each event is a one-row Table: the MODIFIED row has all printer columns.
    await running.waitForLog(new RegExp(`^MODIFIED\\s+${CONTENT}\\s+true\\s+1048576\\s+Delete\\s+${DRIVER}\\s+${CLASS}\\s+${SNAPSHOT}\\s+default\\s+\\d+s$`, 'm'), WAIT_MS);
    running.assertRunning();
    await running.stop();
    watcher = undefined;

    const log = running.log();
    // One header for the whole watch: the column definitions came with the first event only.
    expect(log.match(/^EVENT\s+NAME/gm)).toHaveLength(1);
    expect(log).toMatch(/^EVENT\s+NAME\s+READYTOUSE\s+RESTORESIZE\s+DELETIONPOLICY\s+DRIVER\s+VOLUMESNAPSHOTCLASS\s+VOLUMESNAPSHOT\s+VOLUMESNAPSHOTNAMESPACE\s+AGE$/m);
    expect(server.requests.count({ verb: 'watch', resource: 'volumesnapshotcontents', code: 200 })).toBe(watchesBefore + 1);
    await pollUntil(() => (server.openWatches() === 0 ? true : undefined), { description: 'the watch to close after kubectl ended', timeoutMs: WAIT_MS });
  });

  test('patch with merge and json patches, and a failing json patch', async () => {
    expect(await ok('patch', 'volumesnapshot', SNAPSHOT, '-n', 'default', '--type=merge', '-p', '{"metadata":{"annotations":{"example.com/note":"merged"}}}')).toBe(
      `volumesnapshot.snapshot.storage.k8s.io/${SNAPSHOT} patched\n`,
    );
    expect(await ok('patch', 'volumesnapshotcontent', CONTENT, '--type=json', '-p', '[{"op":"replace","path":"/spec/deletionPolicy","value":"Retain"}]')).toBe(
      `volumesnapshotcontent.snapshot.storage.k8s.io/${CONTENT} patched\n`,
    );
    expect(await ok('get', 'volumesnapshotcontent', CONTENT, '-o', 'jsonpath={.spec.deletionPolicy} {.status.creationTime}')).toBe(`Retain ${CREATION_TIME}`);
    expect(await ok('get', 'volumesnapshot', SNAPSHOT, '-n', 'default', '-o', 'jsonpath={.metadata.annotations.example\\.com/note}')).toBe('merged');

    const failed = await kubectl('patch', 'volumesnapshotcontent', CONTENT, '--type=json', '-p', '[{"op":"test","path":"/spec/driver","value":"other"}]');
    expect(failed.code).toBe(1);
    // kube-apiserver answers a failed json patch test with a bare 422 (NewGenericServerResponse), which kubectl prints so.
    expect(failed.stderr).toBe('The request is invalid: the server rejected our request due to an error in our request\n');
    expect(server.requests.count({ verb: 'patch', resource: 'volumesnapshotcontents', code: 422 })).toBe(1);
    expect(await ok('get', 'volumesnapshotcontent', CONTENT, '-o', 'jsonpath={.spec.driver}')).toBe(DRIVER);

    // The schema still applies to kubectl's patches: an unknown enum value is rejected.
    const invalid = await kubectl('patch', 'volumesnapshotcontent', CONTENT, '--type=merge', '-p', '{"spec":{"deletionPolicy":"Sometimes"}}');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('Unsupported value: "Sometimes"');
    expect(server.requests.count({ verb: 'patch', resource: 'volumesnapshotcontents', code: 422 })).toBe(2);
  });

  test('describe prints the fields of the objects', async () => {
    const content = await ok('describe', 'volumesnapshotcontent', CONTENT);
    expect(content).toMatch(new RegExp(`^Name:\\s+${CONTENT}$`, 'm'));
    expect(content).toMatch(/^Labels:\s+watched=yes$/m);
    expect(content).toMatch(/^API Version:\s+snapshot\.storage\.k8s\.io\/v1$/m);
    expect(content).toMatch(/^Kind:\s+VolumeSnapshotContent$/m);
    expect(content).toMatch(/^ {2}Deletion Policy:\s+Retain$/m);
    expect(content).toMatch(new RegExp(`^ {2}Driver:\\s+${DRIVER.replace(/\./g, '\\.')}$`, 'm'));
    expect(content).toMatch(/^ {4}Snapshot Handle:\s+handle-kubectl-1$/m);
    expect(content).toMatch(/^ {2}Volume Snapshot Ref:$/m);
    expect(content).toMatch(new RegExp(`^ {4}Name:\\s+${SNAPSHOT}$`, 'm'));
    expect(content).toMatch(new RegExp(`^ {2}Creation Time:\\s+${CREATION_TIME}$`, 'm'));
    expect(content).toMatch(/^ {2}Ready To Use:\s+true$/m);
    expect(content).toMatch(/^ {2}Restore Size:\s+1048576$/m);
    expect(content).toMatch(/^Events:\s+<none>$/m);

    const snapshot = await ok('describe', 'volumesnapshot', SNAPSHOT, '-n', 'default');
    expect(snapshot).toMatch(new RegExp(`^Name:\\s+${SNAPSHOT}$`, 'm'));
    expect(snapshot).toMatch(/^Namespace:\s+default$/m);
    expect(snapshot).toMatch(/^Labels:\s+app=demo\n\s+tier=gold$/m);
    expect(snapshot).toMatch(/^Annotations:\s+example\.com\/note: merged$/m);
    expect(snapshot).toMatch(new RegExp(`^ {4}Volume Snapshot Content Name:\\s+${CONTENT}$`, 'm'));
    expect(snapshot).toMatch(new RegExp(`^ {2}Bound Volume Snapshot Content Name:\\s+${CONTENT}$`, 'm'));
    expect(snapshot).toMatch(/^ {2}Restore Size:\s+1Mi$/m);

    const klass = await ok('describe', 'volumesnapshotclass', CLASS);
    expect(klass).toMatch(new RegExp(`^Name:\\s+${CLASS}$`, 'm'));
    expect(klass).toMatch(/^Parameters:\n {2}Tier:\s+gold$/m);
    expect(klass).toMatch(/^Deletion Policy:\s+Delete$/m);

    // describe looks for the objects' events on the test server too.
    expect(server.requests.count({ verb: 'list', resource: 'events', code: 200 })).toBeGreaterThanOrEqual(3);
  });

  test('delete removes the objects', async () => {
    expect(await ok('delete', 'volumesnapshot', SNAPSHOT, '-n', 'default')).toBe(
      `volumesnapshot.snapshot.storage.k8s.io "${SNAPSHOT}" deleted from default namespace\n`,
    );
    expect(await ok('delete', '-f', join(dir, 'content.yaml'), '-f', join(dir, 'class.yaml'))).toBe(
      `volumesnapshotcontent.snapshot.storage.k8s.io "${CONTENT}" deleted\nvolumesnapshotclass.snapshot.storage.k8s.io "${CLASS}" deleted\n`,
    );
    const gone = await kubectl('get', 'volumesnapshotcontent', CONTENT);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('(NotFound)');
    expect(await kubectl('get', 'volumesnapshotclasses,volumesnapshotcontents')).toEqual({ code: 0, stdout: '', stderr: 'No resources found\n' });
    const again = await kubectl('delete', 'volumesnapshot', SNAPSHOT, '-n', 'default');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`volumesnapshots.snapshot.storage.k8s.io "${SNAPSHOT}" not found`);

    expect(server.requests.count({ verb: 'delete', resource: 'volumesnapshots', code: 200 })).toBe(1);
    expect(server.requests.count({ verb: 'delete', resource: 'volumesnapshots', code: 404 })).toBe(1);
    expect(server.requests.count({ verb: 'delete', resource: 'volumesnapshotcontents', code: 200 })).toBe(1);
    expect(server.requests.count({ verb: 'delete', resource: 'volumesnapshotclasses', code: 200 })).toBe(1);
    // Every request kubectl made reached the test server with the kubeconfig's token.
    expect(server.requests.count({ code: 401 })).toBe(0);
    expect(server.requests.count({ code: 403 })).toBe(0);
    expect(server.requests.count()).toBeGreaterThan(30);
  });
});
