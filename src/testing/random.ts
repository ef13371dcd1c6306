/**
 * The test kit's one seeded generator (mulberry32): the API test server's fractional faults, the
 * sample driver's fault decisions and the chaos run's plan all draw from it, so a printed seed
 * repeats what each of them decides, in the order it is asked.
 */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** 0 <= x < 1. */
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

export const MAX_SEED = 0xffffffff;

/**
 * A seed given as text (a `--fault-seed` flag): a decimal integer 0..4294967295. Throws an Error
 * whose message names `what` and the value, for the caller's usage message.
 */
export function parseSeed(text: string, what: string): number {
  const seed = Number(text);
  if (!/^\d+$/.test(text) || seed > MAX_SEED) throw new Error(`${what} must be an integer 0..${MAX_SEED}, got ${JSON.stringify(text)}`);
  return seed;
}
