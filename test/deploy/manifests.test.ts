import { describe, expect, test } from '@jest/globals';
import { loadAll } from 'js-yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/config.js';
import { parseFlags } from '../../src/config/flags.js';
import { resourceText, SIDECAR_PERMISSIONS } from '../../src/kube/permissions.js';
import { LEADER_HEALTH_PATH, parseListenAddress } from '../../src/observe/http-server.js';
import { packageRoot } from '../../src/util/package-root.js';

// What manifests/ promises, read from the files themselves (the real-cluster deploy test applies
// them to a real kube-apiserver and runs the sidecar under them).

const MANIFESTS = join(packageRoot(), 'manifests');

interface Probe {
  httpGet?: { path: string; port: string | number };
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}

interface Deployment {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: { template: { spec: { serviceAccountName: string; securityContext?: Record<string, unknown>; containers: Container[] } } };
}

function yamlFile<T>(name: string): T[] {
  return loadAll(readFileSync(join(MANIFESTS, name), 'utf8')) as T[];
}

const deployment = yamlFile<Deployment>('deployment.yaml')[0];
const sidecar = deployment.spec.template.spec.containers.find((c) => c.name === 'csi-snapshotter') as Container;

/** `160Mi` -> MiB. */
function mebibytes(quantity: string | undefined): number {
  const match = /^(\d+(?:\.\d+)?)(Mi|Gi)$/.exec(quantity ?? '');
  if (!match) throw new Error(`not a Mi/Gi quantity: ${quantity}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

describe('the example Deployment', () => {
  test('runs the sidecar as a non-root numeric user, read-only, without privilege escalation or capabilities', () => {
    expect(sidecar.securityContext).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(Number.isInteger(sidecar.securityContext?.runAsUser) && (sidecar.securityContext?.runAsUser as number) > 0).toBe(true);
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(deployment.spec.template.spec.serviceAccountName).toBe('csi-snapshotter');
  });

  test('passes arguments the sidecar accepts, and its probes reach the health endpoint those arguments serve', () => {
    const env = Object.fromEntries((sidecar.env ?? []).map((e) => [e.name, e.value ?? '']));
    const args = (sidecar.args ?? []).map((a) => a.replace(/\$\((\w+)\)/g, (_m, name: string) => env[name]));
    const config = buildConfig(parseFlags(args));
    // The leader-election health check is only served with --leader-election and --http-endpoint.
    expect(config.leaderElection).toBe(true);
    const { port } = parseListenAddress(config.httpEndpoint);
    const named = sidecar.ports?.find((p) => p.name !== undefined && p.containerPort === port);
    expect(named).toBeDefined();
    for (const probe of [sidecar.startupProbe, sidecar.livenessProbe, sidecar.readinessProbe]) {
      expect(probe?.httpGet?.path).toBe(LEADER_HEALTH_PATH);
      expect([named?.name, port]).toContain(probe?.httpGet?.port);
    }
    // The driver's socket is in the volume both containers mount.
    expect(env.ADDRESS).toMatch(/^\/csi\//);
  });

  test('sizes memory from BENCHMARKS.md: the request covers the measured peak RSS, the limit leaves room above it', () => {
    const row = readFileSync(join(packageRoot(), 'BENCHMARKS.md'), 'utf8').split('\n').find((line) => line.includes('peak RSS (VmHWM)'));
    // The first three columns are this sidecar's runs, the last three the Go sidecar's.
    const peaks = [...(row ?? '').matchAll(/([\d.]+) MiB/g)].map((m) => Number(m[1])).slice(0, 3);
    expect(peaks).toHaveLength(3);
    // And every run of `npm run bench` (1,000 snapshots in flight): its fifth column lists this sidecar's rounds.
    const benchRows = readFileSync(join(packageRoot(), 'BENCHMARKS.md'), 'utf8').split('\n').filter((line) => line.startsWith('| throughput: peak RSS, VmHWM (MiB)'));
    expect(benchRows.length).toBeGreaterThan(0);
    for (const line of benchRows) peaks.push(...(line.split('|')[5] ?? '').split(',').map(Number));
    expect(peaks.every((p) => p > 0)).toBe(true);
    const request = mebibytes(sidecar.resources?.requests?.memory);
    const limit = mebibytes(sidecar.resources?.limits?.memory);
    expect(request).toBeGreaterThanOrEqual(Math.max(...peaks));
    expect(limit).toBeGreaterThanOrEqual(2 * Math.max(...peaks));
    expect(sidecar.resources?.requests?.cpu).toBeDefined();
    expect(sidecar.resources?.limits?.cpu).toBeDefined();
  });
});

describe('the kustomization', () => {
  const kustomization = yamlFile<{ namespace: string; resources: string[]; images: { name: string; newName: string; newTag: string }[] }>('kustomization.yaml')[0];

  test('sets the namespace, which no resource file names, and the sidecar image the Deployment refers to', () => {
    expect(kustomization.namespace).toMatch(/\S/);
    for (const file of kustomization.resources) expect(readFileSync(join(MANIFESTS, file), 'utf8')).not.toMatch(/^\s*namespace:/m);
    expect(kustomization.images.map((i) => i.name)).toContain(sidecar.image);
  });

  test('the Helm values snippet swaps the image and sizes the sidecar as the Deployment does', () => {
    const values = yamlFile<{ sidecars: { snapshotter: { image: { repository: string; tag: string }; resources: Container['resources']; securityContext: Record<string, unknown> } } }>('helm-values-snippet.yaml')[0];
    const image = kustomization.images.find((i) => i.name === sidecar.image);
    expect(values.sidecars.snapshotter.image).toMatchObject({ repository: image?.newName, tag: image?.newTag });
    expect(values.sidecars.snapshotter.resources?.requests).toEqual(sidecar.resources?.requests);
    expect(values.sidecars.snapshotter.resources?.limits?.memory).toBe(sidecar.resources?.limits?.memory);
    expect(values.sidecars.snapshotter.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });
});

describe('the RBAC rules', () => {
  interface Rule {
    apiGroups: string[];
    resources: string[];
    verbs: string[];
  }
  interface RbacObject {
    kind: string;
    rules?: Rule[];
  }
  const rbac = yamlFile<RbacObject>('rbac.yaml');
  /** `group/resource:verb` for every grant, sorted. */
  const grants = (rules: Rule[]): string[] =>
    rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))).sort();
  const needed = (which: (need: string) => boolean): string[] =>
    SIDECAR_PERMISSIONS.filter((p) => which(p.needed)).flatMap((p) => p.verbs.map((v) => `${p.group}/${resourceText(p)}:${v}`)).sort();

  test('grant exactly the permissions doctor checks (src/kube/permissions.ts), no more and no fewer', () => {
    const clusterRole = rbac.find((o) => o.kind === 'ClusterRole');
    const role = rbac.find((o) => o.kind === 'Role');
    expect(grants(clusterRole?.rules ?? [])).toEqual(needed((n) => n === 'always' || n === 'group-snapshots'));
    expect(grants(role?.rules ?? [])).toEqual(needed((n) => n === 'leader-election'));
    const component = yamlFile<{ patches: Array<{ patch: string }> }>('components/snapshotter-secrets/kustomization.yaml')[0];
    const added = component?.patches.flatMap((p) => (loadAll(p.patch) as Array<Array<{ value: Rule }>>).flat().map((op) => op.value)) ?? [];
    expect(grants(added)).toEqual(needed((n) => n === 'secrets'));
  });

  test('the optional v1alpha1 component grants exactly the member-object permissions of v1alpha1 mode', () => {
    const component = yamlFile<{ patches: Array<{ patch: string }> }>('components/group-snapshots-v1alpha1/kustomization.yaml')[0];
    const added = component?.patches.flatMap((p) => (loadAll(p.patch) as Array<Array<{ value: Rule }>>).flat().map((op) => op.value)) ?? [];
    expect(grants(added)).toEqual(needed((n) => n === 'group-snapshots-v1alpha1'));
    expect(grants(added)).toEqual(['/persistentvolumes:list', 'snapshot.storage.k8s.io/volumesnapshotcontents:create', 'snapshot.storage.k8s.io/volumesnapshots:create', 'snapshot.storage.k8s.io/volumesnapshots:get']);
  });
});
