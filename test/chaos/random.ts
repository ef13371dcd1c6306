/**
 * The run's randomness, from one printed seed (CHAOS_SEED replays it): which contents are deleted,
 * when faults strike, which verbosity each sidecar start gets. Timing on a loaded machine still
 * varies between runs; the seed fixes the plan, not the interleaving.
 */
export class Random {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** The seed from CHAOS_SEED, else a fresh one. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): Random {
    const given = env.CHAOS_SEED;
    if (given !== undefined && given !== '') {
      const seed = Number(given);
      if (!Number.isInteger(seed) || seed <= 0 || seed > 0xffffffff) throw new Error(`CHAOS_SEED must be an integer 1..4294967295, got "${given}"`);
      return new Random(seed);
    }
    return new Random(1 + Math.floor(Math.random() * 0xfffffffe));
  }

  /** 0 <= x < 1 (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** `count` distinct items of `items`, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
    }
    return pool.slice(0, count);
  }
}
