import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { KubeConfig, loadAllYaml } from '@kubernetes/client-node';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leaseName } from '../../src/kube/leader.js';
import { listTree, type EmulatedImage } from '../helpers/dockerfile.js';
import { buildImageTree } from '../helpers/image.js';
import { packageRoot } from '../../src/util/package-root.js';
import { writeKubeconfig } from './kube/kubeconfig.js';
import { RealCluster, type DriverHandle } from './harness/harness.js';
import { kubectl } from './harness/kubectl.js';
import { kustomize, MANIFESTS_DIR, SECRETS_COMPONENT, upstreamRbacText, writeOverlay } from './harness/manifests.js';
import type { ManagedProcess } from './harness/managed-process.js';
import { freeLocalPort } from './harness/ports.js';
import { auditedRequests, compare, granted, requestPermission, type AuditEvent, type PolicyRule } from './harness/rbac.js';
import { exerciseSidecarWrites, type RecordedEvent } from './harness/sidecar-writes.js';
import {
  GROUP_SNAPSHOT_API,
  GROUP_SNAPSHOT_BOUND_FINALIZER,
  SNAPSHOT_API,
  SNAPSHOT_BOUND_FINALIZER,
  waitForFinalizer,
  waitForGone,
  waitForReady,
  type KubeObject,
} from './harness/snapshot-api.js';
import { pollUntil } from './harness/wait.js';

// Deployment as a user does it, end to end on the real kube-apiserver: the image built from the
// Dockerfile (every stage, outside a container), manifests/ applied through a user's overlay, and
// the image's entrypoint run with the example Deployment's arguments under the ServiceAccount the
// manifests create. The API server's audit log then shows every request the sidecar made; the
// rules must grant exactly those, no fewer (nothing was refused) and no more (every rule was used).

const FLOW_TIMEOUT_MS = 120_000;
/** Kept apart from the copy of manifests/ the global setup applies to `default`. */
const SUFFIX = '-deploy-check';
const RBAC_API = '/apis/rbac.authorization.k8s.io/v1';
const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  subjects?: { kind: string; name: string; namespace?: string }[];
  roleRef?: { kind: string; name: string };
  spec?: { template: { spec: { serviceAccountName?: string; containers: Container[] } } };
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  livenessProbe?: { httpGet?: { path: string } };
  readinessProbe?: { httpGet?: { path: string } };
  startupProbe?: { httpGet?: { path: string } };
}

const byKind = (objects: ManifestObject[], kind: string): ManifestObject[] => objects.filter((o) => o.kind === kind);

describe('manifests/ and the image on the real kube-apiserver', () => {
  let cluster: RealCluster;
  let scratch: string;
  let image: EmulatedImage;

  beforeAll(async () => {
    cluster = await RealCluster.connect();
    scratch = mkdtempSync(join(tmpdir(), 'csi-snapshotter-deploy-'));
    // Every stage, compile included: `npm ci` (from the npm cache) and tsc take a minute or two here.
    image = buildImageTree(join(scratch, 'image'), { compile: true, log: (line) => console.log(line) });
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('the compile stage yields exactly the bundle the fast image test takes from dist/, and the image holds nothing else of dist/', () => {
    // The runtime stage copies only the bundle: no compiled tree, so no test kit.
    const built = join(image.root, 'app', 'dist');
    expect(readdirSync(built)).toEqual(['bundle']);
    const checkout = join(packageRoot(), 'dist', 'bundle');
    expect(listTree(join(built, 'bundle'))).toEqual(listTree(checkout));
    for (const file of listTree(checkout)) expect(readFileSync(join(built, 'bundle', file)).equals(readFileSync(join(checkout, file)))).toBe(true);
  });

  test('kubectl kustomize manifests: the upstream object names, a subset of the upstream rules, the namespace from the kustomization only', async () => {
    const objects = loadAllYaml(await kustomize(cluster.program('kubectl'), MANIFESTS_DIR)) as ManifestObject[];
    const upstreamYaml = (withOptionalSecrets: boolean) =>
      (loadAllYaml(upstreamRbacText(cluster.state.binaries.snapshotterDir, { withOptionalSecrets })) as (ManifestObject | null)[]).filter((o): o is ManifestObject => o !== null);
    const upstream = { objects: upstreamYaml(false), withSecrets: upstreamYaml(true) };
    const names = (list: ManifestObject[]) => list.filter((o) => o.kind !== 'Deployment').map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(names(objects)).toEqual(names(upstream.objects));
    expect(names(objects)).toEqual([
      'ClusterRole/external-snapshotter-runner',
      'ClusterRoleBinding/csi-snapshotter-role',
      'Role/external-snapshotter-leaderelection',
      'RoleBinding/external-snapshotter-leaderelection',
      'ServiceAccount/csi-snapshotter',
    ]);

    // A chart that ships the upstream RBAC (the optional Secret rule included) grants all this
    // sidecar needs: swapping the image is enough.
    const ours = (kind: string, list: ManifestObject[]) => granted(byKind(list, kind).flatMap((o) => o.rules ?? []));
    const upstreamClusterRole = ours('ClusterRole', upstream.withSecrets);
    expect(compare(ours('ClusterRole', upstream.objects), upstreamClusterRole)).toEqual({ missing: [], extra: ['/secrets:get', '/secrets:list'] });
    expect(compare(upstreamClusterRole, ours('ClusterRole', objects)).extra).toEqual([]);
    expect(compare(ours('Role', upstream.objects), ours('Role', objects)).extra).toEqual([]);
    // Secrets are not readable unless the optional component is enabled.
    expect([...ours('ClusterRole', objects)].filter((p) => p.startsWith('/secrets'))).toEqual([]);

    // The namespace comes from kustomization.yaml alone: the resource files name none.
    for (const file of ['rbac.yaml', 'deployment.yaml']) expect(readFileSync(join(MANIFESTS_DIR, file), 'utf8')).not.toMatch(/^\s*namespace:/m);
  });

  describe('applied through an overlay, the sidecar runs under its ServiceAccount', () => {
    let namespace: string;
    let driver: DriverHandle;
    let sidecar: ManagedProcess;
    let serviceAccount: string;
    let healthUrl: string;
    let sidecarContainer: Container;
    const diagnostics = (): string => [sidecar?.logTail(), driver?.process.logTail(20)].filter(Boolean).join('\n');

    beforeAll(async () => {
      namespace = await cluster.createNamespace('deploy');
      const overlay = join(scratch, 'overlay');
      writeOverlay(overlay, { namespace, nameSuffix: SUFFIX, components: [SECRETS_COMPONENT] });
      await kubectl(cluster.program('kubectl'), cluster.adminKubeconfig, ['apply', '-k', overlay]);
      serviceAccount = `csi-snapshotter${SUFFIX}`;

      // A token of the ServiceAccount, as a pod would mount it.
      const token = await cluster.admin.json<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
      });
      const admin = new KubeConfig();
      admin.loadFromFile(cluster.adminKubeconfig);
      const caFile = join(scratch, 'ca.crt');
      writeFileSync(caFile, Buffer.from(admin.getCurrentCluster()?.caData ?? '', 'base64'));
      const kubeconfig = join(scratch, 'sidecar.kubeconfig');
      writeKubeconfig(kubeconfig, { server: cluster.state.server, caFile, userName: serviceAccount, user: { token: token.status.token } });

      // The container as the kubelet would start it: the Deployment's args with $(VAR) taken from
      // its env (ADDRESS points into the socket-dir volume, here the driver's socket; fieldRef
      // metadata.namespace is the namespace), after the image's entrypoint.
      const deployment = await cluster.admin.json<ManifestObject>('GET', `/apis/apps/v1/namespaces/${namespace}/deployments/csi-driver-controller${SUFFIX}`);
      expect(deployment.spec?.template.spec.serviceAccountName).toBe(serviceAccount);
      sidecarContainer = deployment.spec?.template.spec.containers.find((c) => c.name === 'csi-snapshotter') as Container;
      driver = await cluster.startSampleDriver('deploy-driver');
      const env: Record<string, string> = {};
      for (const variable of sidecarContainer.env ?? []) {
        if (variable.name === 'ADDRESS') env.ADDRESS = driver.socketPath;
        else if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[variable.name] = namespace;
        else env[variable.name] = variable.value ?? '';
      }
      const args = (sidecarContainer.args ?? []).map((arg) => arg.replace(/\$\((\w+)\)/g, (_m, name: string) => env[name] ?? `$(${name})`));
      const port = await freeLocalPort();
      healthUrl = `http://127.0.0.1:${port}`;
      const [command, ...entrypointArgs] = image.entrypoint;
      sidecar = cluster.startProcess('deploy-sidecar', command === 'node' ? process.execPath : command, [
        ...entrypointArgs,
        ...args,
        // Not a pod: credentials from a kubeconfig; a free port instead of :8080; and, for a short
        // test, fast retries and short leases (later flags win, as in Go).
        `--kubeconfig=${kubeconfig}`,
        `--http-endpoint=127.0.0.1:${port}`,
        '--v=5',
        '--retry-interval-start=100ms',
        '--retry-interval-max=1s',
        '--leader-election-lease-duration=4s',
        '--leader-election-renew-deadline=3s',
        '--leader-election-retry-period=1s',
      ], { env: { ...process.env, ...image.env, ...env } });
    }, FLOW_TIMEOUT_MS);

    test('it leads (creating and renewing its Lease) and the Deployment probes get 200 from the health endpoint', async () => {
      const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${leaseName(driver.driverName)}`;
      const first = await pollUntil(
        async () => (await cluster.admin.json<{ spec: { renewTime?: string } }>('GET', leasePath)).spec.renewTime,
        { description: 'the sidecar to take its Lease', timeoutMs: FLOW_TIMEOUT_MS, diagnostics },
      );
      await pollUntil(
        async () => {
          const renewed = (await cluster.admin.json<{ spec: { renewTime?: string } }>('GET', leasePath)).spec.renewTime;
          return renewed !== first ? renewed : undefined;
        },
        { description: 'the sidecar to renew its Lease', timeoutMs: FLOW_TIMEOUT_MS, diagnostics },
      );
      for (const probe of [sidecarContainer.startupProbe, sidecarContainer.livenessProbe, sidecarContainer.readinessProbe]) {
        expect(probe?.httpGet?.path).toBeDefined();
        const response = await fetch(`${healthUrl}${probe?.httpGet?.path as string}`);
        expect([response.status, await response.text()]).toEqual([200, 'ok']);
      }
    });

    test('it uses every right: snapshots with Secrets, groups, Events, retries that re-read an object, a repeated Event', async () => {
      // Secrets (a missing one first), Warning Events, contents and group contents with their status.
      const writes = await exerciseSidecarWrites(cluster, driver, 'deploy', FLOW_TIMEOUT_MS, diagnostics);
      expect(writes.content.status?.readyToUse).toBe(true);
      expect(writes.groupContent.status?.readyToUse).toBe(true);

      // A create the driver leaves in progress keeps the being-created mark, so the retry reads the
      // object again (get). The first failure is announced as a failed creation, the retries' as a
      // failed check: "first" until both Events exist, then "second", then "first" again repeats the
      // failed check's Event, which the sidecar patches (count 2) instead of creating anew.
      const control = (driver.process.log().match(/control=(http:\/\/\S+)/) ?? [])[1];
      const setFaults = async (faults: unknown): Promise<void> => {
        const response = await fetch(`${control}/faults`, { method: faults === undefined ? 'DELETE' : 'PUT', ...(faults === undefined ? {} : { body: JSON.stringify(faults) }) });
        expect(response.status).toBe(200);
      };
      const failCreate = (message: string) => setFaults({ errors: { CreateSnapshot: { code: 'UNAVAILABLE', message } } });
      const eventAbout = (name: string, text: string, { events = 1, count = 1 } = {}) =>
        pollUntil(
          async () => {
            const list = await cluster.admin.json<{ items: (RecordedEvent & { count?: number })[] }>('GET', `/api/v1/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${name}`)}`);
            const matching = list.items.filter((e) => e.source?.component === `csi-snapshotter ${driver.driverName}` && e.message.includes(text));
            return matching.length >= events && matching.some((e) => (e.count ?? 1) >= count) ? matching : undefined;
          },
          { description: `${events} Event(s) about ${name} saying "${text}", one with count >= ${count}`, timeoutMs: FLOW_TIMEOUT_MS, intervalMs: 250, diagnostics },
        );

      await failCreate('deploy check: first');
      const className = cluster.uniqueName('deploy-class');
      await cluster.admin.json('POST', `${SNAPSHOT_API}/volumesnapshotclasses`, {
        body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: className }, driver: driver.driverName, deletionPolicy: 'Delete' },
      });
      const volume = await cluster.createBoundPvc(driver, namespace, 'retried');
      const snapshotPath = `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots/retried`;
      const snapshot = await cluster.admin.json<KubeObject>('POST', `${SNAPSHOT_API}/namespaces/${namespace}/volumesnapshots`, {
        body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name: 'retried' }, spec: { volumeSnapshotClassName: className, source: { persistentVolumeClaimName: volume.pvcName } } },
      });
      const contentName = `snapcontent-${snapshot.metadata.uid}`;
      await eventAbout(contentName, 'deploy check: first', { events: 2 });
      await failCreate('deploy check: second');
      await eventAbout(contentName, 'deploy check: second');
      await failCreate('deploy check: first');
      await eventAbout(contentName, 'deploy check: first', { events: 2, count: 2 });
      await setFaults(undefined);
      await waitForReady(cluster.admin, snapshotPath, FLOW_TIMEOUT_MS, diagnostics);
      // Deleted only once the snapshot-controller protects it, or it would not clean up after it.
      await waitForFinalizer(cluster.admin, snapshotPath, SNAPSHOT_BOUND_FINALIZER, FLOW_TIMEOUT_MS, diagnostics);
      await cluster.admin.json('DELETE', snapshotPath);
      await waitForGone(cluster.admin, `${SNAPSHOT_API}/volumesnapshotcontents/${contentName}`, FLOW_TIMEOUT_MS, diagnostics);

      // The same re-read for a group content.
      await setFaults({ errors: { CreateVolumeGroupSnapshot: { code: 'UNAVAILABLE', message: 'deploy check: group' } } });
      const groupClass = cluster.uniqueName('deploy-groupclass');
      await cluster.admin.json('POST', `${GROUP_SNAPSHOT_API}/volumegroupsnapshotclasses`, {
        body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1', kind: 'VolumeGroupSnapshotClass', metadata: { name: groupClass }, driver: driver.driverName, deletionPolicy: 'Delete' },
      });
      const labels = { app: 'deploy-retried-group' };
      await cluster.createBoundPvc(driver, namespace, 'retried-member-a', { labels });
      await cluster.createBoundPvc(driver, namespace, 'retried-member-b', { labels });
      const groupPath = `${GROUP_SNAPSHOT_API}/namespaces/${namespace}/volumegroupsnapshots/retried-group`;
      const group = await cluster.admin.json<KubeObject>('POST', `${GROUP_SNAPSHOT_API}/namespaces/${namespace}/volumegroupsnapshots`, {
        body: { apiVersion: 'groupsnapshot.storage.k8s.io/v1', kind: 'VolumeGroupSnapshot', metadata: { name: 'retried-group' }, spec: { volumeGroupSnapshotClassName: groupClass, source: { selector: { matchLabels: labels } } } },
      });
      const groupContentName = `groupsnapcontent-${group.metadata.uid}`;
      await eventAbout(groupContentName, 'deploy check: group');
      await setFaults(undefined);
      await waitForReady(cluster.admin, groupPath, FLOW_TIMEOUT_MS, diagnostics);
      await waitForFinalizer(cluster.admin, groupPath, GROUP_SNAPSHOT_BOUND_FINALIZER, FLOW_TIMEOUT_MS, diagnostics);
      await cluster.admin.json('DELETE', groupPath);
      await waitForGone(cluster.admin, `${GROUP_SNAPSHOT_API}/volumegroupsnapshotcontents/${groupContentName}`, FLOW_TIMEOUT_MS, diagnostics);

      sidecar.assertRunning();
      await sidecar.stop(30_000);
      expect(await sidecar.exited()).toBe(0);
    });

    test('the rules grant exactly what it asked for: nothing refused, nothing unused', async () => {
      const username = `system:serviceaccount:${namespace}:${serviceAccount}`;
      // The API server logs a request once it is answered; the last one removed the group content's finalizer.
      const requests = await pollUntil(
        () => {
          const all = auditedRequests(cluster.state.auditLog, username);
          return all.some((e) => e.objectRef?.resource === 'volumegroupsnapshotcontents' && e.verb === 'patch' && e.objectRef.name?.startsWith('groupsnapcontent-')) ? all : undefined;
        },
        { description: `the audit log to show ${username}'s last request`, timeoutMs: 30_000 },
      );
      const refused = requests.filter((e) => e.responseStatus?.code === 403).map((e) => `${e.verb} ${e.requestURI}`);
      expect(refused).toEqual([]);
      expect(sidecar.log()).not.toMatch(/forbidden/i);

      const leases = (e: AuditEvent) => e.objectRef?.apiGroup === 'coordination.k8s.io';
      const resourceRequests = requests.filter((e) => e.objectRef?.resource);
      // Non-resource requests (API discovery) are open to every authenticated user.
      expect(requests.filter((e) => !e.objectRef?.resource).map((e) => e.requestURI.split('?')[0]).every((uri) => uri.startsWith('/api'))).toBe(true);
      // The Lease lives in the sidecar's namespace only.
      expect([...new Set(resourceRequests.filter(leases).map((e) => e.objectRef?.namespace))]).toEqual([namespace]);
      const calledCluster = new Set(resourceRequests.filter((e) => !leases(e)).map(requestPermission));
      const calledLease = new Set(resourceRequests.filter(leases).map(requestPermission));

      const clusterRole = await cluster.admin.json<ManifestObject>('GET', `${RBAC_API}/clusterroles/external-snapshotter-runner${SUFFIX}`);
      const role = await cluster.admin.json<ManifestObject>('GET', `${RBAC_API}/namespaces/${namespace}/roles/external-snapshotter-leaderelection${SUFFIX}`);
      expect(compare(calledCluster, granted(clusterRole.rules ?? []))).toEqual({ missing: [], extra: [] });
      expect(compare(calledLease, granted(role.rules ?? []))).toEqual({ missing: [], extra: [] });

      // Those two roles are all the ServiceAccount is bound to.
      const list = async (kind: string, path: string) => (await cluster.admin.json<{ items: ManifestObject[] }>('GET', `${RBAC_API}/${path}`)).items.map((b) => ({ ...b, kind }));
      const bindings = [...(await list('ClusterRoleBinding', 'clusterrolebindings')), ...(await list('RoleBinding', 'rolebindings'))].filter((b) => (b.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount && s.namespace === namespace));
      expect(bindings.map((b) => `${b.kind}/${b.metadata.name} -> ${b.roleRef?.kind}/${b.roleRef?.name}`).sort()).toEqual([
        `ClusterRoleBinding/csi-snapshotter-role${SUFFIX} -> ClusterRole/external-snapshotter-runner${SUFFIX}`,
        `RoleBinding/external-snapshotter-leaderelection${SUFFIX} -> Role/external-snapshotter-leaderelection${SUFFIX}`,
      ]);

      // And the API server's authorizer agrees, verb by verb, on every resource involved.
      const allowed = async (resource: string, verb: string, ns: string): Promise<boolean> => {
        const [group, name] = resource.split(/\/(.*)/s) as [string, string];
        const [plural, subresource] = name.split('/');
        const review = await cluster.admin.json<{ status: { allowed: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: username,
              groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
              resourceAttributes: { group, resource: plural, ...(subresource ? { subresource } : {}), verb, ...(ns ? { namespace: ns } : {}) },
            },
          },
        });
        return review.status.allowed;
      };
      const resourcesOf = (set: Set<string>) => [...new Set([...set].map((p) => p.split(':')[0]))];
      const authorized = new Set<string>();
      for (const resource of resourcesOf(calledCluster)) for (const verb of VERBS) if (await allowed(resource, verb, '')) authorized.add(`${resource}:${verb}`);
      expect(compare(calledCluster, authorized)).toEqual({ missing: [], extra: [] });
      const authorizedLease = new Set<string>();
      for (const resource of resourcesOf(calledLease)) {
        for (const verb of VERBS) {
          if (await allowed(resource, verb, namespace)) authorizedLease.add(`${resource}:${verb}`);
          expect([resource, verb, await allowed(resource, verb, 'default')]).toEqual([resource, verb, false]);
        }
      }
      expect(compare(calledLease, authorizedLease)).toEqual({ missing: [], extra: [] });

      // The comparison can fail: one verb more, or one fewer, on the applied ClusterRole shows up.
      const clusterRolePath = `${RBAC_API}/clusterroles/external-snapshotter-runner${SUFFIX}`;
      const patchRules = (ops: unknown[]) => cluster.admin.json<ManifestObject>('PATCH', clusterRolePath, { body: ops, contentType: 'application/json-patch+json' });
      const widened = await patchRules([{ op: 'add', path: '/rules/-', value: { apiGroups: [''], resources: ['events'], verbs: ['list'] } }]);
      expect(compare(calledCluster, granted(widened.rules ?? []))).toEqual({ missing: [], extra: ['/events:list'] });
      const eventsRule = (widened.rules ?? []).findIndex((r) => r.resources?.includes('events') && r.verbs?.includes('patch'));
      const narrowed = await patchRules([
        { op: 'remove', path: `/rules/${(widened.rules ?? []).length - 1}` },
        { op: 'replace', path: `/rules/${eventsRule}/verbs`, value: ['create'] },
      ]);
      expect(compare(calledCluster, granted(narrowed.rules ?? []))).toEqual({ missing: ['/events:patch'], extra: [] });
      await pollUntil(async () => ((await allowed('/events', 'patch', '')) ? undefined : true), {
        description: 'the authorizer to refuse the verb the narrowed ClusterRole no longer grants',
        timeoutMs: 30_000,
      });
      await patchRules([{ op: 'replace', path: `/rules/${eventsRule}/verbs`, value: clusterRole.rules?.[eventsRule]?.verbs }]);
    });
  });
});
