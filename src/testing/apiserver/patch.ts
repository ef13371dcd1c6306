import { badRequest } from './errors.js';
import { cloneJson, isObject, jsonEqual, type JsonObject, type JsonValue } from './json.js';

/** A patch that could not be applied (answered 422 by the API server). */
export class PatchApplyError extends Error {}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: JsonValue;
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchApplyError(`JSON pointer must start with /: ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parseOperations(patch: JsonValue): Operation[] {
  if (!Array.isArray(patch)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  return patch.map((raw) => {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw badRequest('json: cannot unmarshal patch operation: op and path must be strings');
    }
    const op: Operation = { op: raw.op, path: raw.path };
    if ('value' in raw) op.value = raw.value as JsonValue;
    if (typeof raw.from === 'string') op.from = raw.from;
    return op;
  });
}

type Container = JsonObject | JsonValue[];

/** Resolves the parent container of `tokens` (undefined when a step is missing). */
function parent(doc: JsonValue, tokens: string[]): Container | undefined {
  let node: JsonValue | undefined = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length - 1)];
    else if (isObject(node)) node = node[token];
    else return undefined;
  }
  return Array.isArray(node) || isObject(node) ? node : undefined;
}

function arrayIndex(token: string, max: number): number {
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new PatchApplyError(`invalid array index: ${token}`);
  const index = Number(token);
  if (index > max) throw new PatchApplyError(`array index out of bounds: ${token}`);
  return index;
}

function get(doc: JsonValue, path: string): JsonValue | undefined {
  const tokens = decodePointer(path);
  if (tokens.length === 0) return doc;
  const container = parent(doc, tokens);
  const key = tokens[tokens.length - 1] as string;
  if (Array.isArray(container)) return container[arrayIndex(key, container.length - 1)];
  return container && Object.prototype.hasOwnProperty.call(container, key) ? container[key] : undefined;
}

function add(doc: JsonValue, path: string, value: JsonValue): JsonValue {
  const tokens = decodePointer(path);
  if (tokens.length === 0) return value;
  const container = parent(doc, tokens);
  const key = tokens[tokens.length - 1] as string;
  if (!container) throw new PatchApplyError(`add operation does not apply: doc is missing path: ${path}`);
  if (Array.isArray(container)) {
    const index = key === '-' ? container.length : arrayIndex(key, container.length);
    container.splice(index, 0, value);
  } else container[key] = value;
  return doc;
}

function remove(doc: JsonValue, path: string): JsonValue {
  const tokens = decodePointer(path);
  const container = parent(doc, tokens);
  const key = tokens[tokens.length - 1] as string;
  if (!container) throw new PatchApplyError(`remove operation does not apply: doc is missing path: ${path}`);
  if (Array.isArray(container)) container.splice(arrayIndex(key, container.length - 1), 1);
  else {
    if (!Object.prototype.hasOwnProperty.call(container, key)) throw new PatchApplyError(`Unable to remove nonexistent key: ${key}: missing value`);
    delete container[key];
  }
  return doc;
}

/**
 * `replace` as the API server's JSON-patch library implements it: on an object member that does not
 * exist it behaves like `add` (clients such as the csi-snapshotter rely on this).
 */
function replace(doc: JsonValue, path: string, value: JsonValue): JsonValue {
  const tokens = decodePointer(path);
  if (tokens.length === 0) return value;
  const container = parent(doc, tokens);
  const key = tokens[tokens.length - 1] as string;
  if (!container) throw new PatchApplyError(`replace operation does not apply: doc is missing path: ${path}`);
  if (Array.isArray(container)) container[arrayIndex(key, container.length - 1)] = value;
  else container[key] = value;
  return doc;
}

/** RFC 6902 JSON patch, applied to a private copy of `doc`. */
export function applyJsonPatch(doc: JsonObject, patch: JsonValue): JsonObject {
  let result: JsonValue = cloneJson(doc);
  for (const op of parseOperations(patch)) {
    const needValue = () => {
      if (!('value' in op)) throw new PatchApplyError(`${op.op} operation: missing value`);
      return cloneJson(op.value as JsonValue);
    };
    switch (op.op) {
      case 'add':
        result = add(result, op.path, needValue());
        break;
      case 'remove':
        result = remove(result, op.path);
        break;
      case 'replace':
        result = replace(result, op.path, needValue());
        break;
      case 'test': {
        const actual = get(result, op.path);
        const expected = op.value ?? null;
        const same = actual === undefined ? expected === null : jsonEqual(actual, expected);
        if (!same) throw new PatchApplyError(`testing value ${op.path} failed: test failed`);
        break;
      }
      case 'move':
      case 'copy': {
        if (op.from === undefined) throw new PatchApplyError(`${op.op} operation: missing from`);
        const value = get(result, op.from);
        if (value === undefined) throw new PatchApplyError(`${op.op} operation does not apply: doc is missing from path: ${op.from}`);
        if (op.op === 'move') result = remove(result, op.from);
        result = add(result, op.path, cloneJson(value));
        break;
      }
      default:
        throw new PatchApplyError(`Unexpected kind: ${op.op}`);
    }
  }
  if (!isObject(result)) throw new PatchApplyError('the patched document is not an object');
  return result;
}

/** RFC 7386 JSON merge patch: objects merge recursively, `null` removes, anything else replaces. */
export function applyMergePatch(doc: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return cloneJson(patch);
  const target: JsonObject = isObject(doc) ? { ...doc } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete target[key];
    else target[key] = applyMergePatch(target[key], value);
  }
  return target;
}
