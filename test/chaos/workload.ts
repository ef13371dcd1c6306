import { randomBytes } from 'node:crypto';
import { collectionPath, volumeGroupSnapshotClasses } from '../../src/kube/resources.js';
import { ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE } from '../../src/sidecar/keys.js';
import type { TestApiServerProcess } from '../../src/testing/apiserver/index.js';
import type { Env } from '../e2e/env.js';
import type { Random } from './random.js';

export interface Size {
  /** Dynamic snapshot contents created. */
  contents: number;
  /** Of those, deleted while the run goes on (some before they are ready). */
  deletions: number;
  /** Group contents, 3 volumes each. */
  groups: number;
  /** Of those, deleted while the run goes on. */
  groupDeletions: number;
  /** Milliseconds over which the contents are created and the faults strike. */
  windowMs: number;
}

// Groups beyond the 20 (2) the issue asks for are the ones deleted on the way.
export const FULL: Size = { contents: 1000, deletions: 200, groups: 24, groupDeletions: 4, windowMs: 120_000 };
export const REDUCED: Size = { contents: 100, deletions: 20, groups: 3, groupDeletions: 1, windowMs: 20_000 };

export const CLASS = 'chaos-gold';
export const GROUP_CLASS = 'chaos-group';
const SECRET = 'chaos-credentials';
/** Source volumes the single snapshots share (a driver holds many snapshots per volume). */
const SHARED_VOLUMES = 20;
const GROUP_SIZE = 3;

export interface Plan {
  contents: Array<{ name: string; volume: string; atMs: number; deleteAfterMs?: number }>;
  groups: Array<{ name: string; volumes: string[]; atMs: number; deleteAfterMs?: number }>;
  /** Values of the Secret the classes name: none may appear in any log line. */
  secretValues: string[];
}

/**
 * Classes that name a Secret for every call (so secrets cross the sidecar on each create and
 * delete), the Secret, the source volumes, and when each content is created and deleted. Creation
 * is spread over the window, so work is in flight whenever a fault strikes.
 */
export async function prepare(env: Env<TestApiServerProcess>, size: Size, random: Random): Promise<Plan> {
  const secretValues = [`chaos-user-${randomBytes(6).toString('hex')}`, `chaos-password-${randomBytes(12).toString('hex')}`];
  await env.rest.request({
    method: 'POST',
    path: '/api/v1/namespaces/default/secrets',
    body: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: SECRET },
      data: { username: Buffer.from(secretValues[0] as string).toString('base64'), password: Buffer.from(secretValues[1] as string).toString('base64') },
    },
  });
  await env.createClass(CLASS, {
    parameters: { tier: 'chaos', 'csi.storage.k8s.io/snapshotter-secret-name': SECRET, 'csi.storage.k8s.io/snapshotter-secret-namespace': 'default' },
  });
  await env.rest.request({
    method: 'POST',
    path: collectionPath(volumeGroupSnapshotClasses('v1')),
    body: {
      apiVersion: 'groupsnapshot.storage.k8s.io/v1',
      kind: 'VolumeGroupSnapshotClass',
      metadata: { name: GROUP_CLASS },
      driver: env.driverName,
      deletionPolicy: 'Delete',
      parameters: { 'csi.storage.k8s.io/group-snapshotter-secret-name': SECRET, 'csi.storage.k8s.io/group-snapshotter-secret-namespace': 'default' },
    },
  });

  const shared: string[] = [];
  for (let i = 0; i < SHARED_VOLUMES; i++) shared.push(await env.createVolume(`chaos-vol-${i}`));
  const createWindow = size.windowMs * 0.8;
  const deleted = new Set(random.sample([...Array(size.contents).keys()], size.deletions));
  const contents = [...Array(size.contents).keys()].map((i) => ({
    name: `chaos-${String(i).padStart(4, '0')}`,
    volume: shared[i % SHARED_VOLUMES] as string,
    atMs: Math.round((createWindow * i) / size.contents),
    // Some right away (before the snapshot is ready), some once it is.
    ...(deleted.has(i) ? { deleteAfterMs: random.between(0, 4000) } : {}),
  }));
  const groups: Plan['groups'] = [];
  const deletedGroups = new Set(random.sample([...Array(size.groups).keys()], size.groupDeletions));
  for (let g = 0; g < size.groups; g++) {
    const volumes: string[] = [];
    for (let m = 0; m < GROUP_SIZE; m++) volumes.push(await env.createVolume(`chaos-group-${g}-vol-${m}`));
    groups.push({
      name: `chaos-group-${String(g).padStart(2, '0')}`,
      volumes,
      atMs: random.between(0, createWindow),
      ...(deletedGroups.has(g) ? { deleteAfterMs: random.between(0, 4000) } : {}),
    });
  }
  return { contents, groups, secretValues };
}

/**
 * Creates (and deletes) everything on the plan's schedule, as the snapshot-controller would.
 * Returns how many deletions came before the content was ready (a delete during a create).
 */
export async function execute(env: Env<TestApiServerProcess>, plan: Plan, startedAt: number): Promise<{ deletedBeforeReady: number }> {
  let deletedBeforeReady = 0;
  const at = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + ms - Date.now())));
  const work: Promise<void>[] = [];
  for (const c of plan.contents) {
    work.push(
      (async () => {
        await at(c.atMs);
        await env.createContent({
          name: c.name,
          volumeHandle: c.volume,
          className: CLASS,
          annotations: { [ANN_DELETION_SECRET_NAME]: SECRET, [ANN_DELETION_SECRET_NAMESPACE]: 'default' },
        });
        if (c.deleteAfterMs === undefined) return;
        await new Promise((resolve) => setTimeout(resolve, c.deleteAfterMs));
        if ((await env.getContent(c.name)).status?.readyToUse !== true) deletedBeforeReady++;
        await env.deleteAsController(c.name);
      })(),
    );
  }
  for (const g of plan.groups) {
    work.push(
      (async () => {
        await at(g.atMs);
        await env.createGroupContent('v1', { name: g.name, volumeHandles: g.volumes, className: GROUP_CLASS });
        if (g.deleteAfterMs === undefined) return;
        await new Promise((resolve) => setTimeout(resolve, g.deleteAfterMs));
        await env.deleteGroupAsController('v1', g.name);
      })(),
    );
  }
  await Promise.all(work);
  return { deletedBeforeReady };
}
