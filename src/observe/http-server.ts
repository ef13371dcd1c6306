import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

// Through require, not import: an ES import of node:http loads undici (see src/kube/rest.ts).
const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/** What `/healthz/leader-election` reports. */
export interface HealthStatus {
  ok: boolean;
  reason?: string;
}

export interface HttpServerOptions {
  /** `--http-endpoint` / `--metrics-address`: `host:port`, `:port` (all interfaces) or `[v6]:port`. */
  address: string;
  /** `--metrics-path`. */
  metricsPath: string;
  registry: Registry;
  /** Serves `/healthz/leader-election` when given (only with --http-endpoint and --leader-election). */
  leaderHealth?: () => HealthStatus;
  /** A server failure after it started listening (the Go sidecar treats it as fatal). */
  onError?: (err: Error) => void;
}

export interface RunningHttpServer {
  /** The bound port (useful with port 0). */
  port: number;
  /** `http://host:port` to reach the server (loopback when it listens on all interfaces). */
  url: string;
  stop(): Promise<void>;
}

export const LEADER_HEALTH_PATH = '/healthz/leader-election';

/** Splits `host:port`; an empty host means every interface. */
export function parseListenAddress(address: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new Error(`invalid HTTP listen address "${address}": expected host:port, :port or [ipv6]:port`);
  }
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? undefined : host, port };
}

function reply(res: ServerResponse, code: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}

async function serveMetrics(registry: Registry, res: ServerResponse): Promise<void> {
  try {
    const text = await registry.metrics();
    reply(res, 200, text, registry.contentType);
  } catch (err) {
    reply(res, 500, `error gathering metrics: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

function serveHealth(check: () => HealthStatus, res: ServerResponse): void {
  let status: HealthStatus;
  try {
    status = check();
  } catch (err) {
    status = { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  if (status.ok) reply(res, 200, 'ok');
  // Same body shape as the Go health handlers, which probes and humans may match on.
  else reply(res, 500, `internal server error: ${status.reason ?? 'unhealthy'}\n`);
}

/**
 * The diagnostics endpoint: plain HTTP, the metrics text at `metricsPath`, the leader-election
 * health check when asked for, 404 for anything else. Resolves once listening.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { host, port } = parseListenAddress(options.address);
  if (!options.metricsPath.startsWith('/')) {
    throw new Error(`invalid --metrics-path "${options.metricsPath}": it must start with /`);
  }
  if (options.leaderHealth && options.metricsPath === LEADER_HEALTH_PATH) {
    throw new Error(`--metrics-path ${LEADER_HEALTH_PATH} collides with the leader-election health check`);
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === options.metricsPath) void serveMetrics(options.registry, res);
    else if (options.leaderHealth && path === LEADER_HEALTH_PATH) serveHealth(options.leaderHealth, res);
    else reply(res, 404, '404 page not found\n');
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`cannot serve HTTP on ${options.address}: ${err.message}`));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      server.on('error', (err: Error) => options.onError?.(new Error(`HTTP server on ${options.address} failed: ${err.message}`)));
      resolve();
    });
  });

  const bound = server.address() as AddressInfo;
  const reachableHost = host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const urlHost = reachableHost.includes(':') ? `[${reachableHost}]` : reachableHost;
  let stopped: Promise<void> | undefined;
  return {
    port: bound.port,
    url: `http://${urlHost}:${bound.port}`,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
