import {
  volumeGroupSnapshotClassSchema,
  volumeGroupSnapshotContentSchema,
  volumeGroupSnapshotSchema,
  volumeSnapshotClassSchema,
  volumeSnapshotContentSchema,
  volumeSnapshotSchema,
  urlVersion,
  type GroupVersion,
} from './crd-schemas.js';
import type { Schema } from './schema.js';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'boolean' | 'date' | 'number';
  jsonPath: string;
  description?: string;
}

/**
 * Everything the server needs to know about one REST resource: naming and discovery facts, which
 * API semantics apply (custom-resource rules or built-in ones) and how objects are validated.
 */
export interface ResourceDef {
  group: string;
  /** Served versions, most preferred first. */
  versions: string[];
  /** The version objects are kept in. */
  storageVersion: string;
  /** Resources sharing a storage key share objects (core and events.k8s.io Events). */
  storageKey: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  verbs: string[];
  categories?: string[];
  statusSubresource: boolean;
  /** Custom resources: generation tracking, schema pruning/validation, no strategic merge patch. */
  custom: boolean;
  /** PUT on a missing object creates it (built-in Events). */
  createOnUpdate?: boolean;
  /** PUT without metadata.resourceVersion is refused (custom resources). */
  requireResourceVersionOnUpdate?: boolean;
  /** DELETE answers with the deleted object instead of a success Status. */
  returnDeletedObject?: boolean;
  /** Only POST is served and nothing is stored (access reviews). */
  virtual?: boolean;
  schema?: (version: string) => Schema;
  printerColumns?: PrinterColumn[];
  /** Extra field-selector labels beyond metadata.name / metadata.namespace. */
  fieldLabels?: (obj: Record<string, unknown>) => Record<string, string>;
  /** Deprecated served versions (a Warning header is sent, as for deprecated CRD versions). */
  deprecatedVersions?: string[];
}

export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
export const GROUP_SNAPSHOT_GROUP = 'groupsnapshot.storage.k8s.io';
/** What is served by default: the versions of external-snapshotter v8.6 and later. */
export const ALL_GROUP_SNAPSHOT_VERSIONS: GroupVersion[] = ['v1beta1', 'v1beta2', 'v1'];
/** Every value the server takes; the two v1alpha1 schemas are served alone, as their CRDs had one version. */
export const KNOWN_GROUP_SNAPSHOT_VERSIONS: GroupVersion[] = ['v1beta1', 'v1beta2', 'v1', 'v1alpha1', 'v1alpha1-v7'];

const FULL_VERBS = ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'];
const CORE_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/** Schemas are immutable trees: build each version's once. */
function memoize(build: ((version: string) => Schema) | undefined): ((version: string) => Schema) | undefined {
  if (!build) return undefined;
  const cache = new Map<string, Schema>();
  return (version) => {
    let schema = cache.get(version);
    if (!schema) cache.set(version, (schema = build(version)));
    return schema;
  };
}

function crd(def: Omit<ResourceDef, 'custom' | 'verbs' | 'listKind' | 'singular' | 'storageKey' | 'requireResourceVersionOnUpdate'>): ResourceDef {
  return {
    ...def,
    schema: memoize(def.schema),
    custom: true,
    verbs: FULL_VERBS,
    listKind: `${def.kind}List`,
    singular: def.kind.toLowerCase(),
    storageKey: `${def.group}/${def.plural}`,
    requireResourceVersionOnUpdate: true,
  };
}

function builtin(def: Omit<ResourceDef, 'custom' | 'listKind' | 'singular' | 'storageKey' | 'verbs'> & { verbs?: string[]; storageKey?: string }): ResourceDef {
  return {
    ...def,
    custom: false,
    verbs: def.verbs ?? CORE_VERBS,
    listKind: `${def.kind}List`,
    singular: def.kind.toLowerCase(),
    storageKey: def.storageKey ?? `${def.group}/${def.plural}`,
  };
}

/** Sorts versions the way Kubernetes prefers them: GA, then beta, then alpha, newest first. */
export function byVersionPriority(a: string, b: string): number {
  const rank = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    const stage = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
    return [stage, Number(m[1]), Number(m[3] ?? 0)];
  };
  const [sa, ma, na] = rank(a);
  const [sb, mb, nb] = rank(b);
  return sb - sa || mb - ma || nb - na;
}

/**
 * The Warning of a deprecated version without its own deprecationWarning, as the CRD handler words
 * it: the newest served, non-deprecated version newer than it is named as the replacement.
 */
export function deprecationWarning(def: ResourceDef, version: string): string {
  const text = `${def.group}/${version} ${def.kind} is deprecated`;
  const newer = def.versions.filter((v) => !def.deprecatedVersions?.includes(v) && byVersionPriority(v, version) < 0).sort(byVersionPriority);
  return newer.length ? `${text}; use ${def.group}/${newer[0]} ${def.kind}` : text;
}

function groupStorageVersion(versions: string[]): string {
  return versions.includes('v1beta2') ? 'v1beta2' : (versions[0] as string);
}

function eventFieldLabels(obj: Record<string, unknown>): Record<string, string> {
  const involved = (obj.involvedObject ?? {}) as Record<string, unknown>;
  const source = (obj.source ?? {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    'involvedObject.kind': text(involved.kind),
    'involvedObject.namespace': text(involved.namespace),
    'involvedObject.name': text(involved.name),
    'involvedObject.uid': text(involved.uid),
    'involvedObject.apiVersion': text(involved.apiVersion),
    'involvedObject.resourceVersion': text(involved.resourceVersion),
    'involvedObject.fieldPath': text(involved.fieldPath),
    reason: text(obj.reason),
    reportingComponent: text(obj.reportingComponent),
    source: text(source.component),
    type: text(obj.type),
  };
}

/** The resources this server serves, with the group snapshot API in `groupVersions`. */
export function buildResources(groupVersions: GroupVersion[]): ResourceDef[] {
  // Each served URL version has exactly one schema flavour (v1alpha1 is either the v7 or the v8.0 one).
  const flavourOf = new Map(groupVersions.map((v) => [urlVersion(v) as string, v]));
  const gv = [...flavourOf.keys()].sort(byVersionPriority);
  const flavour = (v: string): GroupVersion => flavourOf.get(v) ?? (v as GroupVersion);
  const storage = groupStorageVersion(gv);
  const resources: ResourceDef[] = [
    builtin({ group: '', versions: ['v1'], storageVersion: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, shortNames: ['ns'], statusSubresource: true, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }),
    builtin({ group: '', versions: ['v1'], storageVersion: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, shortNames: [], statusSubresource: false, fieldLabels: (o) => ({ type: typeof o.type === 'string' ? o.type : '' }) }),
    builtin({ group: '', versions: ['v1'], storageVersion: 'v1', plural: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'], statusSubresource: false, createOnUpdate: true, storageKey: 'events', fieldLabels: eventFieldLabels }),
    builtin({ group: '', versions: ['v1'], storageVersion: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true, shortNames: ['pvc'], statusSubresource: true, returnDeletedObject: true }),
    builtin({ group: '', versions: ['v1'], storageVersion: 'v1', plural: 'persistentvolumes', kind: 'PersistentVolume', namespaced: false, shortNames: ['pv'], statusSubresource: true, returnDeletedObject: true }),
    builtin({ group: 'events.k8s.io', versions: ['v1'], storageVersion: 'v1', plural: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'], statusSubresource: false, createOnUpdate: true, storageKey: 'events' }),
    builtin({ group: 'coordination.k8s.io', versions: ['v1'], storageVersion: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, shortNames: [], statusSubresource: false }),
    builtin({ group: 'authorization.k8s.io', versions: ['v1'], storageVersion: 'v1', plural: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview', namespaced: false, shortNames: [], statusSubresource: false, verbs: ['create'], virtual: true }),
    crd({
      group: SNAPSHOT_GROUP, versions: ['v1'], storageVersion: 'v1', plural: 'volumesnapshotclasses', kind: 'VolumeSnapshotClass', namespaced: false,
      shortNames: ['vsclass', 'vsclasses'], statusSubresource: false, schema: () => volumeSnapshotClassSchema(),
      printerColumns: [{ name: 'Driver', type: 'string', jsonPath: '.driver' }, { name: 'DeletionPolicy', type: 'string', jsonPath: '.deletionPolicy' }, age],
    }),
    crd({
      group: SNAPSHOT_GROUP, versions: ['v1'], storageVersion: 'v1', plural: 'volumesnapshotcontents', kind: 'VolumeSnapshotContent', namespaced: false,
      shortNames: ['vsc', 'vscs'], statusSubresource: true, schema: () => volumeSnapshotContentSchema(),
      printerColumns: [
        { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse' },
        { name: 'RestoreSize', type: 'integer', jsonPath: '.status.restoreSize' },
        { name: 'DeletionPolicy', type: 'string', jsonPath: '.spec.deletionPolicy' },
        { name: 'Driver', type: 'string', jsonPath: '.spec.driver' },
        { name: 'VolumeSnapshotClass', type: 'string', jsonPath: '.spec.volumeSnapshotClassName' },
        { name: 'VolumeSnapshot', type: 'string', jsonPath: '.spec.volumeSnapshotRef.name' },
        { name: 'VolumeSnapshotNamespace', type: 'string', jsonPath: '.spec.volumeSnapshotRef.namespace' },
        age,
      ],
    }),
    crd({
      group: SNAPSHOT_GROUP, versions: ['v1'], storageVersion: 'v1', plural: 'volumesnapshots', kind: 'VolumeSnapshot', namespaced: true,
      shortNames: ['vs'], statusSubresource: true, schema: () => volumeSnapshotSchema(),
      printerColumns: [
        { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse' },
        { name: 'SourcePVC', type: 'string', jsonPath: '.spec.source.persistentVolumeClaimName' },
        { name: 'SourceSnapshotContent', type: 'string', jsonPath: '.spec.source.volumeSnapshotContentName' },
        { name: 'RestoreSize', type: 'string', jsonPath: '.status.restoreSize' },
        { name: 'SnapshotClass', type: 'string', jsonPath: '.spec.volumeSnapshotClassName' },
        { name: 'SnapshotContent', type: 'string', jsonPath: '.status.boundVolumeSnapshotContentName' },
        { name: 'CreationTime', type: 'date', jsonPath: '.status.creationTime' },
        age,
      ],
    }),
  ];
  if (gv.length > 0) {
    const deprecatedVersions = gv.filter((v) => v === 'v1beta1');
    resources.push(
      crd({
        group: GROUP_SNAPSHOT_GROUP, versions: gv, storageVersion: storage, plural: 'volumegroupsnapshotclasses', kind: 'VolumeGroupSnapshotClass',
        namespaced: false, shortNames: ['vgsclass', 'vgsclasses'], statusSubresource: false, deprecatedVersions,
        schema: (v) => volumeGroupSnapshotClassSchema(flavour(v)),
        printerColumns: [{ name: 'Driver', type: 'string', jsonPath: '.driver' }, { name: 'DeletionPolicy', type: 'string', jsonPath: '.deletionPolicy' }, age],
      }),
      crd({
        group: GROUP_SNAPSHOT_GROUP, versions: gv, storageVersion: storage, plural: 'volumegroupsnapshotcontents', kind: 'VolumeGroupSnapshotContent',
        namespaced: false, shortNames: ['vgsc', 'vgscs'], statusSubresource: true, deprecatedVersions,
        schema: (v) => volumeGroupSnapshotContentSchema(flavour(v)),
        printerColumns: [
          { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse' },
          { name: 'DeletionPolicy', type: 'string', jsonPath: '.spec.deletionPolicy' },
          { name: 'Driver', type: 'string', jsonPath: '.spec.driver' },
          { name: 'VolumeGroupSnapshotClass', type: 'string', jsonPath: '.spec.volumeGroupSnapshotClassName' },
          { name: 'VolumeGroupSnapshotNamespace', type: 'string', jsonPath: '.spec.volumeGroupSnapshotRef.namespace' },
          { name: 'VolumeGroupSnapshot', type: 'string', jsonPath: '.spec.volumeGroupSnapshotRef.name' },
          age,
        ],
      }),
      crd({
        group: GROUP_SNAPSHOT_GROUP, versions: gv, storageVersion: storage, plural: 'volumegroupsnapshots', kind: 'VolumeGroupSnapshot',
        namespaced: true, shortNames: ['vgs'], statusSubresource: true, deprecatedVersions,
        schema: (v) => volumeGroupSnapshotSchema(flavour(v)),
        printerColumns: [
          { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse' },
          { name: 'VolumeGroupSnapshotClass', type: 'string', jsonPath: '.spec.volumeGroupSnapshotClassName' },
          { name: 'VolumeGroupSnapshotContent', type: 'string', jsonPath: '.status.boundVolumeGroupSnapshotContentName' },
          { name: 'CreationTime', type: 'date', jsonPath: '.status.creationTime' },
          age,
        ],
      }),
    );
  }
  return resources;
}

/**
 * The aggregator's GroupPriorityMinimum of the built-in groups served here (kube-apiserver's
 * default APIService priorities); CRD groups are registered with 1000. A built-in group missing
 * here is an error, so a group added to this server cannot land in an invented place.
 */
const BUILT_IN_GROUP_PRIORITY: Record<string, number> = {
  'events.k8s.io': 17750,
  'authorization.k8s.io': 17600,
  'coordination.k8s.io': 16500,
};
const CRD_GROUP_PRIORITY = 1000;

function groupPriority(def: ResourceDef): number {
  if (def.custom) return CRD_GROUP_PRIORITY;
  const priority = BUILT_IN_GROUP_PRIORITY[def.group];
  if (priority === undefined) throw new Error(`no discovery priority for the built-in group ${def.group}: add kube-apiserver's to BUILT_IN_GROUP_PRIORITY`);
  return priority;
}

/** Looks resources up by group, version and plural. */
export class ResourceRegistry {
  private readonly byPath = new Map<string, ResourceDef>();

  constructor(readonly all: ResourceDef[]) {
    for (const def of all) for (const v of def.versions) this.byPath.set(`${def.group}/${v}/${def.plural}`, def);
  }

  find(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.byPath.get(`${group}/${version}/${plural}`);
  }

  /**
   * Groups in the real server's `/apis` order (core excluded), each with its versions, most
   * preferred first. kube-apiserver's aggregator sorts its APIServices, one per group version named
   * `<version>.<group>`, by group priority (highest first), then by that name, and lists each group
   * where its first APIService falls. Every CRD group has priority 1000, so among the snapshot
   * groups the one with the alphabetically first `<version>.<group>` comes first:
   * groupsnapshot.storage.k8s.io (v1.groupsnapshot…) before snapshot.storage.k8s.io (v1.snapshot…),
   * but snapshot first when the group snapshot API is served at v1beta* only.
   */
  groups(): { name: string; versions: string[] }[] {
    const groups = new Map<string, { versions: Set<string>; priority: number }>();
    for (const def of this.all) {
      if (!def.group) continue;
      const entry = groups.get(def.group) ?? { versions: new Set<string>(), priority: groupPriority(def) };
      def.versions.forEach((v) => entry.versions.add(v));
      groups.set(def.group, entry);
    }
    const apiServices = [...groups].flatMap(([group, { versions, priority }]) => [...versions].map((version) => ({ group, name: `${version}.${group}`, priority })));
    // Byte order, as Go compares strings.
    apiServices.sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const order = [...new Set(apiServices.map((a) => a.group))];
    return order.map((name) => ({ name, versions: [...(groups.get(name)?.versions ?? [])].sort(byVersionPriority) }));
  }

  inGroupVersion(group: string, version: string): ResourceDef[] {
    return this.all.filter((d) => d.group === group && d.versions.includes(version));
  }
}
