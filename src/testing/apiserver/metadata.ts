import { randomInt, randomUUID } from 'node:crypto';
import { fieldErrors, type FieldError } from './errors.js';
import { isObject, jsonEqual, type JsonObject, type JsonValue } from './json.js';

/** RFC 3339 with second precision, in UTC, as Kubernetes serialises metav1.Time. */
export function nowTimestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function newUid(): string {
  return randomUUID();
}

// The alphabet and length the API server's name generator uses (no vowels, no confusable digits).
const GENERATED_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function generateName(prefix: string): string {
  const base = prefix.length > 58 ? prefix.slice(0, 58) : prefix;
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += GENERATED_ALPHABET[randomInt(GENERATED_ALPHABET.length)];
  return base + suffix;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function validateName(name: string, dnsLabel: boolean): FieldError[] {
  if (dnsLabel) {
    if (name.length > 63) return [fieldErrors.invalid('metadata.name', JSON.stringify(name), 'must be no more than 63 characters')];
    if (!DNS1123_LABEL.test(name)) {
      return [
        fieldErrors.invalid(
          'metadata.name',
          JSON.stringify(name),
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ),
      ];
    }
    return [];
  }
  if (name.length > 253) return [fieldErrors.invalid('metadata.name', JSON.stringify(name), 'must be no more than 253 characters')];
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return [
      fieldErrors.invalid(
        'metadata.name',
        JSON.stringify(name),
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      ),
    ];
  }
  return [];
}

export function metaOf(object: JsonObject): JsonObject {
  if (!isObject(object.metadata)) object.metadata = {};
  return object.metadata as JsonObject;
}

export function labelsOf(object: JsonObject): Record<string, string> {
  const labels = metaOf(object).labels;
  return isObject(labels) ? (labels as Record<string, string>) : {};
}

export function finalizersOf(object: JsonObject): string[] {
  const finalizers = metaOf(object).finalizers;
  return Array.isArray(finalizers) ? finalizers.filter((f): f is string => typeof f === 'string') : [];
}

/**
 * The real server decodes metadata into typed fields whose empty maps and lists are omitted, so an
 * object created with `labels: {}`, or whose last annotation a patch removed, has no such member.
 */
export function dropEmptyMetadata(meta: JsonObject): void {
  for (const key of ['labels', 'annotations', 'finalizers', 'ownerReferences']) {
    const value = meta[key];
    if (value === null || (Array.isArray(value) && value.length === 0) || (isObject(value) && Object.keys(value).length === 0)) delete meta[key];
  }
}

/** Members of metadata only the server sets; an update keeps the stored values. */
const SYSTEM_FIELDS = ['creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'];

/** Applies the API server's rules for metadata on update; returns field errors. */
export function carryOverSystemMetadata(next: JsonObject, old: JsonObject): FieldError[] {
  const meta = metaOf(next);
  const oldMeta = metaOf(old);
  const errors: FieldError[] = [];
  for (const key of SYSTEM_FIELDS) {
    if (oldMeta[key] === undefined) delete meta[key];
    else meta[key] = oldMeta[key] as JsonValue;
  }
  if (!meta.uid) meta.uid = oldMeta.uid as JsonValue;
  else if (meta.uid !== oldMeta.uid) errors.push(fieldErrors.invalid('metadata.uid', JSON.stringify(meta.uid), 'field is immutable'));
  delete meta.selfLink;
  delete meta.managedFields;
  dropEmptyMetadata(meta);
  if (meta.deletionTimestamp !== undefined) {
    const before = new Set(finalizersOf(old));
    const added = finalizersOf(next).filter((f) => !before.has(f));
    if (added.length > 0) {
      errors.push(
        fieldErrors.forbidden(
          'metadata.finalizers',
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}`,
        ),
      );
    }
  }
  return errors;
}

/** Everything but metadata (and status when it is a subresource): what `generation` tracks. */
export function specChanged(next: JsonObject, old: JsonObject, statusIsSubresource: boolean): boolean {
  const keys = new Set([...Object.keys(next), ...Object.keys(old)]);
  for (const key of keys) {
    if (key === 'metadata' || key === 'apiVersion' || key === 'kind' || (statusIsSubresource && key === 'status')) continue;
    if (!jsonEqual(next[key], old[key])) return true;
  }
  return false;
}

/** Semantic equality of two object states, ignoring resourceVersion (a no-op write is not stored). */
export function sameState(a: JsonObject, b: JsonObject): boolean {
  const strip = (o: JsonObject) => ({ ...o, metadata: { ...metaOf(o), resourceVersion: '' } });
  return jsonEqual(strip(a), strip(b));
}
