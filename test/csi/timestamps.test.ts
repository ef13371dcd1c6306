import { describe, expect, test } from '@jest/globals';
import { recordedCreationTime, timestampToNanos } from '../../src/csi/timestamps.js';

// The creation time a status records is a backup's age as users see it; each driver answer maps to
// exactly one value, as the Go sidecar records it.
describe('the creation time a status records from a CSI answer', () => {
  const now = () => 1_796_000_000_123_456_789n;
  const GO_ZERO = timestampToNanos({ seconds: '-62135596800', nanos: 0 });

  test('a CSI Timestamp is Unix nanoseconds with every digit; no Timestamp is undefined', () => {
    expect(timestampToNanos({ seconds: '1796000000', nanos: 123_456_789 })).toBe(1_796_000_000_123_456_789n);
    expect(timestampToNanos({ seconds: '-3600', nanos: 5 })).toBe(-3_599_999_999_995n);
    expect(timestampToNanos(null)).toBeUndefined();
    expect(timestampToNanos(undefined)).toBeUndefined();
  });

  test('no time is the Unix epoch, never now', () => {
    expect(recordedCreationTime(undefined, now)).toBe(0n);
  });

  test('Go\'s zero time (year 1) is now; one nanosecond after it is kept as sent', () => {
    expect(GO_ZERO).toBe(-62_135_596_800_000_000_000n);
    expect(recordedCreationTime(GO_ZERO, now)).toBe(now());
    expect(recordedCreationTime((GO_ZERO as bigint) + 1n, now)).toBe(-62_135_596_799_999_999_999n);
  });

  test('any other time is kept exactly: the epoch itself, before 1970, and today', () => {
    expect(recordedCreationTime(0n, now)).toBe(0n);
    expect(recordedCreationTime(-3_599_999_999_995n, now)).toBe(-3_599_999_999_995n);
    expect(recordedCreationTime(1_796_000_000_123_456_789n, () => 0n)).toBe(1_796_000_000_123_456_789n);
  });

  test('without a clock given, Go\'s zero time is the wall clock\'s now', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const recorded = recordedCreationTime(GO_ZERO);
    const after = BigInt(Date.now()) * 1_000_000n;
    expect(recorded >= before && recorded <= after).toBe(true);
  });
});
