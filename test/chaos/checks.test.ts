import { afterEach, expect, test } from '@jest/globals';
import type { TestApiServerProcess } from '../../src/testing/apiserver/index.js';
import { Env, VSC_PATH } from '../e2e/env.js';
import { waitFor } from '../helpers/process.js';
import { uidFor } from '../helpers/uid.js';
import { FinalizerAudit } from './audit.js';
import { scanForSecrets } from './logs.js';
import { NAMES } from './run.js';
import { assess, complete } from './verify.js';
import type { Plan } from './workload.js';

// The chaos run's checks must be able to fail: each is shown a broken world here.
let env: Env<TestApiServerProcess> | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

const dropFinalizer = (e: Env<TestApiServerProcess>, name: string) =>
  e.rest.request({ method: 'PATCH', path: `${VSC_PATH}/${name}`, contentType: 'application/merge-patch+json', body: { metadata: { finalizers: null } } });

test('the finalizer audit flags a content that lost its finalizer while its storage snapshot existed, and only that one', async () => {
  // The API test server as the chaos run has it: its own process, steered over its control socket.
  env = await Env.startWithApiProcess();
  const e = env;
  const audit = new FinalizerAudit(e.rest, () => e.driver.inventory(), NAMES);
  audit.start(String(await e.api.resourceVersion()));
  // Storage cut under the name the sidecar would use; the content released without deleting it.
  const early = await e.storageSnapshot('audit-vol-1', NAMES.snapshot(uidFor('audit-early')));
  await e.createContent({ name: 'audit-early', snapshotHandle: early });
  await dropFinalizer(e, 'audit-early');
  // In the right order: storage deleted first, then the finalizer.
  const inOrder = await e.storageSnapshot('audit-vol-2', NAMES.snapshot(uidFor('audit-in-order')));
  await e.createContent({ name: 'audit-in-order', snapshotHandle: inOrder });
  await e.csi.call('/csi.v1.Controller/DeleteSnapshot', { snapshot_id: inOrder }, new Date(Date.now() + 10_000));
  await dropFinalizer(e, 'audit-in-order');
  await waitFor('both releases to be checked', () => audit.counts.checked >= 2);
  await audit.stop();
  expect(audit.violations).toEqual([`content audit-early: finalizer removed while storage still held ${early}`]);
});

test('assess finds a leak, a duplicate, a content not ready and a deleted content whose storage remains', () => {
  const snap = (id: string, name: string) => ({ id, name, sourceVolumeId: 'v', parameters: {}, sizeBytes: '0', createdAt: { seconds: '1', nanos: 0 }, readyAtMs: 0 });
  const plan: Plan = {
    contents: [
      { name: 'kept', volume: 'v', atMs: 0 },
      { name: 'twice', volume: 'v', atMs: 0 },
      { name: 'gone', volume: 'v', atMs: 0, deleteAfterMs: 0 },
    ],
    groups: [],
    secretValues: [],
  };
  const content = (name: string, handle?: string) => ({ metadata: { name }, spec: {}, status: handle ? { readyToUse: true, snapshotHandle: handle } : {} });
  const stored = {
    snapshots: [
      snap('s-twice-a', NAMES.snapshot(uidFor('twice'))),
      snap('s-twice-b', 'other-name'),
      snap('s-gone', NAMES.snapshot(uidFor('gone'))),
      snap('s-stray', 'nobody'),
    ],
    groups: [],
  };
  const o = assess(plan, uidFor, [content('kept'), content('twice', 's-twice-b')], [], stored, NAMES);
  expect(o).toMatchObject({ contentsReady: 1, contentsExpected: 2, deletedGone: 1, deletedStorageGone: 0, deletedExpected: 1 });
  expect(complete(o)).toBe(false);
  expect(o.duplicates).toEqual(['twice: s-twice-a, s-twice-b']);
  expect(o.leakedSnapshots).toEqual(['s-gone (' + NAMES.snapshot(uidFor('gone')) + ')', 's-stray (nobody)']);
});

test('the log scan finds a secret value as written and as base64', () => {
  const scan = scanForSecrets(
    [
      { source: 'a', text: 'secrets=***stripped***\nuser=hunter2-value' },
      { source: 'b', text: `data=${Buffer.from('hunter2-value').toString('base64')}` },
    ],
    ['hunter2-value'],
  );
  expect(scan).toMatchObject({ lines: 3, redacted: 1 });
  expect(scan.hits).toEqual(['a: user=hunter2-value', `b: data=${Buffer.from('hunter2-value').toString('base64')}`]);
});

test('assess describes a deleted content or group still in the API, so that a failed run explains itself', () => {
  const plan: Plan = {
    contents: [{ name: 'stuck', volume: 'v', atMs: 0, deleteAfterMs: 0 }, { name: 'went', volume: 'v', atMs: 0, deleteAfterMs: 0 }],
    groups: [{ name: 'stuck-group', volumes: ['g1'], atMs: 0, deleteAfterMs: 0 }],
    secretValues: [],
  };
  const stuck = { metadata: { name: 'stuck', deletionTimestamp: '2026-12-07T13:00:00Z', annotations: { a: 'x' }, finalizers: ['f'] }, spec: {}, status: { readyToUse: true } };
  const group = { metadata: { name: 'stuck-group' }, spec: {} };
  const o = assess(plan, uidFor, [stuck], [group], { snapshots: [], groups: [] }, NAMES);
  expect(o.lingering).toEqual([
    'stuck: deletionTimestamp 2026-12-07T13:00:00Z, readyToUse true, annotations [a], finalizers [f]',
    'stuck-group: deletionTimestamp none, readyToUse undefined, annotations [], finalizers []',
  ]);
});
