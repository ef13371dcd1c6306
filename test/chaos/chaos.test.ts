import { expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { driverFaultSeed, Random } from './random.js';
import { failures, figures } from './report.js';
import { runOnce } from './run.js';
import { REDUCED } from './workload.js';

// The chaos run of the reduced size (a tenth of `npm run chaos`): every fault at once against the
// sidecar's two replicas, the sample driver and the API test server, then the figures. A loaded
// machine makes it slower, not red: every wait is on a condition, with room to spare.
test('chaos, reduced size: nothing lost, nothing leaked, no finalizer dropped early, no secret logged', async () => {
  const random = Random.fromEnv();
  process.stdout.write(`chaos seed ${random.seed} (driver fault seed ${driverFaultSeed(random.seed)}, +1 per driver restart)\n`);
  // Every replica's and the driver's log is kept until the run passes, so that a failure (in CI
  // too) leaves what is needed to find its cause.
  const given = process.env.CHAOS_LOG_DIR;
  const logDir = given ?? mkdtempSync(join(tmpdir(), 'chaos-logs-'));
  process.env.CHAOS_LOG_DIR = logDir;
  const baseline = await runOnce({ size: REDUCED, random: new Random(random.seed), chaos: false, settleTimeoutMs: 300_000 });
  const chaos = await runOnce({ size: REDUCED, random, chaos: true, settleTimeoutMs: 400_000 });
  process.stdout.write(`${figures(random.seed, chaos, baseline).join('\n')}\n`);
  const wrong = failures(chaos, baseline);
  if (wrong.length > 0) process.stdout.write(`the logs of this run are kept in ${logDir}\n`);
  else if (!given) rmSync(logDir, { recursive: true, force: true });
  expect(wrong).toEqual([]);
  // The figures are measured, not assumed: faults reached the sidecar and the driver.
  expect(chaos.requests.injected['409']).toBeGreaterThan(0);
  expect(chaos.requests.injected['429']).toBeGreaterThan(0);
  expect(chaos.driverErrors.afterWork).toBeGreaterThan(0);
  // Secrets did pass through the sidecar (and were stripped where replica a logged the requests).
  expect(chaos.logs.redacted).toBeGreaterThan(0);
  expect(chaos.requests.perSnapshot).toBeGreaterThan(0);
}, 1_200_000);
