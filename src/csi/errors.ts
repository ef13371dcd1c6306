import { status as Status, type ServiceError } from '@grpc/grpc-js';

/**
 * gRPC status codes as the Go sidecar prints them (in status.error, Events and the
 * `grpc_status_code` metric label). These differ from the proto enum names: CANCELLED is
 * "Canceled", INVALID_ARGUMENT is "InvalidArgument", and so on.
 */
const GO_CODE_NAMES: readonly string[] = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

export function codeName(code: number): string {
  return GO_CODE_NAMES[code] ?? `Code(${code})`;
}

/** An error that carries a gRPC status, as grpc-js reports failed calls. */
export function isGrpcError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    (err as ServiceError).code >= 0 &&
    (err as ServiceError).code < GO_CODE_NAMES.length &&
    'details' in err
  );
}

/** The status text a driver sent, without grpc-js's "<code> <NAME>: " prefix on `message`. */
export function grpcDescription(err: ServiceError): string {
  return typeof err.details === 'string' ? err.details : err.message;
}

/** `rpc error: code = NotFound desc = volume vol-1 not found`: the Go rendering users know. */
export function formatGrpcError(err: ServiceError): string {
  return `rpc error: code = ${codeName(err.code)} desc = ${grpcDescription(err)}`;
}

/** Any error as text, gRPC errors in the Go rendering. */
export function errorText(err: unknown): string {
  if (isGrpcError(err)) return formatGrpcError(err);
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Codes after which the driver may still be working on a create (the call timed out, was cut, or
 * the driver asked to be retried). The sidecar keeps its being-created mark for these, because the
 * storage snapshot may exist or appear; every other code means the driver has finished with the
 * request and will not cut a snapshot for it.
 */
const IN_PROGRESS_CODES: ReadonlySet<number> = new Set([
  Status.CANCELLED,
  Status.DEADLINE_EXCEEDED,
  Status.RESOURCE_EXHAUSTED,
  Status.ABORTED,
  Status.UNAVAILABLE,
]);

export type CreateErrorKind = 'final' | 'in-progress';

/**
 * Classifies an error of a create call (CreateSnapshot or CreateVolumeGroupSnapshot).
 *
 * `final`: the driver answered with a gRPC status that ends the attempt; nothing is being created.
 * `in-progress`: the driver may still create the snapshot (see IN_PROGRESS_CODES), or the error did
 * not come from the driver at all (a check before the call, a broken connection), so nothing can be
 * concluded about storage.
 *
 * Both kinds are retried with backoff; the kind only decides whether the being-created annotation,
 * which blocks deletion, may be removed.
 */
export function classifyCreateError(err: unknown): CreateErrorKind {
  if (!isGrpcError(err)) return 'in-progress';
  return IN_PROGRESS_CODES.has(err.code) ? 'in-progress' : 'final';
}
