import { ApiError, badRequest, gone } from './errors.js';
import { toJson, type JsonObject } from './json.js';
import { labelsOf } from './metadata.js';
import { apiVersionOf, renderStored } from './render.js';
import type { ResourceDef } from './resources.js';
import type { Reply, Scope } from './rest.js';
import { parseFieldSelector, parseLabelSelector, type Selector } from './selectors.js';
import type { Storage, StoredObject } from './storage.js';

/** Label and field selectors of a list or watch, applied to stored objects. */
export interface ObjectFilter {
  namespace: string;
  matches(stored: StoredObject): boolean;
}

export function fieldsOf(def: ResourceDef, stored: StoredObject): Record<string, string> {
  const fields: Record<string, string> = { 'metadata.name': stored.name };
  if (def.namespaced) fields['metadata.namespace'] = stored.namespace;
  return def.fieldLabels ? { ...fields, ...def.fieldLabels(stored.object as Record<string, unknown>) } : fields;
}

export function buildFilter(scope: Scope): ObjectFilter {
  const { def } = scope;
  const labels: Selector = parseLabelSelector(scope.query.get('labelSelector'));
  const supported = (field: string) =>
    field === 'metadata.name' || (field === 'metadata.namespace' && def.namespaced) || (!!def.fieldLabels && field in def.fieldLabels({}));
  const fields: Selector = parseFieldSelector(scope.query.get('fieldSelector'), supported);
  return {
    namespace: scope.namespace,
    matches: (stored) => labels(labelsOf(stored.object)) && fields(fieldsOf(def, stored)),
  };
}

interface ContinueToken {
  rv: number;
  start: string;
}

export function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url');
}

/** How Go's encoding/json shows a byte in its syntax errors: 'x', '\\u009e', '\\x01'. */
function goQuoteByte(byte: number): string {
  if (byte === 0x27) return "'\\''";
  if (byte === 0x22) return `'"'`;
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };
  if (named[byte]) return `'${named[byte]}'`;
  if (byte === 0x5c) return "'\\\\'";
  if (byte < 0x20 || byte === 0x7f) return `'\\x${byte.toString(16).padStart(2, '0')}'`;
  if (byte >= 0x80 && (byte <= 0xa0 || byte === 0xad)) return `'\\u${byte.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(byte)}'`;
}

/** Why the real server cannot read a continue token: base64url (no padding), then JSON. */
function continueTokenProblem(token: string): string {
  const bad = /[^A-Za-z0-9_-]/.exec(token);
  if (bad) return `illegal base64 data at input byte ${bad.index}`;
  if (token.length % 4 === 1) return `illegal base64 data at input byte ${token.length - 1}`;
  const bytes = Buffer.from(token, 'base64url');
  let i = 0;
  while (i < bytes.length && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[i] as number)) i++;
  if (i === bytes.length) return 'unexpected end of JSON input';
  const first = bytes[i] as number;
  if (!/[{["tfn0-9-]/.test(String.fromCharCode(first))) return `invalid character ${goQuoteByte(first)} looking for beginning of value`;
  return 'invalid continue token';
}

function decodeContinue(token: string): ContinueToken {
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  if (parsed && parsed.v === 'meta.k8s.io/v1' && typeof parsed.rv === 'number' && typeof parsed.start === 'string') return { rv: parsed.rv, start: parsed.start };
  throw badRequest(`invalid continue token: continue key is not valid: ${parsed ? 'not a continue token of this server' : continueTokenProblem(token)}`);
}

const TOO_OLD_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

function parseRv(text: string): number {
  if (!/^\d+$/.test(text)) throw badRequest(`resourceVersion: Invalid value: "${text}": must be a decimal integer`);
  return Number(text);
}

/** Waits (briefly) for a future resourceVersion, as the watch cache does before answering 504. */
async function awaitResourceVersion(storage: Storage, rv: number): Promise<void> {
  const deadline = Date.now() + 3000;
  while (storage.resourceVersion < rv) {
    if (Date.now() >= deadline) {
      throw new ApiError(504, 'Timeout', `Timeout: Too large resource version: ${rv}, current: ${storage.resourceVersion}`, {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version', field: '' }],
        retryAfterSeconds: 1,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** GET on a collection: selectors, paging with consistent continue tokens, resourceVersion rules. */
export async function listObjects(storage: Storage, scope: Scope): Promise<Reply> {
  const { def, query } = scope;
  const collection = storage.collection(def.storageKey);
  const filter = buildFilter(scope);
  const rvParam = query.get('resourceVersion') ?? '';
  const match = query.get('resourceVersionMatch') ?? '';
  const continueParam = query.get('continue') ?? '';
  const limitParam = Number(query.get('limit') ?? '0');
  if (match && !rvParam) throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
  if (continueParam && rvParam && rvParam !== '0') throw badRequest('specifying resource version is not allowed when using continue');

  let listRv = storage.resourceVersion;
  let objects: Map<string, StoredObject> = collection.byKey;
  let start = '';
  let limit = Number.isInteger(limitParam) && limitParam > 0 ? limitParam : 0;
  if (continueParam) {
    const token = decodeContinue(continueParam);
    const snapshot = collection.snapshotAt(token.rv);
    if (!snapshot) {
      const error = gone(TOO_OLD_CONTINUE);
      (error as ApiError & { listContinue?: string }).listContinue = encodeContinue(storage.resourceVersion, token.start);
      throw error;
    }
    objects = snapshot;
    listRv = token.rv;
    start = token.start;
  } else if (rvParam && match === 'Exact') {
    const rv = parseRv(rvParam);
    await awaitResourceVersion(storage, rv);
    const snapshot = collection.snapshotAt(rv);
    if (!snapshot) throw gone(`too old resource version: ${rv} (${collection.horizon + 1})`);
    objects = snapshot;
    listRv = rv;
  } else if (rvParam && rvParam !== '0') {
    await awaitResourceVersion(storage, parseRv(rvParam));
    listRv = storage.resourceVersion;
  } else if (rvParam === '0') {
    // Served from the watch cache on a real server, where limit is not honoured.
    limit = 0;
  }

  const keys = objects === collection.byKey ? collection.sortedKeys(def.namespaced && filter.namespace ? filter.namespace : undefined) : sortedSnapshotKeys(objects, filter.namespace);
  const prefix = def.namespaced && filter.namespace ? `${filter.namespace}/` : '';
  const items: string[] = [];
  let nextContinue = '';
  let remaining = 0;
  const unfiltered = !query.get('labelSelector') && !query.get('fieldSelector');
  let lastReturned = '';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const relative = key.slice(prefix.length);
    if (start && relative < start) continue;
    const stored = objects.get(key);
    if (!stored || !filter.matches(stored)) continue;
    if (limit && items.length === limit) {
      nextContinue = encodeContinue(listRv, `${lastReturned}\u0000`);
      remaining = keys.length - i;
      break;
    }
    items.push(renderStored(def, stored, scope.version, def.custom));
    lastReturned = relative;
  }
  const listMeta: JsonObject = {};
  const metaFields: [string, string | number | undefined][] = [
    // A paged list of custom resources (served from etcd) ends with an empty continue member.
    ['continue', nextContinue || (limit && def.custom ? '' : undefined)],
    ['remainingItemCount', nextContinue && unfiltered ? remaining : undefined],
    ['resourceVersion', String(listRv)],
  ];
  if (def.custom) {
    for (const [k, v] of metaFields) if (v !== undefined) listMeta[k] = v;
    return {
      code: 200,
      body: `{"apiVersion":${JSON.stringify(apiVersionOf(def, scope.version))},"items":[${items.join(',')}],"kind":${JSON.stringify(def.listKind)},"metadata":${toJson(listMeta)}}`,
    };
  }
  listMeta.resourceVersion = String(listRv);
  for (const [k, v] of metaFields) if (v !== undefined && k !== 'resourceVersion') listMeta[k] = v;
  return {
    code: 200,
    body: `{"kind":${JSON.stringify(def.listKind)},"apiVersion":${JSON.stringify(apiVersionOf(def, scope.version))},"metadata":${toJson(listMeta)},"items":[${items.join(',')}]}`,
  };
}

function sortedSnapshotKeys(objects: Map<string, StoredObject>, namespace: string): string[] {
  const keys: string[] = [];
  for (const [key, stored] of objects) if (!namespace || stored.namespace === namespace) keys.push(key);
  return keys.sort();
}

