import { chmodSync, existsSync } from 'node:fs';
import * as http from 'node:http';
import type { RequestFilter } from './accounting.js';
import { validateFailureSpec, type FailureSpec } from './faults.js';
import type { TestApiServer } from './index.js';

/**
 * The control socket of `kube-test-apiserver --control-socket PATH`: what an in-process test gets
 * from `startTestApiServer()` (faults, closing watches, request accounting, the resourceVersion),
 * for a test that runs the server as its own process. HTTP/1.1 on a unix socket (mode 0600), apart
 * from the Kubernetes API: nothing of it is served on the HTTPS port, and without the flag there is
 * no socket at all.
 *
 *   GET    /healthz                  200 "ok"
 *   POST   /faults/failures          add a failure rule (FailureSpec as JSON) -> 201 {"id": n}
 *   GET    /faults/failures          the rules still armed -> [{"id": n, "remaining": n}]
 *   DELETE /faults/failures/<id>     remove one rule -> 204
 *   DELETE /faults                   clear every fault (failures, latencies, watch lags) -> 204
 *   POST   /watches/close            end every open watch -> {"closed": n}
 *   GET    /requests?<filter>        the request accounting -> RequestRecord[]; the filter's fields
 *                                    (verb, group, version, resource, subresource, namespace, name,
 *                                    userAgent, code, injected) match exactly, as requests.all()
 *   GET    /resource-version         {"resourceVersion": n}
 *
 * Errors answer with a JSON body {"error": "..."}: 400 for a bad request (with what is wrong), 404
 * for an unknown path or rule id, 405 for a method the path does not serve.
 */

const MAX_BODY = 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const STRING_FILTERS = ['verb', 'group', 'version', 'resource', 'subresource', 'namespace', 'name', 'userAgent'] as const;

/** A RequestFilter from the query string of GET /requests; unknown or malformed parameters are refused. */
export function parseRequestFilter(query: URLSearchParams): RequestFilter {
  const filter: RequestFilter = {};
  for (const key of new Set(query.keys())) {
    const values = query.getAll(key);
    if (values.length > 1) throw new HttpError(400, `request filter: "${key}" is given ${values.length} times; give each field once`);
    const value = values[0] as string;
    if ((STRING_FILTERS as readonly string[]).includes(key)) filter[key as (typeof STRING_FILTERS)[number]] = value;
    else if (key === 'code') {
      if (!/^\d{3}$/.test(value)) throw new HttpError(400, `request filter: "code" must be an HTTP status of three digits, got "${value}"`);
      filter.code = Number(value);
    } else if (key === 'injected') {
      if (value !== 'true' && value !== 'false') throw new HttpError(400, `request filter: "injected" must be true or false, got "${value}"`);
      filter.injected = value === 'true';
    } else throw new HttpError(400, `request filter: unknown field "${key}" (known: ${[...STRING_FILTERS, 'code', 'injected'].join(', ')})`);
  }
  return filter;
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, `body is not valid JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
}

function failureSpec(value: unknown): FailureSpec {
  try {
    return validateFailureSpec(value);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}

function sendJson(res: http.ServerResponse, code: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function noContent(res: http.ServerResponse): void {
  res.writeHead(204);
  res.end();
}

export function createControlServer(server: TestApiServer): http.Server {
  const notServed = (method: string, path: string) => new HttpError(405, `${method} ${path} is not served`);
  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://control');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    switch (path) {
      case '/healthz':
        if (method !== 'GET') throw notServed(method, path);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
        return;
      case '/faults/failures':
        if (method === 'POST') return sendJson(res, 201, { id: server.faults.fail(failureSpec(await readJson(req))) });
        if (method === 'GET') return sendJson(res, 200, server.faults.pending());
        throw notServed(method, path);
      case '/faults':
        if (method !== 'DELETE') throw notServed(method, path);
        server.faults.clear();
        return noContent(res);
      case '/watches/close':
        if (method !== 'POST') throw notServed(method, path);
        return sendJson(res, 200, { closed: server.closeWatches() });
      case '/requests':
        if (method !== 'GET') throw notServed(method, path);
        return sendJson(res, 200, server.requests.all(parseRequestFilter(url.searchParams)));
      case '/resource-version':
        if (method !== 'GET') throw notServed(method, path);
        return sendJson(res, 200, { resourceVersion: server.resourceVersion() });
    }
    const rule = /^\/faults\/failures\/([^/]+)$/.exec(path);
    if (rule) {
      if (method !== 'DELETE') throw notServed(method, path);
      const text = rule[1] as string;
      const id = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(id)) throw new HttpError(400, `failure rule id must be a number, got "${decodeURIComponent(text)}"`);
      if (!server.faults.pending().some((p) => p.id === id)) throw new HttpError(404, `no armed failure rule ${id}`);
      server.faults.remove(id);
      return noContent(res);
    }
    throw new HttpError(404, `no route for ${method} ${path}`);
  };

  return http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      let code = 500;
      if (err instanceof HttpError) code = err.statusCode;
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) sendJson(res, code, { error: message });
      else res.destroy();
    });
  });
}

/**
 * Listens on the unix socket `path`, readable and writable by this user only. Nothing may be at
 * `path` yet: a socket left behind by a killed server is not taken for free, so that two servers
 * never share one control path.
 */
export async function listenControlSocket(server: http.Server, path: string): Promise<void> {
  if (existsSync(path)) throw new Error(`--control-socket ${path}: something is already there (a socket left by a killed server? remove it, or choose another path)`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
}
