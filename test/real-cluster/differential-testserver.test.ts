import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';
import { RealCluster } from './harness/harness.js';
import type { ControlPlane } from './harness/control-plane.js';
import { compareTranscripts } from './differential/compare.js';
import { runDifferential } from './differential/runner.js';
import { TEST_SERVER_ALLOWLIST } from './differential/testserver-allowlist.js';

// The API test server claims to behave like kube-apiserver for what the sidecar and its tests use.
// The differential runner's transcripts of both must agree except for the allowlisted, deliberate
// differences (differential/testserver-allowlist.ts, also listed in the README).
describe('API test server against the real kube-apiserver', () => {
  let cluster: RealCluster;
  let plane: ControlPlane;
  let server: TestApiServer | undefined;

  beforeAll(async () => {
    cluster = await RealCluster.connect();
    plane = await cluster.startBareControlPlane('differential-testserver');
    server = await startTestApiServer();
  });

  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  test('the transcripts agree except for the allowlisted differences', async () => {
    const real = await runDifferential(plane.adminKubeconfig);
    const ours = await runDifferential((server as TestApiServer).kubeconfigPath);
    // DIFFERENTIAL_TESTSERVER_TRANSCRIPTS=PREFIX saves PREFIX.real.txt and PREFIX.test.txt for diff.
    const prefix = process.env.DIFFERENTIAL_TESTSERVER_TRANSCRIPTS;
    if (prefix) {
      writeFileSync(`${prefix}.real.txt`, `${real.join('\n')}\n`);
      writeFileSync(`${prefix}.test.txt`, `${ours.join('\n')}\n`);
    }
    expect(compareTranscripts(real, ours, TEST_SERVER_ALLOWLIST)).toEqual([]);
    // Both transcripts are complete: the whole sequence ran, watch included.
    expect(ours).toHaveLength(real.length);
    expect(real).toContain('## watch from before the changes');
    expect(real).toContain('## json patch removes the last annotation');
  });
});
