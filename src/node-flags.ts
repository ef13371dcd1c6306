import { setFlagsFromString } from 'node:v8';

/**
 * The V8 options the sidecar runs with (BENCHMARKS.md, "Where the memory goes").
 *
 * `--max-semi-space-size=2` caps V8's young generation at 2 × 2 MiB. Left alone it grows to
 * 2 × 16 MiB as soon as the first list of contents is parsed and stays that size; with 1,000
 * snapshots being created the peak RSS fell from about 178 to 111 MiB, and the idle RSS with 5,000
 * cached contents by about 25 MiB, at no measured cost in CPU per snapshot.
 *
 * The image passes them on Node's command line (the Dockerfile's ENTRYPOINT; a test checks it uses
 * this list) and so do the benchmarks. The young generation's size is fixed when V8 starts, so a
 * start without them (`npx csi-snapshotter`, `node dist/bundle/csi-snapshotter.js`) cannot set it
 * later: there the bin entry sets RUNTIME_FALLBACK before anything else loads, V8's own
 * memory-saving mode, which gave the same peak but cost 10–15 % more CPU per snapshot.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
export const RUNTIME_FALLBACK = '--optimize-for-size';

/** Options that size the young generation, or ask for the fallback: given any of them, nothing is changed. */
const HEAP_SIZING = /^--(max-semi-space-size|min-semi-space-size|optimize-for-size|semi-space-growth-factor)(=|$)/;

/**
 * Sets RUNTIME_FALLBACK unless Node was started with a young-generation size of its own (on the
 * command line or in NODE_OPTIONS). Returns the options it set.
 */
export function applyNodeFlags(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
  set: (flag: string) => void = setFlagsFromString,
): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)];
  if (given.some((arg) => HEAP_SIZING.test(arg))) return [];
  set(RUNTIME_FALLBACK);
  return [RUNTIME_FALLBACK];
}
