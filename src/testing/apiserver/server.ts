import type { IncomingMessage, ServerResponse } from 'node:http';
import { AccessPolicy } from './access.js';
import { createServer, type Server } from 'node:https';
import type { ServingCertificate } from './certificate.js';
import type { AddressInfo } from 'node:net';
import type { RequestLog, RequestRecord } from './accounting.js';
import { monotonicMicros } from '../monotonic.js';
import { coreVersions, groupInfo, groupList, resourceList, versionDocument, type VersionInfo } from './discovery.js';
import { ApiError, badRequest, forbidden, internalError, methodNotAllowed, NOT_FOUND_PAGE, unauthorized } from './errors.js';
import type { Faults, RequestInfo } from './faults.js';
import { parseJson, toJson, type JsonObject, type JsonValue } from './json.js';
import { listObjects } from './lists.js';
import { deprecationWarning, type ResourceRegistry } from './resources.js';
import type { Reply, RestOperations, Scope } from './rest.js';
import type { Storage } from './storage.js';
import { renderTable, wantsTable } from './table.js';
import { openApiGroupVersion, openApiRoot } from './openapi.js';
import { serveWatch, type WatchHub, type WatchOptions } from './watch.js';

export interface HttpContext {
  storage: Storage;
  registry: ResourceRegistry;
  rest: RestOperations;
  hub: WatchHub;
  faults: Faults;
  requests: RequestLog;
  token: string;
  version: VersionInfo;
  watch: WatchOptions;
  /** Called after every write so namespace termination can progress. */
  afterWrite(): void;
  /** Keep the stored object of every successful write in the request log (tests of write order). */
  recordObjects?: boolean;
  /** Permissions the user lacks: such requests are answered 403 Forbidden. */
  access: AccessPolicy;
}

const MAX_BODY = 3 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) reject(new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  res.writeHead(reply.code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...(reply.headers ?? {}) });
  res.end(reply.body);
}

function errorReply(err: unknown): Reply {
  const apiError = err instanceof ApiError ? err : internalError(err instanceof Error ? err.message : String(err));
  const status = apiError.toStatus();
  const listContinue = (apiError as ApiError & { listContinue?: string }).listContinue;
  if (listContinue) status.metadata = { continue: listContinue };
  return { code: apiError.code, body: toJson(status), headers: apiError.headers };
}

/**
 * Splits an API path into group, version, namespace, resource, name and subresource.
 * `/api/v1/namespaces/x` is the namespace x itself; `/api/v1/namespaces/x/secrets` lists in x.
 */
function parseResourcePath(segments: string[]): { group: string; version: string; namespace: string; plural: string; name: string; subresource: string } | undefined {
  let group = '';
  let rest: string[];
  if (segments[0] === 'api') {
    rest = segments.slice(1);
  } else if (segments[0] === 'apis' && segments.length >= 3) {
    group = segments[1] as string;
    rest = segments.slice(2);
  } else return undefined;
  const version = rest[0] as string;
  rest = rest.slice(1);
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(group === '' && (rest[2] === 'status' || rest[2] === 'finalize') && rest.length === 3)) {
    namespace = rest[1] as string;
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 3) return undefined;
  return { group, version, namespace, plural: rest[0] as string, name: rest[1] ?? '', subresource: rest[2] ?? '' };
}

function verbOf(method: string, hasName: boolean, watch: boolean): string | undefined {
  switch (method) {
    case 'GET':
      return hasName ? 'get' : watch ? 'watch' : 'list';
    case 'POST':
      return hasName ? undefined : 'create';
    case 'PUT':
      return hasName ? 'update' : undefined;
    case 'PATCH':
      return hasName ? 'patch' : undefined;
    case 'DELETE':
      return hasName ? 'delete' : 'deletecollection';
    default:
      return undefined;
  }
}

export class ApiHttpServer {
  private readonly server: Server;

  constructor(
    private readonly ctx: HttpContext,
    certificate: ServingCertificate,
  ) {
    this.server = createServer({ cert: certificate.certPem, key: certificate.keyPem }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => send(res, errorReply(err)));
    });
    this.server.keepAliveTimeout = 30_000;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve(this.server.address() as AddressInfo));
    });
  }

  async close(): Promise<void> {
    this.ctx.hub.closeAll();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private address(): string {
    const a = this.server.address() as AddressInfo;
    return `${a.address}:${a.port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    if (req.headers.authorization !== `Bearer ${this.ctx.token}`) {
      send(res, errorReply(unauthorized()));
      return;
    }
    const segments = url.pathname.split('/').filter((s) => s.length > 0).map(decodeURIComponent);
    const discovery = this.discovery(segments, method);
    if (discovery !== undefined) {
      send(res, discovery);
      return;
    }
    const parsed = parseResourcePath(segments);
    const def = parsed && this.ctx.registry.find(parsed.group, parsed.version, parsed.plural);
    if (!parsed || !def) {
      send(res, NOT_FOUND_PAGE);
      return;
    }
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb = verbOf(method, parsed.name !== '', watch);
    const subresourceOk = parsed.subresource === '' || (parsed.subresource === 'status' && def.statusSubresource) || (parsed.subresource === 'finalize' && def.plural === 'namespaces');
    if (!subresourceOk || (def.namespaced && parsed.name && !parsed.namespace) || (!def.namespaced && parsed.namespace)) {
      send(res, NOT_FOUND_PAGE);
      return;
    }
    const scope: Scope = { def, version: parsed.version, namespace: parsed.namespace, name: parsed.name, subresource: parsed.subresource, query: url.searchParams };
    const info: RequestInfo = { verb: verb ?? method.toLowerCase(), resource: def.plural, subresource: parsed.subresource, namespace: parsed.namespace, name: parsed.name, userAgent: req.headers['user-agent'] ?? '' };
    const record = (code: number, injected = false, written?: string) => {
      const entry: RequestRecord = { ...info, group: def.group, version: parsed.version, code, injected, atUs: monotonicMicros() };
      if (written !== undefined) entry.object = JSON.parse(written) as Record<string, unknown>;
      this.ctx.requests.record(entry);
    };

    const delay = this.ctx.faults.latencyFor(info);
    // Unref'd: a request held for minutes must not keep a finished test process alive.
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay).unref());
    const injected = this.ctx.faults.check(info);
    if (injected) {
      record(injected.code, true);
      send(res, errorReply(injected));
      return;
    }
    const attributes = { verb: info.verb, group: def.group, resource: def.plural, subresource: parsed.subresource, namespace: parsed.namespace };
    if (!this.ctx.access.allows(attributes)) {
      record(403);
      send(res, errorReply(forbidden({ group: def.group, resource: def.plural }, parsed.name, AccessPolicy.reason(attributes))));
      return;
    }
    if (!verb || !def.verbs.includes(verb === 'watch' ? 'watch' : verb) || (def.virtual && verb !== 'create')) {
      record(405);
      send(res, errorReply(methodNotAllowed()));
      return;
    }
    const warning = def.deprecatedVersions?.includes(parsed.version) ? { Warning: `299 - "${deprecationWarning(def, parsed.version)}"` } : undefined;
    if (verb === 'watch') {
      try {
        serveWatch(this.ctx.storage, this.ctx.hub, scope, res, { ...this.ctx.watch, lag: { ms: () => this.ctx.faults.watchLagFor(info.resource), onChange: (listener) => this.ctx.faults.onWatchLagChange(listener) } }, wantsTable(req.headers.accept));
        record(200);
      } catch (err) {
        const reply = errorReply(err);
        record(reply.code);
        send(res, reply);
      }
      return;
    }
    let reply: Reply;
    try {
      const body = method === 'GET' ? '' : await readBody(req);
      reply = await this.dispatch(verb, scope, body, req);
      if (reply.code < 300 && (verb === 'get' || verb === 'list') && wantsTable(req.headers.accept)) {
        reply = renderTable(def, reply, verb === 'list');
      }
      if (verb !== 'get' && verb !== 'list') this.ctx.afterWrite();
    } catch (err) {
      reply = errorReply(err);
    }
    if (warning) reply.headers = { ...(reply.headers ?? {}), ...warning };
    const stored = this.ctx.recordObjects && reply.code < 300 && (verb === 'create' || verb === 'update' || verb === 'patch');
    record(reply.code, false, stored ? reply.body : undefined);
    send(res, reply);
  }

  private async dispatch(verb: string, scope: Scope, text: string, req: IncomingMessage): Promise<Reply> {
    const { rest } = this.ctx;
    const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim() ?? '';
    const decode = (): JsonValue => {
      if (!text.trim()) throw badRequest('the body of the request was empty');
      try {
        return parseJson(text);
      } catch (err) {
        throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
      }
    };
    switch (verb) {
      case 'get':
        return rest.get(scope);
      case 'list':
        return listObjects(this.ctx.storage, scope);
      case 'create':
        return rest.create(scope, decode());
      case 'update':
        return rest.update(scope, decode());
      case 'patch':
        return rest.patch(scope, text, contentType);
      case 'delete':
        return rest.delete(scope, text.trim() ? decode() : undefined);
      case 'deletecollection':
        return this.deleteCollection(scope);
      default:
        throw methodNotAllowed();
    }
  }

  /** Deletes every selected object; answers the list of what was deleted or marked. */
  private async deleteCollection(scope: Scope): Promise<Reply> {
    const { rest } = this.ctx;
    const listed = await listObjects(this.ctx.storage, scope);
    const items = ((parseJson(listed.body) as JsonObject).items ?? []) as JsonObject[];
    const results: string[] = [];
    for (const item of items) {
      const meta = item.metadata as JsonObject;
      const one: Scope = { ...scope, name: String(meta.name), namespace: typeof meta.namespace === 'string' ? meta.namespace : scope.namespace };
      try {
        const reply = rest.deleteOne(one, rest.existing(one));
        // Objects deleted at once answer with a Status; the collection answer lists the object itself.
        results.push(reply.body.startsWith('{"kind":"Status"') ? toJson(item) : reply.body);
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
    const def = scope.def;
    const apiVersion = def.group ? `${def.group}/${scope.version}` : scope.version;
    const objects = results;
    return {
      code: 200,
      body: `{"apiVersion":${JSON.stringify(apiVersion)},"items":[${objects.join(',')}],"kind":${JSON.stringify(def.listKind)},"metadata":{"resourceVersion":"${this.ctx.storage.resourceVersion}"}}`,
    };
  }

  private discovery(segments: string[], method: string): Reply | undefined {
    const path = segments.join('/');
    const ok = (body: string | undefined): Reply => (body === undefined ? NOT_FOUND_PAGE : { code: 200, body });
    if (['healthz', 'livez', 'readyz'].includes(path)) return { code: 200, body: 'ok', headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
    if (method !== 'GET') return undefined;
    if (path === 'version') return ok(versionDocument(this.ctx.version));
    if (path === 'api') return ok(coreVersions(this.address()));
    if (path === 'api/v1') return ok(resourceList(this.ctx.registry, '', 'v1'));
    if (path === 'apis') return ok(groupList(this.ctx.registry));
    if (path === 'openapi/v3') return ok(openApiRoot(this.ctx.registry));
    if (path.startsWith('openapi/v3/')) return ok(openApiGroupVersion(this.ctx.registry, path.slice('openapi/v3/'.length)));
    if (segments[0] === 'apis' && segments.length === 2) return ok(groupInfo(this.ctx.registry, segments[1] as string));
    if (segments[0] === 'apis' && segments.length === 3) return ok(resourceList(this.ctx.registry, segments[1] as string, segments[2] as string));
    return undefined;
  }
}
