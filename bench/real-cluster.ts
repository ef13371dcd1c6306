/**
 * The real-cluster harness as the benchmarks use it: a bare control plane of its own (etcd and
 * kube-apiserver with the snapshot CRDs and both sidecars' RBAC, no snapshot-controller, since the
 * benchmarks create the dynamic contents themselves), hostpathplugin as the driver, and either
 * sidecar started with the same flags. Upstream binaries come from the real-cluster build's cache
 * (scripts/real-cluster/build-upstream.sh finds them there and builds nothing when they are
 * current; hostpathplugin from HOSTPATH_SOURCE, set as .ci/run sets it when it is unset).
 * Everything runs in a run folder of the harness's own, and every process it starts is ended on
 * exit, also on Ctrl-C.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadKubeConfig } from '../src/kube/config.js';
import { RestClient } from '../src/kube/rest.js';
import { NODE_FLAGS } from '../src/node-flags.js';
import { packageRoot, sidecarEntry } from '../src/util/package-root.js';
import { startControlPlane, type ControlPlane } from '../test/real-cluster/harness/control-plane.js';
import { RealCluster, type DriverHandle } from '../test/real-cluster/harness/harness.js';
import type { ManagedProcess } from '../test/real-cluster/harness/managed-process.js';
import { killRecordedGroupsSync } from '../test/real-cluster/harness/process-groups.js';
import { createRunDirectory } from '../test/real-cluster/harness/run-directory.js';
import { writeState } from '../test/real-cluster/harness/state.js';
import { buildUpstreamBinaries } from '../test/real-cluster/harness/upstream-binaries.js';
import { AuditLog } from './audit.js';
import type { SidecarKind } from './sidecars.js';

/** The ServiceAccounts whose tokens the two sidecars' kubeconfigs carry (control-plane.ts). */
export const SIDECAR_USER: Record<SidecarKind, string> = {
  ts: 'system:serviceaccount:default:csi-snapshotter',
  go: 'system:serviceaccount:default:csi-snapshotter-upstream',
};

export class BenchCluster {
  readonly audit: AuditLog;
  private readonly killOnExit = (): void => killRecordedGroupsSync(this.runDir);
  private readonly interrupted = (): void => {
    this.killOnExit();
    rmSync(this.runDir, { recursive: true, force: true });
    process.exit(130);
  };

  private constructor(
    readonly runDir: string,
    readonly plane: ControlPlane,
    readonly cluster: RealCluster,
    readonly driver: DriverHandle,
    /** Cluster-admin client (not audited: only ServiceAccounts are). */
    readonly admin: RestClient,
    readonly goBinary: string,
  ) {
    this.audit = new AuditLog(plane.auditLog);
  }

  static async start(): Promise<BenchCluster> {
    const sibling = join(packageRoot(), '..', 'shared', 'third-party', 'csi-driver-host-path');
    if (!process.env.HOSTPATH_SOURCE && existsSync(sibling)) process.env.HOSTPATH_SOURCE = sibling;
    const binaries = buildUpstreamBinaries();
    const runDir = createRunDirectory();
    const killOnExit = (): void => killRecordedGroupsSync(runDir);
    process.once('exit', killOnExit);
    try {
      const plane = await startControlPlane(runDir, binaries, { label: 'bench', snapshotController: false });
      writeState({ runDir, binaries, server: plane.server, adminKubeconfig: plane.adminKubeconfig, sidecarKubeconfig: plane.sidecarKubeconfig, goSidecarKubeconfig: plane.goSidecarKubeconfig, auditLog: plane.auditLog });
      const cluster = await RealCluster.connect();
      // --v=2, not the harness's 5: hostpathplugin logs every call at 5, which would cost CPU here.
      const driver = await cluster.startHostpathDriver('hostpath', { args: ['--v=2'] });
      const admin = new RestClient({ kubeConfig: loadKubeConfig(plane.adminKubeconfig) });
      const bench = new BenchCluster(runDir, plane, cluster, driver, admin, cluster.program('csi-snapshotter'));
      process.off('exit', killOnExit);
      process.once('exit', bench.killOnExit);
      process.once('SIGINT', bench.interrupted);
      process.once('SIGTERM', bench.interrupted);
      return bench;
    } catch (err) {
      killOnExit();
      rmSync(runDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The kube-apiserver's pid, for its CPU time. */
  get apiserverPid(): number {
    const apiserver = this.plane.processes.find((p) => p.name.endsWith('kube-apiserver'));
    if (!apiserver) throw new Error('no kube-apiserver among the control plane processes');
    return apiserver.pid;
  }

  /** Where this sidecar writes a CPU profile of each run (`--cpu-prof-dir` of real-throughput), if anywhere. */
  cpuProfileDir: string | undefined;

  /** Starts a sidecar against hostpathplugin with `flags` (after --kubeconfig and --csi-address); does not wait. */
  startSidecar(kind: SidecarKind, label: string, flags: readonly string[]): ManagedProcess {
    const kubeconfig = kind === 'ts' ? this.plane.sidecarKubeconfig : this.plane.goSidecarKubeconfig;
    const profile = this.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${this.cpuProfileDir}`] : [];
    return kind === 'ts'
      ? this.cluster.startSidecarCommand(label, process.execPath, this.driver, { kubeconfig, args: flags }, [...NODE_FLAGS, ...profile, sidecarEntry()])
      : this.cluster.startSidecarCommand(label, this.goBinary, this.driver, { kubeconfig, args: flags });
  }

  async dispose(): Promise<void> {
    process.off('SIGINT', this.interrupted);
    process.off('SIGTERM', this.interrupted);
    this.admin.close();
    await this.cluster.stop();
    // kube-apiserver before etcd, one at a time; the folder goes once nothing writes to it.
    for (const p of [...this.plane.processes].reverse()) await p.stop();
    this.killOnExit();
    process.off('exit', this.killOnExit);
    rmSync(this.runDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}
