import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { runCsiSanity, SNAPSHOT_SECTIONS } from './harness/csi-sanity.js';
import { RealCluster, type DriverHandle } from './harness/harness.js';

// The upstream csi-sanity (csi-test v5) against this project's csi-sample-driver: the snapshot and
// group snapshot sections must pass, since the sidecar's own tests trust the sample driver.
describe('csi-sanity against csi-sample-driver', () => {
  let cluster: RealCluster;
  let driver: DriverHandle;

  beforeAll(async () => {
    cluster = await RealCluster.connect();
    driver = await cluster.startSampleDriver('sanity-driver');
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('the snapshot and group snapshot sections pass', async () => {
    const result = await runCsiSanity(cluster, driver, SNAPSHOT_SECTIONS);
    const report = `${result.summary}\nfailed specs:\n${result.failures.join('\n')}\n${driver.process.logTail(20)}`;
    expect({ exitCode: result.exitCode, failures: result.failures, report }).toEqual({ exitCode: 0, failures: [], report });
    // Guard against a focus that silently matches nothing.
    const ran = /Ran (\d+) of/.exec(result.summary);
    expect(Number(ran?.[1] ?? 0)).toBeGreaterThan(10);
  });
});
