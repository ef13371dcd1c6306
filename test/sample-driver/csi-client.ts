import * as grpc from '@grpc/grpc-js';
import { expect } from '@jest/globals';
import { csiGrpc, type csi } from '../../src/csi/proto.js';

/**
 * A plain grpc-js CSI client over the driver's unix socket, built only from csiGrpc(): what any CO
 * or sidecar would use. Calls are promisified and get a deadline.
 */
export class CsiClient {
  readonly identity: grpc.Client;
  readonly controller: grpc.Client;
  readonly group: grpc.Client;

  constructor(endpoint: string) {
    const v1 = csiGrpc().csi.v1;
    const creds = grpc.credentials.createInsecure();
    this.identity = new v1.Identity(endpoint, creds);
    this.controller = new v1.Controller(endpoint, creds);
    this.group = new v1.GroupController(endpoint, creds);
  }

  private call<T>(client: grpc.Client, method: string, request: object, deadlineMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fn = (client as unknown as Record<string, (...args: unknown[]) => void>)[method];
      if (!fn) throw new Error(`no method ${method}`);
      fn.call(client, request, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: T) =>
        err ? reject(err) : resolve(res),
      );
    });
  }

  getPluginInfo = (deadlineMs = 10_000) => this.call<csi.GetPluginInfoResponse__Output>(this.identity, 'GetPluginInfo', {}, deadlineMs);
  getPluginCapabilities = () => this.call<csi.GetPluginCapabilitiesResponse__Output>(this.identity, 'GetPluginCapabilities', {}, 10_000);
  probe = (deadlineMs = 10_000) => this.call<csi.ProbeResponse__Output>(this.identity, 'Probe', {}, deadlineMs);

  controllerGetCapabilities = () =>
    this.call<csi.ControllerGetCapabilitiesResponse__Output>(this.controller, 'ControllerGetCapabilities', {}, 10_000);
  createVolume = (req: csi.CreateVolumeRequest) => this.call<csi.CreateVolumeResponse__Output>(this.controller, 'CreateVolume', req, 10_000);
  deleteVolume = (req: csi.DeleteVolumeRequest) => this.call<csi.DeleteVolumeResponse__Output>(this.controller, 'DeleteVolume', req, 10_000);
  validateVolumeCapabilities = (req: csi.ValidateVolumeCapabilitiesRequest) =>
    this.call<csi.ValidateVolumeCapabilitiesResponse__Output>(this.controller, 'ValidateVolumeCapabilities', req, 10_000);
  createSnapshot = (req: csi.CreateSnapshotRequest, deadlineMs = 10_000) =>
    this.call<csi.CreateSnapshotResponse__Output>(this.controller, 'CreateSnapshot', req, deadlineMs);
  deleteSnapshot = (req: csi.DeleteSnapshotRequest) => this.call<csi.DeleteSnapshotResponse__Output>(this.controller, 'DeleteSnapshot', req, 10_000);
  listSnapshots = (req: csi.ListSnapshotsRequest) => this.call<csi.ListSnapshotsResponse__Output>(this.controller, 'ListSnapshots', req, 10_000);

  groupControllerGetCapabilities = () =>
    this.call<csi.GroupControllerGetCapabilitiesResponse__Output>(this.group, 'GroupControllerGetCapabilities', {}, 10_000);
  createGroup = (req: csi.CreateVolumeGroupSnapshotRequest) =>
    this.call<csi.CreateVolumeGroupSnapshotResponse__Output>(this.group, 'CreateVolumeGroupSnapshot', req, 20_000);
  deleteGroup = (req: csi.DeleteVolumeGroupSnapshotRequest) =>
    this.call<csi.DeleteVolumeGroupSnapshotResponse__Output>(this.group, 'DeleteVolumeGroupSnapshot', req, 10_000);
  getGroup = (req: csi.GetVolumeGroupSnapshotRequest) =>
    this.call<csi.GetVolumeGroupSnapshotResponse__Output>(this.group, 'GetVolumeGroupSnapshot', req, 10_000);

  close(): void {
    this.identity.close();
    this.controller.close();
    this.group.close();
  }
}

/** A mount volume capability, the minimum CreateVolume needs. */
export const MOUNT_RW: csi.VolumeCapability = { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };

/** Asserts that a call fails with the given gRPC status and returns the error. */
export async function expectCode(call: Promise<unknown>, code: grpc.status): Promise<grpc.ServiceError> {
  let error: grpc.ServiceError | undefined;
  try {
    await call;
  } catch (err) {
    error = err as grpc.ServiceError;
  }
  expect(error).toBeDefined();
  expect({ code: error?.code, details: error?.details }).toEqual({ code, details: expect.any(String) });
  return error as grpc.ServiceError;
}

/** Polls `check` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
