import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { DriverHandle, RealCluster } from './harness.js';

export interface SanityResult {
  exitCode: number;
  /** The "Ran N of M Specs" line and the pass/fail counts line. */
  summary: string;
  /** Names of failed specs as ginkgo lists them after "Summarizing N Failures". */
  failures: string[];
  output: string;
}

/** csi-test's sections for snapshots and group snapshots (DescribeSanity titles). */
export const SNAPSHOT_SECTIONS = 'ListSnapshots|GetSnapshot|DeleteSnapshot|CreateSnapshot|GroupController';

/**
 * Runs the upstream csi-sanity (csi-test v5) against a driver socket, restricted to the spec
 * titles matching `focus`, and returns its verdict with the failing spec names.
 */
export function runCsiSanity(cluster: RealCluster, driver: DriverHandle, focus: string, timeoutMs = 240_000): Promise<SanityResult> {
  const dir = cluster.scratchDir(cluster.uniqueName('csi-sanity'));
  const args = [
    `-csi.endpoint=unix://${driver.socketPath}`,
    `-csi.mountdir=${join(dir, 'mount')}`,
    `-csi.stagingdir=${join(dir, 'staging')}`,
    `-ginkgo.focus=${focus}`,
    '-ginkgo.no-color',
    `-ginkgo.timeout=${Math.floor(timeoutMs / 1000)}s`,
  ];
  return new Promise((resolve) => {
    execFile(cluster.program('csi-sanity'), args, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs + 30_000 }, (error, stdout, stderr) => {
      const output = `${stdout}\n${stderr}`;
      const exitCode = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      const summary = output
        .split('\n')
        .filter((line) => /^Ran \d+ of \d+ Specs|Passed \| \d+ Failed/.test(line))
        .join('\n');
      const failureBlock = output.split(/Summarizing \d+ Failures?:/)[1] ?? '';
      const failures = failureBlock
        .split('\n')
        .filter((line) => /^\s*\[(FAIL|PANICKED|TIMEDOUT)\]/.test(line))
        .map((line) => line.trim());
      resolve({ exitCode, summary, failures, output });
    });
  });
}
