import { afterAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { FaultState, statusName } from '../../src/testing/sample-driver/faults.js';
import { sampleDriverBinPath, startSampleDriver, type Faults, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { SeededRandom } from '../../src/testing/random.js';
import { CsiClient, eventually } from './csi-client.js';

// Every decision a fault set makes at random: whether it fires, which code, whether after the work.
const FAULTS: Faults = { errors: { '*': { code: ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED'], probability: 0.5, afterWork: 0.5 } } };
/** One call sequence, made one call at a time so that the driver sees it in this order. */
const CALLS = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? ['Identity', 'Probe'] : ['Controller', 'DeleteSnapshot']) as [string, string]);

type Outcome = [method: string, code: string, message: string | undefined];

const drivers: SampleDriverProcess[] = [];
afterAll(async () => {
  await Promise.all(drivers.map((d) => d.dispose()));
});

async function seeded(faultSeed: number): Promise<SampleDriverProcess> {
  const driver = await startSampleDriver({ faults: FAULTS, faultSeed });
  drivers.push(driver);
  return driver;
}

/** Makes the call sequence against a driver and answers what its journal says each call got. */
async function outcomes(driver: SampleDriverProcess): Promise<Outcome[]> {
  const csi = new CsiClient(driver.endpoint);
  try {
    for (const [i, [, method]] of CALLS.entries()) {
      const call = method === 'Probe' ? csi.probe() : csi.deleteSnapshot({ snapshot_id: `snap-${i}` });
      await call.catch(() => undefined);
    }
  } finally {
    csi.close();
  }
  return (await driver.calls()).map((c) => [c.method, c.codeName as string, c.message]);
}

/** What FaultState decides for the same sequence when it draws from SeededRandom(seed). */
function expected(seed: number): Outcome[] {
  const random = new SeededRandom(seed);
  const state = new FaultState(FAULTS, () => random.next());
  return CALLS.map(([service, method]) => {
    const error = state.onCall(service, method).error;
    return [method, error ? statusName(error.code) : 'OK', error?.message];
  });
}

describe('--fault-seed', () => {
  test('two drivers with one seed make the same fault decisions for one call sequence, as FaultState with that seed; another seed, and a restart (seed + 1), differ', async () => {
    const [a, b, other] = await Promise.all([seeded(20261207), seeded(20261207), seeded(7)]);
    const first = await outcomes(a);
    expect(first).toEqual(expected(20261207));
    // Not a sequence that says nothing: every kind of decision was drawn both ways.
    const codes = new Set(first.map(([, code]) => code));
    expect(codes).toEqual(new Set(['OK', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED']));
    const lost = first.filter(([, , message]) => message?.endsWith('after doing the work')).length;
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThan(first.length - first.filter(([, code]) => code === 'OK').length);

    expect(await outcomes(b)).toEqual(first);
    const third = await outcomes(other);
    expect(third).toEqual(expected(7));
    expect(third).not.toEqual(first);
    // The chaos run restarts its driver: a restart draws from the next seed, not the first start's faults again.
    await a.restart();
    const restarted = await outcomes(a);
    expect(restarted).toEqual(expected(20261208));
    expect(restarted).not.toEqual(first);
  });

  test.each(['x1', '-1', '1.5', '4294967296', '', ' 5'])('--fault-seed=%j is a usage error: exit 2 with a clear message', (value) => {
    const result = spawnSync(process.execPath, [sampleDriverBinPath(), '--endpoint', '/tmp/x.sock', `--fault-seed=${value}`], { encoding: 'utf8', timeout: 20_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`--fault-seed must be an integer 0..4294967295, got ${JSON.stringify(value)}`);
    expect(result.stdout).toBe('');
  });

  test('0 and 4294967295 are seeds; the driver names its seed when it starts, and a restart after 4294967295 has seed 0', async () => {
    const driver = await startSampleDriver({ faultSeed: 4294967295 });
    drivers.push(driver);
    await driver.restart();
    // The second log line may reach this process after the ready line (two pipes).
    const serving = () => driver.output().stderr.split('\n').filter((l) => l.includes('Sample CSI driver serving'));
    await eventually(async () => (serving().length === 2 ? true : undefined), 10_000, 'the serving log line of both starts');
    expect(serving().map((l) => / faultSeed=(\d+)$/.exec(l)?.[1])).toEqual(['4294967295', '0']);
  });
});
