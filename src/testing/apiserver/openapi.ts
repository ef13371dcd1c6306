import { createHash } from 'node:crypto';
import { toJson, type JsonObject } from './json.js';
import type { ResourceDef, ResourceRegistry } from './resources.js';
import type { Schema } from './schema.js';

/**
 * A minimal OpenAPI v3 surface: the discovery root and, per group version, the create operations
 * with their `fieldValidation` parameter. kubectl reads exactly this to decide that the server
 * validates fields itself (it then sends fieldValidation=Strict instead of validating client-side).
 * Custom resources also get their structural schema under components.schemas, named as the real
 * server names them (`io.k8s.storage.groupsnapshot.v1alpha1.VolumeGroupSnapshotContent`): clients
 * tell apart two schemas published under one version name from there (the two v1alpha1 flavours).
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

/** The definition name of a custom resource: the group reversed, then version and kind. */
export function definitionName(group: string, version: string, kind: string): string {
  return [...group.split('.').reverse(), version, kind].join('.');
}

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/** A structural schema as OpenAPI shows it (CEL rules as x-kubernetes-validations with their messages). */
function openApiSchema(schema: Schema): JsonObject {
  const out: JsonObject = { type: schema.type };
  if (schema.intOrString) {
    delete out.type;
    out['x-kubernetes-int-or-string'] = true;
  }
  if (schema.format) out.format = schema.format;
  if (schema.enum) out.enum = [...schema.enum];
  if (schema.minimum !== undefined) out.minimum = schema.minimum;
  if (schema.pattern) out.pattern = schema.pattern;
  if (schema.required?.length) out.required = [...schema.required];
  if (schema.properties) {
    const properties: JsonObject = {};
    for (const key of Object.keys(schema.properties).sort()) properties[key] = openApiSchema(schema.properties[key] as Schema);
    out.properties = properties;
  }
  if (schema.additionalProperties) out.additionalProperties = openApiSchema(schema.additionalProperties);
  if (schema.items) out.items = openApiSchema(schema.items);
  if (schema.rules?.length) out['x-kubernetes-validations'] = schema.rules.map((r) => ({ message: r.message }));
  return out;
}

function kindSchema(def: ResourceDef, version: string): JsonObject | undefined {
  if (!def.schema) return undefined;
  const body = openApiSchema(def.schema(version));
  const properties = (body.properties ?? {}) as JsonObject;
  body.properties = {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { allOf: [{ $ref: `#/components/schemas/${OBJECT_META}` }], default: {} },
    ...properties,
  };
  body['x-kubernetes-group-version-kind'] = [{ group: def.group, version, kind: def.kind }];
  return body;
}

export function openApiGroupVersion(registry: ResourceRegistry, path: string): string | undefined {
  const paths: JsonObject = {};
  const schemas: JsonObject = {};
  for (const def of registry.all) {
    for (const version of def.versions) {
      if (gvPath(def.group, version) !== path) continue;
      const described = kindSchema(def, version);
      if (described) schemas[definitionName(def.group, version, def.kind)] = described;
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
  if (Object.keys(schemas).length > 0) schemas[OBJECT_META] = { type: 'object', properties: { name: { type: 'string' }, namespace: { type: 'string' }, uid: { type: 'string' } } };
  return toJson({ openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas } });
}
