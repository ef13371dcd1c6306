import protobuf from 'protobufjs';
import { csiReflection } from './proto.js';

/** What a secret field's value is replaced with in logs, whatever it held. */
export const STRIPPED = '***stripped***';

const SECRET_OPTION = '(csi_secret)';

function isSecret(field: protobuf.Field): boolean {
  return field.options?.[SECRET_OPTION] === true;
}

// The only 64-bit integer type the CSI proto uses (grpc-js hands its values over as decimal strings).
const INT64 = 'int64';

/**
 * Renders one CSI message as a single line of JSON for the log, in the Go sidecar's style: keys are
 * the proto field names in sorted order, only populated fields appear, nested messages recurse,
 * enums print by name, int64 values print as plain numbers without losing digits, and every field
 * whose descriptor carries the csi_secret option prints as "***stripped***".
 *
 * The secret fields are found from the proto's descriptors, so a secret field added to the proto
 * is hidden without anyone remembering to list it here.
 */
export function sanitizedJson(typeName: string, message: unknown): string {
  const type = csiReflection().lookupType(typeName);
  return renderMessage(type, message);
}

function renderMessage(type: protobuf.Type, message: unknown): string {
  // Anything else that is not an object has none of the fields, so it prints as {} below too.
  if (message === null || message === undefined) return '{}';
  const record = message as Record<string, unknown>;
  const parts: string[] = [];
  // Field names are unique, so no two compare equal.
  // Stryker disable next-line EqualityOperator: with unique names `<` and `<=` sort alike.
  const fields = [...type.fieldsArray].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const field of fields) {
    const value = record[field.name];
    if (!isPopulated(field, value)) continue;
    const rendered = isSecret(field) ? JSON.stringify(STRIPPED) : renderField(field, value);
    parts.push(`${JSON.stringify(field.name)}:${rendered}`);
  }
  return `{${parts.join(',')}}`;
}

function isPopulated(field: protobuf.Field, value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (field.map) return typeof value === 'object' && Object.keys(value as object).length > 0;
  if (field.repeated) return Array.isArray(value) && value.length > 0;
  if (field.resolvedType instanceof protobuf.Enum) return enumNumber(field.resolvedType, value) !== 0;
  if (typeof value === 'string') return field.type === INT64 ? !/^-?0*$/.test(value) : value !== '';
  // Numbers and booleans show when non-zero / true; a nested message shows whenever it is set, even empty.
  return Boolean(value);
}

function renderField(field: protobuf.Field, value: unknown): string {
  if (field.map) {
    // Map keys are unique, so no two compare equal.
    // Stryker disable next-line EqualityOperator: with unique keys `<` and `<=` sort alike.
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${renderSingle(field, v)}`).join(',')}}`;
  }
  if (field.repeated) return `[${(value as unknown[]).map((v) => renderSingle(field, v)).join(',')}]`;
  return renderSingle(field, value);
}

function renderSingle(field: protobuf.Field, value: unknown): string {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return renderMessage(resolved, value);
  if (resolved instanceof protobuf.Enum) {
    const number = enumNumber(resolved, value);
    // Stryker disable next-line ConditionalExpression: valuesById[undefined] is undefined too, so the guard only saves a lookup.
    return JSON.stringify((number !== undefined && resolved.valuesById[number]) || String(value));
  }
  if (field.type === INT64 && /^-?\d+$/.test(String(value))) return String(value);
  return JSON.stringify(value) ?? 'null';
}

/** An enum value given by number or by name; undefined for a name the enum does not have. */
function enumNumber(type: protobuf.Enum, value: unknown): number | undefined {
  return typeof value === 'number' ? value : type.values[String(value)];
}
