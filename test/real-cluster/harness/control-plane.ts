import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeHttp } from '../kube/http.js';
import { writeKubeconfig } from '../kube/kubeconfig.js';
import { kubectl } from './kubectl.js';
import { SECRETS_COMPONENT, V1ALPHA1_COMPONENT, writeOverlay, writeUpstreamRbacOverlay } from './manifests.js';
import { ManagedProcess } from './managed-process.js';
import { freeLocalPort } from './ports.js';
import { programPath, type UpstreamBinaries } from './upstream-binaries.js';
import { pollUntil } from './wait.js';

/** The ServiceAccount of manifests/ (applied to `default`) whose token the sidecar kubeconfig carries. */
export const SIDECAR_SERVICE_ACCOUNT = { namespace: 'default', name: 'csi-snapshotter' };

/** Suffix of the upstream RBAC's names (and ServiceAccount) that the Go sidecar runs under. */
const UPSTREAM_RBAC_SUFFIX = '-upstream';

export interface ControlPlaneOptions {
  /** Names the folder inside the run folder and prefixes the process names. */
  label: string;
  /** Without it the cluster is a bare API server, e.g. for the differential runner. */
  snapshotController: boolean;
  /**
   * `v1alpha1`: the CRDs and snapshot-controller of the era whose clusters serve group snapshots
   * only at groupsnapshot.storage.k8s.io/v1alpha1 (external-snapshotter v8.0-8.1 schema), with group
   * snapshots switched on as that era needed, and the sidecar's RBAC with the optional component
   * for that era. Default: the current release's.
   */
  groupSnapshotEra?: 'current' | 'v1alpha1';
}

export interface ControlPlane {
  server: string;
  adminKubeconfig: string;
  sidecarKubeconfig: string;
  /** A token of a ServiceAccount bound to the Go sidecar's own upstream RBAC (optional Secret rule on). */
  goSidecarKubeconfig: string;
  /**
   * The API server's audit log (JSON lines): every request of a ServiceAccount, at Metadata level
   * (user, verb, resource, namespace, status code), so suites can see what a sidecar asked for.
   */
  auditLog: string;
  processes: ManagedProcess[];
}

/** Generous limits: a loaded 2-core CI machine starts kube-apiserver in 10–40 s. */
const START_TIMEOUT_MS = 180_000;

function generateKeyMaterial(binaries: UpstreamBinaries, pkiDir: string): void {
  const result = spawnSync(programPath(binaries, 'pki'), ['--dir', pkiDir], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`pki failed: ${result.stderr || result.error?.message}`);
}

async function startEtcd(runDir: string, workDir: string, label: string, binaries: UpstreamBinaries): Promise<{ process: ManagedProcess; url: string }> {
  const clientPort = await freeLocalPort();
  const peerPort = await freeLocalPort();
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = ManagedProcess.start(runDir, `${label}-etcd`, programPath(binaries, 'etcd'), [
    '--name=real-cluster',
    `--data-dir=${join(workDir, 'etcd')}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=real-cluster=${peerUrl}`,
    // Throw-away data: skipping fsync keeps a loaded CI disk from slowing every API write.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  await pollUntil(
    async () => {
      etcd.assertRunning();
      const response = await fetch(`${url}/health`);
      const health = (await response.json()) as { health?: string };
      return health.health === 'true' ? true : undefined;
    },
    { description: 'etcd to report healthy', timeoutMs: START_TIMEOUT_MS, diagnostics: () => etcd.logTail() },
  );
  return { process: etcd, url };
}

/** Audit only ServiceAccounts (the sidecars), and only who did what: no bodies. */
const AUDIT_POLICY = [
  'apiVersion: audit.k8s.io/v1',
  'kind: Policy',
  'omitStages: ["RequestReceived"]',
  'rules:',
  '  - level: Metadata',
  '    userGroups: ["system:serviceaccounts"]',
  '  - level: None',
  '',
].join('\n');

async function startApiServer(runDir: string, workDir: string, label: string, binaries: UpstreamBinaries, pkiDir: string, etcdUrl: string): Promise<{ process: ManagedProcess; server: string; auditLog: string }> {
  const port = await freeLocalPort();
  const pki = (name: string): string => join(pkiDir, name);
  const auditPolicy = join(workDir, 'audit-policy.yaml');
  writeFileSync(auditPolicy, AUDIT_POLICY);
  const auditLog = join(workDir, 'audit.log');
  const apiserver = ManagedProcess.start(runDir, `${label}-kube-apiserver`, programPath(binaries, 'kube-apiserver'), [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    // Kubernetes 1.37 refuses a loopback address for the endpoint reconciler; nothing here needs the
    // kubernetes Service's endpoints.
    '--endpoint-reconciler-type=none',
    `--secure-port=${port}`,
    `--cert-dir=${join(workDir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki('apiserver.crt')}`,
    `--tls-private-key-file=${pki('apiserver.key')}`,
    `--client-ca-file=${pki('ca.crt')}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki('sa.pub')}`,
    `--service-account-signing-key-file=${pki('sa.key')}`,
    // A configuration value only: nothing routes to these addresses.
    '--service-cluster-ip-range=10.96.0.0/24',
    '--profiling=false',
    `--audit-policy-file=${auditPolicy}`,
    `--audit-log-path=${auditLog}`,
    '--audit-log-format=json',
    '--audit-log-mode=blocking',
  ]);
  return { process: apiserver, server: `https://127.0.0.1:${port}`, auditLog };
}

async function waitForApiServer(admin: KubeHttp, apiserver: ManagedProcess): Promise<void> {
  await pollUntil(
    async () => {
      apiserver.assertRunning();
      const response = await admin.request('GET', '/readyz');
      return response.status === 200 ? true : undefined;
    },
    { description: 'kube-apiserver /readyz', timeoutMs: START_TIMEOUT_MS, intervalMs: 500, diagnostics: () => apiserver.logTail() },
  );
}

/** The upstream snapshot CRDs, from the external-snapshotter client module in the Go module cache. */
async function installSnapshotCrds(kubectlPath: string, adminKubeconfig: string, crdDir: string): Promise<void> {
  const files = readdirSync(crdDir).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml');
  if (files.length < 6) throw new Error(`expected the six snapshot CRDs in ${crdDir}, found ${files.join(', ')}`);
  // Server-side apply: the CRDs are too large for client-side apply's last-applied annotation.
  await kubectl(kubectlPath, adminKubeconfig, ['apply', '--server-side', ...files.flatMap((name) => ['-f', join(crdDir, name)])]);
  await kubectl(kubectlPath, adminKubeconfig, ['wait', '--for=condition=Established', '--timeout=120s', 'crd', '--all']);
}

async function writeTokenKubeconfig(admin: KubeHttp, server: string, pkiDir: string, path: string, namespace: string, name: string): Promise<void> {
  const tokenRequest = await admin.json<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 24 * 3600 } },
  });
  writeKubeconfig(path, { server, caFile: join(pkiDir, 'ca.crt'), userName: `${namespace}-${name}`, user: { token: tokenRequest.status.token } });
}

/**
 * Applies manifests/ to `default` with the optional Secrets component (the suites' classes name
 * Secrets) and writes a kubeconfig holding a token of its ServiceAccount. The example Deployment is
 * stored too, but nothing runs it: there is no kube-controller-manager. The Go sidecar gets its
 * own upstream RBAC beside it (names suffixed), which grants more than manifests/ does.
 */
async function writeSidecarKubeconfigs(
  kubectlPath: string,
  admin: KubeHttp,
  adminKubeconfig: string,
  server: string,
  pkiDir: string,
  workDir: string,
  snapshotterDir: string,
  components: readonly string[],
): Promise<{ sidecarKubeconfig: string; goSidecarKubeconfig: string }> {
  const { namespace, name } = SIDECAR_SERVICE_ACCOUNT;
  const overlay = join(workDir, 'manifests-overlay');
  writeOverlay(overlay, { namespace, components });
  await kubectl(kubectlPath, adminKubeconfig, ['apply', '-k', overlay]);
  const upstreamOverlay = join(workDir, 'upstream-rbac-overlay');
  writeUpstreamRbacOverlay(upstreamOverlay, snapshotterDir, { namespace, nameSuffix: UPSTREAM_RBAC_SUFFIX });
  await kubectl(kubectlPath, adminKubeconfig, ['apply', '-k', upstreamOverlay]);

  const sidecarKubeconfig = join(workDir, 'sidecar.kubeconfig');
  const goSidecarKubeconfig = join(workDir, 'go-sidecar.kubeconfig');
  await writeTokenKubeconfig(admin, server, pkiDir, sidecarKubeconfig, namespace, name);
  await writeTokenKubeconfig(admin, server, pkiDir, goSidecarKubeconfig, namespace, `${name}${UPSTREAM_RBAC_SUFFIX}`);
  return { sidecarKubeconfig, goSidecarKubeconfig };
}

async function startSnapshotController(runDir: string, label: string, binaries: UpstreamBinaries, adminKubeconfig: string, era: 'current' | 'v1alpha1'): Promise<ManagedProcess> {
  const program = era === 'v1alpha1' ? binaries.v1alpha1.snapshotController : programPath(binaries, 'snapshot-controller');
  const controller = ManagedProcess.start(runDir, `${label}-snapshot-controller`, program, [
    // Group snapshots are on by the controller's default since v8.7.0 (the gate is GA); the
    // v1alpha1 era's controller had them behind a flag, off by default.
    ...(era === 'v1alpha1' ? ['--enable-volume-group-snapshots=true'] : []),
    `--kubeconfig=${adminKubeconfig}`,
    '--retry-interval-start=200ms',
    '--retry-interval-max=5s',
    '--v=4',
  ]);
  await controller.waitForLog(/Starting snapshot controller/, START_TIMEOUT_MS);
  return controller;
}

/**
 * Starts etcd, kube-apiserver (RBAC, generated certificates and service-account keys), installs the
 * snapshot CRDs and the sidecar's RBAC, writes the admin and sidecar kubeconfigs, and (if asked)
 * starts the snapshot-controller. Files go to `<runDir>/<label>/`. On failure, whatever was started is stopped before the error propagates.
 */
export async function startControlPlane(runDir: string, binaries: UpstreamBinaries, options: ControlPlaneOptions): Promise<ControlPlane> {
  const { label } = options;
  const workDir = join(runDir, label);
  mkdirSync(workDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  try {
    const pkiDir = join(workDir, 'pki');
    generateKeyMaterial(binaries, pkiDir);
    const etcd = await startEtcd(runDir, workDir, label, binaries);
    processes.push(etcd.process);
    const apiserver = await startApiServer(runDir, workDir, label, binaries, pkiDir, etcd.url);
    processes.push(apiserver.process);

    const adminKubeconfig = join(workDir, 'admin.kubeconfig');
    writeKubeconfig(adminKubeconfig, {
      server: apiserver.server,
      caFile: join(pkiDir, 'ca.crt'),
      userName: 'admin',
      user: { clientCertificateFile: join(pkiDir, 'admin.crt'), clientKeyFile: join(pkiDir, 'admin.key') },
    });
    const admin = await KubeHttp.fromKubeconfig(adminKubeconfig);
    await waitForApiServer(admin, apiserver.process);

    const kubectlPath = programPath(binaries, 'kubectl');
    const era = options.groupSnapshotEra ?? 'current';
    await installSnapshotCrds(kubectlPath, adminKubeconfig, era === 'v1alpha1' ? binaries.v1alpha1.crdDir : binaries.crdDir);
    const components = era === 'v1alpha1' ? [SECRETS_COMPONENT, V1ALPHA1_COMPONENT] : [SECRETS_COMPONENT];
    const kubeconfigs = await writeSidecarKubeconfigs(kubectlPath, admin, adminKubeconfig, apiserver.server, pkiDir, workDir, binaries.snapshotterDir, components);

    if (options.snapshotController) processes.push(await startSnapshotController(runDir, label, binaries, adminKubeconfig, era));
    return { server: apiserver.server, adminKubeconfig, ...kubeconfigs, auditLog: apiserver.auditLog, processes };
  } catch (error) {
    await Promise.all(processes.map((p) => p.stop()));
    throw error;
  }
}
