import { fieldErrors, type FieldError } from './errors.js';
import { isObject, jsonEqual, jsonTypeName, toJson, type JsonObject, type JsonValue } from './json.js';

/**
 * A structural schema in the shape the API server enforces for custom resources: types, required
 * members, enums, minimums, patterns and formats, plus CEL rules written as TypeScript predicates.
 * The same tree drives pruning of unknown fields, so what is stored is what the schema describes.
 */
export interface Schema {
  type: 'object' | 'string' | 'integer' | 'boolean' | 'array';
  properties?: Record<string, Schema>;
  additionalProperties?: Schema;
  items?: Schema;
  required?: string[];
  enum?: string[];
  format?: 'date-time' | 'int64';
  minimum?: number;
  pattern?: string;
  intOrString?: boolean;
  rules?: Rule[];
}

/** A CEL rule restated as code. Transition rules see `oldSelf` and run on updates only. */
export interface Rule {
  message: string;
  transition: boolean;
  holds(self: JsonValue, oldSelf: JsonValue | undefined): boolean;
}

export const rule = (message: string, holds: (self: JsonValue) => boolean): Rule => ({ message, transition: false, holds });
export const transitionRule = (message: string, holds: (self: JsonValue, oldSelf: JsonValue) => boolean): Rule => ({
  message,
  transition: true,
  holds: (self, oldSelf) => holds(self, oldSelf as JsonValue),
});
/** `self == oldSelf`. */
export const immutable = (message: string): Rule => transitionRule(message, (self, oldSelf) => jsonEqual(self, oldSelf));
/** `!has(oldSelf.f) || has(self.f)`. */
export const requiredOnceSet = (member: string, message: string): Rule =>
  transitionRule(message, (self, oldSelf) => !has(oldSelf, member) || has(self, member));
/** `has(self.a) != has(self.b)`. */
export const exactlyOneOf = (a: string, b: string, message: string): Rule => rule(message, (self) => has(self, a) !== has(self, b));

export function has(value: JsonValue | undefined, member: string): boolean {
  return isObject(value) && Object.prototype.hasOwnProperty.call(value, member);
}

export const str = (extra: Partial<Schema> = {}): Schema => ({ type: 'string', ...extra });
export const bool = (): Schema => ({ type: 'boolean' });
export const int64 = (extra: Partial<Schema> = {}): Schema => ({ type: 'integer', format: 'int64', ...extra });
export const dateTime = (): Schema => ({ type: 'string', format: 'date-time' });
export const arrayOf = (items: Schema, extra: Partial<Schema> = {}): Schema => ({ type: 'array', items, ...extra });
export const mapOf = (values: Schema, extra: Partial<Schema> = {}): Schema => ({ type: 'object', additionalProperties: values, ...extra });
export const obj = (properties: Record<string, Schema>, extra: Partial<Schema> = {}): Schema => ({ type: 'object', properties, ...extra });

/** Removes members the schema does not know and `null` members, as the API server's pruning does. */
export function prune(value: JsonValue, schema: Schema): JsonValue {
  if (schema.type === 'object' && isObject(value)) {
    for (const key of Object.keys(value)) {
      const child = schema.properties?.[key] ?? schema.additionalProperties;
      if (!child || value[key] === null) delete value[key];
      else value[key] = prune(value[key], child);
    }
  } else if (schema.type === 'array' && Array.isArray(value) && schema.items) {
    for (let i = 0; i < value.length; i++) value[i] = prune(value[i], schema.items);
  }
  return value;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function quoteValue(value: JsonValue): string {
  return typeof value === 'string' ? JSON.stringify(value) : toJson(value);
}

interface Walk {
  errors: FieldError[];
  /** Errors that stop the CEL rules from running (type, required, enum), as the API server does. */
  blocking: boolean;
  /**
   * Set when a write to the status subresource is checked: the real server validates `status` on
   * its own there, so the `<name> in body` of its messages is relative to status.
   */
  statusRoot?: boolean;
}

function inBody(path: string, walk: Walk): string {
  return walk.statusRoot && path.startsWith('status.') ? path.slice('status.'.length) : path;
}

/** Schema checks (types, required, enum, formats). CEL rules run separately, see validateRules. */
export function validateSchema(value: JsonValue, schema: Schema, path: string, walk: Walk): void {
  const actual = jsonTypeName(value);
  const typeMatches = actual === schema.type || (schema.intOrString && (actual === 'integer' || actual === 'string'));
  if (!typeMatches) {
    walk.blocking = true;
    walk.errors.push(fieldErrors.typeInvalid(path, JSON.stringify(actual), `${inBody(path, walk)} in body must be of type ${schema.type}: ${JSON.stringify(actual)}`));
    return;
  }
  if (schema.enum && typeof value === 'string' && !schema.enum.includes(value)) {
    walk.blocking = true;
    walk.errors.push(fieldErrors.notSupported(path, value, schema.enum));
  }
  if (schema.format === 'date-time' && typeof value === 'string' && !RFC3339.test(value)) {
    walk.errors.push(fieldErrors.typeInvalid(path, quoteValue(value), `${inBody(path, walk)} in body must be of type date-time: ${quoteValue(value)}`));
  }
  if (schema.minimum !== undefined && (typeof value === 'number' || actual === 'integer') && Number(toJson(value)) < schema.minimum) {
    walk.errors.push(fieldErrors.invalid(path, quoteValue(value), `${inBody(path, walk)} in body should be greater than or equal to ${schema.minimum}`));
  }
  if (schema.pattern && typeof value === 'string' && !new RegExp(schema.pattern).test(value)) {
    walk.errors.push(fieldErrors.invalid(path, quoteValue(value), `${inBody(path, walk)} in body should match '${schema.pattern}'`));
  }
  if (schema.type === 'object' && isObject(value)) {
    for (const member of schema.required ?? []) {
      if (!has(value, member)) {
        walk.blocking = true;
        walk.errors.push(fieldErrors.required(path ? `${path}.${member}` : member));
      }
    }
    for (const key of Object.keys(value).sort()) {
      const child = schema.properties?.[key] ?? schema.additionalProperties;
      if (child) validateSchema(value[key], child, path ? `${path}.${key}` : key, walk);
    }
  }
  if (schema.type === 'array' && Array.isArray(value) && schema.items) {
    value.forEach((item, i) => validateSchema(item, schema.items as Schema, `${path}[${i}]`, walk));
  }
}

/** CEL rules; transition rules run only where the old object has the same member. */
export function validateRules(value: JsonValue, old: JsonValue | undefined, schema: Schema, path: string, errors: FieldError[]): void {
  for (const r of schema.rules ?? []) {
    if (r.transition && old === undefined) continue;
    if (r.holds(value, old)) continue;
    // The real server shows a failing rule's value when it is a scalar and omits objects and lists.
    if (isObject(value) || Array.isArray(value)) errors.push({ field: path, reason: 'FieldValueInvalid', detail: `Invalid value: ${r.message}` });
    else errors.push(fieldErrors.invalid(path, quoteValue(value), r.message));
  }
  if (schema.type === 'object' && isObject(value)) {
    for (const key of Object.keys(value).sort()) {
      const child = schema.properties?.[key] ?? schema.additionalProperties;
      const oldChild = isObject(old) && has(old, key) ? old[key] : undefined;
      if (child) validateRules(value[key], oldChild, child, path ? `${path}.${key}` : key, errors);
    }
  }
  if (schema.type === 'array' && Array.isArray(value) && schema.items) {
    value.forEach((item, i) => validateRules(item, undefined, schema.items as Schema, `${path}[${i}]`, errors));
  }
}

/** Schema errors, then the CEL rules unless a blocking error makes them meaningless. */
export function validateAgainst(body: JsonObject, old: JsonObject | undefined, schema: Schema, statusRoot = false): FieldError[] {
  const walk: Walk = { errors: [], blocking: false, statusRoot };
  const { apiVersion: _a, kind: _k, metadata: _m, ...content } = body;
  validateSchema(content, schema, '', walk);
  if (walk.blocking) {
    if (schema.rules?.length || hasRules(schema)) {
      walk.errors.push({
        field: '<nil>',
        reason: 'FieldValueInvalid',
        detail: 'Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
      });
    }
    return walk.errors;
  }
  const oldContent = old ? (({ apiVersion: _oa, kind: _ok, metadata: _om, ...rest }) => rest)(old) : undefined;
  validateRules(content, oldContent, schema, '', walk.errors);
  return walk.errors;
}

function hasRules(schema: Schema): boolean {
  if (schema.rules?.length) return true;
  const children = [...Object.values(schema.properties ?? {}), schema.additionalProperties, schema.items].filter((c): c is Schema => !!c);
  return children.some(hasRules);
}
