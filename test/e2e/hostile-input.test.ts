import { afterEach, describe, expect, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { ANN_BEING_CREATED, ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE, FINALIZER_CONTENT } from '../../src/sidecar/keys.js';
import type { VolumeSnapshotContent } from '../../src/sidecar/types.js';
import type { SnapshotAnswerFault } from '../../src/testing/sample-driver/faults.js';
import { waitFor } from '../helpers/process.js';
import { Env, VSC_PATH } from './env.js';

/**
 * Objects a real cluster can hold, and driver answers a real driver can give, that are wrong: each
 * among well-formed ones, against the sidecar as a separate process. For each the sidecar stays up,
 * reports the problem where the contract says (status.error and a Warning Event), and the
 * well-formed contents beside it are still served.
 */
let env: Env;
afterEach(async () => {
  await env?.stop();
});

interface EventItem {
  type: string;
  reason: string;
  message: string;
  involvedObject: { name: string };
}

async function start(faults: Parameters<typeof Env.start>[0] = {}): Promise<Env> {
  env = await Env.start(faults);
  await env.createClass('gold');
  env.startSidecar();
  await env.sidecar?.waitForOutput(/VolumeSnapshotContent caches synced/);
  return env;
}

async function warnings(name: string): Promise<EventItem[]> {
  const list = await env.rest.request<{ items: EventItem[] }>({ method: 'GET', path: '/api/v1/namespaces/default/events' });
  return list.items.filter((e) => e.involvedObject.name === name && e.type === 'Warning');
}

/** A well-formed content next to the bad ones: it must still become ready. */
async function servedBeside(name: string): Promise<void> {
  const volume = await env.createVolume(`vol-${name}`);
  await env.createContent({ name, volumeHandle: volume, className: 'gold' });
  await env.waitForContent(name, 'ready', (c) => c.status?.readyToUse === true);
}

async function errorOf(name: string): Promise<string> {
  const failed = await env.waitForContent(name, 'an error in status', (c) => c.status?.error?.message !== undefined);
  const message = failed.status?.error?.message as string;
  await waitFor(`a Warning Event for ${name}`, async () => (await warnings(name)).some((e) => e.message === message) || undefined);
  return message;
}

function stillRunning(): void {
  expect(env.sidecar?.child.exitCode).toBeNull();
  expect(env.sidecar?.output).not.toMatch(/unexpected failure|TypeError|RangeError|SyntaxError/);
}

describe('hostile objects', () => {
  test('a content of an unknown driver is left alone', async () => {
    await start();
    await env.createContent({ name: 'foreign', volumeHandle: 'v', policy: 'Delete', driver: 'other.csi.example.com' });
    await servedBeside('good-1');
    const foreign = await env.getContent('foreign');
    expect(foreign.status).toBeUndefined();
    expect(foreign.metadata.annotations).toBeUndefined();
    expect((await env.driver.calls()).filter((c) => c.method === 'CreateSnapshot')).toHaveLength(1);
    stillRunning();
  });

  test('a class that does not exist, a deletion Secret that does not exist, and a template that does not resolve', async () => {
    await start();
    const volume = await env.createVolume('vol-bad');
    await env.createContent({ name: 'no-class', volumeHandle: volume, className: 'missing' });
    await env.createContent({
      name: 'no-secret',
      volumeHandle: volume,
      className: 'gold',
      annotations: { [ANN_DELETION_SECRET_NAME]: 'absent', [ANN_DELETION_SECRET_NAMESPACE]: 'default' },
    });
    await env.createClass('templated', { parameters: { 'csi.storage.k8s.io/snapshotter-list-secret-name': '${pvc.name}', 'csi.storage.k8s.io/snapshotter-list-secret-namespace': 'default' } });
    await env.createContent({ name: 'bad-template', snapshotHandle: 'snap-x', className: 'templated' });
    await servedBeside('good-2');
    // The first attempt says "Failed to create snapshot", the retries (status now exists) "Failed to check and update snapshot content".
    expect(await errorOf('no-class')).toMatch(/^Failed to (create snapshot|check and update snapshot content): failed to get input parameters to create snapshot for content no-class: "volumesnapshotclass\.snapshot\.storage\.k8s\.io \\"missing\\" not found"/);
    expect(await errorOf('no-secret')).toMatch(/cannot get credentials for snapshot content \\"no-secret\\"/);
    expect(await errorOf('bad-template')).toMatch(/failed to get secret reference for snapshot content bad-template: error resolving value "\$\{pvc\.name\}": invalid tokens: \["pvc\.name"\]/);
    // Nothing was cut for the two that could not get their inputs.
    expect((await env.driver.calls()).filter((c) => c.method === 'CreateSnapshot')).toHaveLength(1);
    stillRunning();
  });

  test('a class of 1,000 parameters and a value of 100 KiB, and a content name and labels at their length limits', async () => {
    await start();
    const parameters: Record<string, string> = { big: 'x'.repeat(100 * 1024) };
    for (let i = 0; i < 1000; i++) parameters[`key-${i}`] = `value-${i}`.padEnd(200, '.');
    await env.createClass('huge', { parameters });
    const volume = await env.createVolume('vol-huge');
    const longName = `long-${'n'.repeat(243)}`.slice(0, 253);
    await env.createContent({ name: 'huge-params', volumeHandle: volume, className: 'huge' });
    // A label key of the longest prefix (253) and name (63), a value of 63, and a long selector-like one.
    const labels = { [`${'p'.repeat(249)}.com/${'k'.repeat(63)}`]: 'v'.repeat(63), 'snapshot.storage.kubernetes.io/managed-by': 'n'.repeat(63) };
    await env.createContent({ name: longName, volumeHandle: volume, className: 'gold', labels });
    await env.waitForContent('huge-params', 'ready', (c) => c.status?.readyToUse === true);
    const long = await env.waitForContent(longName, 'ready', (c) => c.status?.readyToUse === true);
    // The sidecar's writes leave the labels as they were.
    expect(long.metadata.labels).toEqual(labels);
    const create = (await env.driver.calls()).find((c) => c.method === 'CreateSnapshot' && c.request.source_volume_id === volume && Object.keys((c.request.parameters ?? {}) as object).length > 10);
    expect(Object.keys((create?.request.parameters ?? {}) as object)).toHaveLength(1001);
    stillRunning();
  });

  test('creation times of 0 and before 1970 written by another client are kept and do not stall polling', async () => {
    await start({ faults: { readyDelayMs: 1500 } });
    for (const [name, time] of [['zero-time', 0], ['old-time', -86_400_000_000_000]] as const) {
      await env.createContent({ name, snapshotHandle: await env.storageSnapshot(`vol-${name}`, name), className: 'gold' });
      // Once the sidecar has written the status (not ready yet), another client sets the time.
      await env.waitForContent(name, 'a status', (c) => c.status?.readyToUse === false);
      await env.rest.request({ method: 'PATCH', path: `${VSC_PATH}/${name}/status`, contentType: 'application/merge-patch+json', body: { status: { creationTime: time } } });
    }
    await servedBeside('good-3');
    for (const name of ['zero-time', 'old-time']) {
      const ready = await env.waitForContent(name, 'ready', (c) => c.status?.readyToUse === true);
      expect(String(ready.status?.creationTime)).toBe(name === 'zero-time' ? '0' : '-86400000000000');
    }
    stillRunning();
  });
});

describe('hostile driver answers', () => {
  async function withAnswer(lie: SnapshotAnswerFault, name: string): Promise<VolumeSnapshotContent> {
    await env.driver.setFaults({ snapshotAnswer: lie });
    const volume = await env.createVolume(`vol-${name}`);
    await env.createContent({ name, volumeHandle: volume, className: 'gold' });
    return env.waitForContent(name, 'status from the driver', (c) => c.status !== undefined);
  }

  test('an empty snapshot id is refused: status.error and an Event, the mark stays, nothing is recorded as ready', async () => {
    await start();
    await withAnswer({ snapshotId: '' }, 'empty-id');
    const message = await errorOf('empty-id');
    expect(message).toMatch(/the CSI driver answered CreateSnapshot for snapshot-[0-9a-f-]{36} without a snapshot id; the driver is at fault, report it to its vendor/);
    const content = await env.getContent('empty-id');
    expect(content.status?.readyToUse).toBe(false);
    expect(content.status?.snapshotHandle).toBeUndefined();
    expect(content.metadata.annotations?.[ANN_BEING_CREATED]).toBe('yes');
    // Once the driver answers properly the same content completes, and others are served.
    await env.driver.clearFaults();
    await env.waitForContent('empty-id', 'ready', (c) => c.status?.readyToUse === true && Boolean(c.status.snapshotHandle));
    await servedBeside('good-4');
    stillRunning();
  });

  test('a size of -1, a creation time before 1970, a missing creation time and a snapshot id of 10 KiB', async () => {
    await start();
    const negative = await withAnswer({ sizeBytes: '-1' }, 'negative-size');
    expect(negative.status?.restoreSize).toBeUndefined();
    const early = await withAnswer({ sizeBytes: '10', creationTime: { seconds: '-3600', nanos: 5 } }, 'before-1970');
    expect(String(early.status?.creationTime)).toBe('-3599999999995');
    const missing = await withAnswer({ creationTime: 'none' }, 'no-time');
    expect(String(missing.status?.creationTime)).toBe('0');
    const longId = 'i'.repeat(10 * 1024);
    const long = await withAnswer({ snapshotId: longId }, 'long-id');
    expect(long.status?.snapshotHandle).toBe(longId);
    await env.driver.clearFaults();
    for (const name of ['negative-size', 'before-1970', 'no-time', 'long-id']) {
      await env.waitForContent(name, 'ready', (c) => c.status?.readyToUse === true && c.metadata.finalizers?.includes(FINALIZER_CONTENT) === true);
    }
    await servedBeside('good-5');
    stillRunning();
  });

  test('a driver that answers another snapshot id for the same name on a retry: the recorded id is kept and the lie logged', async () => {
    // Without LIST_SNAPSHOTS readiness is read by repeating CreateSnapshot, which is where a changed id shows.
    await start({ faults: { withhold: { controller: ['LIST_SNAPSHOTS'] }, readyDelayMs: 3000 } });
    await env.driver.patchFaults({ snapshotAnswer: { newIdEachCall: true } });
    const volume = await env.createVolume('vol-liar');
    await env.createContent({ name: 'liar', volumeHandle: volume, className: 'gold' });
    const first = await env.waitForContent('liar', 'a handle', (c) => Boolean(c.status?.snapshotHandle));
    const recorded = first.status?.snapshotHandle as string;
    expect(recorded).toMatch(/-1$/);
    // As the behaviour contract has it (the Go sidecar's F-01): the handle stays, readiness is taken.
    const ready = await env.waitForContent('liar', 'ready', (c) => c.status?.readyToUse === true);
    expect(ready.status?.snapshotHandle).toBe(recorded);
    expect(ready.status?.error).toBeUndefined();
    await env.sidecar?.waitForOutput(/The CSI driver answered CreateSnapshot with another snapshot id than the one recorded; the recorded id is kept.*content="liar".*recorded="[^"]+-1" answered="[^"]+-\d+"/);
    await env.driver.clearFaults();
    await servedBeside('good-6');
    stillRunning();
  });

  test('at the default verbosity each create is logged, as the Go sidecar logs it', async () => {
    env = await Env.start();
    await env.createClass('gold');
    env.startSidecar(['--v=0']);
    await env.sidecar?.waitForOutput(/Starting CSI snapshotter/);
    await servedBeside('logged');
    expect(env.sidecar?.output).toMatch(/Creating snapshot for VolumeSnapshotContent logged through the CSI driver.*name="snapshot-[0-9a-f-]{36}"/);
  });
});

describe('hostile configuration', () => {
  test('rejected credentials and a missing grant are errors that say what to fix, not quiet retries', async () => {
    env = await Env.start({ api: { deny: [{ verb: 'list', group: 'snapshot.storage.k8s.io', resource: 'volumesnapshotclasses' }] } });
    env.startSidecar();
    await env.sidecar?.waitForOutput(
      /^E.*The sidecar may not list volumesnapshotclasses \(403 Forbidden: .*cannot list resource \\?"volumesnapshotclasses\\?".*\): grant it to the sidecar's service account/m,
    );
    await env.sidecar?.stop();
    const wrong = `${env.api.kubeconfigPath}.wrong`;
    writeFileSync(wrong, readFileSync(env.api.kubeconfigPath, 'utf8').replace(env.api.token, 'not-the-token'));
    env.startSidecar([`--kubeconfig=${wrong}`]);
    await env.sidecar?.waitForOutput(/^E.*The API server rejected the sidecar's credentials \(401 Unauthorized\) to list volumesnapshot(contents|classes): check the kubeconfig/m);
    stillRunning();
  });
});
