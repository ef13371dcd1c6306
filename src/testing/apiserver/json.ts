import { LosslessNumber, isLosslessNumber, isSafeNumber, parse, stringify } from 'lossless-json';

/**
 * JSON handling that keeps every number bit-exact. Numbers JavaScript can hold exactly become plain
 * numbers (so the server's own logic can use them); anything else (int64 nanosecond timestamps,
 * long decimals) stays a LosslessNumber carrying its original digits, and is written back verbatim.
 */
export type JsonValue = null | boolean | number | string | LosslessNumber | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

function parseNumber(text: string): number | LosslessNumber {
  return isSafeNumber(text) ? Number(text) : new LosslessNumber(text);
}

export function parseJson(text: string): JsonValue {
  return parse(text, null, parseNumber) as JsonValue;
}

export function toJson(value: unknown): string {
  return stringify(value as JsonValue) ?? 'null';
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value);
}

/** Deep copy of a JSON tree. LosslessNumbers are immutable and shared. */
export function cloneJson<T extends JsonValue>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => cloneJson(item)) as T;
  if (isObject(value)) {
    const copy: JsonObject = {};
    for (const [key, item] of Object.entries(value)) copy[key] = cloneJson(item);
    return copy as T;
  }
  return value;
}

/** Semantic JSON equality (key order ignored, numbers compared by value text). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (isLosslessNumber(a) || isLosslessNumber(b) || typeof a === 'number' || typeof b === 'number') {
    const text = numberText(a);
    return text !== undefined && text === numberText(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && jsonEqual(a[key], b[key]));
  }
  return false;
}

function numberText(value: JsonValue): string | undefined {
  if (typeof value === 'number') return String(value);
  if (isLosslessNumber(value)) return value.value;
  return undefined;
}

/** The JSON type name the API server uses in validation messages ("string", "integer", ...). */
export function jsonTypeName(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (isLosslessNumber(value)) return /^-?\d+$/.test(value.value) ? 'integer' : 'number';
  return 'object';
}

export { isLosslessNumber, LosslessNumber };
