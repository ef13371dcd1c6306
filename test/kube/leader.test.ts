import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import {
  holderIdentity,
  leaseName,
  leaseNamespace,
  runLeaderElection,
  validateLeaderElectionTimings,
  type LeaderElection,
  type LeaderElectionOptions,
} from '../../src/kube/leader.js';
import { loadKubeConfig, type ClusterConfig } from '../../src/kube/config.js';
import { RestClient } from '../../src/kube/rest.js';
import { silentLogger } from '../../src/observe/logger.js';
import { createMetrics } from '../../src/observe/metrics.js';
import { TokenBucket } from '../../src/runtime/rate-limiter.js';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';
import { waitFor } from '../helpers/process.js';

describe('lease name, namespace, identity and timings', () => {
  test('lease name is sanitised like the Go sidecar', () => {
    expect(leaseName('hostpath.csi.k8s.io')).toBe('external-snapshotter-leader-hostpath-csi-k8s-io');
    expect(leaseName('vendor/driver_v2')).toBe('external-snapshotter-leader-vendor-driver-v2');
    expect(leaseName('ends.with.')).toBe('external-snapshotter-leader-ends-with-X');
    expect(holderIdentity('node-1.example.com')).toBe('node-1-example-com');
    expect(holderIdentity('host_')).toBe('host-X');
  });

  test('lease namespace falls back from flag to POD_NAMESPACE to the service-account file to default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lease-ns-'));
    try {
      const saFile = join(dir, 'namespace');
      writeFileSync(saFile, '  from-file\n');
      expect(leaseNamespace('flag-ns', 'env-ns', saFile)).toBe('flag-ns');
      expect(leaseNamespace('', 'env-ns', saFile)).toBe('env-ns');
      expect(leaseNamespace('', undefined, saFile)).toBe('from-file');
      expect(leaseNamespace('', '', join(dir, 'missing'))).toBe('default');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('invalid timings are refused with the flags to change', () => {
    expect(() => validateLeaderElectionTimings({ leaseDurationMs: 15000, renewDeadlineMs: 10000, retryPeriodMs: 5000 })).not.toThrow();
    expect(() => validateLeaderElectionTimings({ leaseDurationMs: 10000, renewDeadlineMs: 10000, retryPeriodMs: 2000 })).toThrow(
      '--leader-election-lease-duration (10s) must be greater than --leader-election-renew-deadline (10s)',
    );
    expect(() => validateLeaderElectionTimings({ leaseDurationMs: 15000, renewDeadlineMs: 6000, retryPeriodMs: 5000 })).toThrow(
      '--leader-election-renew-deadline (6s) must be greater than 1.2 × --leader-election-retry-period (5s)',
    );
    expect(() => validateLeaderElectionTimings({ leaseDurationMs: 15000, renewDeadlineMs: 10000, retryPeriodMs: 0 })).toThrow(
      '--leader-election-retry-period must be greater than zero',
    );
  });
});

describe('Lease election against the API test server', () => {
  let server: TestApiServer;
  let kc: KubeConfig;
  let cluster: ClusterConfig;
  const electors: LeaderElection[] = [];
  const TIMINGS = { leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 200 };

  beforeAll(async () => {
    server = await startTestApiServer();
    kc = new KubeConfig();
    kc.loadFromFile(server.kubeconfigPath);
    cluster = loadKubeConfig(server.kubeconfigPath);
  });
  afterEach(async () => {
    server.faults.clear();
    await Promise.all(electors.splice(0).map((e) => e.stop(false)));
  });
  afterAll(async () => {
    await server?.stop();
  });

  interface Candidate {
    elector: LeaderElection;
    started: number;
    stopped: number;
    events: string[];
  }

  function candidate(name: string, identity: string, extra: Partial<LeaderElectionOptions> = {}): Candidate {
    const c: Candidate = { elector: undefined as unknown as LeaderElection, started: 0, stopped: 0, events: [] };
    c.elector = runLeaderElection({
      client: new RestClient({ kubeConfig: cluster, limiter: new TokenBucket(100, 100) }),
      namespace: 'default',
      name,
      identity,
      ...TIMINGS,
      log: silentLogger,
      onStartedLeading: () => c.started++,
      onStoppedLeading: () => c.stopped++,
      recordEvent: (reason, message) => c.events.push(`${reason}: ${message}`),
      ...extra,
    });
    electors.push(c.elector);
    return c;
  }

  // Read back with client-node's typed client: a second, independent reading of what was stored.
  async function readLease(name: string): Promise<V1Lease> {
    return kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name, namespace: 'default' });
  }

  test('one replica leads and keeps renewing; the other waits; labels land on the Lease', async () => {
    const a = candidate('lease-one', 'replica-a', { labels: { team: 'storage', tier: 'sidecar' } });
    await waitFor('replica-a to lead', () => a.elector.isLeader());
    const b = candidate('lease-one', 'replica-b');

    const first = await readLease('lease-one');
    expect(first.spec).toMatchObject({ holderIdentity: 'replica-a', leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(first.metadata?.labels).toMatchObject({ team: 'storage', tier: 'sidecar' });
    expect(String(first.spec?.renewTime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    // Several renewals later (each moves renewTime), b has seen a live holder all along.
    const renewedAt = new Set<string>();
    await waitFor('three renewals', async () => {
      renewedAt.add(String((await readLease('lease-one')).spec?.renewTime));
      return renewedAt.size >= 4;
    });
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.isLeader()).toBe(false);
    expect(b.started).toBe(0);
    expect((await readLease('lease-one')).spec?.holderIdentity).toBe('replica-a');
    expect(a.elector.healthy()).toEqual({ ok: true });
    expect(b.elector.healthy()).toEqual({ ok: true });
    expect(a.events).toEqual(['LeaderElection: replica-a became leader']);
  });

  test('stop with release hands the Lease to the other replica', async () => {
    const a = candidate('lease-release', 'replica-a');
    await waitFor('replica-a to lead', () => a.elector.isLeader());
    const b = candidate('lease-release', 'replica-b');

    await a.elector.stop(true);
    expect(a.stopped).toBe(1);
    expect(a.elector.isLeader()).toBe(false);
    await waitFor('replica-b to lead', () => b.elector.isLeader());
    const lease = await readLease('lease-release');
    expect(lease.spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1 });
    expect(server.requests.count({ verb: 'update', resource: 'leases', name: 'lease-release' })).toBeGreaterThan(0);
    expect(a.events).toEqual(['LeaderElection: replica-a became leader', 'LeaderElection: replica-a stopped leading']);
  });

  test('a replica that dies without releasing is replaced only after the lease expires', async () => {
    const a = candidate('lease-expire', 'replica-a');
    await waitFor('replica-a to lead', () => a.elector.isLeader());
    const b = candidate('lease-expire', 'replica-b');

    await a.elector.stop(false);
    const last = await readLease('lease-expire');
    expect(last.spec?.holderIdentity).toBe('replica-a');
    const renewedAt = new Date(last.spec?.renewTime as Date).getTime();
    expect(renewedAt).toBeGreaterThan(0);
    await waitFor('replica-b to take over', () => b.elector.isLeader());
    // b cannot have seen a's last renewal before it was written, and waits a whole lease duration from then.
    expect(Date.now()).toBeGreaterThanOrEqual(renewedAt + TIMINGS.leaseDurationMs);
    expect((await readLease('lease-expire')).spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1 });
  });

  test('when renewals fail the leader stops leading and its health turns unhealthy', async () => {
    const metrics = createMetrics();
    const a = candidate('lease-health', 'replica-a', { healthToleranceMs: 300, metrics: metrics.leaderElection() });
    await waitFor('replica-a to lead', () => a.elector.isLeader());
    expect(await metrics.metricsText()).toContain('leader_election_master_status{name=""} 1');
    expect(a.elector.healthy()).toEqual({ ok: true });

    server.faults.fail({ resource: 'leases', name: 'lease-health', code: 500, fraction: 1 });
    await waitFor('leadership to be lost', () => a.stopped === 1);
    expect(a.elector.isLeader()).toBe(false);
    expect(await metrics.metricsText()).toContain('leader_election_master_status{name=""} 0');
    const health = await waitFor('health to fail', () => {
      const h = a.elector.healthy();
      return h.ok ? undefined : h;
    });
    expect(health.reason).toMatch(/lease default\/lease-health was last renewed \d+\.\ds ago \(lease duration 1s\)/);
    expect(server.requests.count({ resource: 'leases', name: 'lease-health', injected: true })).toBeGreaterThan(1);
  });
});
