import { KubeConfig } from '@kubernetes/client-node';
import { toJson as stringify } from '../../../src/testing/apiserver/json.js';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface KubeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RequestInit {
  body?: unknown;
  /** Defaults to application/json when a body is given. */
  contentType?: string;
  accept?: string;
}

/**
 * Raw HTTP access to a Kubernetes API server named by a kubeconfig (its current context): the
 * credentials and TLS settings come from @kubernetes/client-node, the requests are plain HTTP so
 * that tests see exactly what the server sends (status codes, error bodies, watch frames).
 */
export class KubeHttp {
  private constructor(
    readonly server: URL,
    private readonly options: RequestOptions,
  ) {}

  static async fromKubeconfig(path: string): Promise<KubeHttp> {
    const config = new KubeConfig();
    config.loadFromFile(path);
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error(`kubeconfig ${path} has no current cluster`);
    const options: RequestOptions = {};
    await config.applyToHTTPSOptions(options);
    return new KubeHttp(new URL(cluster.server), options);
  }

  private send(method: string, path: string, init: RequestInit, onResponse: (res: import('node:http').IncomingMessage) => void): import('node:http').ClientRequest {
    const url = new URL(path, this.server);
    // int64 values (ExactNumber) are written back as their digits.
    const payload = init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : stringify(init.body);
    const headers: Record<string, string> = {
      ...(this.options.headers as Record<string, string> | undefined),
      Accept: init.accept ?? 'application/json',
    };
    if (payload !== undefined) {
      headers['Content-Type'] = init.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { ...this.options, method, headers }, onResponse);
    if (payload !== undefined) req.write(payload);
    req.end();
    return req;
  }

  request(method: string, path: string, init: RequestInit = {}): Promise<KubeResponse> {
    return new Promise((resolve, reject) => {
      const req = this.send(method, path, init, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  /** Like request(), but fails unless the status is 2xx, and parses the JSON body. */
  async json<T = Record<string, unknown>>(method: string, path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.request(method, path, init);
    if (response.status < 200 || response.status >= 300) {
      throw new Error(`${method} ${path} -> ${response.status}: ${response.body}`);
    }
    return JSON.parse(response.body) as T;
  }

  /**
   * Opens a watch (or any streaming GET) and collects newline-delimited JSON frames until
   * `enough(frames)` says so, the server closes the stream, or `timeoutMs` passes.
   */
  watch(path: string, enough: (frames: unknown[]) => boolean, timeoutMs: number): Promise<{ status: number; frames: unknown[] }> {
    return new Promise((resolve, reject) => {
      const frames: unknown[] = [];
      let status = 0;
      let buffered = '';
      let settled = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve({ status, frames });
      };
      const timer = setTimeout(finish, timeoutMs);
      const req = this.send('GET', path, {}, (res) => {
        status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let newline: number;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (line) frames.push(JSON.parse(line));
          }
          if (enough(frames)) finish();
        });
        res.on('end', () => {
          if (buffered.trim()) frames.push(JSON.parse(buffered));
          finish();
        });
      });
      req.on('error', (error) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(error);
        }
      });
    });
  }
}
