import { existsSync, mkdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../../src/util/package-root.js';
import { KubeHttp } from '../kube/http.js';
import { createBoundVolume, type BoundVolume } from './bound-volumes.js';
import { CsiTestClient } from './csi-client.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { ManagedProcess, type StartOptions } from './managed-process.js';
import { readState, type HarnessState } from './state.js';
import { programPath } from './upstream-binaries.js';

/**
 * The CSI drivers a suite can run: this project's csi-sample-driver and the upstream reference
 * driver hostpathplugin (csi-driver-host-path). Flows that must hold for any driver run over both.
 */
export type DriverKind = 'sample' | 'hostpath';
export const DRIVER_KINDS: readonly DriverKind[] = ['sample', 'hostpath'];

/** A CSI driver the harness runs on a unix socket. */
export interface DriverHandle {
  kind: DriverKind;
  /** Short label, unique within the run; also names the socket and the log. */
  label: string;
  socketPath: string;
  /** Name from GetPluginInfo, what PVs, classes and contents refer to. */
  driverName: string;
  process: ManagedProcess;
  csi: CsiTestClient;
  /** Writes a file into a volume, as a pod using the volume would. */
  writeVolumeFile(volumeId: string, path: string, content: string): Promise<void>;
  /** Reads a file of a volume (e.g. one restored from a snapshot). */
  readVolumeFile(volumeId: string, path: string): Promise<string>;
}

export interface DriverOptions {
  /** The name the driver reports in GetPluginInfo; each driver's default otherwise. */
  driverName?: string;
  /** More flags for the driver program. */
  args?: readonly string[];
}

export interface SidecarOptions {
  /** Defaults to a kubeconfig limited by RBAC: manifests/ for this sidecar, upstream's for the Go one. */
  kubeconfig?: string;
  /** Extra flags after --kubeconfig and --csi-address. */
  args?: readonly string[];
  /** The process environment (default: the harness's own). */
  env?: NodeJS.ProcessEnv;
}

const READY_TIMEOUT_MS = 120_000;
let uniqueCounter = 0;

/**
 * What a real-cluster suite works with: the cluster that jest's global setup started (admin and
 * sidecar-RBAC kubeconfigs, the upstream binaries) plus helpers to start drivers and sidecars and
 * to prepare bound PVCs. Everything a suite starts through it is stopped by `stop()`; a process a
 * suite forgets is still ended by the global teardown.
 */
export class RealCluster {
  private readonly started: ManagedProcess[] = [];
  private readonly csiClients: CsiTestClient[] = [];

  private constructor(
    readonly state: HarnessState,
    /** Client with cluster-admin rights (system:masters). */
    readonly admin: KubeHttp,
  ) {}

  /** Connects to the run's cluster; call in a suite's beforeAll. */
  static async connect(): Promise<RealCluster> {
    const state = readState();
    return new RealCluster(state, await KubeHttp.fromKubeconfig(state.adminKubeconfig));
  }

  get adminKubeconfig(): string {
    return this.state.adminKubeconfig;
  }

  /** Token of the ServiceAccount `default/csi-snapshotter`, bound only to the RBAC of manifests/. */
  get sidecarKubeconfig(): string {
    return this.state.sidecarKubeconfig;
  }

  /** Path of an upstream program: kubectl, csi-snapshotter, csi-sanity, ... */
  program(name: Parameters<typeof programPath>[1]): string {
    return programPath(this.state.binaries, name);
  }

  /** A name unique within the run (suites share one API server). */
  uniqueName(prefix: string): string {
    uniqueCounter += 1;
    return `${prefix}-${process.pid}-${uniqueCounter}`;
  }

  /** A folder inside the run folder, for sockets and data of one component. */
  scratchDir(name: string): string {
    const dir = join(this.state.runDir, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  async createNamespace(prefix: string): Promise<string> {
    const name = this.uniqueName(prefix);
    await this.admin.json('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
    return name;
  }

  /** Starts any program as part of this suite (its own process group, log in the run folder). */
  startProcess(label: string, command: string, args: readonly string[], options: StartOptions = {}): ManagedProcess {
    const child = ManagedProcess.start(this.state.runDir, this.uniqueName(label), command, args, options);
    this.started.push(child);
    return child;
  }

  /**
   * Starts a second, bare cluster (etcd, kube-apiserver, CRDs, RBAC; no snapshot-controller) for
   * tests that need an API server nothing else writes to, such as the differential runner.
   */
  async startBareControlPlane(label: string): Promise<ControlPlane> {
    const plane = await startControlPlane(this.state.runDir, this.state.binaries, { label: this.uniqueName(label), snapshotController: false });
    this.started.push(...plane.processes);
    return plane;
  }

  /**
   * Starts a second cluster of the era that served group snapshots only at
   * groupsnapshot.storage.k8s.io/v1alpha1: the CRDs of external-snapshotter client/v8 v8.0.0, the
   * snapshot-controller of v8.1.0 with group snapshots switched on, and the sidecar's RBAC with the
   * optional component for that era (its kubeconfig is the plane's `sidecarKubeconfig`).
   */
  async startV1alpha1ControlPlane(label: string): Promise<ControlPlane> {
    const plane = await startControlPlane(this.state.runDir, this.state.binaries, { label: this.uniqueName(label), snapshotController: true, groupSnapshotEra: 'v1alpha1' });
    this.started.push(...plane.processes);
    return plane;
  }

  /** Starts a driver of either kind; see startSampleDriver and startHostpathDriver. */
  startDriver(kind: DriverKind, label: string, options: DriverOptions = {}): Promise<DriverHandle> {
    return kind === 'sample' ? this.startSampleDriver(label, options) : this.startHostpathDriver(label, options);
  }

  /** Starts this project's csi-sample-driver (built into dist/) on a fresh socket and data folder. */
  async startSampleDriver(label = 'sample-driver', options: DriverOptions = {}): Promise<DriverHandle> {
    const script = join(packageRoot(), 'dist', 'src', 'testing', 'bin', 'csi-sample-driver.js');
    if (!existsSync(script)) throw new Error(`${script} does not exist: run \`npm run build\` first`);
    const dir = this.scratchDir(this.uniqueName(label));
    const socketPath = join(dir, 'csi.sock');
    const nameArgs = options.driverName ? ['--driver-name', options.driverName] : [];
    const driver = this.startProcess(label, process.execPath, [script, '--endpoint', `unix://${socketPath}`, '--data-dir', join(dir, 'data'), ...nameArgs, ...(options.args ?? [])]);
    const ready = await driver.waitForLog(/^ready endpoint=\S+ control=(\S+)$/m, READY_TIMEOUT_MS);
    // Volume files go through the driver's loopback control endpoint, which takes the same lock as
    // a snapshot cut.
    const control = ready[1] as string;
    const files = (volumeId: string, path: string): string => `${control}/volumes/${encodeURIComponent(volumeId)}/files/${path}`;
    return this.driverHandle('sample', label, socketPath, driver, {
      async writeVolumeFile(volumeId, path, content) {
        const response = await fetch(files(volumeId, path), { method: 'PUT', body: content });
        if (!response.ok) throw new Error(`writing ${path} of volume ${volumeId}: HTTP ${response.status} ${await response.text()}`);
      },
      async readVolumeFile(volumeId, path) {
        const response = await fetch(files(volumeId, path));
        if (!response.ok) throw new Error(`reading ${path} of volume ${volumeId}: HTTP ${response.status} ${await response.text()}`);
        return response.text();
      },
    });
  }

  /**
   * Starts the upstream hostpathplugin (csi-driver-host-path) on a fresh socket and state folder.
   * Only mount (directory) volumes are used: they and their snapshots (`tar czf` of the folder) need
   * nothing but a writable state folder and `tar`/`gzip` on PATH; block volumes would need loop
   * devices. A volume's files are the folder `<statedir>/<volume id>`.
   */
  async startHostpathDriver(label = 'hostpath-driver', options: DriverOptions = {}): Promise<DriverHandle> {
    const dir = this.scratchDir(this.uniqueName(label));
    const socketPath = join(dir, 'csi.sock');
    const stateDir = join(dir, 'state');
    const driver = this.startProcess(label, this.program('hostpathplugin'), [
      `--endpoint=unix://${socketPath}`,
      `--drivername=${options.driverName ?? 'hostpath.csi.k8s.io'}`,
      '--nodeid=real-cluster-node',
      `--statedir=${stateDir}`,
      '--v=5',
      ...(options.args ?? []),
    ]);
    await driver.waitForLog(/Listening for connections on address/, READY_TIMEOUT_MS);
    const file = (volumeId: string, path: string): string => join(stateDir, volumeId, path);
    return this.driverHandle('hostpath', label, socketPath, driver, {
      async writeVolumeFile(volumeId, path, content) {
        await mkdir(dirname(file(volumeId, path)), { recursive: true });
        await writeFile(file(volumeId, path), content);
      },
      readVolumeFile: (volumeId, path) => readFile(file(volumeId, path), 'utf8'),
    });
  }

  private async driverHandle(
    kind: DriverKind,
    label: string,
    socketPath: string,
    driver: ManagedProcess,
    files: Pick<DriverHandle, 'writeVolumeFile' | 'readVolumeFile'>,
  ): Promise<DriverHandle> {
    const csi = new CsiTestClient(socketPath);
    this.csiClients.push(csi);
    return { kind, label, socketPath, driverName: await csi.driverName(), process: driver, csi, ...files };
  }

  /**
   * Starts the upstream Go csi-snapshotter (external-snapshotter v8.7) against a driver and waits
   * until its controller runs. Group snapshots are on by its default (the CSIVolumeGroupSnapshot
   * gate is GA and on since v8.7.0), as this sidecar's are. By default it uses a kubeconfig limited
   * by the upstream RBAC (with its optional Secret rule), like in a cluster installed from upstream.
   */
  async startGoSidecar(driver: DriverHandle, options: SidecarOptions = {}): Promise<ManagedProcess> {
    const sidecar = this.startSidecarCommand('go-csi-snapshotter', this.program('csi-snapshotter'), driver, { ...options, kubeconfig: options.kubeconfig ?? this.state.goSidecarKubeconfig });
    await sidecar.waitForLog(/Starting CSI snapshotter/, READY_TIMEOUT_MS);
    return sidecar;
  }

  /**
   * Starts any sidecar command (e.g. this project's csi-snapshotter) with the same two flags the
   * Go sidecar gets, `--kubeconfig` and `--csi-address`, followed by `options.args`. Does not wait.
   */
  startSidecarCommand(label: string, command: string, driver: DriverHandle, options: SidecarOptions = {}, prefixArgs: readonly string[] = []): ManagedProcess {
    return this.startProcess(label, command, [
      ...prefixArgs,
      `--kubeconfig=${options.kubeconfig ?? this.sidecarKubeconfig}`,
      `--csi-address=unix://${driver.socketPath}`,
      ...(options.args ?? ['--v=5']),
    ], options.env ? { env: options.env } : {});
  }

  /**
   * Creates a volume on `driver` (CSI CreateVolume) and a PV and PVC for it, bound the way the PV
   * controller binds them (see bound-volumes.ts).
   */
  async createBoundPvc(driver: DriverHandle, namespace: string, name: string, options: { labels?: Record<string, string>; sizeBytes?: number } = {}): Promise<BoundVolume> {
    const sizeBytes = options.sizeBytes ?? 1024 * 1024;
    const volumeHandle = await driver.csi.createVolume(`${namespace}-${name}`, sizeBytes);
    return createBoundVolume(this.admin, { namespace, name, driverName: driver.driverName, volumeHandle, sizeBytes, labels: options.labels });
  }

  /** Stops everything this suite started, newest first. */
  async stop(): Promise<void> {
    for (const client of this.csiClients.splice(0)) client.close();
    for (const child of this.started.splice(0).reverse()) await child.stop();
  }
}
