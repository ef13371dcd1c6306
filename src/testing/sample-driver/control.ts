import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { status } from '@grpc/grpc-js';
import type { Logger } from '../../observe/logger.js';
import { FaultError, type FaultState } from './faults.js';
import type { Journal } from './journal.js';
import { CsiError, type Store } from './store.js';

/**
 * The loopback HTTP control endpoint of the sample driver:
 *
 *   GET    /healthz                          200 "ok"
 *   GET    /faults                           current faults (counters show what is left)
 *   PUT    /faults                           replace all faults with the JSON body
 *   PATCH  /faults                           JSON Merge Patch (RFC 7386) into the current faults
 *   DELETE /faults                           clear all faults
 *   GET    /calls                            the call journal (secrets as sha256 hex)
 *   DELETE /calls                            clear the journal
 *   PUT    /volumes/<id>/files/<path>        write a file (body = content) through the volume's write gate
 *   GET    /volumes/<id>/files/<path>        read a volume's file
 *   GET    /snapshots/<id>/files/<path>      read a snapshot's copy of a file
 *
 * Errors answer with a JSON body {"error": "..."}: 400 for a bad request, 404 for an unknown
 * volume, snapshot or file, 405 for a method the path does not serve.
 */
export interface ControlContext {
  store: Store;
  faults: FaultState;
  journal: Journal;
  logger: Logger;
}

const MAX_BODY = 64 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const text = (await readBody(req)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

function sendJson(res: http.ServerResponse, code: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function createControlServer(ctx: ControlContext): http.Server {
  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://control');
    const method = req.method ?? 'GET';
    const path = url.pathname;

    if (path === '/healthz' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (path === '/faults') {
      if (method === 'GET') return sendJson(res, 200, ctx.faults.get());
      if (method === 'PUT') return sendJson(res, 200, ctx.faults.set(await readJson(req)));
      if (method === 'PATCH') return sendJson(res, 200, ctx.faults.patch(await readJson(req)));
      if (method === 'DELETE') {
        ctx.faults.clear();
        return sendJson(res, 200, ctx.faults.get());
      }
      throw new HttpError(405, `${method} ${path} is not served`);
    }
    if (path === '/calls') {
      if (method === 'GET') return sendJson(res, 200, ctx.journal.list());
      if (method === 'DELETE') {
        ctx.journal.clear();
        return sendJson(res, 200, []);
      }
      throw new HttpError(405, `${method} ${path} is not served`);
    }
    const file = /^\/(volumes|snapshots)\/([^/]+)\/files\/(.+)$/.exec(path);
    if (file) {
      const [, kind, rawId, rawPath] = file as unknown as [string, string, string, string];
      const id = decodeURIComponent(rawId);
      const filePath = rawPath.split('/').map(decodeURIComponent).join('/');
      if (kind === 'volumes' && method === 'PUT') {
        await ctx.store.writeVolumeFile(id, filePath, await readBody(req));
        res.writeHead(204);
        res.end();
        return;
      }
      if (method === 'GET') {
        const content =
          kind === 'volumes' ? await ctx.store.readVolumeFile(id, filePath) : await ctx.store.readSnapshotFile(id, filePath);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': content.length });
        res.end(content);
        return;
      }
      throw new HttpError(405, `${method} ${path} is not served`);
    }
    throw new HttpError(404, `no route for ${method} ${path}`);
  };

  return http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      let code = 500;
      if (err instanceof HttpError) code = err.statusCode;
      else if (err instanceof FaultError) code = 400;
      else if (err instanceof CsiError) code = err.code === status.NOT_FOUND ? 404 : 400;
      else if (err instanceof URIError) code = 400;
      const message = err instanceof Error ? err.message : String(err);
      if (code === 500) ctx.logger.error('Control request failed', { method: req.method, path: req.url, err: message });
      if (!res.headersSent) sendJson(res, code, { error: message });
      else res.destroy();
    });
  });
}

/** Starts listening and returns the base URL (http://host:port). */
export async function listenControl(server: http.Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shownHost}:${address.port}`;
}
