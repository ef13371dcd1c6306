import { hostname } from 'node:os';
import type { Logger } from '../observe/logger.js';
import { collectionPath, EVENTS, objectPath, type KubeObject } from './resources.js';
import { describeError, isNotFound, type RestClient } from './rest.js';

/**
 * Kubernetes Events for the objects the sidecar works on. Recording is fire-and-forget: the caller
 * (a reconcile) never waits for the API server and never sees an error; events go out one at a time
 * from a bounded backlog, and failures are logged. Repeats of the same event on the same object
 * within the aggregation window update one Event (count, lastTimestamp) instead of creating new
 * ones, which is what `kubectl describe` users expect and keeps etcd small.
 */

export type EventType = 'Normal' | 'Warning';

/** The object an Event is about. Cluster-scoped objects have no namespace. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

export interface EventRecorderOptions {
  /** The sidecar gives Events a client (and limiter) of their own, so they never wait behind the controllers' requests. */
  client: RestClient;
  /** `source.component`, e.g. `csi-snapshotter hostpath.csi.k8s.io`. */
  component: string;
  log: Logger;
  /** Namespace of Events about cluster-scoped objects (default `default`). */
  defaultNamespace?: string;
  /** How long an Event keeps absorbing identical repeats (default 10 minutes). */
  aggregationWindowMs?: number;
  /** Events waiting to be sent beyond which new ones are dropped (default 1000). */
  maxBacklog?: number;
  /** Distinct events remembered for aggregation (default 4096). */
  maxRemembered?: number;
  /** `reportingInstance` (default: the host name). */
  host?: string;
}

interface PendingEvent {
  object: InvolvedObject;
  type: EventType;
  reason: string;
  message: string;
  at: Date;
}

/** A core/v1 Event as the recorder writes it. */
interface EventBody extends KubeObject {
  involvedObject: InvolvedObject;
  reason: string;
  message: string;
  type: EventType;
  source: { component: string };
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
  reportingComponent: string;
  reportingInstance: string;
}

/** An Event already stored, that identical repeats update. */
interface SentEvent {
  name: string;
  namespace: string;
  count: number;
  lastSeen: number;
  body: EventBody;
}

/** metav1.Time: RFC 3339 with second precision, so stored and re-read values are equal. */
function kubeTime(date: Date): string {
  return new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class EventRecorder {
  private readonly backlog: PendingEvent[] = [];
  private readonly sent = new Map<string, SentEvent>();
  private draining: Promise<void> | undefined;
  private closed = false;
  private lastNanos = 0n;
  private readonly defaultNamespace: string;
  private readonly windowMs: number;
  private readonly maxBacklog: number;
  private readonly maxRemembered: number;
  private readonly host: string;

  constructor(private readonly options: EventRecorderOptions) {
    this.defaultNamespace = options.defaultNamespace ?? 'default';
    this.windowMs = options.aggregationWindowMs ?? 10 * 60_000;
    this.maxBacklog = options.maxBacklog ?? 1000;
    this.maxRemembered = options.maxRemembered ?? 4096;
    this.host = options.host ?? hostname();
  }

  warning(object: InvolvedObject, reason: string, message: string): void {
    this.record(object, 'Warning', reason, message);
  }

  /** Queues an Event; returns at once and never throws. */
  record(object: InvolvedObject, type: EventType, reason: string, message: string): void {
    try {
      this.options.log.info('Event occurred', { object: object.namespace ? `${object.namespace}/${object.name}` : object.name, kind: object.kind, apiVersion: object.apiVersion, type, reason, message });
      if (this.closed) return;
      if (this.backlog.length >= this.maxBacklog) {
        this.options.log.warn('Dropping event: too many events waiting to be sent', { kind: object.kind, object: object.name, reason, backlog: this.backlog.length });
        return;
      }
      this.backlog.push({ object: { ...object }, type, reason, message, at: new Date() });
      this.draining ??= this.drain().finally(() => {
        this.draining = undefined;
      });
    } catch {
      // Recording an event must never break the caller's reconcile.
    }
  }

  /** Resolves once every queued event has been sent (or failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /**
   * Stops accepting events and waits for the queued ones to be sent, for at most `timeoutMs` when
   * given: a process that is shutting down cannot wait on a slow API server for ever. Events still
   * waiting when the time is up are dropped, and their number is logged.
   */
  async stop(timeoutMs?: number): Promise<void> {
    this.closed = true;
    if (timeoutMs === undefined) {
      await this.flush();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), timeoutMs)));
    const outcome = await Promise.race([this.flush().then(() => 'flushed' as const), expired]);
    clearTimeout(timer);
    if (outcome === 'expired' && this.backlog.length > 0) {
      this.options.log.warn('Dropping events not sent before shutdown', { events: this.backlog.length, waitedSeconds: timeoutMs / 1000 });
      this.backlog.length = 0;
    }
  }

  private async drain(): Promise<void> {
    for (let next = this.backlog.shift(); next; next = this.backlog.shift()) {
      try {
        await this.send(next);
      } catch (err) {
        this.options.log.error('Unable to write event', { kind: next.object.kind, object: next.object.name, reason: next.reason, err: describeError(err) });
      }
    }
  }

  /** Wall-clock nanoseconds, strictly increasing so two events in one instant get distinct names. */
  private uniqueNanos(): bigint {
    const nanos = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
    this.lastNanos = nanos > this.lastNanos ? nanos : this.lastNanos + 1n;
    return this.lastNanos;
  }

  private keyOf(e: PendingEvent): string {
    const o = e.object;
    return JSON.stringify([this.options.component, o.apiVersion, o.kind, o.namespace ?? '', o.name, o.uid ?? '', e.type, e.reason, e.message]);
  }

  private async send(e: PendingEvent): Promise<void> {
    const key = this.keyOf(e);
    const previous = this.sent.get(key);
    if (previous && e.at.getTime() - previous.lastSeen <= this.windowMs) {
      await this.sendRepeat(key, previous, e);
      return;
    }
    const namespace = e.object.namespace ?? this.defaultNamespace;
    const at = kubeTime(e.at);
    // Same naming scheme as client-go: object name plus the creation time in hex nanoseconds.
    const name = `${e.object.name}.${this.uniqueNanos().toString(16)}`;
    const body: EventBody = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: e.object.apiVersion,
        kind: e.object.kind,
        name: e.object.name,
        namespace: e.object.namespace,
        uid: e.object.uid,
        resourceVersion: e.object.resourceVersion,
      },
      reason: e.reason,
      message: e.message,
      type: e.type,
      source: { component: this.options.component },
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
      reportingComponent: this.options.component,
      reportingInstance: this.host,
    };
    await this.options.client.request({ method: 'POST', path: collectionPath(EVENTS, namespace), body });
    this.remember(key, { name, namespace, count: 1, lastSeen: e.at.getTime(), body });
  }

  private async sendRepeat(key: string, previous: SentEvent, e: PendingEvent): Promise<void> {
    const count = previous.count + 1;
    const lastTimestamp = kubeTime(e.at);
    try {
      await this.options.client.request({
        method: 'PATCH',
        path: objectPath(EVENTS, previous.name, previous.namespace),
        contentType: 'application/strategic-merge-patch+json',
        body: { count, lastTimestamp, message: e.message },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // The Event expired (events have a TTL) or was deleted: store it again, keeping the tally.
      await this.options.client.request({ method: 'POST', path: collectionPath(EVENTS, previous.namespace), body: { ...previous.body, count, lastTimestamp } });
    }
    this.remember(key, { ...previous, count, lastSeen: e.at.getTime() });
  }

  private remember(key: string, entry: SentEvent): void {
    // Map order is insertion order: re-inserting keeps the most recently used last, so the oldest go first.
    this.sent.delete(key);
    this.sent.set(key, entry);
    while (this.sent.size > this.maxRemembered) {
      const oldest = this.sent.keys().next().value;
      if (oldest === undefined) break;
      this.sent.delete(oldest);
    }
  }
}
