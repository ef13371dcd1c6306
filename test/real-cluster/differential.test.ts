import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { RealCluster } from './harness/harness.js';
import type { ControlPlane } from './harness/control-plane.js';
import { runDifferential } from './differential/runner.js';

// The differential runner's transcript of the real kube-apiserver is the reference the API test
// server is compared with, so it must not change from run to run. It runs against a bare second
// cluster: the main cluster's snapshot-controller would otherwise write to the objects it creates.
describe('differential runner against the real kube-apiserver', () => {
  let cluster: RealCluster;
  let plane: ControlPlane;

  beforeAll(async () => {
    cluster = await RealCluster.connect();
    plane = await cluster.startBareControlPlane('differential');
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('two runs give identical normalised transcripts', async () => {
    const first = await runDifferential(plane.adminKubeconfig);
    const second = await runDifferential(plane.adminKubeconfig);
    expect(second).toEqual(first);
    // The reference transcript for comparing another server: DIFFERENTIAL_TRANSCRIPT=/path npm run test:real
    if (process.env.DIFFERENTIAL_TRANSCRIPT) writeFileSync(process.env.DIFFERENTIAL_TRANSCRIPT, `${first.join('\n')}\n`);

    // The transcript covers what it claims to: successes, conflicts, validation failures, watch.
    const statusLines = first.filter((line) => / -> \d{3}/.test(line)).join('\n');
    for (const status of [200, 201, 400, 404, 409, 415, 422]) expect(statusLines).toContain(` -> ${status}`);
    expect(first).toContain('## watch from before the changes');
    expect(first.join('\n')).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
  });
});
