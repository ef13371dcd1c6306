import { parseWithSource, rawJson, type SourceContext } from '../../util/json-source.js';

/**
 * JSON handling that keeps every number bit-exact. Numbers JavaScript can hold exactly become plain
 * numbers (so the server's own logic can use them); anything else (int64 nanosecond timestamps,
 * long decimals) stays an ExactNumber carrying its original digits, and is written back verbatim.
 * Node 24's reviver sees each number's source text and JSON.rawJSON writes it back.
 */
export type JsonValue = null | boolean | number | string | ExactNumber | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** A JSON number a double cannot hold without changing its digits, kept as its text. */
export class ExactNumber {
  constructor(readonly value: string) {}
}

export function isExactNumber(value: unknown): value is ExactNumber {
  return value instanceof ExactNumber;
}

const INTEGER = /^-?\d+$/;

/** The digits that carry the value: no sign, dot or exponent, no leading or trailing zeros. */
function significantDigits(text: string): string {
  return text.replace(/[eE].*$/, '').replace('.', '').replace(/^-?0*/, '').replace(/0+$/, '');
}

/** Whether `value` is exactly the number `source` writes (an integer, or a decimal with the same significant digits). */
function holdsExactly(source: string, value: number): boolean {
  if (INTEGER.test(source) || (Number.isInteger(value) && !Number.isSafeInteger(value))) return Number.isSafeInteger(value);
  const text = String(value);
  return text === source || significantDigits(text) === significantDigits(source);
}

function exactNumbers(_key: string, value: unknown, context?: SourceContext): unknown {
  if (typeof value !== 'number') return value;
  const source = context?.source as string;
  return holdsExactly(source, value) ? value : new ExactNumber(source);
}

export function parseJson(text: string): JsonValue {
  return parseWithSource(text, exactNumbers) as JsonValue;
}

const exactDigits = (_key: string, value: unknown): unknown => (value instanceof ExactNumber ? rawJson(value.value) : value);

export function toJson(value: unknown): string {
  return (JSON.stringify(value, exactDigits) as string | undefined) ?? 'null';
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isExactNumber(value);
}

/** Deep copy of a JSON tree. ExactNumbers are immutable and shared. */
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
  if (isExactNumber(a) || isExactNumber(b) || typeof a === 'number' || typeof b === 'number') {
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
  if (isExactNumber(value)) return value.value;
  return undefined;
}

/** The JSON type name the API server uses in validation messages ("string", "integer", ...). */
export function jsonTypeName(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (isExactNumber(value)) return INTEGER.test(value.value) ? 'integer' : 'number';
  return 'object';
}
