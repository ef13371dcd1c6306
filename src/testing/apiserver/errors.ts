import type { JsonObject } from './json.js';

/** One field problem, rendered like the API server's field.Error. */
export interface FieldCause {
  reason: string;
  message: string;
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: FieldCause[];
  retryAfterSeconds?: number;
}

/**
 * An error answered as a `Status` object. The message, reason and details follow the wording of
 * the API server's own error constructors so clients and differential tests see the same text.
 */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toStatus(): JsonObject {
    const status: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message };
    if (this.reason) status.reason = this.reason;
    if (this.details) status.details = this.details as unknown as JsonObject;
    status.code = this.code;
    return status;
  }
}

/** Identifies a resource in messages: `volumesnapshots.snapshot.storage.k8s.io` or `secrets`. */
export interface QualifiedResource {
  group: string;
  resource: string;
}

function qualified(r: QualifiedResource): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

function kindDetails(r: QualifiedResource, name: string): StatusDetails {
  const details: StatusDetails = { name };
  if (r.group) details.group = r.group;
  details.kind = r.resource;
  return details;
}

export function notFound(r: QualifiedResource, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(r)} "${name}" not found`, kindDetails(r, name));
}

export function alreadyExists(r: QualifiedResource, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, kindDetails(r, name));
}

export function conflict(r: QualifiedResource, name: string, why: string): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, kindDetails(r, name));
}

export const STALE_OBJECT = 'the object has been modified; please apply your changes to the latest version and try again';

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

/**
 * What the real server answers for a path no API serves (an unknown group, version, resource or
 * subresource): Go's plain-text not-found page, not a Status object.
 */
export const NOT_FOUND_PAGE = { code: 404, body: '404 page not found\n', headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' } };

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

export function unsupportedMediaType(accepted: string[]): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);
}

export function gone(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message } as FieldCause] });
}

export function forbidden(r: QualifiedResource, name: string, why: string): ApiError {
  const subject = name ? `${qualified(r)} "${name}"` : qualified(r);
  return new ApiError(403, 'Forbidden', `${subject} is forbidden: ${why}`, kindDetails(r, name));
}

/** A field.Error: `<field>: <detail>` in the message, a cause in the details. */
export interface FieldError {
  field: string;
  /** field.ErrorType reason, e.g. FieldValueRequired. */
  reason: string;
  /** Text after the field path, e.g. `Required value` or `Invalid value: "x": must be ...`. */
  detail: string;
}

export function invalid(kind: string, group: string, name: string, errors: FieldError[]): ApiError {
  const kindText = group ? `${kind}.${group}` : kind;
  const parts = errors.map((e) => `${e.field}: ${e.detail}`);
  const list = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  const details: StatusDetails = { name };
  if (group) details.group = group;
  details.kind = kind;
  details.causes = errors.map((e) => ({ reason: e.reason, message: e.detail, field: e.field }));
  return new ApiError(422, 'Invalid', `${kindText} "${name}" is invalid: ${list}`, details);
}

export const fieldErrors = {
  required(field: string, detail = ''): FieldError {
    return { field, reason: 'FieldValueRequired', detail: detail ? `Required value: ${detail}` : 'Required value' };
  },
  invalid(field: string, value: string, detail: string): FieldError {
    return { field, reason: 'FieldValueInvalid', detail: `Invalid value: ${value}: ${detail}` };
  },
  notSupported(field: string, value: string, supported: string[]): FieldError {
    return {
      field,
      reason: 'FieldValueNotSupported',
      detail: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
    };
  },
  typeInvalid(field: string, valueText: string, detail: string): FieldError {
    return { field, reason: 'FieldValueTypeInvalid', detail: `Invalid value: ${valueText}: ${detail}` };
  },
  forbidden(field: string, detail: string): FieldError {
    return { field, reason: 'FieldValueForbidden', detail: `Forbidden: ${detail}` };
  },
};
