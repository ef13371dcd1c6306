import { describe, expect, test } from '@jest/globals';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { classifyCreateError, codeName, errorText, formatGrpcError, isGrpcError } from '../../src/csi/errors.js';

/** A grpc-js style error, as a failed call reports it. */
function grpcError(code: Status, details: string): ServiceError {
  const err = new Error(`${code} ${Status[code]}: ${details}`) as ServiceError;
  err.code = code;
  err.details = details;
  err.metadata = new Metadata();
  return err;
}

describe('create error classification', () => {
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

describe('what counts as a gRPC status error, and how it reads', () => {
  const withCode = (code: unknown, details: unknown = 'd'): Error => Object.assign(new Error('m'), { code, details });

  test('a code inside 0..16 with details is a gRPC error; anything else is not', () => {
    expect(isGrpcError(withCode(0))).toBe(true);
    expect(isGrpcError(withCode(16))).toBe(true);
    expect(isGrpcError(withCode(17))).toBe(false);
    expect(isGrpcError(withCode(-1))).toBe(false);
    expect(isGrpcError(withCode('14'))).toBe(false);
    expect(isGrpcError(Object.assign(new Error('m'), { code: 14 }))).toBe(false);
    expect(isGrpcError({ code: 14, details: 'not an Error instance' })).toBe(false);
    expect(isGrpcError(undefined)).toBe(false);
  });

  test('the driver\'s own text is used, or the message when a status carries no details text', () => {
    expect(errorText(withCode(5, 'volume vol-1 not found'))).toBe('rpc error: code = NotFound desc = volume vol-1 not found');
    expect(errorText(withCode(5, null))).toBe('rpc error: code = NotFound desc = m');
    expect(errorText(withCode(5, ''))).toBe('rpc error: code = NotFound desc = ');
    expect(errorText(42)).toBe('42');
    expect(errorText(new Error('plain'))).toBe('plain');
  });

  test('unknown code numbers print as Code(n), as Go prints them', () => {
    expect(codeName(17)).toBe('Code(17)');
    expect(codeName(-3)).toBe('Code(-3)');
  });

  test('grpcError builds what grpc-js reports for a failed call', () => {
    const err = grpcError(Status.NOT_FOUND, 'gone');
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('5 NOT_FOUND: gone');
    expect(err.code).toBe(5);
    expect(err.details).toBe('gone');
    expect(err.metadata.getMap()).toEqual({});
  });
});
