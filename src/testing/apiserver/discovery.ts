import { createHash } from 'node:crypto';
import { toJson, type JsonObject } from './json.js';
import type { ResourceDef, ResourceRegistry } from './resources.js';

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
}

export const DEFAULT_VERSION: VersionInfo = { major: '1', minor: '32', gitVersion: 'v1.32.0' };

/** The API server's storageVersionHash: first 8 bytes of sha256("group/version/kind"), base64. */
function storageVersionHash(def: ResourceDef): string {
  return createHash('sha256').update(`${def.group}/${def.storageVersion}/${def.kind}`).digest().subarray(0, 8).toString('base64');
}

export function versionDocument(info: VersionInfo): string {
  return toJson({
    major: info.major,
    minor: info.minor,
    // Kubernetes 1.33+ also reports the emulated and the minimum compatible version.
    emulationMajor: info.major,
    emulationMinor: info.minor,
    minCompatibilityMajor: info.major,
    minCompatibilityMinor: info.minor,
    gitVersion: info.gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'gc',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  });
}

export function coreVersions(serverAddress: string): string {
  return toJson({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] });
}

function groupDocument(name: string, versions: string[]): JsonObject {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] as JsonObject };
}

export function groupList(registry: ResourceRegistry): string {
  return toJson({ kind: 'APIGroupList', apiVersion: 'v1', groups: registry.groups().map((g) => groupDocument(g.name, g.versions)) });
}

export function groupInfo(registry: ResourceRegistry, group: string): string | undefined {
  const found = registry.groups().find((g) => g.name === group);
  return found ? toJson({ kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(found.name, found.versions) }) : undefined;
}

/** `/api/v1` or `/apis/<group>/<version>`: resources with kinds, verbs, short names, subresources. */
export function resourceList(registry: ResourceRegistry, group: string, version: string): string | undefined {
  const defs = registry.inGroupVersion(group, version).sort((a, b) => a.plural.localeCompare(b.plural));
  if (defs.length === 0) return undefined;
  const resources: JsonObject[] = [];
  for (const def of defs) {
    const entry: JsonObject = { name: def.plural, singularName: def.singular, namespaced: def.namespaced, kind: def.kind, verbs: def.verbs };
    if (def.shortNames.length) entry.shortNames = def.shortNames;
    if (def.categories?.length) entry.categories = def.categories;
    if (!def.virtual) entry.storageVersionHash = storageVersionHash(def);
    resources.push(entry);
    if (def.statusSubresource) {
      resources.push({ name: `${def.plural}/status`, singularName: '', namespaced: def.namespaced, kind: def.kind, verbs: ['get', 'patch', 'update'] });
    }
    if (def.plural === 'namespaces') {
      resources.push({ name: 'namespaces/finalize', singularName: '', namespaced: false, kind: 'Namespace', verbs: ['update'] });
    }
  }
  resources.sort((a, b) => String(a.name).localeCompare(String(b.name)));
  // The core list carries no apiVersion on a real server; group lists do.
  const head: JsonObject = group ? { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${version}` } : { kind: 'APIResourceList', groupVersion: version };
  return toJson({ ...head, resources });
}
