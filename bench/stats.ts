/**
 * Small pure helpers the benchmarks share for reading what they measured: a sample of a Prometheus
 * text exposition, percentiles, and the trend of a series over time (tested in test/bench/).
 */

/** The value of an unlabelled sample `name` in a Prometheus text exposition, or undefined. */
export function metricValue(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    // `name value` or `name value timestamp`; `name_suffix …` and `name{…} …` are other series.
    const m = /^ +(\S+)(?: +\d+)?$/.exec(rest);
    if (!m) continue;
    const value = Number(m[1]);
    if (!Number.isNaN(value)) return value;
  }
  return undefined;
}

/** The p-th percentile (nearest rank) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Least-squares slope of y over x (units of y per unit of x); NaN with fewer than two distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

export interface Trend {
  /** Median of the samples in the first window and in the last one. */
  first: number;
  last: number;
  /** (last − first) / first. */
  change: number;
  /** Least-squares slope over every sample after the first window, per hour. */
  slopePerHour: number;
}

/**
 * How a series sampled at `atMs` moved: the medians of its first and last `windowMs`, and its slope
 * after the first window (start-up and the first resync are behind it by then).
 */
export function trend(samples: readonly { atMs: number; value: number }[], windowMs: number): Trend {
  if (samples.length === 0) return { first: NaN, last: NaN, change: NaN, slopePerHour: NaN };
  const start = samples[0]?.atMs as number;
  const end = samples[samples.length - 1]?.atMs as number;
  const first = medianOf(samples.filter((s) => s.atMs - start <= windowMs).map((s) => s.value));
  const last = medianOf(samples.filter((s) => end - s.atMs <= windowMs).map((s) => s.value));
  const after = samples.filter((s) => s.atMs - start > windowMs).map((s) => ({ x: s.atMs / 3_600_000, y: s.value }));
  return { first, last, change: (last - first) / first, slopePerHour: slope(after) };
}
