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
