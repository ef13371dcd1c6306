/**
 * Summaries of a V8 heap snapshot and of a `--cpu-prof` CPU profile, for bench/sidecar-profile.ts:
 * where the live heap is (self sizes by node type and by constructor) and where the CPU time went
 * (self time by package or source directory, and the busiest functions).
 */
import { readFileSync } from 'node:fs';

export interface HeapSummary {
  nodes: number;
  totalSelfKiB: number;
  /** Node type (object, string, code, hidden, array, closure, …) → [count, KiB]. */
  byType: Record<string, [number, number]>;
  /** `type:name` of the largest groups → [count, KiB], largest first. */
  top: Array<[string, number, number]>;
}

interface HeapSnapshotFile {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function summarizeHeapSnapshot(path: string, topN = 25): HeapSummary {
  const file = JSON.parse(readFileSync(path, 'utf8')) as HeapSnapshotFile;
  const fields = file.snapshot.meta.node_fields;
  const types = file.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byType = new Map<string, [number, number]>();
  const byName = new Map<string, [number, number]>();
  let total = 0;
  const add = (map: Map<string, [number, number]>, key: string, size: number): void => {
    const entry = map.get(key) ?? [0, 0];
    entry[0]++;
    entry[1] += size;
    map.set(key, entry);
  };
  for (let i = 0; i < file.nodes.length; i += width) {
    const type = types[file.nodes[i + typeAt] as number] ?? '?';
    const size = file.nodes[i + sizeAt] as number;
    total += size;
    add(byType, type, size);
    // Strings, numbers and code are grouped by type alone; their "names" are their contents.
    const name = type === 'object' || type === 'closure' || type === 'hidden' || type === 'array' || type === 'native' || type === 'object shape' ? (file.strings[file.nodes[i + nameAt] as number] ?? '?') : '';
    add(byName, `${type}${name ? `:${name.slice(0, 60)}` : ''}`, size);
  }
  const kibOf = (entries: Map<string, [number, number]>): Record<string, [number, number]> =>
    Object.fromEntries([...entries].sort((a, b) => b[1][1] - a[1][1]).map(([k, [n, s]]) => [k, [n, Math.round(s / 1024)]]));
  return {
    nodes: file.nodes.length / width,
    totalSelfKiB: Math.round(total / 1024),
    byType: kibOf(byType),
    top: [...byName]
      .sort((a, b) => b[1][1] - a[1][1])
      .slice(0, topN)
      .map(([k, [n, s]]) => [k, n, Math.round(s / 1024)]),
  };
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface CpuSummary {
  /** Wall time the profile covers, and the sampled time that was not idle. */
  wallMs: number;
  busyMs: number;
  /** Package, node:internal, or dist/src/<dir> → self ms, largest first. */
  byOrigin: Array<[string, number]>;
  /** `function (file:line)` → self ms, largest first. */
  topFunctions: Array<[string, number]>;
}

/** Where a sample's function comes from: a package, Node's own code, a directory of this project, or V8's pseudo-frames. */
function origin(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native or V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return 'node: (Node.js internals)';
  const own = /\/dist\/(src\/(?:[^/]+\/)?)/.exec(url);
  if (own) return own[1] as string;
  return url.replace(/^file:\/\/.*\//, '');
}

export function summarizeCpuProfile(path: string, topN = 20): CpuSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byOrigin = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = nodes.get(profile.samples[i] as number);
    // The delta before sample i+1 is the time sample i stood for.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (!node || node.callFrame.functionName === '(idle)') continue;
    busy += ms;
    const { functionName, url, lineNumber } = node.callFrame;
    const from = origin(url, functionName);
    byOrigin.set(from, (byOrigin.get(from) ?? 0) + ms);
    const fn = `${functionName || '(anonymous)'}${url ? ` (${url.replace(/^file:\/\/.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1})` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>, n: number): Array<[string, number]> =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => [k, Math.round(v)]);
  return { wallMs: Math.round((profile.endTime - profile.startTime) / 1000), busyMs: Math.round(busy), byOrigin: sorted(byOrigin, 30), topFunctions: sorted(byFunction, topN) };
}
