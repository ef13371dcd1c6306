import { driverFaultSeed, Random } from './random.js';
import { failures, figures } from './report.js';
import { runOnce } from './run.js';
import { FULL, REDUCED } from './workload.js';

// `npm run chaos`: the full-size run (CHAOS_SIZE=reduced for the tenth). Prints the figures and
// exits 1 when any invariant failed.
async function main(): Promise<number> {
  const random = Random.fromEnv();
  const size = process.env.CHAOS_SIZE === 'reduced' ? REDUCED : FULL;
  const say = (line: string) => process.stdout.write(`[${new Date().toISOString()}] ${line}\n`);
  say(`chaos seed ${random.seed} (driver fault seed ${driverFaultSeed(random.seed)}, +1 per driver restart)`);
  const baseline = await runOnce({ size, random: new Random(random.seed), chaos: false, settleTimeoutMs: 900_000, progress: say });
  const chaos = await runOnce({ size, random, chaos: true, settleTimeoutMs: Number(process.env.CHAOS_SETTLE_MS ?? 1_800_000), progress: say });
  process.stdout.write(`\n${figures(random.seed, chaos, baseline).join('\n')}\n`);
  const wrong = failures(chaos, baseline);
  if (wrong.length === 0) {
    process.stdout.write('\nPASS\n');
    return 0;
  }
  process.stdout.write(`\nFAIL:\n${wrong.map((w) => `  ${w}`).join('\n')}\n`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
