import { MAX_SEED, SeededRandom } from '../../src/testing/random.js';

/**
 * The run's randomness, from one printed seed (CHAOS_SEED replays it): which contents are deleted,
 * when faults strike, which verbosity each sidecar start gets. Timing on a loaded machine still
 * varies between runs; the seed fixes the plan, not the interleaving.
 */
export class Random extends SeededRandom {
  /** The seed from CHAOS_SEED, else a fresh one. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): Random {
    const given = env.CHAOS_SEED;
    if (given !== undefined && given !== '') {
      const seed = Number(given);
      if (!Number.isInteger(seed) || seed <= 0 || seed > MAX_SEED) throw new Error(`CHAOS_SEED must be an integer 1..${MAX_SEED}, got "${given}"`);
      return new Random(seed);
    }
    return new Random(1 + Math.floor(Math.random() * (MAX_SEED - 1)));
  }
}

/**
 * The seed the sample driver draws its fault decisions from (`--fault-seed`), derived from the run
 * seed by a generator of its own, so that the plan's draws stay what they were before it existed.
 */
export function driverFaultSeed(runSeed: number): number {
  return Math.floor(new SeededRandom(runSeed ^ 0x5eed5eed).next() * (MAX_SEED + 1));
}
