import { isObject, parseJson, toJson, type JsonObject, type JsonValue } from './json.js';
import type { PrinterColumn, ResourceDef } from './resources.js';
import type { Reply } from './rest.js';

/** kubectl asks for server-side printing with `Accept: application/json;as=Table;...`. */
export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept.split(',')[0] ?? '');
}

const NAME_COLUMN = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  priority: 0,
};

/** Age as kubectl prints it: 45s, 5m, 3h, 2d. */
export function humanDuration(fromIso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(fromIso)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return `${minutes}m${seconds % 60 ? `${seconds % 60}s` : ''}`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

function lookup(object: JsonObject, jsonPath: string): JsonValue | undefined {
  let node: JsonValue | undefined = object;
  for (const part of jsonPath.replace(/^\./, '').split('.')) node = isObject(node) ? node[part] : undefined;
  return node;
}

function columnsOf(def: ResourceDef): PrinterColumn[] {
  return def.printerColumns ?? [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }];
}

function cell(column: PrinterColumn, object: JsonObject): JsonValue {
  const value = lookup(object, column.jsonPath);
  if (value === undefined) return null;
  if (column.type === 'date' && typeof value === 'string') return humanDuration(value);
  return value;
}

function buildTable(def: ResourceDef, objects: JsonObject[], metadata: JsonValue, includeHeaders: boolean): JsonObject {
  const columns = columnsOf(def);
  const rows = objects.map((object) => ({
    cells: [((object.metadata as JsonObject).name ?? '') as JsonValue, ...columns.map((c) => cell(c, object))],
    object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata as JsonValue },
  }));
  const table: JsonObject = { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata };
  // Like the real table convertor, column definitions are left out when the client asks for no headers.
  if (includeHeaders) {
    table.columnDefinitions = [NAME_COLUMN, ...columns.map((c) => ({ name: c.name, type: c.type, format: '', description: c.description ?? '', priority: 0 }))];
  }
  table.rows = rows;
  return table;
}

/** Re-renders a get/list answer as a meta.k8s.io/v1 Table with the resource's printer columns. */
export function renderTable(def: ResourceDef, reply: Reply, isList: boolean): Reply {
  const parsed = parseJson(reply.body) as JsonObject;
  const objects = isList ? ((parsed.items ?? []) as JsonObject[]) : [parsed];
  const listMeta = isList ? (parsed.metadata as JsonObject) : { resourceVersion: (parsed.metadata as JsonObject).resourceVersion as JsonValue };
  return { code: reply.code, body: toJson(buildTable(def, objects, listMeta, true)), headers: reply.headers };
}

/**
 * The object of one watch event as a one-row Table, for watches asked for with `as=Table` (kubectl
 * get -w). The real server sends the column definitions only with the first event of a watch.
 */
export function watchEventTable(def: ResourceDef, objectText: string, includeHeaders: boolean): string {
  const object = parseJson(objectText) as JsonObject;
  const metadata = { resourceVersion: (object.metadata as JsonObject).resourceVersion as JsonValue };
  return toJson(buildTable(def, [object], metadata, includeHeaders));
}
