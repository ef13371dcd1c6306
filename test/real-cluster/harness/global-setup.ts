import { rmSync } from 'node:fs';
import { startControlPlane } from './control-plane.js';
import { killRecordedGroupsSync } from './process-groups.js';
import { cleanStaleRuns, createRunDirectory } from './run-directory.js';
import { writeState } from './state.js';
import { buildUpstreamBinaries } from './upstream-binaries.js';

/**
 * Installs the last-resort cleanup for this jest process: whatever way it ends (normal exit, an
 * uncaught error, Ctrl-C, SIGTERM from CI), every recorded process group of the run is killed.
 */
function killEverythingOnExit(runDir: string): void {
  process.once('exit', () => killRecordedGroupsSync(runDir));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killRecordedGroupsSync(runDir);
      if (!process.env.REAL_CLUSTER_KEEP) rmSync(runDir, { recursive: true, force: true });
      process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15));
    });
  }
}

/** jest globalSetup of jest.real.config.js: brings the cluster up once for the whole run. */
export default async function globalSetup(): Promise<void> {
  for (const dir of cleanStaleRuns()) console.log(`real-cluster: cleaned up a previous run that did not finish: ${dir}`);
  const binaries = buildUpstreamBinaries();
  const runDir = createRunDirectory();
  killEverythingOnExit(runDir);
  const started = Date.now();
  const controlPlane = await startControlPlane(runDir, binaries, { label: 'cluster', snapshotController: true });
  writeState({ runDir, binaries, server: controlPlane.server, adminKubeconfig: controlPlane.adminKubeconfig, sidecarKubeconfig: controlPlane.sidecarKubeconfig, goSidecarKubeconfig: controlPlane.goSidecarKubeconfig, auditLog: controlPlane.auditLog });
  console.log(`real-cluster: etcd, kube-apiserver and snapshot-controller ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${controlPlane.server} (run folder ${runDir})`);
}
