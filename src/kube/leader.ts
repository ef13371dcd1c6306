import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from '../observe/logger.js';
import type { LeaderElectionMetrics } from '../observe/metrics.js';
import { collectionPath, LEASES, objectPath, type KubeObject } from './resources.js';
import { describeError, isNotFound, type RestClient } from './rest.js';

/**
 * Lease-based leader election on coordination.k8s.io/v1, interoperable with client-go electors
 * (a rolling upgrade may run Go and TypeScript replicas side by side): same Lease name, same spec
 * fields, same rule that a Lease whose record has not changed for its leaseDurationSeconds, as
 * measured on the observer's own clock, may be taken over. Clock skew between replicas therefore
 * does not matter; only the local monotonic clock is trusted.
 */

export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** Makes a string a valid Lease name / identity the way the Go sidecar does. */
export function sanitizeName(value: string): string {
  const replaced = value.replace(/[^a-zA-Z0-9-]/g, '-');
  return replaced.endsWith('-') ? `${replaced}X` : replaced;
}

/** `hostpath.csi.k8s.io` → `external-snapshotter-leader-hostpath-csi-k8s-io`. */
export function leaseName(driverName: string): string {
  return sanitizeName(`external-snapshotter-leader-${driverName.replace(/\//g, '-')}`);
}

/** --leader-election-namespace, else $POD_NAMESPACE, else the pod's service-account namespace, else `default`. */
export function leaseNamespace(flag: string, podNamespaceEnv: string | undefined, saFile = SERVICE_ACCOUNT_NAMESPACE_FILE): string {
  if (flag !== '') return flag;
  if (podNamespaceEnv) return podNamespaceEnv;
  try {
    const fromFile = readFileSync(saFile, 'utf8').trim();
    if (fromFile !== '') return fromFile;
  } catch {
    // Not running in a pod: fall through to the default.
  }
  return 'default';
}

/** The host name, sanitised like the Lease name. */
export function holderIdentity(host: string = hostname()): string {
  return sanitizeName(host);
}

export interface LeaderElectionTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** client-go's retry jitter; the renew deadline must leave room for one jittered retry. */
export const JITTER_FACTOR = 1.2;

/** Refuses timings client-go would panic on, with the flag names the operator has to change. */
export function validateLeaderElectionTimings(t: LeaderElectionTimings): void {
  const s = (ms: number) => `${ms / 1000}s`;
  if (!(t.retryPeriodMs > 0)) {
    throw new Error(`--leader-election-retry-period must be greater than zero, got ${s(t.retryPeriodMs)}`);
  }
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) {
    throw new Error(
      `--leader-election-lease-duration (${s(t.leaseDurationMs)}) must be greater than --leader-election-renew-deadline (${s(t.renewDeadlineMs)})`,
    );
  }
  if (!(t.renewDeadlineMs > JITTER_FACTOR * t.retryPeriodMs)) {
    throw new Error(
      `--leader-election-renew-deadline (${s(t.renewDeadlineMs)}) must be greater than ${JITTER_FACTOR} × --leader-election-retry-period (${s(t.retryPeriodMs)})`,
    );
  }
}

export interface LeaderElectionOptions extends LeaderElectionTimings {
  /** Its own client (and limiter), as in the Go sidecar, so the sidecar's work cannot delay renewals. */
  client: RestClient;
  namespace: string;
  name: string;
  identity: string;
  /** --leader-election-labels, put on the Lease whenever this replica writes it as holder. */
  labels?: Record<string, string>;
  log: Logger;
  onStartedLeading: () => void;
  /** Called once when leadership ends: lost (renewals failed) or given up by `stop()`. */
  onStoppedLeading: () => void;
  metrics?: LeaderElectionMetrics;
  /** Leader-election Events on the Lease (`<identity> became leader`), as client-go records them. */
  recordEvent?: (reason: string, message: string) => void;
  /** How far past the lease duration a leader's renewal may be overdue before health fails (default 20 s). */
  healthToleranceMs?: number;
}

export interface LeaderElection {
  /** Stops campaigning or renewing; with `release`, hands the Lease back so a successor takes over at once. */
  stop(release: boolean): Promise<void>;
  isLeader(): boolean;
  /** For /healthz/leader-election. */
  healthy(): { ok: boolean; reason?: string };
}

/** A coordination.k8s.io/v1 Lease; fields the election does not manage pass through untouched. */
interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    /** MicroTime: RFC 3339 with six fractional digits. */
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
    [field: string]: unknown;
  };
}

/** The part of a Lease's spec electors agree on. */
interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: number | undefined;
  renewTime: number | undefined;
  leaseTransitions: number;
}

function timeMs(value: unknown): number | undefined {
  if (typeof value === 'string' && value !== '') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

function recordOf(lease: Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: timeMs(spec.acquireTime),
    renewTime: timeMs(spec.renewTime),
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

/** Writes the record into a copy of the Lease, keeping fields we do not manage (strategy, preferredHolder). */
function withRecord(lease: Lease, record: LeaseRecord, labels: Record<string, string> | undefined): Lease {
  // metav1.MicroTime as the API server writes it: microseconds, of which we know the milliseconds.
  const micro = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().replace(/Z$/, '000Z'));
  return {
    ...lease,
    metadata: { ...lease.metadata, labels: labels ? { ...(lease.metadata?.labels ?? {}), ...labels } : lease.metadata?.labels },
    spec: {
      ...lease.spec,
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: micro(record.acquireTime),
      renewTime: micro(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  };
}

/** A sleep that `wake()` cuts short. */
class Sleeper {
  private pending = new Set<() => void>();
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.pending.add(done);
    });
  }
  wake(): void {
    for (const done of [...this.pending]) done();
  }
}

/** Starts campaigning in the background and returns at once. */
export function runLeaderElection(options: LeaderElectionOptions): LeaderElection {
  validateLeaderElectionTimings(options);
  const { client, namespace, name, identity, log } = options;
  const leaseSeconds = Math.max(1, Math.ceil(options.leaseDurationMs / 1000));
  const tolerance = options.healthToleranceMs ?? 20_000;
  const where = `${namespace}/${name}`;
  const now = () => performance.now();
  const sleeper = new Sleeper();
  const abort = new AbortController();

  let stopping = false;
  let leading = false;
  /** The Lease as last read or written, for renewals that skip the read. */
  let cached: Lease | undefined;
  let observed: { record: LeaseRecord; at: number } | undefined;

  const leasePath = objectPath(LEASES, name, namespace);
  const budget = (budgetMs: number) => AbortSignal.any([abort.signal, AbortSignal.timeout(Math.max(1, Math.ceil(budgetMs)))]);
  const readLease = (signal: AbortSignal) => client.request<Lease>({ method: 'GET', path: leasePath, signal });
  const replaceLease = (body: Lease, signal: AbortSignal) => client.request<Lease>({ method: 'PUT', path: leasePath, body, signal });
  const createLease = (body: Lease, signal: AbortSignal) => client.request<Lease>({ method: 'POST', path: collectionPath(LEASES, namespace), body, signal });

  const observe = (lease: Lease) => {
    const record = recordOf(lease);
    cached = lease;
    if (!observed || !sameRecord(observed.record, record)) observed = { record, at: now() };
  };

  const heldByUs = () => observed?.record.holderIdentity === identity;

  /** One attempt to become or stay the holder; true when this replica holds the Lease now. */
  const tryAcquireOrRenew = async (budgetMs: number): Promise<boolean> => {
    const stamp = Date.now();
    const mine: LeaseRecord = { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 };

    // A leader whose view of the Lease is fresh writes straight over it: one request per renewal.
    if (leading && cached && observed && heldByUs() && observed.at + options.leaseDurationMs > now()) {
      try {
        const renewed = withRecord(cached, { ...mine, acquireTime: observed.record.acquireTime, leaseTransitions: observed.record.leaseTransitions }, options.labels);
        observe(await replaceLease(renewed, budget(budgetMs)));
        return true;
      } catch (err) {
        options.metrics?.slowpath();
        log.v(4).info('Optimistic lease renewal failed, reading the lease first', { lease: where, err: describeError(err) });
      }
    }

    let current: Lease;
    try {
      current = await readLease(budget(budgetMs));
    } catch (err) {
      if (!isNotFound(err)) {
        log.error('Error retrieving lease lock', { lease: where, err: describeError(err) });
        return false;
      }
      try {
        const created = withRecord({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace } }, mine, options.labels);
        observe(await createLease(created, budget(budgetMs)));
        return true;
      } catch (createErr) {
        log.error('Error initially creating lease lock', { lease: where, err: describeError(createErr) });
        return false;
      }
    }

    observe(current);
    const record = recordOf(current);
    const ours = record.holderIdentity === identity;
    const expiresAt = (observed?.at ?? now()) + record.leaseDurationSeconds * 1000;
    if (record.holderIdentity !== '' && !ours && expiresAt > now()) {
      log.v(4).info('Lease is held by another replica and has not expired yet', { lease: where, holder: record.holderIdentity });
      return false;
    }
    const next: LeaseRecord = ours
      ? { ...mine, acquireTime: record.acquireTime, leaseTransitions: record.leaseTransitions }
      : { ...mine, leaseTransitions: record.leaseTransitions + 1 };
    try {
      observe(await replaceLease(withRecord(current, next, options.labels), budget(budgetMs)));
      return true;
    } catch (err) {
      log.error('Failed to update lease', { lease: where, err: describeError(err) });
      return false;
    }
  };

  const jittered = () => options.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR);

  const campaign = async (): Promise<boolean> => {
    log.info('Attempting to acquire leader lease', { lease: where, identity });
    while (!stopping) {
      if (await tryAcquireOrRenew(options.renewDeadlineMs)) return !stopping;
      if (!stopping) await sleeper.sleep(jittered());
    }
    return false;
  };

  /** Renews until a renewal misses its deadline (leadership lost) or stop() is called. */
  const renewLoop = async (): Promise<void> => {
    while (!stopping) {
      const deadline = now() + options.renewDeadlineMs;
      let renewed = false;
      while (!stopping && now() < deadline) {
        if (await tryAcquireOrRenew(deadline - now())) {
          renewed = true;
          break;
        }
        if (!stopping) await sleeper.sleep(Math.min(options.retryPeriodMs, deadline - now()));
      }
      if (stopping) return;
      if (!renewed) {
        log.error('Failed to renew lease within the renew deadline, leadership lost', { lease: where, renewDeadlineSeconds: options.renewDeadlineMs / 1000 });
        return;
      }
      await sleeper.sleep(options.retryPeriodMs);
    }
  };

  /** The caller's callbacks must not be able to stop the renewals (or the release). */
  const safely = (what: string, callback: (() => void) | undefined) => {
    try {
      callback?.();
    } catch (err) {
      log.error(`Leader election ${what} callback failed`, { lease: where, err: describeError(err) });
    }
  };

  let stoppedLeadingCalled = false;
  const endLeadership = () => {
    if (!leading) return;
    leading = false;
    options.metrics?.leading(false);
    safely('event', () => options.recordEvent?.('LeaderElection', `${identity} stopped leading`));
    if (!stoppedLeadingCalled) {
      stoppedLeadingCalled = true;
      safely('onStoppedLeading', options.onStoppedLeading);
    }
  };

  const running = (async () => {
    if (!(await campaign())) return;
    leading = true;
    log.info('Successfully acquired lease', { lease: where, identity });
    options.metrics?.leading(true);
    safely('event', () => options.recordEvent?.('LeaderElection', `${identity} became leader`));
    safely('onStartedLeading', options.onStartedLeading);
    await renewLoop();
    if (!stopping) endLeadership();
  })().catch((err: unknown) => log.error('Leader election stopped unexpectedly', { lease: where, err: describeError(err) }));

  const release = async (): Promise<void> => {
    try {
      // Read first: an in-flight renewal may have changed the Lease since we last saw it.
      const current = await readLease(AbortSignal.timeout(Math.ceil(options.renewDeadlineMs)));
      const record = recordOf(current);
      if (record.holderIdentity !== identity) return;
      const stamp = Date.now();
      const released: LeaseRecord = { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp, leaseTransitions: record.leaseTransitions };
      observe(await replaceLease(withRecord(current, released, undefined), AbortSignal.timeout(Math.ceil(options.renewDeadlineMs))));
      log.info('Released leader lease', { lease: where, identity });
    } catch (err) {
      log.error('Failed to release leader lease; a successor takes over once it expires', { lease: where, err: describeError(err) });
    }
  };

  let stopped: Promise<void> | undefined;
  return {
    stop(releaseLease: boolean) {
      stopped ??= (async () => {
        stopping = true;
        sleeper.wake();
        abort.abort();
        await running;
        const wasLeading = leading;
        if (wasLeading && releaseLease) await release();
        endLeadership();
      })();
      return stopped;
    },
    isLeader: () => leading,
    healthy() {
      if (!observed || !heldByUs()) return { ok: true };
      const overdueMs = now() - observed.at - options.leaseDurationMs;
      if (overdueMs <= tolerance) return { ok: true };
      return {
        ok: false,
        reason: `this replica leads but lease ${where} was last renewed ${((now() - observed.at) / 1000).toFixed(1)}s ago (lease duration ${options.leaseDurationMs / 1000}s)`,
      };
    },
  };
}
