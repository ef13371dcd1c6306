import { afterEach, describe, expect, test } from '@jest/globals';
import { hostname } from 'node:os';
import { waitFor } from '../helpers/process.js';
import { Env } from './env.js';

// What a SIGTERM leaves behind in the API server: the leader Lease (released or not, as the
// ReleaseLeaderElectionOnExit gate says) and the Events the last syncs recorded.
let env: Env;
afterEach(async () => {
  await env?.stop();
});

const LEASE_PATH = '/apis/coordination.k8s.io/v1/namespaces/default/leases/external-snapshotter-leader-sample-csi-example-com';
const IDENTITY = hostname().replace(/[^a-zA-Z0-9-]/g, '-').replace(/-$/, '-X');

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  leaseTransitions?: number;
}

const readLease = async (): Promise<LeaseSpec> => (await env.rest.request<{ spec: LeaseSpec }>({ method: 'GET', path: LEASE_PATH })).spec;

async function terminate(): Promise<number | null> {
  env.sidecar?.child.kill('SIGTERM');
  const { code } = (await env.sidecar?.waitForExit()) ?? { code: null };
  return code;
}

describe('leader lease on SIGTERM', () => {
  test('with ReleaseLeaderElectionOnExit=true the leader hands the Lease back before it exits', async () => {
    env = await Env.start();
    env.startSidecar(['--leader-election', '--leader-election-namespace=default', '--feature-gates=ReleaseLeaderElectionOnExit=true']);
    await env.sidecar?.waitForOutput(/Became leader, starting/);
    const held = await readLease();
    expect(held).toMatchObject({ holderIdentity: IDENTITY, leaseDurationSeconds: 15 });

    expect(await terminate()).toBe(0);
    // An empty holder and a one-second lease: the next replica takes over at its next retry.
    expect(await readLease()).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: held.leaseTransitions });
    expect(env.sidecar?.output).toMatch(/Released leader lease/);
  });

  test('by default (ReleaseLeaderElectionOnExit=false) the Lease is left to expire', async () => {
    env = await Env.start();
    env.startSidecar(['--leader-election', '--leader-election-namespace=default']);
    await env.sidecar?.waitForOutput(/Became leader, starting/);
    expect(await readLease()).toMatchObject({ holderIdentity: IDENTITY, leaseDurationSeconds: 15 });

    expect(await terminate()).toBe(0);
    expect(await readLease()).toMatchObject({ holderIdentity: IDENTITY, leaseDurationSeconds: 15 });
    expect(env.sidecar?.output).not.toMatch(/Released leader lease/);
  });
});

describe('leader-election Events', () => {
  test('the new leader records "<identity> became leader" on its Lease, as client-go electors do', async () => {
    env = await Env.start();
    env.startSidecar(['--leader-election', '--leader-election-namespace=default']);
    await env.sidecar?.waitForOutput(/Became leader, starting/);
    type Event = { type: string; reason: string; message: string; involvedObject: { kind: string; name: string; namespace?: string } };
    const event = await waitFor('the LeaderElection Event', async () => {
      const list = await env.rest.request<{ items: Event[] }>({ method: 'GET', path: '/api/v1/namespaces/default/events' });
      return list.items.find((e) => e.reason === 'LeaderElection');
    });
    expect(event).toMatchObject({
      type: 'Normal',
      message: `${IDENTITY} became leader`,
      involvedObject: { kind: 'Lease', name: 'external-snapshotter-leader-sample-csi-example-com', namespace: 'default' },
    });
  });
});

describe('Events on SIGTERM', () => {
  test('Warning events still queued when SIGTERM arrives reach the API server before the process exits', async () => {
    // Every CreateSnapshot fails for good: one SnapshotCreationFailed Warning per content. The long
    // retry interval keeps the failed contents from being tried (and warned about) again meanwhile.
    env = await Env.start({ faults: { errors: { CreateSnapshot: { code: 'INVALID_ARGUMENT', message: 'bad tier' } } } });
    await env.createClass('gold');
    env.startSidecar(['--retry-interval-start=5m', '--retry-interval-max=10m']);
    await env.sidecar?.waitForOutput(/VolumeSnapshotContent caches synced/);
    // The API server takes 600 ms to store each Event; the recorder sends them one at a time, so
    // most of them are still waiting in the sidecar when the signal comes.
    env.api.faults.addLatency({ verb: 'create', resource: 'events', ms: 600 });
    const names = ['snapcontent-a', 'snapcontent-b', 'snapcontent-c'];
    for (const name of names) await env.createContent({ name, volumeHandle: await env.createVolume(`vol-${name}`), className: 'gold' });
    const warned = (name: string) => env.sidecar?.output.split('\n').some((line) => line.includes('Event occurred') && line.includes(name) && line.includes('SnapshotCreationFailed'));
    await waitFor('a Warning recorded for every content', () => names.every(warned));

    const storedAtSignal = env.api.requests.count({ verb: 'create', resource: 'events', code: 201 });
    expect(await terminate()).toBe(0);
    // Without this the test would prove nothing: the Events had not all been stored when the signal came.
    expect(storedAtSignal).toBeLessThan(names.length);

    const list = await env.rest.request<{ items: Array<{ type: string; reason: string; involvedObject: { name: string } }> }>({ method: 'GET', path: '/api/v1/namespaces/default/events' });
    const warnings = list.items.filter((e) => e.type === 'Warning' && e.reason === 'SnapshotCreationFailed').map((e) => e.involvedObject.name);
    expect(warnings.sort()).toEqual(names);
    expect(env.sidecar?.output).not.toMatch(/Dropping events not sent before shutdown/);
  });
});
