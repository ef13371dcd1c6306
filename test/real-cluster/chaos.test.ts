import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { FINALIZER_CONTENT } from '../../src/sidecar/keys.js';
import { sidecarEntry } from '../../src/util/package-root.js';
import { RealCluster, type DriverHandle } from './harness/harness.js';
import type { BoundVolume } from './harness/bound-volumes.js';
import type { ManagedProcess } from './harness/managed-process.js';
import { getObject, listObjects, SNAPSHOT_API, type KubeObject } from './harness/snapshot-api.js';
import { pollUntil } from './harness/wait.js';
import { podHostnameEnv } from '../helpers/pod-hostname.js';

// Chaos on the real cluster: two replicas of this project's sidecar with leader election serve 100
// VolumeSnapshots through the real kube-apiserver and snapshot-controller while the leader is
// SIGKILLed every few seconds (and started again), with one failover watched from the Lease. A
// watcher checks, from its own reads and all along, that no content loses its finalizer (or goes)
// while its storage snapshot exists. At the end: every snapshot ready with one storage snapshot of
// its own, and after the deletion every storage snapshot gone.
const SNAPSHOTS = 100;
const VOLUMES = 10;
const DRIVER_NAME = 'chaos.sample.csi.example.com';
const LEASE = `/apis/coordination.k8s.io/v1/namespaces/default/leases/external-snapshotter-leader-${DRIVER_NAME.replace(/\./g, '-')}`;
const SIDECAR = sidecarEntry();
const PHASE_TIMEOUT_MS = 600_000;
/** How often the leader is killed: the fault schedule, not a wait for anything. */
const KILL_EVERY_MS = { min: 4000, max: 8000 };

interface Replica {
  identity: string;
  process: ManagedProcess;
}

describe('chaos on the real cluster', () => {
  let cluster: RealCluster;
  let driver: DriverHandle;
  let namespace: string;
  const replicas: Replica[] = [];
  const diagnostics = (): string => replicas.map((r) => `== ${r.identity}\n${r.process.logTail(20)}`).join('\n');

  /**
   * One replica. Leader election takes the host name as the holder identity (as the Go sidecar
   * does), so each replica gets a host name of its own, as two pods would have.
   */
  function startReplica(identity: string): ManagedProcess {
    const args = [
      '--v=4',
      '--leader-election',
      '--leader-election-namespace=default',
      '--leader-election-lease-duration=4s',
      '--leader-election-renew-deadline=3s',
      '--leader-election-retry-period=1s',
      '--retry-interval-max=5s',
      // The default 5 requests/s would make the run mostly a wait for the client-side limiter.
      '--kube-api-qps=50',
      '--kube-api-burst=100',
    ];
    return cluster.startSidecarCommand(`chaos-${identity}`, process.execPath, driver, { args, env: podHostnameEnv(identity) }, [SIDECAR]);
  }

  async function leaseHolder(): Promise<string | undefined> {
    const lease = await getObject(cluster.admin, LEASE);
    return (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity || undefined;
  }

  beforeAll(async () => {
    cluster = await RealCluster.connect();
    driver = await cluster.startDriver('sample', 'chaos', { driverName: DRIVER_NAME });
    namespace = await cluster.createNamespace('chaos');
    for (const identity of ['replica-a', 'replica-b']) replicas.push({ identity, process: startReplica(identity) });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test(`${SNAPSHOTS} VolumeSnapshots while the leader is SIGKILLed every few seconds: all ready, one storage snapshot each, no finalizer dropped early, nothing left after deletion`, async () => {
    const holder = await pollUntil(leaseHolder, { description: 'a replica to hold the Lease', timeoutMs: 60_000, diagnostics });
    expect(replicas.map((r) => r.identity)).toContain(holder);

    const className = cluster.uniqueName('chaos-class');
    await cluster.admin.json('POST', `${SNAPSHOT_API}/volumesnapshotclasses`, {
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: className }, driver: DRIVER_NAME, deletionPolicy: 'Delete' },
    });
    const volumes: BoundVolume[] = [];
    for (let i = 0; i < VOLUMES; i++) volumes.push(await cluster.createBoundPvc(driver, namespace, `vol-${i}`));
    const ourVolumes = new Set(volumes.map((v) => v.volumeHandle));
    const ours = async () => (await driver.csi.snapshots()).filter((s) => ourVolumes.has(s.volumeId));
    const contents = async () => (await listObjects(cluster.admin, `${SNAPSHOT_API}/volumesnapshotcontents`)).filter((c) => (c.spec as { driver?: string }).driver === DRIVER_NAME);

    // The watcher. The snapshot-controller adds the content finalizer, possibly after the sidecar
    // recorded the handle; what the sidecar must never do is let the finalizer go (or the content
    // go) while the storage snapshot exists. Contents are read before storage: a content seen
    // without the finalizer it had (or gone) had its storage snapshot deleted before that read, so
    // the snapshot must be absent from the storage read that follows. The other order would report
    // a deletion that happened in between.
    const violations: string[] = [];
    const protectedHandles = new Map<string, string>(); // content name -> handle, once seen with the finalizer
    let watching = true;
    let checks = 0;
    let readErrors = 0;
    const watcher = (async () => {
      while (watching) {
        try {
          const seen = await contents();
          const released = new Set<string>();
          const holding = new Set<string>();
          for (const c of seen) {
            const handle = c.status?.snapshotHandle as string | undefined;
            if (!handle) continue;
            if ((c.metadata.finalizers ?? []).includes(FINALIZER_CONTENT)) {
              protectedHandles.set(c.metadata.name, handle);
              holding.add(c.metadata.name);
            }
          }
          for (const [name, handle] of protectedHandles) if (!holding.has(name)) released.add(handle);
          for (const s of await ours()) if (released.has(s.snapshotId)) violations.push(`storage snapshot ${s.snapshotId} exists while its content lost its finalizer or is gone`);
          checks++;
        } catch {
          // An API server or driver read that failed is no observation; the next round reads again.
          readErrors++;
        }
      }
    })();

    // The fault schedule: kill whichever replica leads and start it again at once, as a container
    // restart in its pod would (same host name, so it takes its Lease back as soon as it is up). On
    // the third kill the leader stays down until the other replica holds the Lease: a failover.
    let chaos = true;
    let kills = 0;
    const failovers: string[] = [];
    const killer = (async () => {
      while (chaos) {
        await new Promise((resolve) => setTimeout(resolve, KILL_EVERY_MS.min + Math.random() * (KILL_EVERY_MS.max - KILL_EVERY_MS.min)));
        if (!chaos) break;
        const leader = await leaseHolder().catch(() => undefined);
        const victim = replicas.find((r) => r.identity === leader);
        if (!victim) continue;
        await victim.process.kill();
        kills++;
        if (kills === 3) {
          const next = await pollUntil(async () => {
            const now = await leaseHolder();
            return now && now !== victim.identity ? now : undefined;
          }, { description: `the Lease to pass from ${victim.identity} to the other replica`, timeoutMs: 120_000, diagnostics });
          failovers.push(`${victim.identity} -> ${next}`);
        }
        victim.process = startReplica(victim.identity);
      }
    })();

    try {
      const paths: string[] = [];
      for (let i = 0; i < SNAPSHOTS; i++) {
        const name = `snap-${i}`;
        await cluster.admin.json('POST', `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots`, {
          body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name }, spec: { volumeSnapshotClassName: className, source: { persistentVolumeClaimName: volumes[i % VOLUMES]?.pvcName } } },
        });
        paths.push(`${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/${name}`);
      }

      const ready = await pollUntil(async () => {
        const snapshots = await listObjects(cluster.admin, `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots`);
        return snapshots.length === SNAPSHOTS && snapshots.every((s) => s.status?.readyToUse === true) ? snapshots : undefined;
      }, { description: `all ${SNAPSHOTS} VolumeSnapshots to be ready`, timeoutMs: PHASE_TIMEOUT_MS, intervalMs: 1000, diagnostics });

      const bound = await contents();
      const readyHandles = bound.map((c) => c.status?.snapshotHandle as string);
      expect(bound).toHaveLength(SNAPSHOTS);
      expect(bound.every((c: KubeObject) => c.status?.readyToUse === true && typeof c.status?.snapshotHandle === 'string')).toBe(true);
      expect(ready.map((s) => s.status?.boundVolumeSnapshotContentName).sort()).toEqual(bound.map((c) => c.metadata.name).sort());
      // No leak and no duplicate: the storage holds exactly one snapshot per content.
      expect((await ours()).map((s) => s.snapshotId).sort()).toEqual([...readyHandles].sort());
      expect(new Set(readyHandles).size).toBe(SNAPSHOTS);

      // The deletions run through kills too, after the failover has happened at least once.
      await pollUntil(() => (failovers.length > 0 ? true : undefined), { description: 'the failover', timeoutMs: 300_000, diagnostics });
      await pollUntil(() => (protectedHandles.size === SNAPSHOTS ? true : undefined), { description: 'the watcher to have seen every content with its handle and finalizer', timeoutMs: 60_000, diagnostics });
      for (const path of paths) await cluster.admin.json('DELETE', path);
      await pollUntil(async () => ((await contents()).length === 0 ? true : undefined), {
        description: 'every VolumeSnapshotContent of the run to be gone',
        timeoutMs: PHASE_TIMEOUT_MS,
        intervalMs: 1000,
        diagnostics,
      });
      expect(await ours()).toEqual([]);
    } finally {
      chaos = false;
      watching = false;
      await killer;
      await watcher;
    }
    console.log(`chaos on the real cluster: ${SNAPSHOTS} snapshots, ${kills} leader kills, failover ${failovers.join(', ')}, ${checks} invariant checks (${readErrors} failed reads), ${violations.length} violations`);
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(failovers).toHaveLength(1);
    expect(checks).toBeGreaterThan(readErrors);
    // The watcher saw the finalizer on every content it guarded, so the check above had something to guard.
    expect(protectedHandles.size).toBe(SNAPSHOTS);
    expect(violations).toEqual([]);
  }, 1_500_000);
});
