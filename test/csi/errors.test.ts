import { describe, expect, test } from '@jest/globals';
import { status as Status } from '@grpc/grpc-js';
import { classifyCreateError, codeName, errorText, formatGrpcError, grpcError, isGrpcError } from '../../src/csi/errors.js';

describe('create error classification (sidecar-behavior §6.11)', () => {
  // Every gRPC code, with its Go name and whether the driver may still be creating the snapshot.
  const table: Array<[Status, string, 'final' | 'in-progress']> = [
    [Status.CANCELLED, 'Canceled', 'in-progress'],
    [Status.UNKNOWN, 'Unknown', 'final'],
    [Status.INVALID_ARGUMENT, 'InvalidArgument', 'final'],
    [Status.DEADLINE_EXCEEDED, 'DeadlineExceeded', 'in-progress'],
    [Status.NOT_FOUND, 'NotFound', 'final'],
    [Status.ALREADY_EXISTS, 'AlreadyExists', 'final'],
    [Status.PERMISSION_DENIED, 'PermissionDenied', 'final'],
    [Status.RESOURCE_EXHAUSTED, 'ResourceExhausted', 'in-progress'],
    [Status.FAILED_PRECONDITION, 'FailedPrecondition', 'final'],
    [Status.ABORTED, 'Aborted', 'in-progress'],
    [Status.OUT_OF_RANGE, 'OutOfRange', 'final'],
    [Status.UNIMPLEMENTED, 'Unimplemented', 'final'],
    [Status.INTERNAL, 'Internal', 'final'],
    [Status.UNAVAILABLE, 'Unavailable', 'in-progress'],
    [Status.DATA_LOSS, 'DataLoss', 'final'],
    [Status.UNAUTHENTICATED, 'Unauthenticated', 'final'],
  ];

  test.each(table)('code %i (%s) is %s', (code, name, kind) => {
    const err = grpcError(code, 'boom');
    expect(isGrpcError(err)).toBe(true);
    expect(codeName(code)).toBe(name);
    expect(classifyCreateError(err)).toBe(kind);
    expect(formatGrpcError(err)).toBe(`rpc error: code = ${name} desc = boom`);
  });

  test('covers every code grpc-js knows except OK', () => {
    const codes = Object.values(Status).filter((v): v is number => typeof v === 'number' && v !== Status.OK);
    expect(table.map(([c]) => c).sort((a, b) => a - b)).toEqual(codes.sort((a, b) => a - b));
    expect(codeName(Status.OK)).toBe('OK');
  });

  test('an error that is not a gRPC status leaves the outcome open (Z-23: checks before the call)', () => {
    const err = new Error('cannot create snapshot. Snapshot content c1 not bound to a snapshot');
    expect(isGrpcError(err)).toBe(false);
    expect(classifyCreateError(err)).toBe('in-progress');
    expect(errorText(err)).toBe('cannot create snapshot. Snapshot content c1 not bound to a snapshot');
    expect(classifyCreateError('a string')).toBe('in-progress');
  });
});
