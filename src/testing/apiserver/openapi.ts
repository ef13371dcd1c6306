import { createHash } from 'node:crypto';
import { toJson, type JsonObject } from './json.js';
import type { ResourceRegistry } from './resources.js';

/**
 * A minimal OpenAPI v3 surface: the discovery root and, per group version, the create operations
 * with their `fieldValidation` parameter. kubectl reads exactly this to decide that the server
 * validates fields itself (it then sends fieldValidation=Strict instead of validating client-side).
 */

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

export function openApiRoot(registry: ResourceRegistry): string {
  const paths: JsonObject = {};
  const gvs = new Set<string>();
  for (const def of registry.all) for (const v of def.versions) gvs.add(gvPath(def.group, v));
  for (const gv of [...gvs].sort()) {
    const hash = createHash('sha256').update(gv).digest('hex').slice(0, 16).toUpperCase();
    paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${hash}` };
  }
  return toJson({ paths });
}

export function openApiGroupVersion(registry: ResourceRegistry, path: string): string | undefined {
  const paths: JsonObject = {};
  for (const def of registry.all) {
    for (const version of def.versions) {
      if (gvPath(def.group, version) !== path) continue;
      const base = `/${path}${def.namespaced ? '/namespaces/{namespace}' : ''}/${def.plural}`;
      const gvk = { group: def.group, version, kind: def.kind };
      const parameters = [
        { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
        { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
        { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
      ];
      const operation = (id: string) => ({ operationId: `${id}${def.kind}`, parameters, 'x-kubernetes-group-version-kind': gvk, responses: {} });
      paths[base] = { post: operation('create'), get: operation('list') };
      paths[`${base}/{name}`] = { put: operation('replace'), patch: operation('patch'), get: operation('read') };
    }
  }
  if (Object.keys(paths).length === 0) return undefined;
  return toJson({ openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas: {} } });
}
