import { randomBytes } from 'node:crypto';
import { parseWithSource, rawJson } from '../util/json-source.js';

/**
 * JSON for API objects without losing integers. VolumeSnapshotContent timestamps are int64 Unix
 * nanoseconds (~1.8e18), far beyond Number.MAX_SAFE_INTEGER, so integers outside the safe range
 * are read as `bigint` and written back as their exact digits; every other number is a `number`.
 *
 * Parsing leans on the engine's native JSON code and only does extra work when a long integer is
 * actually present: it first checks for any run of 16 digits (every integer with at most 15 digits
 * is safe), and only then quotes the unsafe integers with a marker the native parser keeps as a
 * string, turning the marked strings into bigints afterwards. Node 24's reviver, which sees each
 * number's source text, does the same job in one line, but a reviver is called for every value of
 * the document: on a list of 5,000 contents it took about twice as long (BENCHMARKS.md), so it only
 * serves the rare document that contains the marker itself. Writing uses JSON.rawJSON, which was
 * faster than the marker there.
 */

// A per-process random marker: a document can only collide with it by containing the nonce, which
// parseJson checks for.
const NONCE = randomBytes(8).toString('hex');
const MARK = `bigint-${NONCE}:`;

const MAYBE_UNSAFE = /\d{16}/;
// An integer of 16+ digits that is not part of a fraction or an exponent.
const LONG_INTEGER = /(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/g;
const INTEGER = /^-?\d+$/;

export type JsonPrimitive = null | boolean | number | bigint | string;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };

function isUnsafeInteger(token: string): boolean {
  return !Number.isSafeInteger(Number(token));
}

function restoreBigInt(text: string): string | bigint {
  return text.startsWith(MARK) ? BigInt(text.slice(MARK.length)) : text;
}

/** Turns marked strings back into bigints, in place; only marked strings are reassigned. */
function restoreBigInts(value: unknown): unknown {
  if (typeof value === 'string') return restoreBigInt(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'string') value[i] = restoreBigInt(item);
      else if (item !== null && typeof item === 'object') restoreBigInts(item);
    }
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    if (typeof item === 'string') {
      if (item.startsWith(MARK)) record[key] = restoreBigInt(item);
    } else if (item !== null && typeof item === 'object') restoreBigInts(item);
  }
  return value;
}

/** The reviver: an integer the double cannot hold exactly is read again from its source digits. */
function exactInteger(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number' || (value <= Number.MAX_SAFE_INTEGER && value >= -Number.MAX_SAFE_INTEGER)) return value;
  const source = context?.source as string;
  return INTEGER.test(source) ? BigInt(source) : value;
}

/** parseJson by the reviver alone: the same result, slower on documents with many values. */
export function parseJsonBySource<T = unknown>(text: string): T {
  return parseWithSource(text, exactInteger) as T;
}

/** Index of the quote closing the string whose opening quote is at `open`. */
function closingQuote(text: string, open: number): number {
  let at = open + 1;
  for (;;) {
    at = text.indexOf('"', at);
    if (at === -1) return text.length; // unterminated: JSON.parse reports it
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
    at++;
  }
}

/**
 * Quotes (with the marker) every unsafe integer outside string literals. Jumps between quotes with
 * indexOf and finds candidates with one forward-only regex scan, so the cost stays linear and native.
 */
function markUnsafeIntegers(text: string): string | undefined {
  const parts: string[] = [];
  let copied = 0;
  let outside = 0;
  LONG_INTEGER.lastIndex = 0;
  let candidate = LONG_INTEGER.exec(text);
  while (candidate) {
    const quote = text.indexOf('"', outside);
    const stringStart = quote === -1 ? text.length : quote;
    while (candidate && candidate.index < stringStart) {
      const token = candidate[0];
      if (isUnsafeInteger(token)) {
        parts.push(text.slice(copied, candidate.index), `"${MARK}${token}"`);
        copied = candidate.index + token.length;
      }
      candidate = LONG_INTEGER.exec(text);
    }
    if (quote === -1) break;
    outside = closingQuote(text, quote) + 1;
    if (candidate && candidate.index < outside) {
      LONG_INTEGER.lastIndex = outside;
      candidate = LONG_INTEGER.exec(text);
    }
  }
  if (parts.length === 0) return undefined;
  parts.push(text.slice(copied));
  return parts.join('');
}

/** Parses JSON; integers outside the safe range become `bigint`, every other number a `number`. */
export function parseJson<T = unknown>(text: string): T {
  if (!MAYBE_UNSAFE.test(text)) return JSON.parse(text) as T;
  // The document itself mentions the marker: the reviver cannot be fooled by it.
  if (text.includes(NONCE)) return parseJsonBySource<T>(text);
  const marked = markUnsafeIntegers(text);
  return (marked === undefined ? JSON.parse(text) : restoreBigInts(JSON.parse(marked))) as T;
}

const bigintDigits = (_key: string, item: unknown): unknown => (typeof item === 'bigint' ? rawJson(item.toString()) : item);

/** Serialises to JSON, writing each `bigint` as its exact digits. */
export function stringifyJson(value: unknown): string {
  const text = JSON.stringify(value, bigintDigits) as string | undefined;
  if (text === undefined) throw new TypeError(`cannot serialise ${typeof value} as JSON`);
  return text;
}
