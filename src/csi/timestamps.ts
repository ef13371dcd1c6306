import type { Timestamp__Output } from './proto.js';

/**
 * A CSI Timestamp as Unix nanoseconds. BigInt, because today's values (~1.8e18) are beyond
 * JavaScript's safe integers and VolumeSnapshotContent.status.creationTime must keep every digit.
 * `undefined` when the driver sent no timestamp.
 */
export function timestampToNanos(ts: Timestamp__Output | null | undefined): bigint | undefined {
  if (!ts) return undefined;
  return BigInt(ts.seconds) * 1_000_000_000n + BigInt(ts.nanos);
}


export function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Go's zero time (January 1 of year 1, UTC) in Unix nanoseconds, as a CSI Timestamp carries it. */
const GO_ZERO_TIME_NANOS = -62_135_596_800n * 1_000_000_000n;

/**
 * The creation time a status records from a CSI answer, in Unix nanoseconds. No time at all is the
 * Unix epoch (0), as the Go sidecar records it; Go's zero time, which a driver written in Go sends
 * when it never set the time, is taken as now (the one case the Go sidecar replaces).
 */
export function recordedCreationTime(nanos: bigint | undefined, now: () => bigint = nowNanos): bigint {
  if (nanos === undefined) return 0n;
  return nanos === GO_ZERO_TIME_NANOS ? now() : nanos;
}
