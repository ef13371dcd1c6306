import winston from 'winston';
import type { Writable } from 'node:stream';

/**
 * Logging with klog's model, on winston: every message has a verbosity level (`-v`), info lines at
 * a level above the configured verbosity are dropped before any formatting work, warnings and
 * errors always print. Two output formats, as the Go sidecar's `--logging-format`:
 *
 *   text  I1122 14:45:20.123456   12345 csi-snapshotter] Probing CSI driver for readiness driver="x"
 *   json  {"ts":1763822720123.456,"v":0,"logger":"csi-snapshotter","msg":"...","driver":"x"}
 *
 * Everything goes to stderr, as klog does, so stdout stays free for machine-readable output
 * (`--version`, the test servers' `ready <url>` line).
 */
export type LogFormat = 'text' | 'json';

export type LogFields = Record<string, unknown>;

export interface LevelLogger {
  info(msg: string, fields?: LogFields): void;
}

export interface Logger extends LevelLogger {
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that prints only when the verbosity is at least `level`. */
  v(level: number): LevelLogger;
  enabled(level: number): boolean;
  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger;
  /** Waits until every line written so far has reached the output (call before process.exit). */
  flush(): Promise<void>;
}

export interface LoggerOptions {
  verbosity?: number;
  format?: LogFormat;
  /** Name shown where klog shows file:line. */
  name?: string;
  /** Defaults to process.stderr. */
  stream?: Writable;
}

const SEVERITY: Record<string, string> = { error: 'E', warn: 'W', info: 'I' };

function two(n: number): string {
  return n.toString().padStart(2, '0');
}

function klogHeader(level: string, date: Date, micros: number, name: string): string {
  const stamp = `${two(date.getMonth() + 1)}${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(
    date.getSeconds(),
  )}.${micros.toString().padStart(6, '0')}`;
  return `${SEVERITY[level] ?? 'I'}${stamp} ${process.pid.toString().padStart(7)} ${name}]`;
}

/** klog's text rendering of one key/value: strings quoted, everything else as JSON. */
function renderValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined) return '<nil>';
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return JSON.stringify(String(value));
  }
}

function jsonSafe(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) out[k] = v.message;
    else if (typeof v === 'bigint') out[k] = v.toString();
    else out[k] = v;
  }
  return out;
}

const META = Symbol('fields');

interface Entry extends winston.Logform.TransformableInfo {
  [META]?: LogFields;
  v?: number;
}

function textFormat(name: string): winston.Logform.Format {
  return winston.format.printf((info: Entry) => {
    const now = new Date();
    const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000) % 1_000_000;
    const fields = info[META] ?? {};
    const kv = Object.entries(fields)
      .map(([k, v]) => ` ${k}=${renderValue(v)}`)
      .join('');
    return `${klogHeader(info.level, now, micros, name)} ${String(info.message)}${kv}`;
  });
}

function jsonFormat(name: string): winston.Logform.Format {
  return winston.format.printf((info: Entry) => {
    const line: LogFields = { ts: Date.now(), logger: name };
    if (info.level === 'info') line.v = info.v ?? 0;
    line.msg = info.message;
    if (info.level === 'error') line.err = info.message;
    Object.assign(line, jsonSafe(info[META] ?? {}));
    return JSON.stringify(line);
  });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const verbosity = options.verbosity ?? 0;
  const name = options.name ?? 'csi-snapshotter';
  const stream = options.stream ?? process.stderr;
  const base = winston.createLogger({
    level: 'info',
    levels: { error: 0, warn: 1, info: 2 },
    format: options.format === 'json' ? jsonFormat(name) : textFormat(name),
    transports: [new winston.transports.Stream({ stream })],
  });

  const make = (context: LogFields): Logger => {
    const write = (level: 'info' | 'warn' | 'error', v: number, msg: string, fields?: LogFields): void => {
      base.log({ level, message: msg, v, [META]: fields ? { ...context, ...fields } : context });
    };
    const atLevel = (level: number): LevelLogger => ({
      info: level <= verbosity ? (msg, fields) => write('info', level, msg, fields) : () => undefined,
    });
    return {
      info: (msg, fields) => write('info', 0, msg, fields),
      warn: (msg, fields) => write('warn', 0, msg, fields),
      error: (msg, fields) => write('error', 0, msg, fields),
      v: atLevel,
      enabled: (level) => level <= verbosity,
      with: (fields) => make({ ...context, ...fields }),
      flush: () =>
        new Promise<void>((resolve) => {
          // winston hands lines to the transport synchronously; one turn of the event loop lets a
          // stream that buffers (a pipe under load) take them before the caller exits.
          setImmediate(resolve);
        }),
    };
  };
  return make({});
}

/** A logger that prints nothing: the default for library code that was given none. */
export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  v: () => ({ info: () => undefined }),
  enabled: () => false,
  with: () => silentLogger,
  flush: () => Promise.resolve(),
};
