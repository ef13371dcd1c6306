/**
 * JSON parsing that keeps int64 exact: the project's parser (src/kube/json.ts) against one built on
 * Node 24's JSON.parse reviver, which is handed each number's source text. Payloads come from the
 * API test server as the sidecar receives them: a list of N ready VolumeSnapshotContents (each with
 * an int64 nanosecond creationTime) and one watch event line. In-process, loopback only.
 *
 *   npm run build && node dist/bench/json-parse.js [--count=5000] [--rounds=9]
 *
 * Every candidate's result is first checked against the project's parser (deep equality, bigints
 * included); a candidate that differs is reported and not timed.
 */
import https from 'node:https';
import { isDeepStrictEqual } from 'node:util';
import { loadKubeConfig } from '../src/kube/config.js';
import { parseJson, stringifyJson } from '../src/kube/json.js';
import { RestClient } from '../src/kube/rest.js';
import { parseJson as apiServerParse, toJson as apiServerStringify } from '../src/testing/apiserver/json.js';
import { startTestApiServer, type TestApiServer } from '../src/testing/apiserver/index.js';
import { createReadyContents, median, VSC_PATH } from './contents.js';

interface NumberSource {
  source?: string;
}
type SourceReviver = (key: string, value: unknown, context?: NumberSource) => unknown;
const parseWithReviver = JSON.parse as (text: string, reviver: SourceReviver) => unknown;

const INTEGER = /^-?\d+$/;
const MAYBE_UNSAFE = /\d{16}/;

function exactIntegers(_key: string, value: unknown, context?: NumberSource): unknown {
  if (typeof value !== 'number' || (value <= Number.MAX_SAFE_INTEGER && value >= -Number.MAX_SAFE_INTEGER)) return value;
  const source = context?.source as string;
  return INTEGER.test(source) ? BigInt(source) : value;
}

/** Candidate: the reviver on every document. */
function reviverAlways(text: string): unknown {
  return parseWithReviver(text, exactIntegers);
}

/** Candidate: plain JSON.parse unless 16 digits in a row appear (every integer of 15 digits is safe). */
function reviverWhenLong(text: string): unknown {
  return MAYBE_UNSAFE.test(text) ? parseWithReviver(text, exactIntegers) : JSON.parse(text);
}

/** For the API test server: numbers that a double cannot hold exactly keep their text. */
class ExactNumber {
  constructor(readonly value: string) {}
}
function keepUnsafeText(_key: string, value: unknown, context?: NumberSource): unknown {
  if (typeof value !== 'number' || Number.isSafeInteger(value)) return value;
  const source = context?.source as string;
  return String(value) === source ? value : new ExactNumber(source);
}
function apiServerReviver(text: string): unknown {
  return parseWithReviver(text, keepUnsafeText);
}

type Replacer = (key: string, value: unknown) => unknown;
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
const bigintsRaw: Replacer = (_key, value) => (typeof value === 'bigint' ? rawJson(value.toString()) : value);
const exactRaw: Replacer = (_key, value) => (value instanceof ExactNumber ? rawJson(value.value) : value);

interface Candidate {
  name: string;
  run(text: string): unknown;
}

function fetchText(api: TestApiServer, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(new URL(path, api.url), { ca: api.caPem, headers: { Authorization: `Bearer ${api.token}`, Accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: ${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
  });
}

/** Milliseconds per call of `run(text)`, `iterations` calls in a row. */
function timeOnce(run: (text: string) => unknown, text: string, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) run(text);
  return Number(process.hrtime.bigint() - start) / 1e6 / iterations;
}

/** Each round times every candidate once, in a rotating order; the first round warms up and is dropped. */
function compare(label: string, text: string, candidates: Candidate[], iterations: number, rounds: number, reference: unknown, same: (a: unknown, b: unknown) => boolean): void {
  console.log(`\n${label}: ${(text.length / 1024).toFixed(1)} KiB, ${iterations} calls per round, ${rounds} rounds (+1 warm-up)`);
  const timed = candidates.filter((c) => {
    const ok = same(c.run(text), reference);
    if (!ok) console.log(`  ${c.name}: result differs from the reference, not timed`);
    return ok;
  });
  const samples = new Map<string, number[]>(timed.map((c) => [c.name, []]));
  for (let round = 0; round <= rounds; round++) {
    for (let k = 0; k < timed.length; k++) {
      const c = timed[(round + k) % timed.length] as Candidate;
      const ms = timeOnce(c.run, text, iterations);
      if (round > 0) samples.get(c.name)?.push(ms);
    }
  }
  const base = median(samples.get(timed[0]?.name as string) ?? [0]);
  for (const c of timed) {
    const all = samples.get(c.name) as number[];
    const m = median(all);
    const digits = m < 0.1 ? 4 : 2;
    console.log(`  ${c.name.padEnd(44)} median ${m.toFixed(digits)} ms  (${(m / base).toFixed(2)}× the first; rounds ${all.map((v) => v.toFixed(digits)).join(' ')})`);
  }
}

function flag(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = Number(arg ? arg.slice(name.length + 3) : fallback);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

/**
 * Equal as JSON text, each exact number written as its digits: the API test server's number class
 * and ExactNumber are both objects of their own class holding the text in `value`.
 */
function sameText(a: unknown, b: unknown): boolean {
  const digits: Replacer = (_key, v) =>
    v !== null && typeof v === 'object' && Object.getPrototypeOf(v) !== Object.prototype && !Array.isArray(v) && typeof (v as { value?: unknown }).value === 'string' ? rawJson((v as { value: string }).value) : v;
  return JSON.stringify(a, digits) === JSON.stringify(b, digits);
}

async function main(): Promise<void> {
  const count = flag('count', 5000);
  const rounds = flag('rounds', 9);
  console.log(`Node ${process.version}; ${count} ready VolumeSnapshotContents`);
  const api = await startTestApiServer();
  const rest = new RestClient({ kubeConfig: loadKubeConfig(api.kubeconfigPath) });
  try {
    const names = await createReadyContents(rest, { count, driver: 'bench.csi.example.com', className: 'bench-class' });
    const list = await fetchText(api, VSC_PATH);
    const one = await fetchText(api, `${VSC_PATH}/${names[names.length - 1] as string}`);
    // A watch event line carries the object exactly as a GET returns it.
    const event = `{"type":"MODIFIED","object":${one}}`;

    const sidecar: Candidate[] = [
      { name: 'src/kube/json.ts parseJson (marker)', run: parseJson },
      { name: 'reviver when 16 digits in a row', run: reviverWhenLong },
      { name: 'reviver on every document', run: reviverAlways },
    ];
    const lossy: Candidate = { name: 'JSON.parse, no reviver (loses int64 digits)', run: JSON.parse };
    const exact = (a: unknown, b: unknown) => isDeepStrictEqual(a, b);
    compare('sidecar: list', list, sidecar, Math.max(1, Math.round(20_000 / count)), rounds, parseJson(list), exact);
    compare('sidecar: watch event', event, sidecar, 5000, rounds, parseJson(event), exact);
    compare('floor: list', list, [lossy], Math.max(1, Math.round(20_000 / count)), rounds, JSON.parse(list), exact);
    compare('floor: watch event', event, [lossy], 5000, rounds, JSON.parse(event), exact);

    const server: Candidate[] = [
      { name: 'src/testing/apiserver/json.ts parseJson', run: apiServerParse },
      { name: 'reviver keeping unsafe numbers as text', run: apiServerReviver },
    ];
    compare('API test server: list', list, server, Math.max(1, Math.round(20_000 / count)), rounds, apiServerParse(list), sameText);
    compare('API test server: watch event', event, server, 5000, rounds, apiServerParse(event), sameText);

    // The other direction: what the sidecar writes (a status patch) and what the server sends (lists).
    const parsedList = parseJson(list);
    const serverList = apiServerParse(list);
    const serverListExact = apiServerReviver(list);
    const stringifiers = [
      { name: 'src/kube/json.ts stringifyJson (marker)', run: () => stringifyJson(parsedList) },
      { name: 'replacer returning JSON.rawJSON', run: () => JSON.stringify(parsedList, bigintsRaw) },
    ];
    compare('sidecar: stringify the list', list, stringifiers, Math.max(1, Math.round(20_000 / count)), rounds, stringifyJson(parsedList), (a, b) => a === b);
    const serverStringifiers = [
      { name: 'src/testing/apiserver/json.ts toJson', run: () => apiServerStringify(serverList) },
      { name: 'replacer returning JSON.rawJSON', run: () => JSON.stringify(serverListExact, exactRaw) },
    ];
    compare('API test server: stringify the list', list, serverStringifiers, Math.max(1, Math.round(20_000 / count)), rounds, apiServerStringify(serverList), (a, b) => a === b);
  } finally {
    rest.close();
    await api.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
