import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UpstreamBinaries } from './upstream-binaries.js';

/** What jest's global setup hands to the suites (through a file named by an environment variable). */
export interface HarnessState {
  runDir: string;
  binaries: UpstreamBinaries;
  server: string;
  adminKubeconfig: string;
  sidecarKubeconfig: string;
  /** For the Go sidecar: a ServiceAccount bound to the upstream RBAC. */
  goSidecarKubeconfig: string;
  /** The API server's audit log of ServiceAccount requests (see ControlPlane.auditLog). */
  auditLog: string;
}

export const STATE_ENV = 'REAL_CLUSTER_STATE';

export function writeState(state: HarnessState): string {
  const path = join(state.runDir, 'state.json');
  writeFileSync(path, JSON.stringify(state, null, 2));
  process.env[STATE_ENV] = path;
  return path;
}

export function readState(): HarnessState {
  const path = process.env[STATE_ENV];
  if (!path) throw new Error(`${STATE_ENV} is not set: run the real-cluster suites with \`npm run test:real\` (jest.real.config.js starts the cluster)`);
  return JSON.parse(readFileSync(path, 'utf8')) as HarnessState;
}
