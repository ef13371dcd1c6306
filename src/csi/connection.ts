import * as grpc from '@grpc/grpc-js';
import { connectivityState as State } from '@grpc/grpc-js';
import { statSync, type Stats } from 'node:fs';
import type { Logger } from '../observe/logger.js';
import { errorText, isGrpcError } from './errors.js';
import { messageTypes, methodDefinition, type CsiMethod, type RequestOf, type ResponseOf } from './methods.js';
import { sanitizedJson } from './sanitize.js';

/** One finished CSI call, as reported to metrics. `code` is undefined for a failure that is not a gRPC status. */
export interface CallRecord {
  method: CsiMethod;
  durationSeconds: number;
  code: number | undefined;
}

export interface ConnectionOptions {
  /** `--csi-address`: an absolute socket path or `unix:///path`. */
  address: string;
  log: Logger;
  /** How long start-up waits for the socket to accept a connection (the Go sidecar's fixed 30 s). */
  connectTimeoutMs?: number;
  /** How often the wait says it is still waiting. */
  stillConnectingEveryMs?: number;
  /** Called after every call, success or failure (metrics). */
  observeCall?: (record: CallRecord) => void;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
const STILL_CONNECTING_EVERY_MS = 10_000;

/**
 * grpc-js puts a channel without calls into IDLE after this long, and IDLE is also where a channel
 * goes when its connection breaks. The largest value grpc-js accepts makes an idle period rare;
 * `isIdleTimeout` tells the two apart when it does happen.
 */
const IDLE_TIMEOUT_MS = 2_147_483_647;

/**
 * Normalises `--csi-address` to a grpc-js target. Only unix sockets are accepted: the sidecar must
 * notice the driver going away, and that is only defined for a local socket. The refusals say what
 * was given and what to give instead, for the operator who reads them in a crash-looping pod.
 */
export function csiTarget(address: string): string {
  const example = 'for example --csi-address=/csi/csi.sock or --csi-address=unix:///csi/csi.sock';
  if (address.startsWith('/')) return `unix://${address}`;
  if (address.startsWith('unix://') && address.slice('unix://'.length).startsWith('/')) return address;
  if (address === '') throw new Error(`--csi-address is empty: give the absolute path of the CSI driver's socket, ${example}`);
  // `unix:x`, `unix://x` and bare paths are all relative to a working directory the operator does not control.
  const path = address.startsWith('unix:') ? address.slice('unix:'.length).replace(/^\/\//, '') : address;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(address)?.[1];
  if (scheme && scheme !== 'unix') {
    throw new Error(`--csi-address=${address} is not a unix socket (scheme ${scheme}:): the sidecar talks to the CSI driver only over its unix socket; give the socket's absolute path, ${example}`);
  }
  throw new Error(`--csi-address=${address} is a relative path (${JSON.stringify(path)}): give the absolute path of the CSI driver's socket as this container mounts it, ${example}`);
}

/** What kind of file a path names, in words, for a path that exists but is not a socket. */
function fileKind(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFile()) return 'a regular file';
  if (stat.isFIFO()) return 'a named pipe';
  // statSync follows symbolic links and the caller has ruled out a socket: what is left is a
  // character or block device.
  return 'a device';
}

/**
 * Throws when the socket path exists but is something else: nothing can accept a connection on a
 * regular file or a directory (a common slip is naming the socket's directory), so the operator
 * hears it at once instead of after the 30 s connection wait. A path that does not exist yet, or a
 * socket nobody listens on, is waited for: the driver may still be starting.
 */
function refuseNonSocket(target: string): void {
  const path = target.slice('unix://'.length);
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) {
    throw new Error(
      `error connecting to CSI driver: ${path} exists but is ${fileKind(stat)}, not a unix socket; --csi-address must name the socket the CSI driver listens on (check the driver's --endpoint and the shared volume's mount path)`,
    );
  }
}

/**
 * The connection to the driver broke after it was established. The sidecar then ends (exit 1),
 * whatever it was doing, as the Go sidecar does: a restarted driver may be a different one.
 */
export class ConnectionLostError extends Error {
  constructor(readonly reason: string) {
    super(`Lost connection to CSI driver, exiting: ${reason}`);
  }
}

/**
 * A connection to a CSI driver over its unix socket: one gRPC channel shared by the Identity,
 * Controller and GroupController services. Every call is logged at verbosity 5 with secrets
 * stripped, timed for metrics, and bounded by the deadline the caller passes.
 */
export class CsiConnection {
  private readonly client: grpc.Client;
  private readonly channel: grpc.Channel;
  private closing = false;
  private lastActivity = Date.now();
  private activeCalls = 0;
  private readonly lostListeners: Array<(reason: string) => void> = [];
  private lost: string | undefined;
  private readonly lostPromise: Promise<string>;
  private resolveLost: (reason: string) => void = () => undefined;

  private constructor(
    readonly target: string,
    private readonly options: ConnectionOptions,
  ) {
    this.channel = new grpc.Channel(target, grpc.credentials.createInsecure(), {
      'grpc.client_idle_timeout_ms': IDLE_TIMEOUT_MS,
      // Reconnect quickly while waiting for a driver that is still starting (as the Go sidecar's 1 s cap).
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), { channelOverride: this.channel });
    this.lostPromise = new Promise((resolve) => (this.resolveLost = resolve));
  }

  /**
   * Connects and waits until the socket accepts a gRPC connection, saying so every
   * `stillConnectingEveryMs`; gives up after `connectTimeoutMs` with an error naming the address.
   */
  static async connect(options: ConnectionOptions): Promise<CsiConnection> {
    const target = csiTarget(options.address);
    refuseNonSocket(target);
    const conn = new CsiConnection(target, options);
    const limit = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const every = options.stillConnectingEveryMs ?? STILL_CONNECTING_EVERY_MS;
    const giveUpAt = Date.now() + limit;
    options.log.v(2).info('Connecting to CSI driver', { address: target });
    for (;;) {
      const waitUntil = Math.min(giveUpAt, Date.now() + every);
      const err = await new Promise<Error | undefined>((resolve) => conn.client.waitForReady(waitUntil, resolve));
      if (!err) break;
      // The wait that ran until the give-up time failed: no more waiting.
      if (waitUntil === giveUpAt) {
        conn.close();
        throw new Error(
          `error connecting to CSI driver: no driver accepted a connection on ${target} within ${Math.round(limit / 1000)}s (is the driver running and is the socket shared with this container?)`,
        );
      }
      options.log.warn('Still connecting', { address: target });
    }
    options.log.v(2).info('Connected to CSI driver', { address: target });
    conn.watchForLoss();
    return conn;
  }

  /** Why the connection broke, once it has; undefined while it holds. */
  get lostReason(): string | undefined {
    return this.lost;
  }

  /**
   * Registers a listener for the connection breaking. A listener registered after the break is
   * called at once (asynchronously): a loss during start-up must not go unheard because nobody was
   * listening yet.
   */
  onLost(listener: (reason: string) => void): void {
    const reason = this.lost;
    if (reason !== undefined) queueMicrotask(() => listener(reason));
    else this.lostListeners.push(listener);
  }

  /**
   * Settles as `work` does, or rejects with ConnectionLostError as soon as the connection breaks
   * (at once if it already has), so that no step of start-up outlives the driver.
   */
  whileConnected<T>(work: Promise<T>): Promise<T> {
    const lost = this.lostPromise.then((reason): never => {
      throw new ConnectionLostError(reason);
    });
    return Promise.race([work, lost]);
  }

  /** Calls one CSI RPC. `deadline` bounds the call (the sidecar passes now + --timeout). */
  async call<M extends CsiMethod>(method: M, request: RequestOf<M>, deadline: Date): Promise<ResponseOf<M>> {
    const definition = methodDefinition(method);
    const types = messageTypes(method);
    // Undefined below verbosity 5, so that nothing is sanitised for a line nobody writes.
    const verbose = this.options.log.enabled(5) ? this.options.log.v(5) : undefined;
    verbose?.info('GRPC call', { method, request: sanitizedJson(types.request, request) });

    const started = process.hrtime.bigint();
    this.activeCalls++;
    this.lastActivity = Date.now();
    try {
      const response = await new Promise<ResponseOf<M>>((resolve, reject) => {
        this.client.makeUnaryRequest(
          method,
          definition.requestSerialize,
          definition.responseDeserialize,
          request,
          { deadline },
          (err, value) => (err ? reject(err) : resolve(value as ResponseOf<M>)),
        );
      });
      this.record(method, started, 0);
      verbose?.info('GRPC response', { method, response: sanitizedJson(types.response, response) });
      return response;
    } catch (err) {
      this.record(method, started, isGrpcError(err) ? err.code : undefined);
      verbose?.info('GRPC error', { method, error: errorText(err) });
      throw err;
    } finally {
      this.activeCalls--;
      this.lastActivity = Date.now();
    }
  }

  close(): void {
    this.closing = true;
    this.client.close();
  }

  private record(method: CsiMethod, started: bigint, code: number | undefined): void {
    const durationSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.options.observeCall?.({ method, durationSeconds, code });
  }

  /** Leaving READY after start-up means the driver closed the socket (exited, restarted, crashed). */
  private watchForLoss(): void {
    const watch = (current: State): void => {
      this.channel.watchConnectivityState(current, Infinity, () => {
        if (this.closing) return;
        // Stryker disable next-line BooleanLiteral: `true` asks a lost connection to reconnect (the sidecar ends anyway) or an idle one, which the branch below asks as well; the state read is the same.
        const next = this.channel.getConnectivityState(false);
        // READY again: the reconnect after an idle period (below) succeeded.
        if (next === State.READY) return watch(next);
        if (this.isIdleTimeout(next)) {
          // Reconnect after a genuine idle period so the next state change is a real one.
          this.channel.getConnectivityState(true);
          return watch(next);
        }
        const reason = `connection to the CSI driver on ${this.target} was lost (channel state ${State[next]})`;
        this.lost = reason;
        this.resolveLost(reason);
        for (const listener of this.lostListeners.splice(0)) listener(reason);
      });
    };
    watch(State.READY);
  }

  private isIdleTimeout(state: State): boolean {
    return (
      state === State.IDLE &&
      this.activeCalls === 0 &&
      Date.now() - this.lastActivity >= IDLE_TIMEOUT_MS
    );
  }
}
