import { classifyCreateError, errorText, isGrpcError } from '../../csi/errors.js';
import { formatGoDuration } from '../../config/go-values.js';
import type { Logger } from '../../observe/logger.js';
import { errorStatusUpdate, type PatchOp } from './patches.js';
import type { GroupContentStatus } from '../group/types.js';
import type { VolumeSnapshotContentStatus } from '../types.js';

/** The object an Event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

export interface WarningRecorder {
  warning(object: EventSubject, reason: string, message: string): void;
}

/** The text of a failed write of the object, as the Go sidecar words it. */
export function apiWriteError(name: string, err: unknown): string {
  return `snapshot controller failed to update ${name} on API server: ${errorText(err)}`;
}

/** The gRPC status behind an error, following `cause` through the sidecar's own wrapping. */
function driverError(err: unknown): unknown {
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (isGrpcError(e)) return e;
  return undefined;
}

/**
 * What happens next after a failed attempt, appended to the Go sidecar's message so that
 * `kubectl describe` answers "why is my snapshot stuck, and will it move?". The text depends only on
 * the kind of failure and the backoff cap, so a failure that repeats is still recorded once.
 */
export function nextStep(err: unknown, retryIntervalMaxMs: number): string {
  const every = `at most every ${formatGoDuration(retryIntervalMaxMs)}`;
  const grpc = driverError(err);
  if (grpc === undefined) return ` (retrying with backoff, ${every})`;
  if (classifyCreateError(grpc) === 'in-progress') {
    return ` (not final: the driver may still be working on it, so deletion waits; retrying with backoff, ${every})`;
  }
  return ` (final for this attempt: the driver refused it; retrying with backoff, ${every}, in case the cause is fixed)`;
}

/** The Event subject of a cluster-scoped object. */
export function eventSubject(apiVersion: string, kind: string, meta: { name: string; uid?: string; resourceVersion?: string }): EventSubject {
  return {
    apiVersion,
    kind,
    name: meta.name,
    ...(meta.uid ? { uid: meta.uid } : {}),
    ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
  };
}

/**
 * Records a failed create or refresh on the object, for single and group contents alike:
 * status.error (with readyToUse false) and a Warning Event, both only when the message differs from
 * the one already recorded, so a failure repeating on every retry is announced once. A failure to
 * write the status is logged and does not hide the original error.
 */
export async function recordFailure<T extends { metadata: { name: string; uid?: string; resourceVersion?: string }; status?: VolumeSnapshotContentStatus | GroupContentStatus }>(options: {
  latest: T;
  reason: string;
  message: string;
  now: Date;
  write(ops: PatchOp[]): Promise<T>;
  subject(obj: T): EventSubject;
  events: WarningRecorder;
  log: Logger;
}): Promise<void> {
  const { latest, reason, message } = options;
  const ops = errorStatusUpdate(latest.status, message, options.now);
  if (ops.length === 0) return;
  let target = latest;
  try {
    target = await options.write(ops);
  } catch (err) {
    options.log.v(3).info('Could not record the error in status', { object: latest.metadata.name, error: errorText(err) });
  }
  options.events.warning(options.subject(target), reason, message);
}
