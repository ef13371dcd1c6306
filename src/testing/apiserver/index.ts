import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessPolicy, type DeniedAccess } from './access.js';
import { RequestLog } from './accounting.js';
import { ALL_GROUP_SNAPSHOT_VERSIONS, buildResources, KNOWN_GROUP_SNAPSHOT_VERSIONS, ResourceRegistry, SNAPSHOT_GROUP } from './resources.js';
import type { GroupVersion } from './crd-schemas.js';
import { DEFAULT_VERSION, type VersionInfo } from './discovery.js';
import { Faults } from './faults.js';
import { createServingCertificate } from './certificate.js';
import { writeKubeconfig } from './kubeconfig.js';
import { RestOperations, type Scope } from './rest.js';
import { ApiHttpServer } from './server.js';
import { Storage } from './storage.js';
import { WatchHub } from './watch.js';
import { DEFAULT_WATCH_CACHE, type WatchCacheOptions } from './watch-cache.js';

export type { RequestRecord, RequestFilter } from './accounting.js';
export type { FailureSpec, LatencySpec, FaultMatch, WatchLagSpec } from './faults.js';
export { RequestLog } from './accounting.js';
export type { DeniedAccess } from './access.js';
export { Faults, validateFailureSpec } from './faults.js';
export { startTestApiServerProcess, testApiServerBinPath, TestApiServerControl, TestApiServerProcess } from './launcher.js';
export type { TestApiServerProcessOptions, ApiServerExit } from './launcher.js';
export type { GroupVersion } from './crd-schemas.js';
export { DEFAULT_WATCH_CACHE, type WatchCacheOptions } from './watch-cache.js';

export interface TestApiServerOptions {
  /** TCP port on 127.0.0.1 (0 = any free port). */
  port?: number;
  /** Where to write the kubeconfig; a temporary file (removed on stop) when unset. */
  kubeconfigPath?: string;
  /**
   * Served groupsnapshot.storage.k8s.io versions (default v1beta1, v1beta2, v1). `v1alpha1` serves
   * the v1alpha1 schema of external-snapshotter v8.0–v8.1, `v1alpha1-v7` the one of v7.0; either
   * one alone, as those CRDs had a single version.
   */
  groupSnapshotVersions?: GroupVersion[];
  /** Bearer token clients must send (random by default). */
  token?: string;
  /** Changes kept per resource for lists at an older resourceVersion (and their continue tokens). */
  historyLimit?: number;
  /**
   * The watch cache window watches resume from, per resource; older resourceVersions answer 410
   * Expired. Default: the real kube-apiserver's (DEFAULT_WATCH_CACHE). A small window (say
   * `{ lowerBoundEvents: 5, eventFreshMs: 0 }`) makes informers meet 410 after a short outage.
   */
  watchCache?: Partial<WatchCacheOptions>;
  /** Interval of BOOKMARK events on watches that allow them (default 60 s, like the real server). */
  bookmarkIntervalMs?: number;
  /** Duration of a watch without timeoutSeconds (default 1800 s). */
  defaultWatchTimeoutSeconds?: number;
  /** Seed of the generator deciding fractional faults. */
  faultSeed?: number;
  /** What `/version` reports. */
  version?: VersionInfo;
  /** Namespaces present at start (default, kube-system, kube-public, kube-node-lease). */
  namespaces?: string[];
  /** Keep the object each successful create/update/patch stored in `requests` (for tests of write order). */
  recordObjects?: boolean;
  /** Permissions its user lacks (RBAC left out on purpose); everything else is allowed. */
  deny?: DeniedAccess[];
  /** Serve the snapshot.storage.k8s.io CRDs (default true; false is a cluster without them installed). */
  snapshotApi?: boolean;
}

export interface TestApiServer {
  /** Base URL, e.g. https://127.0.0.1:41234 */
  url: string;
  /** PEM of the self-signed serving certificate (also in the kubeconfig as its CA). */
  caPem: string;
  kubeconfigPath: string;
  /** The bearer token accepted now. */
  readonly token: string;
  /** Accepts `token` from now on instead (the kubeconfig is not rewritten): a rotated service-account token. */
  setToken(token: string): void;
  /** Fault injection: `faults.fail({verb, resource, code, times})`, `faults.addLatency({ms})`. */
  faults: Faults;
  /** Request accounting: `requests.count({verb: 'patch', resource: 'volumesnapshotcontents'})`. */
  requests: RequestLog;
  /** The cluster-wide resourceVersion now. */
  resourceVersion(): number;
  /** Drops all history up to now: resuming a watch (or listing) from an older resourceVersion answers 410 Expired. */
  compact(): number;
  /** Ends every open watch (clients re-establish them). Returns how many were closed. */
  closeWatches(): number;
  /** Number of open watches. */
  openWatches(): number;
  /** Number of stored objects. */
  objectCount(): number;
  stop(): Promise<void>;
}

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/**
 * Parses `v1beta1,v1beta2,v1` (the --group-snapshot-versions flag), `v1alpha1` or `v1alpha1-v7`; an
 * empty string serves none.
 */
export function parseGroupSnapshotVersions(text: string): GroupVersion[] {
  const versions = text
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  for (const v of versions) {
    if (!(KNOWN_GROUP_SNAPSHOT_VERSIONS as string[]).includes(v)) {
      throw new Error(`unknown group snapshot version "${v}": use a comma-separated subset of ${ALL_GROUP_SNAPSHOT_VERSIONS.join(',')}, or v1alpha1 (v8.0-v8.1 schema) or v1alpha1-v7 (v7.0 schema) alone`);
    }
  }
  checkGroupSnapshotVersions(versions as GroupVersion[]);
  return versions as GroupVersion[];
}

/** The v1alpha1 CRDs of v7.0–v8.1 had that one version: no upstream installation served it beside another. */
function checkGroupSnapshotVersions(versions: GroupVersion[]): void {
  const alpha = versions.filter((v) => v.startsWith('v1alpha1'));
  if (alpha.length > 0 && versions.length > 1) {
    throw new Error(`group snapshot version ${alpha[0]} is served alone (its CRDs had one version), not with ${versions.filter((v) => v !== alpha[0]).join(',')}`);
  }
}

/** Starts the Kubernetes API test server on 127.0.0.1 and writes a kubeconfig for it. */
export async function startTestApiServer(options: TestApiServerOptions = {}): Promise<TestApiServer> {
  const groupVersions = options.groupSnapshotVersions ?? ALL_GROUP_SNAPSHOT_VERSIONS;
  checkGroupSnapshotVersions(groupVersions);
  const resources = buildResources(groupVersions);
  const registry = new ResourceRegistry(options.snapshotApi === false ? resources.filter((r) => r.group !== SNAPSHOT_GROUP) : resources);
  const storage = new Storage(options.historyLimit ?? 10_000, undefined, { ...DEFAULT_WATCH_CACHE, ...options.watchCache });
  const access = new AccessPolicy(options.deny);
  const rest = new RestOperations(storage, registry, access);
  const hub = new WatchHub();
  const faults = new Faults(options.faultSeed);
  const requests = new RequestLog();
  const token = options.token ?? randomBytes(24).toString('hex');

  const nsDef = registry.find('', 'v1', 'namespaces');
  for (const name of options.namespaces ?? DEFAULT_NAMESPACES) {
    if (!nsDef) break;
    const scope: Scope = { def: nsDef, version: 'v1', namespace: '', name: '', subresource: '', query: new URLSearchParams() };
    rest.create(scope, { metadata: { name } });
  }

  // Terminating namespaces are finished in the background, as the namespace controller does.
  let finalizer: NodeJS.Timeout | undefined;
  const afterWrite = () => {
    if (finalizer || !rest.hasTerminatingNamespaces()) return;
    finalizer = setInterval(() => {
      rest.finalizeNamespaces();
      if (!rest.hasTerminatingNamespaces()) {
        clearInterval(finalizer);
        finalizer = undefined;
      }
    }, 50);
  };

  const certificate = createServingCertificate();
  const context = {
    storage,
    registry,
    rest,
    hub,
    faults,
    requests,
    token,
    version: options.version ?? DEFAULT_VERSION,
    watch: { bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000, defaultTimeoutSeconds: options.defaultWatchTimeoutSeconds ?? 1800 },
    afterWrite,
    recordObjects: options.recordObjects ?? false,
    access,
  };
  const http = new ApiHttpServer(context, certificate);
  const address = await http.listen(options.port ?? 0, '127.0.0.1');
  const url = `https://127.0.0.1:${address.port}`;
  let tempDir: string | undefined;
  let kubeconfigPath = options.kubeconfigPath;
  if (!kubeconfigPath) {
    tempDir = mkdtempSync(join(tmpdir(), 'kube-test-apiserver-'));
    kubeconfigPath = join(tempDir, 'kubeconfig');
  }
  writeKubeconfig(kubeconfigPath, url, token, certificate.certPem);

  let stopped = false;
  return {
    url,
    caPem: certificate.certPem,
    kubeconfigPath,
    get token() {
      return context.token;
    },
    setToken(next: string) {
      context.token = next;
    },
    faults,
    requests,
    resourceVersion: () => storage.resourceVersion,
    compact: () => storage.compact(),
    closeWatches: () => hub.closeAll(),
    openWatches: () => hub.count,
    objectCount: () => storage.objectCount(),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (finalizer) clearInterval(finalizer);
      await http.close();
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    },
  };
}
