import { cloneJson, isObject, toJson, type JsonObject, type JsonValue } from './json.js';
import { prune } from './schema.js';
import type { ResourceDef } from './resources.js';

/**
 * Turns stored objects (kept in the storage version) into what a client of a given version sees:
 * conversion, pruning against that version's schema, and the key order the real server emits
 * (sorted for custom resources, which it serialises from maps; struct order for built-in kinds).
 */

const META_ORDER = [
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
];

export function apiVersionOf(def: ResourceDef, version: string): string {
  return def.group ? `${def.group}/${version}` : version;
}

/** Core Event ⇄ events.k8s.io/v1 Event field names (regarding ⇄ involvedObject and so on). */
const EVENT_RENAMES: [string, string][] = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['reportingComponent', 'reportingController'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
];

function renameFields(object: JsonObject, pairs: [string, string][]): JsonObject {
  const out: JsonObject = {};
  const map = new Map(pairs);
  for (const [key, value] of Object.entries(object)) out[map.get(key) ?? key] = value;
  return out;
}

/** Converts a stored object into `version` of `def` (a fresh object the caller may change). */
export function toVersion(def: ResourceDef, stored: JsonObject, version: string): JsonObject {
  let out = cloneJson(stored);
  if (def.storageKey === 'events' && def.group === 'events.k8s.io') out = renameFields(out, EVENT_RENAMES);
  out.apiVersion = apiVersionOf(def, version);
  out.kind = def.kind;
  if (def.schema) pruneContent(out, def, version);
  return out;
}

/** Converts a request body at `version` into the storage form. */
export function toStorage(def: ResourceDef, body: JsonObject, version: string): JsonObject {
  let out = body;
  if (def.schema) {
    pruneContent(out, def, version);
    out.apiVersion = apiVersionOf(def, def.storageVersion);
    pruneContent(out, def, def.storageVersion);
  }
  if (def.storageKey === 'events' && def.group === 'events.k8s.io') {
    out = renameFields(out, EVENT_RENAMES.map(([a, b]) => [b, a]));
    out.apiVersion = 'v1';
  }
  return out;
}

function pruneContent(object: JsonObject, def: ResourceDef, version: string): void {
  const schema = def.schema?.(version);
  if (!schema) return;
  const { apiVersion, kind, metadata, ...content } = object;
  prune(content, schema);
  for (const key of Object.keys(object)) if (!['apiVersion', 'kind', 'metadata'].includes(key) && !(key in content)) delete object[key];
  void apiVersion;
  void kind;
  void metadata;
}

function sortKeysDeep(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeysDeep(value[key] as JsonValue);
  return out;
}

function orderMeta(meta: JsonValue): JsonValue {
  if (!isObject(meta)) return meta;
  const out: JsonObject = {};
  for (const key of META_ORDER) if (key in meta) out[key] = meta[key] as JsonValue;
  for (const [key, value] of Object.entries(meta)) if (!(key in out)) out[key] = value;
  return out;
}

/** Key order as the real server writes the object. */
export function canonicalOrder(def: ResourceDef, object: JsonObject, withTypeMeta = true): JsonObject {
  if (def.custom) {
    const sorted = sortKeysDeep(object) as JsonObject;
    if (!withTypeMeta) {
      delete sorted.apiVersion;
      delete sorted.kind;
    }
    return sorted;
  }
  const out: JsonObject = {};
  if (withTypeMeta) {
    out.kind = object.kind as JsonValue;
    out.apiVersion = object.apiVersion as JsonValue;
  }
  out.metadata = orderMeta(object.metadata ?? {});
  for (const [key, value] of Object.entries(object)) if (!(key in out) && key !== 'kind' && key !== 'apiVersion') out[key] = value;
  return out;
}

/** Serialised object as a client of `version` sees it; cached on the stored record. */
export function renderStored(def: ResourceDef, record: { object: JsonObject; rendered: Map<string, string> }, version: string, withTypeMeta = true): string {
  const cacheKey = `${def.group}/${version}/${withTypeMeta ? 1 : 0}`;
  let text = record.rendered.get(cacheKey);
  if (text === undefined) {
    text = toJson(canonicalOrder(def, toVersion(def, record.object, version), withTypeMeta));
    record.rendered.set(cacheKey, text);
  }
  return text;
}
