import { statSync, type Stats } from 'node:fs';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ClusterConfig } from '../kube/cluster-config.js';
import type { SidecarConfig } from '../config/config.js';
import { CsiConnection, csiTarget } from '../csi/connection.js';
import { controllerCapabilities, deadlineIn, getDriverName, groupControllerCapabilities } from '../csi/driver-info.js';
import { errorText, isGrpcError } from '../csi/errors.js';
import { leaseNamespace } from '../kube/leader.js';
import { resourceText, SIDECAR_PERMISSIONS, type Permission } from '../kube/permissions.js';
import {
  collectionPath,
  GROUP_SNAPSHOT_GROUP,
  objectPath,
  SECRETS,
  SNAPSHOT_GROUP,
  VOLUME_SNAPSHOT_CLASSES,
  VOLUME_SNAPSHOT_CONTENTS,
  volumeGroupSnapshotClasses,
  volumeGroupSnapshotContents,
  type KubeList,
  type KubeObject,
} from '../kube/resources.js';
import { ApiError, isNotFound, RestClient } from '../kube/rest.js';
import type { Logger } from '../observe/logger.js';
import { ALPHA_FLAVOURS, alphaFlavour, servedGroupSnapshotVersions } from '../sidecar/group/discovery.js';
import { preferredServedVersion } from '../sidecar/group/versions.js';
import { RESERVED_PREFIX } from '../sidecar/keys.js';
import { secretRefFromParameters, type SecretRef } from '../sidecar/secrets.js';
import { humanDuration, type Finding } from './findings.js';

export interface DoctorOptions {
  config: SidecarConfig;
  /** undefined: no --kubeconfig and not in a pod, which is itself reported. */
  kubeConfig: ClusterConfig | undefined;
  /** A content not ready, or not deleted, for longer than this is reported as stuck. */
  stuckAfterMs: number;
  log: Logger;
  now?: () => Date;
}

/** What the driver checks learned; the cluster checks use it to pick this driver's objects. */
interface DriverFacts {
  name: string;
  groupSnapshots: boolean;
}

/** Runs every check and returns the findings in the order they were made. */
export async function runDoctor(options: DoctorOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  const driver = await checkDriver(options, findings);
  if (!options.kubeConfig) {
    findings.push({
      status: 'problem',
      subject: 'Kubernetes API',
      detail: 'no configuration: no --kubeconfig was given and this is not a pod (KUBERNETES_SERVICE_HOST is unset)',
      fix: 'run doctor in the sidecar container (kubectl exec ... -- csi-snapshotter doctor <its flags>) or pass --kubeconfig',
    });
    return findings;
  }
  await checkCluster(new RestClient({ kubeConfig: options.kubeConfig, userAgent: 'csi-snapshotter-doctor' }), driver, options, findings);
  return findings;
}

function socketKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFile()) return 'a regular file';
  if (stats.isFIFO()) return 'a named pipe';
  return 'not a socket';
}

async function checkDriver(options: DoctorOptions, findings: Finding[]): Promise<DriverFacts | undefined> {
  const { config, log } = options;
  const subject = 'CSI socket';
  let target: string;
  try {
    target = csiTarget(config.csiAddress);
  } catch (err) {
    findings.push({ status: 'problem', subject, detail: errorText(err), fix: 'pass --csi-address=/path/to/csi.sock, the absolute path where the driver socket is mounted in this container' });
    return undefined;
  }
  const path = target.slice('unix://'.length);
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch {
    findings.push({
      status: 'problem',
      subject,
      detail: `nothing exists at ${path}`,
      fix: 'start the driver, and mount the directory its socket is in (usually an emptyDir shared by both containers) at this path',
    });
    return undefined;
  }
  if (!stats.isSocket()) {
    findings.push({ status: 'problem', subject, detail: `${path} exists but is ${socketKind(stats)}, not a socket`, fix: 'point --csi-address at the unix socket the driver listens on' });
    return undefined;
  }
  let conn: CsiConnection;
  try {
    conn = await CsiConnection.connect({ address: config.csiAddress, log, connectTimeoutMs: Math.min(config.timeoutMs, 10_000) });
  } catch {
    findings.push({
      status: 'problem',
      subject,
      detail: `${path} is a socket but nothing accepts connections on it`,
      fix: 'check that the driver container is running; a socket file stays on disk after its driver exits',
    });
    return undefined;
  }
  findings.push({ status: 'ok', subject, detail: `${path} is a socket that accepts connections` });
  try {
    return await checkDriverCalls(conn, options, findings);
  } finally {
    conn.close();
  }
}

async function checkDriverCalls(conn: CsiConnection, options: DoctorOptions, findings: Finding[]): Promise<DriverFacts | undefined> {
  const { config } = options;
  let name: string;
  try {
    name = await getDriverName(conn, config.timeoutMs);
    findings.push({ status: 'ok', subject: 'CSI driver', detail: `GetPluginInfo names it ${name}` });
  } catch (err) {
    findings.push({ status: 'problem', subject: 'CSI driver', detail: `GetPluginInfo failed: ${errorText(err)}`, fix: 'look at the driver container\'s log' });
    return undefined;
  }
  try {
    const reply = await conn.call('/csi.v1.Identity/Probe', {}, deadlineIn(config.timeoutMs));
    if (reply.ready && !reply.ready.value) {
      findings.push({ status: 'problem', subject: 'Probe', detail: 'the driver says it is not ready', fix: 'wait for the driver to finish starting, or look at its log for what it waits on' });
    } else {
      findings.push({ status: 'ok', subject: 'Probe', detail: 'the driver is ready' });
    }
  } catch (err) {
    findings.push({ status: 'problem', subject: 'Probe', detail: `Probe failed: ${errorText(err)}`, fix: 'the sidecar does not start while Probe fails; look at the driver container\'s log' });
  }
  try {
    const caps = await controllerCapabilities(conn, config.timeoutMs);
    if (!caps.has('CREATE_DELETE_SNAPSHOT')) {
      findings.push({
        status: 'problem',
        subject: 'capabilities',
        detail: `${name} does not advertise CREATE_DELETE_SNAPSHOT (it advertises: ${[...caps].sort().join(', ') || 'nothing'})`,
        fix: 'the sidecar exits at start-up without it; use a driver version with snapshot support, or do not deploy the snapshotter for this driver',
      });
    } else {
      findings.push({ status: 'ok', subject: 'capabilities', detail: `${name} advertises ${[...caps].sort().join(', ')}` });
      if (!caps.has('LIST_SNAPSHOTS')) {
        findings.push({ status: 'note', subject: 'capabilities', detail: 'no LIST_SNAPSHOTS: the readiness of a snapshot is read by calling CreateSnapshot again, and pre-provisioned contents cannot be checked' });
      }
    }
  } catch (err) {
    findings.push({ status: 'problem', subject: 'capabilities', detail: `ControllerGetCapabilities failed: ${errorText(err)}`, fix: 'look at the driver container\'s log' });
  }
  let groupSnapshots = false;
  if (config.featureGates.CSIVolumeGroupSnapshot) {
    try {
      const group = await groupControllerCapabilities(conn, config.timeoutMs);
      groupSnapshots = group.has('CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT');
      findings.push(
        groupSnapshots
          ? { status: 'ok', subject: 'group capabilities', detail: `${name} advertises CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT` }
          : { status: 'note', subject: 'group capabilities', detail: `${name} does not advertise CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT: group snapshots are off, single snapshots are served` },
      );
    } catch (err) {
      if (isGrpcError(err) && err.code === GrpcStatus.UNIMPLEMENTED) {
        findings.push({ status: 'note', subject: 'group capabilities', detail: `${name} has no GroupController service: group snapshots are off, single snapshots are served` });
      } else {
        findings.push({ status: 'problem', subject: 'group capabilities', detail: `GroupControllerGetCapabilities failed: ${errorText(err)}`, fix: 'look at the driver container\'s log' });
      }
    }
  }
  return { name, groupSnapshots };
}

async function checkCluster(rest: RestClient, driver: DriverFacts | undefined, options: DoctorOptions, findings: Finding[]): Promise<void> {
  const { config } = options;
  let snapshotApi = false;
  try {
    const group = await rest.request<{ versions?: Array<{ version?: string }> }>({ method: 'GET', path: `/apis/${SNAPSHOT_GROUP}` });
    const versions = (group.versions ?? []).map((v) => v.version);
    snapshotApi = versions.includes('v1');
    findings.push(
      snapshotApi
        ? { status: 'ok', subject: 'snapshot API', detail: `${SNAPSHOT_GROUP}/v1 is served` }
        : { status: 'problem', subject: 'snapshot API', detail: `${SNAPSHOT_GROUP} serves ${versions.join(', ')} but not v1`, fix: 'install the v1 VolumeSnapshot CRDs of a current external-snapshotter release' },
    );
  } catch (err) {
    if (err instanceof ApiError && err.statusCode === 401) {
      findings.push({ status: 'problem', subject: 'Kubernetes API', detail: 'the API server rejected the credentials (401 Unauthorized)', fix: 'check the token or client certificate of the kubeconfig, or the pod\'s service account token' });
      return;
    }
    if (!isNotFound(err)) {
      findings.push({ status: 'problem', subject: 'Kubernetes API', detail: `cannot reach the API server: ${errorText(err)}`, fix: 'check the server address of the kubeconfig and the network path to it' });
      return;
    }
    findings.push({
      status: 'problem',
      subject: 'snapshot API',
      detail: `${SNAPSHOT_GROUP} is not served: the VolumeSnapshot CRDs are not installed`,
      fix: 'install the CRDs and the snapshot-controller of external-snapshotter before the sidecar',
    });
  }

  let groupVersion: string | undefined;
  let alphaServed = false;
  if (config.featureGates.CSIVolumeGroupSnapshot) {
    try {
      const signal = AbortSignal.timeout(config.timeoutMs);
      const served = await servedGroupSnapshotVersions(rest, signal);
      groupVersion = preferredServedVersion(served);
      let schema = '';
      if (groupVersion === 'v1alpha1') {
        // As the sidecar decides at start-up: the schema is read from the served OpenAPI document.
        schema = ` with the schema of ${ALPHA_FLAVOURS[await alphaFlavour(rest, signal)].schema}, creating the member objects itself`;
        alphaServed = true;
      }
      findings.push(
        groupVersion
          ? { status: 'ok', subject: 'group snapshot API', detail: `${GROUP_SNAPSHOT_GROUP} serves ${served.join(', ')}; the sidecar uses ${groupVersion}${schema}` }
          : {
              status: 'note',
              subject: 'group snapshot API',
              detail: served.length === 0 ? `${GROUP_SNAPSHOT_GROUP} is not served: group snapshots are off` : `${GROUP_SNAPSHOT_GROUP} serves only ${served.join(', ')}, which this sidecar does not use: group snapshots are off`,
            },
      );
    } catch (err) {
      groupVersion = undefined;
      findings.push({ status: 'problem', subject: 'group snapshot API', detail: `discovery failed: ${errorText(err)}` });
    }
  }
  const groupsServed = groupVersion !== undefined && (driver?.groupSnapshots ?? true);

  await checkPermissions(rest, options, groupsServed, groupsServed && alphaServed, findings);
  if (!snapshotApi) return;
  const driverName = driver?.name;
  if (driverName === undefined) {
    findings.push({ status: 'note', subject: 'classes and contents', detail: 'not checked: the driver\'s name is unknown while the driver cannot be reached' });
    return;
  }
  await checkClasses(rest, driverName, 'VolumeSnapshotClass', collectionPath(VOLUME_SNAPSHOT_CLASSES), findings);
  if (groupsServed && groupVersion) await checkClasses(rest, driverName, 'VolumeGroupSnapshotClass', collectionPath(volumeGroupSnapshotClasses(groupVersion)), findings);
  await checkStuck(rest, driverName, 'VolumeSnapshotContent', collectionPath(VOLUME_SNAPSHOT_CONTENTS), options, findings);
  if (groupsServed && groupVersion) await checkStuck(rest, driverName, 'VolumeGroupSnapshotContent', collectionPath(volumeGroupSnapshotContents(groupVersion)), options, findings);
}

interface AccessReview {
  status?: { allowed?: boolean; reason?: string };
}

async function canI(rest: RestClient, p: Pick<Permission, 'group' | 'resource' | 'subresource'>, verb: string, namespace?: string): Promise<boolean> {
  const review = await rest.request<AccessReview>({
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { verb, group: p.group, resource: p.resource, ...(p.subresource ? { subresource: p.subresource } : {}), ...(namespace ? { namespace } : {}) } },
    },
  });
  return review.status?.allowed === true;
}

async function checkPermissions(rest: RestClient, options: DoctorOptions, groupsServed: boolean, alphaServed: boolean, findings: Finding[]): Promise<void> {
  const { config } = options;
  const lease = config.leaderElection ? leaseNamespace(config.leaderElectionNamespace, process.env.POD_NAMESPACE) : undefined;
  for (const p of SIDECAR_PERMISSIONS) {
    if (p.needed === 'secrets' || (p.needed === 'group-snapshots-v1alpha1' && !alphaServed) || (p.needed === 'group-snapshots' && !groupsServed) || (p.needed === 'leader-election' && lease === undefined)) continue;
    const namespace = p.needed === 'leader-election' ? lease : undefined;
    const where = namespace ? ` in namespace ${namespace}` : '';
    const what = `${resourceText(p)} (${p.group || 'core'} API group)${where}`;
    try {
      const missing: string[] = [];
      for (const verb of p.verbs) if (!(await canI(rest, p, verb, namespace))) missing.push(verb);
      findings.push(
        missing.length === 0
          ? { status: 'ok', subject: 'permission', detail: `${p.verbs.join(', ')} ${what}` }
          : {
              status: 'problem',
              subject: 'permission',
              detail: `cannot ${missing.join(', ')} ${what}, needed to ${p.why}`,
              fix:
                p.needed === 'group-snapshots-v1alpha1'
                  ? `enable the component manifests/components/group-snapshots-v1alpha1, or grant ${missing.join(', ')} on ${resourceText(p)} to the sidecar's service account`
                  : `grant ${missing.join(', ')} on ${resourceText(p)} to the sidecar's service account (manifests/ has the rules it needs)`,
            },
      );
    } catch (err) {
      findings.push({ status: 'problem', subject: 'permission', detail: `cannot ask about ${what}: ${errorText(err)}` });
    }
  }
}

/** The `csi.storage.k8s.io/<x>-secret-name` / `-namespace` pairs of a class, by <x>. */
function secretPrefixes(parameters: Record<string, string>): string[] {
  const prefixes = new Set<string>();
  for (const key of Object.keys(parameters)) {
    const match = /^(.+)-secret-(name|namespace)$/.exec(key);
    if (match && key.startsWith(RESERVED_PREFIX)) prefixes.add(match[1] as string);
  }
  return [...prefixes].sort();
}

interface ClassObject extends KubeObject {
  driver?: string;
  parameters?: Record<string, string>;
}

async function checkClasses(rest: RestClient, driverName: string, kind: string, path: string, findings: Finding[]): Promise<void> {
  let classes: ClassObject[];
  try {
    classes = (await rest.request<KubeList<ClassObject>>({ method: 'GET', path })).items.filter((c) => c.driver === driverName);
  } catch (err) {
    findings.push({ status: 'problem', subject: `${kind}es`, detail: `cannot list them: ${errorText(err)}` });
    return;
  }
  if (classes.length === 0) {
    findings.push({ status: 'note', subject: `${kind}es`, detail: `none names driver ${driverName}: ${kind === 'VolumeSnapshotClass' ? 'snapshots' : 'group snapshots'} of this driver can only be pre-provisioned`, fix: `create a ${kind} with driver: ${driverName}` });
    return;
  }
  for (const klass of classes) {
    const subject = `${kind} ${klass.metadata?.name ?? ''}`;
    const parameters = klass.parameters ?? {};
    const prefixes = secretPrefixes(parameters);
    if (prefixes.length === 0) {
      findings.push({ status: 'ok', subject, detail: 'names no Secrets' });
      continue;
    }
    for (const prefix of prefixes) {
      const label = prefix.slice(RESERVED_PREFIX.length);
      let ref: SecretRef | undefined;
      try {
        ref = secretRefFromParameters(parameters, prefix, label, {});
      } catch (err) {
        const templated = `${parameters[`${prefix}-secret-name`] ?? ''}${parameters[`${prefix}-secret-namespace`] ?? ''}`.includes('$');
        findings.push(
          templated
            ? { status: 'note', subject, detail: `the ${label} Secret is a template, resolved for each snapshot; it is checked when a snapshot uses it` }
            : { status: 'problem', subject, detail: `the ${label} Secret parameters are wrong: ${errorText(err)}`, fix: `set both ${prefix}-secret-name and ${prefix}-secret-namespace` },
        );
        continue;
      }
      if (ref) findings.push(await checkSecret(rest, subject, label, ref));
    }
  }
}

/** Whether a Secret exists and can be read. Its contents are never looked at or printed. */
async function checkSecret(rest: RestClient, subject: string, label: string, ref: SecretRef): Promise<Finding> {
  const secret = `${ref.namespace}/${ref.name}`;
  try {
    await rest.request<unknown>({ method: 'GET', path: objectPath(SECRETS, ref.name, ref.namespace) });
    return { status: 'ok', subject, detail: `the ${label} Secret ${secret} exists and can be read` };
  } catch (err) {
    if (isNotFound(err)) return { status: 'problem', subject, detail: `the ${label} Secret ${secret} does not exist`, fix: `create it, or correct the class's ${label} secret parameters` };
    if (err instanceof ApiError && err.statusCode === 403) {
      return { status: 'problem', subject, detail: `the ${label} Secret ${secret} cannot be read (403 Forbidden)`, fix: `grant get on secrets in namespace ${ref.namespace} (the optional secrets rule in manifests/)` };
    }
    return { status: 'problem', subject, detail: `cannot read the ${label} Secret ${secret}: ${errorText(err)}` };
  }
}

interface ContentObject extends KubeObject {
  spec?: { driver?: string };
  status?: { readyToUse?: boolean; error?: { message?: string; time?: string } };
}

async function checkStuck(rest: RestClient, driverName: string, kind: string, path: string, options: DoctorOptions, findings: Finding[]): Promise<void> {
  const now = (options.now ?? (() => new Date()))().getTime();
  let contents: ContentObject[];
  try {
    contents = (await rest.request<KubeList<ContentObject>>({ method: 'GET', path })).items.filter((c) => c.spec?.driver === driverName);
  } catch (err) {
    findings.push({ status: 'problem', subject: `${kind}s`, detail: `cannot list them: ${errorText(err)}` });
    return;
  }
  let stuck = 0;
  for (const content of contents) {
    const name = content.metadata?.name ?? '';
    const subject = `${kind} ${name}`;
    const deleting = content.metadata?.deletionTimestamp;
    const created = content.metadata?.creationTimestamp;
    const lastError = content.status?.error?.message ? `last error: ${content.status.error.message}` : 'no error recorded';
    const fix = `run csi-snapshotter explain ${name}`;
    if (typeof deleting === 'string' && now - Date.parse(deleting) > options.stuckAfterMs) {
      stuck++;
      const held = (content.metadata?.finalizers ?? []).join(', ') || 'nothing';
      findings.push({ status: 'problem', subject, detail: `not deleted ${humanDuration(now - Date.parse(deleting))} after its deletion was asked for; held by ${held}; ${lastError}`, fix });
    } else if (content.status?.readyToUse !== true && typeof created === 'string' && now - Date.parse(created) > options.stuckAfterMs) {
      stuck++;
      findings.push({ status: 'problem', subject, detail: `not ready ${humanDuration(now - Date.parse(created))} after it was created; ${lastError}`, fix });
    }
  }
  if (stuck === 0) {
    findings.push({ status: 'ok', subject: `${kind}s`, detail: `${contents.length} of driver ${driverName}, none stuck for longer than ${humanDuration(options.stuckAfterMs)}` });
  }
}
