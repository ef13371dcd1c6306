/**
 * Parsers and printers for values written the way Go's flag package reads them, so that argument
 * lists from existing Helm charts mean the same thing here.
 */

const BOOL_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const BOOL_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function parseGoBool(text: string): boolean {
  if (BOOL_TRUE.has(text)) return true;
  if (BOOL_FALSE.has(text)) return false;
  throw new Error('parse error');
}

/** Go's ParseInt with base 0: 0x/0o/0b prefixes, a leading 0 for octal, `_` between digits. */
export function parseGoInt(text: string): number {
  const match = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(text);
  if (!match) throw new Error('parse error');
  const [, sign, body] = match as unknown as [string, string, string];
  if (body.includes('__') || body.endsWith('_')) throw new Error('parse error');
  // Go allows '_' only between digits when a base prefix (or the octal 0) is present.
  if (/^[1-9]/.test(body) && body.includes('_')) throw new Error('parse error');
  const digits = body.replace(/_/g, '');
  let value: number;
  if (/^0[xX]/.test(digits)) value = parseInt(digits.slice(2), 16);
  else if (/^0[oO]/.test(digits)) value = parseInt(digits.slice(2), 8);
  else if (/^0[bB]/.test(digits)) value = parseInt(digits.slice(2), 2);
  else if (digits.length > 1 && digits.startsWith('0')) value = parseInt(digits.slice(1), 8);
  else value = parseInt(digits, 10);
  if (!Number.isSafeInteger(value)) throw new Error('value out of range');
  return sign === '-' ? -value : value;
}

export function parseGoFloat(text: string): number {
  if (!/^[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?$/.test(text) && !/^[+-]?(Inf|inf|NaN)$/.test(text)) {
    throw new Error('parse error');
  }
  return Number(text.replace(/_/g, '').replace(/inf$/i, 'Infinity'));
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A Go duration (`300s`, `1m30s`, `1.5h`, `-1s`, `0`) in milliseconds. A bare number other than 0
 * is an error, as in Go.
 */
export function parseGoDuration(text: string): number {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new Error(`invalid duration ${JSON.stringify(text)}`);
  let total = 0;
  while (rest !== '') {
    // µs and μs (U+00B5, U+03BC) as escapes: the bundle is kept ASCII (scripts/bundle.mjs).
    const match = /^(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/.exec(rest);
    if (!match) {
      throw new Error(/^(\d+\.?\d*|\.\d+)$/.test(rest) ? `missing unit in duration ${JSON.stringify(text)}` : `invalid duration ${JSON.stringify(text)}`);
    }
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    rest = rest.slice(match[0].length);
  }
  return sign * total;
}

/** Go's Duration.String() for a value in milliseconds: `15m0s`, `1m0s`, `1.5s`, `100ms`, `0s`. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const negative = ms < 0;
  let rest = Math.abs(ms);
  let out: string;
  if (rest < 1000) {
    // Sub-second values print in the largest unit that keeps an integer part.
    if (rest >= 1) out = `${trim(rest)}ms`;
    else if (rest >= 1e-3) out = `${trim(rest * 1e3)}µs`;
    else out = `${trim(rest * 1e6)}ns`;
  } else {
    const hours = Math.floor(rest / 3_600_000);
    rest -= hours * 3_600_000;
    const minutes = Math.floor(rest / 60_000);
    rest -= minutes * 60_000;
    const seconds = `${trim(rest / 1000)}s`;
    out = hours > 0 ? `${hours}h${minutes}m${seconds}` : minutes > 0 ? `${minutes}m${seconds}` : seconds;
  }
  return negative ? `-${out}` : out;
}

function trim(n: number): string {
  return Number(n.toFixed(9)).toString();
}

/** Kubernetes quantities as the logging buffer-size flags take them (`0`, `64Ki`, `1M`, `1e3`). */
export function parseQuantity(text: string): number {
  const match = /^([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$/.exec(text);
  if (!match) throw new Error('quantities must match the regular expression ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$');
  const factors: Record<string, number> = {
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
    k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3,
  };
  return Number(match[1]) * (match[2] ? (factors[match[2]] as number) : 1);
}
