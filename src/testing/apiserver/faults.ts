import { SeededRandom } from '../random.js';
import { ApiError, gone } from './errors.js';

/** Which requests a fault applies to; unset members match anything. */
export interface FaultMatch {
  verb?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /**
   * The start of the client's User-Agent (`csi-snapshotter/`): faults aimed at one client, so the
   * test that steers them keeps a clean connection of its own.
   */
  userAgent?: string;
}

export interface FailureSpec extends FaultMatch {
  /** HTTP status to answer: 409, 410, 429, 500, 503 (others are answered as a generic error). */
  code: number;
  /** Fail this many matching requests, then stop (default: unlimited when `fraction` is set, else 1). */
  times?: number;
  /** Fail this fraction (0..1] of matching requests, decided by a seeded generator. */
  fraction?: number;
  /** Retry-After for 429/503 (seconds, default 1). */
  retryAfterSeconds?: number;
  message?: string;
}

export interface LatencySpec extends FaultMatch {
  ms: number;
}

/** Watch events of `resource` (every resource when unset) reach watchers `ms` late, in order. */
export interface WatchLagSpec {
  resource?: string;
  ms: number;
}

export interface RequestInfo {
  verb: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  userAgent: string;
}

interface ActiveFailure extends FailureSpec {
  id: number;
  remaining: number;
}

function applies(match: FaultMatch, info: RequestInfo): boolean {
  return (Object.keys(match) as (keyof FaultMatch)[]).every((key) => {
    const wanted = match[key];
    if (wanted === undefined) return true;
    return key === 'userAgent' ? info.userAgent.startsWith(wanted) : wanted === info[key];
  });
}

function matchOf(spec: FaultMatch): FaultMatch {
  const { verb, resource, subresource, namespace, name, userAgent } = spec;
  return { verb, resource, subresource, namespace, name, userAgent };
}

/** The error body a real API server (or its flow control) sends for `code`. */
export function injectedError(spec: FailureSpec, info: RequestInfo): ApiError {
  const retry = spec.retryAfterSeconds ?? 1;
  const target = info.name ? `${info.resource} "${info.name}"` : info.resource;
  switch (spec.code) {
    case 409:
      return new ApiError(409, 'Conflict', spec.message ?? `Operation cannot be fulfilled on ${target}: the object has been modified; please apply your changes to the latest version and try again`, {
        name: info.name,
        kind: info.resource,
      });
    case 410:
      // What a watch or list from a compacted resourceVersion gets: the client must list again.
      return gone(spec.message ?? 'too old resource version: injected fault');
    case 429:
      return new ApiError(429, 'TooManyRequests', spec.message ?? 'Too many requests, please try again later.', { retryAfterSeconds: retry }, { 'Retry-After': String(retry) });
    case 500:
      return new ApiError(500, 'InternalError', spec.message ?? 'Internal error occurred: injected fault', {});
    case 503:
      return new ApiError(503, 'ServiceUnavailable', spec.message ?? 'The server is currently unable to handle the request', { retryAfterSeconds: retry }, { 'Retry-After': String(retry) });
    default:
      return new ApiError(spec.code, 'Unknown', spec.message ?? `injected fault ${spec.code}`, {});
  }
}

/**
 * Test-controlled faults: latency and failures for requests matching verb/resource/name. Fractions
 * use a seeded generator so a test run is repeatable.
 */
export class Faults {
  private failures: ActiveFailure[] = [];
  private latencies: LatencySpec[] = [];
  private watchLags: WatchLagSpec[] = [];
  private readonly lagListeners = new Set<() => void>();
  private nextId = 1;
  private readonly random: SeededRandom;

  constructor(seed = 42) {
    this.random = new SeededRandom(seed);
  }

  /** Fails matching requests; returns an id for `remove`. */
  fail(spec: FailureSpec): number {
    const id = this.nextId++;
    const remaining = spec.times ?? (spec.fraction !== undefined ? Number.POSITIVE_INFINITY : 1);
    this.failures.push({ ...spec, id, remaining });
    return id;
  }

  /** Delays matching requests by `ms` before they are served. */
  addLatency(spec: LatencySpec): void {
    this.latencies.push(spec);
  }

  /**
   * Holds back watch events, as a lagging watch cache does: a client's informer then sees its own
   * writes late. Setting a smaller lag (0 ends it) releases what is held at once, still in order.
   */
  setWatchLag(spec: WatchLagSpec): void {
    this.watchLags = this.watchLags.filter((l) => l.resource !== spec.resource);
    if (spec.ms > 0) this.watchLags.push(spec);
    this.lagListeners.forEach((listener) => listener());
  }

  watchLagFor(resource: string): number {
    return this.watchLags.filter((l) => l.resource === undefined || l.resource === resource).reduce((max, l) => Math.max(max, l.ms), 0);
  }

  /** Calls `listener` whenever a watch lag changes; returns the unsubscribe function. */
  onWatchLagChange(listener: () => void): () => void {
    this.lagListeners.add(listener);
    return () => this.lagListeners.delete(listener);
  }

  remove(id: number): void {
    this.failures = this.failures.filter((f) => f.id !== id);
  }

  clear(): void {
    this.failures = [];
    this.latencies = [];
    // Every lag ends, per-resource ones included; watches then release what they hold at once.
    const lagged = this.watchLags.length > 0;
    this.watchLags = [];
    if (lagged) this.lagListeners.forEach((listener) => listener());
  }

  /** Failures still armed (remaining count), for assertions. */
  pending(): { id: number; remaining: number }[] {
    return this.failures.map((f) => ({ id: f.id, remaining: f.remaining }));
  }

  latencyFor(info: RequestInfo): number {
    return this.latencies.filter((l) => applies(matchOf(l), info)).reduce((sum, l) => sum + l.ms, 0);
  }

  /** The injected error for this request, if a fault fires. */
  check(info: RequestInfo): ApiError | undefined {
    for (const failure of this.failures) {
      if (failure.remaining <= 0 || !applies(matchOf(failure), info)) continue;
      if (failure.fraction !== undefined && this.random.next() >= failure.fraction) continue;
      failure.remaining--;
      if (failure.remaining <= 0) this.remove(failure.id);
      return injectedError(failure, info);
    }
    return undefined;
  }
}

/** The verbs requests are accounted and matched by (as the API server's audit log names them). */
export const KNOWN_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'] as const;

const MATCH_FIELDS = ['verb', 'resource', 'subresource', 'namespace', 'name', 'userAgent'] as const;
const FAILURE_FIELDS = [...MATCH_FIELDS, 'code', 'times', 'fraction', 'retryAfterSeconds', 'message'] as const;

/**
 * Checks a FailureSpec that came as JSON (the control socket of the bin) and returns it; throws an
 * Error that names the field and what it must be. Unknown fields are refused, since a misspelt
 * matcher would otherwise match every request.
 */
export function validateFailureSpec(value: unknown): FailureSpec {
  const fail = (why: string): never => {
    throw new Error(`failure spec: ${why}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`must be a JSON object like {"verb":"patch","code":409,"fraction":0.1}, got ${JSON.stringify(value)}`);
  const spec = value as Record<string, unknown>;
  for (const key of Object.keys(spec)) {
    if (!(FAILURE_FIELDS as readonly string[]).includes(key)) fail(`unknown field "${key}" (known: ${FAILURE_FIELDS.join(', ')})`);
  }
  for (const key of [...MATCH_FIELDS, 'message'] as const) {
    if (spec[key] !== undefined && typeof spec[key] !== 'string') fail(`"${key}" must be a string, got ${JSON.stringify(spec[key])}`);
  }
  if (spec.verb !== undefined && !(KNOWN_VERBS as readonly string[]).includes(spec.verb as string)) fail(`"verb" must be one of ${KNOWN_VERBS.join(', ')}, got "${spec.verb as string}"`);
  const code = spec.code;
  if (code === undefined) fail('"code" is required (the HTTP status to answer: 409, 410, 429, 500, 503, or another 4xx/5xx)');
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599) fail(`"code" must be an integer HTTP error status 400..599, got ${JSON.stringify(code)}`);
  const times = spec.times;
  if (times !== undefined && (typeof times !== 'number' || !Number.isInteger(times) || times < 1)) fail(`"times" must be a positive integer, got ${JSON.stringify(times)}`);
  const fraction = spec.fraction;
  if (fraction !== undefined && (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1))) fail(`"fraction" must be a number in (0, 1], got ${JSON.stringify(fraction)}`);
  const retry = spec.retryAfterSeconds;
  if (retry !== undefined && (typeof retry !== 'number' || !Number.isInteger(retry) || retry < 0)) fail(`"retryAfterSeconds" must be a non-negative integer, got ${JSON.stringify(retry)}`);
  return spec as unknown as FailureSpec;
}
