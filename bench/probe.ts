/**
 * A measuring probe loaded into the sidecar under test (`node --import=dist/bench/probe.js …`) by
 * bench/sidecar-profile.ts; never part of the product. Every 20 ms it samples the process's memory
 * (RSS, and V8's heap by space) and keeps the sample with the highest RSS. On SIGUSR2 it writes, to
 * the directory in PROBE_OUT, `<label>.json` (the sample now, after a full GC, and the peak sample
 * so far) and, when PROBE_HEAP_SNAPSHOT=1, `<label>.heapsnapshot`; the label is the next line of
 * PROBE_OUT/labels (written by the benchmark before the signal), or `snapshot-<n>`.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

interface Sample {
  atMs: number;
  rssKiB: number;
  rssAnonKiB: number;
  rssFileKiB: number;
  heapTotalKiB: number;
  heapUsedKiB: number;
  externalKiB: number;
  arrayBuffersKiB: number;
  /** V8 space name → [committed KiB, used KiB]. */
  spaces: Record<string, [number, number]>;
}

const out = process.env.PROBE_OUT;
const started = performance.now();
const kib = (bytes: number): number => Math.round(bytes / 1024);

function procKiB(text: string, key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
}

function sample(): Sample {
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = process.memoryUsage();
  const spaces: Record<string, [number, number]> = {};
  for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = [kib(s.physical_space_size), kib(s.space_used_size)];
  return {
    atMs: Math.round(performance.now() - started),
    rssKiB: procKiB(status, 'VmRSS'),
    rssAnonKiB: procKiB(status, 'RssAnon'),
    rssFileKiB: procKiB(status, 'RssFile'),
    heapTotalKiB: kib(m.heapTotal),
    heapUsedKiB: kib(m.heapUsed),
    externalKiB: kib(m.external),
    arrayBuffersKiB: kib(m.arrayBuffers),
    spaces,
  };
}

/** RSS by mapping: each file by name, `[heap]` (malloc), `[anon]` (V8's heap and other anonymous memory), largest first. */
function mappings(): Record<string, number> {
  const byName = new Map<string, number>();
  let name = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) name = header[1] || '[anon]';
    else if (line.startsWith('Rss:')) byName.set(name, (byName.get(name) ?? 0) + Number(/(\d+)/.exec(line)?.[1] ?? 0));
  }
  return Object.fromEntries([...byName].filter(([, kib]) => kib >= 512).sort((a, b) => b[1] - a[1]));
}

if (out) {
  let peak = sample();
  setInterval(() => {
    const now = sample();
    if (now.rssKiB > peak.rssKiB) peak = now;
  }, 20).unref();

  let count = 0;
  process.on('SIGUSR2', () => {
    count++;
    let label = `snapshot-${count}`;
    try {
      label = readFileSync(join(out, 'labels'), 'utf8').split('\n')[count - 1]?.trim() || label;
    } catch {
      // no labels file: numbered
    }
    const before = sample();
    const mappingsKiB = mappings();
    let heapSnapshot: string | undefined;
    // Writing a heap snapshot collects garbage first, so the "after" sample is the live heap.
    if (process.env.PROBE_HEAP_SNAPSHOT === '1') heapSnapshot = writeHeapSnapshot(join(out, `${label}.heapsnapshot`));
    const after = sample();
    const file = join(out, `${label}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify({ label, before, mappingsKiB, afterHeapSnapshot: heapSnapshot ? after : undefined, peak, heapSnapshot }, null, 1));
    renameSync(`${file}.tmp`, file);
  });
}
