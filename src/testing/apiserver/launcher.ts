import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../util/package-root.js';
import type { RequestFilter, RequestRecord } from './accounting.js';
import type { GroupVersion } from './crd-schemas.js';
import type { FailureSpec } from './faults.js';
import { readKubeconfig } from './kubeconfig.js';

/** Path of the compiled bin the launcher runs. */
export function testApiServerBinPath(): string {
  return join(packageRoot(), 'dist', 'src', 'testing', 'bin', 'kube-test-apiserver.js');
}

/**
 * A client of the control socket of `kube-test-apiserver --control-socket PATH`, with the method
 * names of the in-process server (`startTestApiServer()`), each returning a promise.
 */
export class TestApiServerControl {
  constructor(readonly socketPath: string) {}

  /** Failure rules (FailureSpec, as `faults.fail()` in-process); `fail` returns the rule's id. */
  readonly faults = {
    fail: async (spec: FailureSpec): Promise<number> => (await this.call<{ id: number }>('POST', '/faults/failures', spec)).id,
    remove: async (id: number): Promise<void> => {
      await this.call('DELETE', `/faults/failures/${encodeURIComponent(String(id))}`);
    },
    pending: (): Promise<{ id: number; remaining: number | null }[]> => this.call('GET', '/faults/failures'),
    /** Ends every failure, latency and watch lag. */
    clear: async (): Promise<void> => {
      await this.call('DELETE', '/faults');
    },
  };

  /** Request accounting; the filter's fields match exactly, as `requests.all()` in-process. */
  readonly requests = {
    all: (filter: RequestFilter = {}): Promise<RequestRecord[]> => this.call('GET', `/requests${query(filter)}`),
    count: async (filter: RequestFilter = {}): Promise<number> => (await this.requests.all(filter)).length,
  };

  /** Ends every open watch (clients re-establish them); returns how many were closed. */
  async closeWatches(): Promise<number> {
    return (await this.call<{ closed: number }>('POST', '/watches/close')).closed;
  }

  /** The cluster-wide resourceVersion now. */
  async resourceVersion(): Promise<number> {
    return (await this.call<{ resourceVersion: number }>('GET', '/resource-version')).resourceVersion;
  }

  /**
   * One request on the socket. A non-2xx answer throws `METHOD PATH: HTTP <code>: <what is wrong>`;
   * a socket that does not answer throws with its path.
   */
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const code = res.statusCode ?? 0;
            if (code < 200 || code > 299) {
              let message = text;
              try {
                message = (JSON.parse(text) as { error?: string }).error ?? text;
              } catch {
                // plain text
              }
              reject(new Error(`${method} ${path}: HTTP ${code}: ${message}`));
              return;
            }
            try {
              resolve((text === '' ? undefined : JSON.parse(text)) as T);
            } catch {
              reject(new Error(`${method} ${path}: the answer is not JSON: ${text.slice(0, 200)}`));
            }
          });
        },
      );
      req.on('error', (err) => reject(new Error(`kube-test-apiserver control socket ${this.socketPath}: ${err.message}`)));
      req.end(payload);
    });
  }
}

function query(filter: RequestFilter): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

export interface TestApiServerProcessOptions {
  groupSnapshotVersions?: GroupVersion[];
  /** Bearer token clients must send (random by default). */
  token?: string;
  /** Seed of the generator deciding fractional faults (--fault-seed). */
  faultSeed?: number;
  /** Extra flags appended to the command line. */
  args?: string[];
  /** How long to wait for the ready line; default 20 s. */
  readyTimeoutMs?: number;
}

export interface ApiServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const MAX_OUTPUT = 1024 * 1024;

/**
 * `kube-test-apiserver` as a child process with its control socket: the Kubernetes API over HTTPS
 * (`url`, `kubeconfigPath`) and, through `TestApiServerControl`, the faults, watches, accounting and
 * resourceVersion of the in-process server, under the same names (each returning a promise).
 */
export class TestApiServerProcess extends TestApiServerControl {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly url: string,
    readonly kubeconfigPath: string,
    /** PEM of the server's self-signed certificate and the bearer token it accepts (from its kubeconfig). */
    readonly caPem: string,
    readonly token: string,
    socketPath: string,
    readonly exited: Promise<ApiServerExit>,
    private readonly text: { out: string },
  ) {
    super(socketPath);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the server printed (stdout and stderr, the last MiB). */
  output(): string {
    return this.text.out;
  }

  /** Starts the bin with `--control-socket` in a fresh private folder and waits for its ready line. */
  static async start(options: TestApiServerProcessOptions = {}): Promise<TestApiServerProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'kta-'));
    const kubeconfigPath = join(dir, 'kubeconfig');
    const socketPath = join(dir, 'control.sock');
    const args = [testApiServerBinPath(), '--port', '0', '--kubeconfig-out', kubeconfigPath, '--control-socket', socketPath];
    if (options.groupSnapshotVersions) args.push('--group-snapshot-versions', options.groupSnapshotVersions.join(','));
    if (options.token !== undefined) args.push('--token', options.token);
    if (options.faultSeed !== undefined) args.push('--fault-seed', String(options.faultSeed));
    args.push(...(options.args ?? []));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    const text = { out: '' };
    const append = (chunk: Buffer): void => {
      text.out += chunk.toString('utf8');
      if (text.out.length > MAX_OUTPUT) text.out = text.out.slice(-MAX_OUTPUT);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const exited = new Promise<ApiServerExit>((resolve) => {
      child.once('exit', (code, signal) => {
        process.off('exit', killOnExit);
        resolve({ code, signal });
      });
    });
    const timeoutMs = options.readyTimeoutMs ?? 20_000;
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`kube-test-apiserver printed no ready line within ${timeoutMs} ms; its output:\n${text.out}`)), timeoutMs);
        const look = (): void => {
          const match = /^ready (\S+) control=/m.exec(text.out);
          if (match) {
            clearTimeout(timer);
            resolve(match[1] as string);
          }
        };
        child.stdout?.on('data', look);
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(new Error(`kube-test-apiserver could not be started: ${err.message}`));
        });
        // Let the last output arrive before reporting.
        child.once('exit', (code, signal) =>
          setImmediate(() => {
            clearTimeout(timer);
            reject(new Error(`kube-test-apiserver exited before it was ready (code ${code}, signal ${signal}); its output:\n${text.out}`));
          }),
        );
      });
      const { caPem, token } = readKubeconfig(kubeconfigPath);
      return new TestApiServerProcess(child, dir, url, kubeconfigPath, caPem, token, socketPath, exited, text);
    } catch (err) {
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** SIGKILL (a crash: the control socket file stays behind) and waits for the exit. */
  async kill(): Promise<ApiServerExit> {
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (SIGKILL after `graceMs`), waits for the exit and removes the folder of the kubeconfig and socket. */
  async stop(graceMs = 10_000): Promise<ApiServerExit> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Starts `kube-test-apiserver` as a child process with its control socket, and resolves once it serves. */
export function startTestApiServerProcess(options: TestApiServerProcessOptions = {}): Promise<TestApiServerProcess> {
  return TestApiServerProcess.start(options);
}
