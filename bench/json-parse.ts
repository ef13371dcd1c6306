/**
 * JSON parsing that keeps int64 exact: the sidecar's parser (src/kube/json.ts: native JSON.parse
 * after quoting long integers) against Node 24's JSON.parse reviver, which is handed each number's
 * source text, and the API test server's parser (that reviver, keeping unsafe numbers as text); then
 * writing. Payloads come from the API test server as the sidecar receives them: a list of N ready
 * VolumeSnapshotContents (each with an int64 nanosecond creationTime) and one watch event line.
 * In-process, loopback only. BENCHMARKS.md has the figures, and those of the parsers replaced.
 *
 *   npm run build && node dist/bench/json-parse.js [--count=5000] [--rounds=9]
 *
 * Every candidate's result is first checked against the project's parser (deep equality, bigints
 * included); a candidate that differs is reported and not timed.
 */
import https from 'node:https';
import { isDeepStrictEqual } from 'node:util';
import { loadKubeConfig } from '../src/kube/config.js';
import { parseJson, parseJsonBySource, stringifyJson } from '../src/kube/json.js';
import { RestClient } from '../src/kube/rest.js';
import { parseJson as apiServerParse, toJson as apiServerStringify } from '../src/testing/apiserver/json.js';
import { startTestApiServer, type TestApiServer } from '../src/testing/apiserver/index.js';
import { createReadyContents, median, VSC_PATH } from './contents.js';

const MAYBE_UNSAFE = /\d{16}/;

/** The reviver, but plain JSON.parse unless 16 digits in a row appear (every integer of 15 digits is safe). */
function reviverWhenLong(text: string): unknown {
  return MAYBE_UNSAFE.test(text) ? parseJsonBySource(text) : JSON.parse(text);
}

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

/** The server's parse is exact when writing it again gives back the text it came from, digit for digit. */
function writesBack(parsed: unknown, text: unknown): boolean {
  return apiServerStringify(parsed) === text;
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
      { name: 'reviver on every document (parseJsonBySource)', run: parseJsonBySource },
    ];
    const lossy: Candidate = { name: 'JSON.parse, no reviver (loses int64 digits)', run: JSON.parse };
    const exact = (a: unknown, b: unknown) => isDeepStrictEqual(a, b);
    compare('sidecar: list', list, sidecar, Math.max(1, Math.round(20_000 / count)), rounds, parseJson(list), exact);
    compare('sidecar: watch event', event, sidecar, 5000, rounds, parseJson(event), exact);
    compare('floor: list', list, [lossy], Math.max(1, Math.round(20_000 / count)), rounds, JSON.parse(list), exact);
    compare('floor: watch event', event, [lossy], 5000, rounds, JSON.parse(event), exact);

    const server: Candidate[] = [{ name: 'src/testing/apiserver/json.ts parseJson (reviver)', run: apiServerParse }];
    compare('API test server: list', list, server, Math.max(1, Math.round(20_000 / count)), rounds, list, writesBack);
    compare('API test server: watch event', event, server, 5000, rounds, event, writesBack);

    // The other direction: what the sidecar writes (a status patch) and what the server sends (lists).
    const parsedList = parseJson(list);
    const serverList = apiServerParse(list);
    const lossyList: unknown = JSON.parse(list);
    const writers: Candidate[] = [
      { name: 'src/kube/json.ts stringifyJson (JSON.rawJSON)', run: () => stringifyJson(parsedList) },
      { name: 'src/testing/apiserver/json.ts toJson (JSON.rawJSON)', run: () => apiServerStringify(serverList) },
      { name: 'JSON.stringify, no replacer (of the lossy parse)', run: () => JSON.stringify(lossyList) },
    ];
    // Both exact writers give back the server's text; the floor lost the int64 digits (same length).
    if (stringifyJson(parsedList) !== list || apiServerStringify(serverList) !== list) throw new Error('a writer changed the list text');
    compare('stringify the list', list, writers, Math.max(1, Math.round(20_000 / count)), rounds, list.length, (a, b) => typeof a === 'string' && a.length === b);
  } finally {
    rest.close();
    await api.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
