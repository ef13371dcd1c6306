import type * as HttpTypes from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type * as HttpsTypes from 'node:https';
import { createRequire } from 'node:module';
import type { ClusterConfig } from './cluster-config.js';
import type { Credential } from './credentials.js';
import type { TokenBucket } from '../runtime/rate-limiter.js';
import { parseJson, stringifyJson } from './json.js';

// `import ... from 'node:http'` makes Node build an ES module namespace of every export of `http`,
// which reads its lazy WebSocket, CloseEvent and MessageEvent getters and so loads and compiles
// undici (a 760 KB source and about 100 internal modules) that the sidecar never uses: 8 MiB of
// RSS and tens of milliseconds of start-up (BENCHMARKS.md). `require` reads no getters.
const require = createRequire(import.meta.url);
const http = require('node:http') as typeof HttpTypes;
const https = require('node:https') as typeof HttpsTypes;

/**
 * A small Kubernetes REST client with lossless JSON. The ClusterConfig supplies the server, the TLS
 * settings and the credentials (asked for on every request, so rotated token files and refreshed
 * exec plugin credentials take effect); the HTTP exchange and the JSON are ours, so int64 values
 * such as nanosecond creation times survive a read-modify-write bit for bit.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type ContentType =
  | 'application/json'
  | 'application/json-patch+json'
  | 'application/merge-patch+json'
  | 'application/strategic-merge-patch+json';
export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  method: HttpMethod;
  /** Absolute API path, e.g. `/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/x/status`. */
  path: string;
  query?: Query;
  /** Serialised with stringifyJson (bigints as exact digits). */
  body?: unknown;
  /** Defaults to application/json when there is a body. */
  contentType?: ContentType;
  signal?: AbortSignal;
}

/** The `Status` object the API server answers errors (and watch ERROR events) with. */
export interface KubeStatus {
  kind?: string;
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; retryAfterSeconds?: number; causes?: unknown[] };
  metadata?: { continue?: string; resourceVersion?: string };
}

export type WatchEvent<T> = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: T } | { type: 'ERROR'; object: KubeStatus };

export interface WatchRequest<T> {
  /** Collection path; `watch=1` is added to the query. */
  path: string;
  query?: Query;
  /** Called once per event, in order. A throw ends the watch and rejects with that error. */
  onEvent(event: WatchEvent<T>): void;
  /** Aborting ends the watch; the promise then resolves. */
  signal?: AbortSignal;
}

export interface RestClientOptions {
  kubeConfig: ClusterConfig;
  /** Every request (watches included) takes one token first, as --kube-api-qps/--kube-api-burst require. */
  limiter?: TokenBucket;
  userAgent?: string;
  /** How long a request (not a watch) may take to be answered in full (default 60 s). */
  requestTimeoutMs?: number;
  /** How long a watch may stay open past the timeoutSeconds it asked the server for (default 60 s). */
  watchGraceMs?: number;
}

// The API server ends a request itself after 60 s. A connection that died without a word (a load
// balancer or NAT that dropped it, a host that vanished) gives no error until TCP gives up, many
// minutes later; a worker waiting on it would hold its object all that time. So a request that has
// no complete answer after this long fails, and is retried like any other failure.
const REQUEST_TIMEOUT_MS = 60_000;
// A watch asks the server to end it after timeoutSeconds; one still open this long after that is
// on a dead connection, and its informer would see nothing more.
const WATCH_GRACE_MS = 60_000;

// The reason the API server gives each status code when the body is not a Status (a proxy's page, say).
const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** A non-2xx answer from the API server (or an ERROR watch event). */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
    /** Seconds the server asked us to wait (Retry-After header or Status details). */
    readonly retryAfterSeconds: number | undefined,
    /** The Status body, when there was one. */
    readonly status: KubeStatus | undefined,
  ) {
    super(message);
  }

  static fromStatus(status: KubeStatus, retryAfterHeader?: string): ApiError {
    const code = status.code ?? 500;
    const reason = status.reason || REASON_BY_CODE[code] || 'Unknown';
    return new ApiError(code, reason, status.message || `the server reported ${reason} (${code})`, retryAfter(retryAfterHeader, status), status);
  }
}

function retryAfter(header: string | undefined, status: KubeStatus | undefined): number | undefined {
  if (header !== undefined && /^\d+$/.test(header.trim())) return Number(header.trim());
  const fromDetails = status?.details?.retryAfterSeconds;
  return typeof fromDetails === 'number' && fromDetails > 0 ? fromDetails : undefined;
}

function apiErrorFromResponse(code: number, headers: IncomingHttpHeaders, text: string, what: string): ApiError {
  let status: KubeStatus | undefined;
  try {
    const parsed = parseJson<KubeStatus>(text);
    if (parsed && typeof parsed === 'object' && parsed.kind === 'Status') status = parsed;
  } catch {
    // Not JSON: keep the raw text in the message below.
  }
  const header = headers['retry-after'];
  const retryHeader = Array.isArray(header) ? header[0] : header;
  if (status) return ApiError.fromStatus({ ...status, code: status.code ?? code }, retryHeader);
  const reason = REASON_BY_CODE[code] ?? 'Unknown';
  const snippet = text.trim().slice(0, 200);
  const message = `${what}: the server responded with ${code} ${reason}${snippet ? `: ${snippet}` : ''}`;
  return new ApiError(code, reason, message, retryAfter(retryHeader, undefined), undefined);
}

function hasStatus(err: unknown, code: number, ...reasons: string[]): boolean {
  return err instanceof ApiError && (err.statusCode === code || reasons.includes(err.reason));
}

export const isNotFound = (err: unknown): boolean => hasStatus(err, 404, 'NotFound');
export const isConflict = (err: unknown): boolean => hasStatus(err, 409, 'Conflict');
/** A patch the server could not apply: a `test` operation that failed is answered so (422). */
export const isUnprocessable = (err: unknown): boolean => hasStatus(err, 422, 'Invalid');
/** The requested resourceVersion (or continue token) is too old: relist. */
export const isExpired = (err: unknown): boolean => hasStatus(err, 410, 'Expired', 'Gone');

/** An error as one log value: an API error with its status code (`HTTP 409: ...`), anything else by its message. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `HTTP ${err.statusCode}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.append(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ABORT_ERR');
}

/**
 * The body as text. Decoded chunk by chunk into strings (V8's heap), rather than gathered into one
 * Buffer: a list page of 500 contents is about 400 KB, and Buffers that size come from malloc,
 * whose heap kept growing with every page (BENCHMARKS.md).
 */
function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: string[] = [];
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => chunks.push(chunk));
    res.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as string) : chunks.join('')));
    res.on('error', reject);
  });
}

export class RestClient {
  private readonly cluster: ClusterConfig;
  private readonly limiter: TokenBucket | undefined;
  private readonly userAgent: string;
  private readonly server: URL;
  private readonly transport: typeof https | typeof http;
  // One keep-alive pool for the client's lifetime. Node keys pooled sockets by their TLS options,
  // so a rotated client certificate gets new connections rather than reusing old ones.
  private readonly agent: HttpTypes.Agent;
  private readonly requestTimeoutMs: number;
  private readonly watchGraceMs: number;

  constructor(options: RestClientOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.watchGraceMs = options.watchGraceMs ?? WATCH_GRACE_MS;
    this.cluster = options.kubeConfig;
    this.limiter = options.limiter;
    this.userAgent = options.userAgent ?? 'csi-snapshotter-ts';
    this.server = this.cluster.server;
    this.transport = this.server.protocol === 'http:' ? http : https;
    this.agent = this.server.protocol === 'http:' ? new http.Agent({ keepAlive: true }) : new https.Agent({ keepAlive: true });
  }

  /** Sends one request; resolves with the parsed body (undefined when empty), rejects with ApiError on non-2xx. */
  async request<T>(options: RequestOptions): Promise<T> {
    const what = `${options.method} ${options.path}`;
    const body = options.body === undefined ? undefined : stringifyJson(options.body);
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let res: IncomingMessage;
    let text: string;
    try {
      res = await this.send(options.method, options.path, options.query, body, options.contentType, signal);
      text = await readText(res);
    } catch (err) {
      if (timeout.aborted && !options.signal?.aborted) throw new Error(`${what}: no complete answer within ${this.requestTimeoutMs / 1000} s`, { cause: err });
      throw err;
    }
    const code = res.statusCode ?? 0;
    if (code < 200 || code > 299) throw apiErrorFromResponse(code, res.headers, text, what);
    return (text.trim() === '' ? undefined : parseJson<T>(text)) as T;
  }

  /**
   * Streams a watch: one JSON event per line. Resolves when the server ends the stream or the
   * signal aborts; rejects with ApiError when the server refuses the watch, or with the transport
   * error when the connection breaks.
   */
  async watch<T>(request: WatchRequest<T>): Promise<void> {
    const { signal } = request;
    if (signal?.aborted) return;
    // Past the time the server was asked to end it, the watch is cut; readEvents then reports a
    // connection closed before the stream ended, and the informer watches again.
    const asked = Number(request.query?.timeoutSeconds);
    const limit = Number.isFinite(asked) && asked > 0 ? AbortSignal.timeout(asked * 1000 + this.watchGraceMs) : undefined;
    const sendSignal = signal && limit ? AbortSignal.any([signal, limit]) : (signal ?? limit);
    let res: IncomingMessage;
    try {
      res = await this.send('GET', request.path, { ...request.query, watch: 1 }, undefined, undefined, sendSignal);
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    const code = res.statusCode ?? 0;
    if (code < 200 || code > 299) throw apiErrorFromResponse(code, res.headers, await readText(res), `watch ${request.path}`);
    await this.readEvents(res, request);
  }

  /** Closes pooled connections. In-flight requests are not affected until they finish. */
  close(): void {
    this.agent.destroy();
  }

  private readEvents<T>(res: IncomingMessage, request: WatchRequest<T>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        if (err === undefined || request.signal?.aborted) resolve();
        else reject(err);
        if (err !== undefined) res.destroy();
      };
      let pending = '';
      const deliver = (line: string) => {
        if (line.trim() === '') return;
        request.onEvent(parseJson<WatchEvent<T>>(line));
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (settled) return;
        pending += chunk;
        try {
          let newline = pending.indexOf('\n');
          while (newline !== -1 && !settled) {
            deliver(pending.slice(0, newline));
            pending = pending.slice(newline + 1);
            newline = pending.indexOf('\n');
          }
        } catch (err) {
          finish(err);
        }
      });
      res.on('end', () => {
        try {
          if (!settled) deliver(pending);
          finish();
        } catch (err) {
          finish(err);
        }
      });
      res.on('error', (err) => finish(request.signal?.aborted ? undefined : new Error(`watch ${request.path}: ${err.message}`, { cause: err })));
      res.on('close', () => {
        if (request.signal?.aborted) finish();
        else if (!res.complete) finish(new Error(`watch ${request.path}: the connection closed before the server ended the stream`));
      });
    });
  }

  private tlsOptions(credential: Credential): HttpsTypes.RequestOptions {
    if (this.server.protocol !== 'https:') return {};
    const { tls } = this.cluster;
    return {
      rejectUnauthorized: !tls.insecureSkipVerify,
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      ...(tls.serverName !== undefined ? { servername: tls.serverName } : {}),
      ...(credential.cert !== undefined ? { cert: credential.cert, key: credential.key } : {}),
    };
  }

  private async send(
    method: HttpMethod,
    path: string,
    query: Query | undefined,
    body: string | undefined,
    contentType: ContentType | undefined,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> {
    await this.limiter?.take();
    // Asked for on every request: token files are re-read and exec credentials renewed behind it.
    const credential = await this.cluster.credentials.get();
    signal?.throwIfAborted();
    const headers: Record<string, string | number> = { Accept: 'application/json', 'User-Agent': this.userAgent };
    if (body !== undefined) {
      headers['Content-Type'] = contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    if (credential.authorization !== undefined) headers.Authorization = credential.authorization;
    const options: HttpsTypes.RequestOptions = { method, headers, agent: this.agent, signal, ...this.tlsOptions(credential) };
    const url = new URL(this.server.href);
    url.pathname = `${this.server.pathname.replace(/\/$/, '')}${path}`;
    url.search = queryString(query);
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.transport.request(url, options, (res) => {
        // The credential was refused: a source that can fetch a fresh one (an exec plugin) does so for the next request.
        if (res.statusCode === 401) this.cluster.credentials.rejected(credential);
        resolve(res);
      });
      req.on('error', (err) => reject(isAbort(err) ? err : new Error(`${method} ${url.pathname}: ${err.message}`, { cause: err })));
      req.end(body);
    });
  }
}
