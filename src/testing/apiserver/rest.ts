import { AccessPolicy } from './access.js';
import {
  ApiError,
  STALE_OBJECT,
  alreadyExists,
  badRequest,
  conflict,
  fieldErrors,
  forbidden,
  internalError,
  invalid,
  notFound,
  unsupportedMediaType,
  type FieldError,
} from './errors.js';
import { cloneJson, isObject, parseJson, toJson, type JsonObject, type JsonValue } from './json.js';
import {
  carryOverSystemMetadata,
  dropEmptyMetadata,
  finalizersOf,
  generateName,
  metaOf,
  newUid,
  nowTimestamp,
  sameState,
  specChanged,
  validateName,
} from './metadata.js';
import { PatchApplyError, applyJsonPatch, applyMergePatch } from './patch.js';
import { apiVersionOf, canonicalOrder, renderStored, toStorage, toVersion } from './render.js';
import type { ResourceDef, ResourceRegistry } from './resources.js';
import { validateAgainst } from './schema.js';
import { storedKey, type Storage, type StoredObject } from './storage.js';

/** Where a request points: resource, version, namespace, name and subresource. */
export interface Scope {
  def: ResourceDef;
  version: string;
  namespace: string;
  name: string;
  subresource: string;
  query: URLSearchParams;
}

export interface Reply {
  code: number;
  body: string;
  headers?: Record<string, string>;
}

const PATCH_TYPES_CUSTOM = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
const PATCH_TYPES_BUILTIN = [...PATCH_TYPES_CUSTOM, 'application/strategic-merge-patch+json'];

const NAMESPACES_KEY = '/namespaces';

function qualifiedOf(def: ResourceDef) {
  return { group: def.group, resource: def.plural };
}

function isDryRun(scope: Scope): boolean {
  return scope.query.getAll('dryRun').includes('All');
}

/** The CRUD semantics of the API server's generic registry, over the in-memory storage. */
export class RestOperations {
  constructor(
    private readonly storage: Storage,
    private readonly registry: ResourceRegistry,
    private readonly access: AccessPolicy = new AccessPolicy(),
  ) {}

  // ---- reads -------------------------------------------------------------------------------

  existing(scope: Scope): StoredObject {
    const stored = this.storage.collection(scope.def.storageKey).get(storedKey(scope.namespace, scope.name));
    if (!stored) throw notFound(qualifiedOf(scope.def), scope.name);
    return stored;
  }

  get(scope: Scope): Reply {
    return { code: 200, body: this.render(scope, this.existing(scope)) };
  }

  render(scope: Scope, stored: StoredObject): string {
    return renderStored(scope.def, stored, scope.version);
  }

  // ---- create ------------------------------------------------------------------------------

  create(scope: Scope, body: JsonValue): Reply {
    const { def } = scope;
    if (def.virtual) return this.reviewAccess(scope, body);
    const object = this.decodeBody(scope, body);
    const meta = metaOf(object);
    this.checkNamespace(scope, meta);
    if (!meta.name && typeof meta.generateName === 'string' && meta.generateName) meta.name = generateName(meta.generateName);
    const kindText = def.kind;
    const name = typeof meta.name === 'string' ? meta.name : '';
    if (!name) throw invalid(kindText, def.group, '', [fieldErrors.required('metadata.name', 'name or generateName is required')]);
    if (meta.resourceVersion) throw internalError('resourceVersion should not be set on objects to be created');
    const errors = validateName(name, def.plural === 'namespaces');
    if (errors.length) throw invalid(kindText, def.group, name, errors);
    if (def.namespaced) this.requireActiveNamespace(scope, name);

    const stored = toStorage(def, object, scope.version);
    const smeta = metaOf(stored);
    smeta.uid = newUid();
    smeta.creationTimestamp = nowTimestamp();
    for (const key of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'managedFields', 'generation']) delete smeta[key];
    dropEmptyMetadata(smeta);
    if (def.custom) {
      smeta.generation = 1;
      if (def.statusSubresource) delete stored.status;
    }
    this.applyBuiltinCreateDefaults(def, stored);
    this.validate(scope, stored, undefined, name);
    const collection = this.storage.collection(def.storageKey);
    if (collection.get(storedKey(scope.namespace, name))) throw alreadyExists(qualifiedOf(def), name);
    if (isDryRun(scope)) return { code: 201, body: toJson(canonicalOrder(def, toVersion(def, stored, scope.version))) };
    const created = this.storage.commit(def.storageKey, 'ADDED', stored);
    return { code: 201, body: this.render(scope, created) };
  }

  private applyBuiltinCreateDefaults(def: ResourceDef, object: JsonObject): void {
    if (def.custom || def.group !== '') return;
    if (def.plural === 'namespaces') {
      object.spec = { finalizers: ['kubernetes'] };
      object.status = { phase: 'Active' };
    } else if (def.plural === 'persistentvolumeclaims' || def.plural === 'persistentvolumes') {
      object.status = { phase: 'Pending' };
    } else if (def.plural === 'secrets' && object.type === undefined) {
      object.type = 'Opaque';
    }
  }

  /** SelfSubjectAccessReview: allowed unless the server was started with the permission denied. */
  private reviewAccess(scope: Scope, body: JsonValue): Reply {
    const review = this.decodeBody(scope, body);
    const spec = isObject(review.spec) ? review.spec : {};
    const ra = isObject(spec.resourceAttributes) ? spec.resourceAttributes : {};
    const text = (v: JsonValue | undefined): string => (typeof v === 'string' ? v : '');
    const attributes = { verb: text(ra.verb), group: text(ra.group), resource: text(ra.resource), subresource: text(ra.subresource), namespace: text(ra.namespace) };
    const allowed = this.access.allows(attributes);
    const out: JsonObject = {
      kind: scope.def.kind,
      apiVersion: apiVersionOf(scope.def, scope.version),
      metadata: { creationTimestamp: null },
      spec,
      status: allowed
        ? { allowed: true, reason: 'allowed by the kube-test-apiserver (every request of its user is allowed)' }
        : { allowed: false, reason: AccessPolicy.reason(attributes) },
    };
    return { code: 201, body: toJson(out) };
  }

  // ---- update ------------------------------------------------------------------------------

  update(scope: Scope, body: JsonValue): Reply {
    const { def } = scope;
    const object = this.decodeBody(scope, body);
    const meta = metaOf(object);
    if (meta.name !== undefined && meta.name !== scope.name) {
      throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${scope.name})`);
    }
    meta.name = scope.name;
    this.checkNamespace(scope, meta);
    const current = this.storage.collection(def.storageKey).get(storedKey(scope.namespace, scope.name));
    if (!current) {
      if (def.createOnUpdate && !scope.subresource) {
        delete meta.resourceVersion;
        return this.create(scope, object);
      }
      throw notFound(qualifiedOf(def), scope.name);
    }
    if (!meta.resourceVersion && def.requireResourceVersionOnUpdate) {
      // The storage layer reports this one with the resource (not the kind) as its kind.
      throw invalid(def.plural, def.group, scope.name, [fieldErrors.invalid('metadata.resourceVersion', '0', 'must be specified for an update')]);
    }
    return this.writeUpdate(scope, current, object);
  }

  patch(scope: Scope, text: string, contentType: string): Reply {
    const { def } = scope;
    const allowed = def.custom ? PATCH_TYPES_CUSTOM : PATCH_TYPES_BUILTIN;
    if (!allowed.includes(contentType)) throw unsupportedMediaType(allowed);
    if (contentType === 'application/apply-patch+yaml') {
      throw new ApiError(415, 'UnsupportedMediaType', 'server-side apply is not supported by kube-test-apiserver; use a JSON or merge patch');
    }
    let patchDoc: JsonValue;
    try {
      patchDoc = parseJson(text);
    } catch (err) {
      throw badRequest(`error decoding patch: ${(err as Error).message}`);
    }
    const current = this.existing(scope);
    // The patch applies to the object as the client's version shows it, status included.
    const view = toVersion(def, current.object, scope.version);
    let patched: JsonObject;
    try {
      if (contentType === 'application/json-patch+json') patched = applyJsonPatch(view, patchDoc);
      else {
        if (!isObject(patchDoc)) throw badRequest('error decoding patch: the patch is not a JSON object');
        const merged = applyMergePatch(view, patchDoc);
        if (!isObject(merged)) throw badRequest('error decoding patch: the patched object is not a JSON object');
        patched = merged;
      }
    } catch (err) {
      if (err instanceof PatchApplyError) {
        throw new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request', {});
      }
      throw err;
    }
    const meta = metaOf(patched);
    if (meta.name !== scope.name) throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${scope.name})`);
    return this.writeUpdate(scope, current, cloneJson(patched));
  }

  /** Shared tail of PUT and PATCH: preconditions, subresource rules, validation, storage. */
  private writeUpdate(scope: Scope, current: StoredObject, requested: JsonObject): Reply {
    const { def } = scope;
    const reqMeta = metaOf(requested);
    if (reqMeta.resourceVersion && reqMeta.resourceVersion !== metaOf(current.object).resourceVersion) {
      throw conflict(qualifiedOf(def), scope.name, STALE_OBJECT);
    }
    requested.apiVersion = apiVersionOf(def, scope.version);
    requested.kind = def.kind;
    const incoming = toStorage(def, requested, scope.version);
    const old = current.object;
    let next: JsonObject;
    if (scope.subresource === 'status') {
      next = cloneJson(old);
      if (incoming.status === undefined) delete next.status;
      else next.status = incoming.status;
    } else {
      next = incoming;
      if (def.statusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = cloneJson(old.status);
      }
      const errors = carryOverSystemMetadata(next, old);
      if (errors.length) throw invalid(def.kind, def.group, scope.name, errors);
    }
    metaOf(next).resourceVersion = metaOf(old).resourceVersion as JsonValue;
    if (def.custom && specChanged(next, old, def.statusSubresource)) {
      metaOf(next).generation = Number(metaOf(old).generation ?? 0) + 1;
    }
    this.validate(scope, next, old, scope.name);
    if (sameState(next, old)) return { code: 200, body: this.render(scope, current) };
    if (isDryRun(scope)) return { code: 200, body: toJson(canonicalOrder(def, toVersion(def, next, scope.version))) };
    if (metaOf(next).deletionTimestamp !== undefined && finalizersOf(next).length === 0) {
      // The last finalizer is gone from an object being deleted: the update completes the deletion.
      // As on the real server the new state is never stored: the DELETED event carries the last
      // stored state (finalizers included) and only the response shows the update.
      const removed = this.storage.commit(def.storageKey, 'DELETED', cloneJson(old), current);
      metaOf(next).resourceVersion = metaOf(removed.object).resourceVersion as JsonValue;
      return { code: 200, body: toJson(canonicalOrder(def, toVersion(def, next, scope.version))) };
    }
    const updated = this.storage.commit(def.storageKey, 'MODIFIED', next, current);
    return { code: 200, body: this.render(scope, updated) };
  }

  // ---- delete ------------------------------------------------------------------------------

  delete(scope: Scope, body: JsonValue | undefined): Reply {
    const options = isObject(body) ? body : {};
    const current = this.existing(scope);
    this.checkPreconditions(scope, current, options);
    return this.deleteOne(scope, current);
  }

  private checkPreconditions(scope: Scope, current: StoredObject, options: JsonObject): void {
    const pre = isObject(options.preconditions) ? options.preconditions : {};
    const meta = metaOf(current.object);
    if (typeof pre.uid === 'string' && pre.uid !== meta.uid) {
      throw conflict(qualifiedOf(scope.def), scope.name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(meta.uid)}`);
    }
    if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== meta.resourceVersion) {
      throw conflict(
        qualifiedOf(scope.def),
        scope.name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(meta.resourceVersion)}`,
      );
    }
  }

  /** Deletes now, or marks for deletion when finalizers remain (namespaces always wait). */
  deleteOne(scope: Scope, current: StoredObject): Reply {
    const { def } = scope;
    const meta = metaOf(current.object);
    const pending = finalizersOf(current.object).length > 0 || def.plural === 'namespaces';
    if (pending) {
      if (meta.deletionTimestamp !== undefined) return { code: 200, body: this.render(scope, current) };
      const next = cloneJson(current.object);
      const nmeta = metaOf(next);
      if (typeof nmeta.generation === 'number' && nmeta.generation > 0) nmeta.generation += 1;
      nmeta.deletionTimestamp = nowTimestamp();
      nmeta.deletionGracePeriodSeconds = 0;
      if (def.plural === 'namespaces') next.status = { phase: 'Terminating' };
      if (isDryRun(scope)) return { code: 200, body: toJson(canonicalOrder(def, toVersion(def, next, scope.version))) };
      const marked = this.storage.commit(def.storageKey, 'MODIFIED', next, current);
      return { code: 200, body: this.render(scope, marked) };
    }
    if (isDryRun(scope)) return { code: 200, body: this.render(scope, current) };
    const last = { ...current.object, metadata: { ...meta } };
    const removed = this.storage.commit(def.storageKey, 'DELETED', last, current);
    if (def.returnDeletedObject) return { code: 200, body: this.render(scope, removed) };
    const details: JsonObject = { name: scope.name };
    if (def.group) details.group = def.group;
    details.kind = def.plural;
    details.uid = meta.uid as JsonValue;
    return { code: 200, body: toJson({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details }) };
  }

  /** Finishes a terminating namespace once nothing with finalizers is left in it. */
  finalizeNamespaces(): void {
    const namespaces = this.storage.collection(NAMESPACES_KEY);
    const nsDef = this.registry.find('', 'v1', 'namespaces') as ResourceDef;
    for (const ns of [...namespaces.byKey.values()]) {
      if (metaOf(ns.object).deletionTimestamp === undefined) continue;
      let remaining = 0;
      for (const def of this.registry.all) {
        if (!def.namespaced || def.virtual || def.group === 'events.k8s.io') continue;
        const collection = this.storage.collection(def.storageKey);
        for (const key of [...collection.sortedKeys(ns.name)]) {
          const stored = collection.get(key);
          if (!stored) continue;
          remaining++;
          const scope: Scope = { def, version: def.storageVersion, namespace: ns.name, name: stored.name, subresource: '', query: new URLSearchParams() };
          this.deleteOne(scope, stored);
        }
      }
      if (remaining === 0) {
        const last = { ...ns.object, metadata: { ...metaOf(ns.object) } };
        this.storage.commit(nsDef.storageKey, 'DELETED', last, ns);
      }
    }
  }

  hasTerminatingNamespaces(): boolean {
    for (const ns of this.storage.collection(NAMESPACES_KEY).byKey.values()) if (metaOf(ns.object).deletionTimestamp !== undefined) return true;
    return false;
  }

  // ---- helpers -----------------------------------------------------------------------------

  private decodeBody(scope: Scope, body: JsonValue): JsonObject {
    if (!isObject(body)) throw badRequest(`the body of the request was in an unknown format - expected a JSON object`);
    const expected = apiVersionOf(scope.def, scope.version);
    if (body.apiVersion !== undefined && body.apiVersion !== expected) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${expected})`);
    }
    if (body.kind !== undefined && body.kind !== scope.def.kind && scope.def.custom) {
      // The CRD handler decodes any kind and then fails type-meta validation, naming the body's kind.
      const name = isObject(body.metadata) && typeof body.metadata.name === 'string' ? body.metadata.name : scope.name;
      throw invalid(String(body.kind), scope.def.group, name, [fieldErrors.invalid('kind', JSON.stringify(body.kind), `must be ${scope.def.kind}`)]);
    }
    if (body.kind !== undefined && body.kind !== scope.def.kind) {
      throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${scope.def.kind})`);
    }
    body.apiVersion = expected;
    body.kind = scope.def.kind;
    return body;
  }

  private checkNamespace(scope: Scope, meta: JsonObject): void {
    if (!scope.def.namespaced) {
      delete meta.namespace;
      return;
    }
    if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== scope.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    meta.namespace = scope.namespace;
  }

  private requireActiveNamespace(scope: Scope, name: string): void {
    const ns = this.storage.collection(NAMESPACES_KEY).get(scope.namespace);
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, scope.namespace);
    if (metaOf(ns.object).deletionTimestamp !== undefined) {
      throw forbidden(qualifiedOf(scope.def), name, `unable to create new content in namespace ${scope.namespace} because it is being terminated`);
    }
  }

  private validate(scope: Scope, next: JsonObject, old: JsonObject | undefined, name: string): void {
    const { def } = scope;
    if (!def.schema) return;
    // Validation runs in the version of the request, as the API server's CRD handler does.
    const view = toVersion(def, next, scope.version);
    const oldView = old ? toVersion(def, old, scope.version) : undefined;
    const errors: FieldError[] = validateAgainst(view, oldView, def.schema(scope.version), scope.subresource === 'status');
    if (errors.length) throw invalid(def.kind, def.group, name, errors);
  }
}
