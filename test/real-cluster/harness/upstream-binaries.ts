import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../../src/util/package-root.js';

/** Where the upstream programs and the CRDs of the pinned external-snapshotter release are. */
export interface UpstreamBinaries {
  binDir: string;
  crdDir: string;
  /** The external-snapshotter module (its deploy/ manifests) in the Go module cache. */
  snapshotterDir: string;
  key: string;
  /** Where hostpathplugin was built from: `source:<hash>` (HOSTPATH_SOURCE) or `module:<path>@<version>`. */
  hostpathOrigin: string;
  /** The snapshot-controller of the v1alpha1 group snapshot era (external-snapshotter v8.1.0) and its CRDs (client/v8 v8.0.0). */
  v1alpha1: { snapshotController: string; crdDir: string };
}

export type UpstreamProgram = 'kube-apiserver' | 'kubectl' | 'etcd' | 'pki' | 'snapshot-controller' | 'csi-snapshotter' | 'csi-sanity' | 'hostpathplugin';

export function programPath(binaries: UpstreamBinaries, program: UpstreamProgram): string {
  return join(binaries.binDir, program);
}

/** Exit code of the build script when `go` is not installed. */
const GO_MISSING = 3;

/**
 * Builds (or finds in the cache) the upstream programs via scripts/real-cluster/build-upstream.sh.
 * Build progress goes straight to this process's stderr, since a cold build takes minutes. Throws
 * with a clear message when Go is missing: these tests are never skipped.
 */
export function buildUpstreamBinaries(): UpstreamBinaries {
  const script = join(packageRoot(), 'scripts', 'real-cluster', 'build-upstream.sh');
  const result = spawnSync('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.error) throw new Error(`cannot run ${script}: ${result.error.message}`);
  if (result.status === GO_MISSING) {
    throw new Error('real-cluster tests need the Go toolchain to build the upstream components, and `go` is not on PATH (see the message above)');
  }
  if (result.status !== 0) throw new Error(`${script} failed with exit code ${result.status} (its output is above)`);
  const lastLine = result.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(lastLine) as UpstreamBinaries;
}
