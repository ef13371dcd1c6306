import type * as grpc from '@grpc/grpc-js';
import { csiGrpc, type csi } from './proto.js';

/**
 * Every CSI RPC this project calls, by full gRPC method path, with its request and response types.
 * Calls go through this table, so a misspelled method or field is a compile error.
 */
export interface CsiMethods {
  '/csi.v1.Identity/GetPluginInfo': [csi.GetPluginInfoRequest, csi.GetPluginInfoResponse__Output];
  '/csi.v1.Identity/GetPluginCapabilities': [csi.GetPluginCapabilitiesRequest, csi.GetPluginCapabilitiesResponse__Output];
  '/csi.v1.Identity/Probe': [csi.ProbeRequest, csi.ProbeResponse__Output];
  '/csi.v1.Controller/ControllerGetCapabilities': [
    csi.ControllerGetCapabilitiesRequest,
    csi.ControllerGetCapabilitiesResponse__Output,
  ];
  '/csi.v1.Controller/CreateVolume': [csi.CreateVolumeRequest, csi.CreateVolumeResponse__Output];
  '/csi.v1.Controller/DeleteVolume': [csi.DeleteVolumeRequest, csi.DeleteVolumeResponse__Output];
  '/csi.v1.Controller/ValidateVolumeCapabilities': [
    csi.ValidateVolumeCapabilitiesRequest,
    csi.ValidateVolumeCapabilitiesResponse__Output,
  ];
  '/csi.v1.Controller/CreateSnapshot': [csi.CreateSnapshotRequest, csi.CreateSnapshotResponse__Output];
  '/csi.v1.Controller/DeleteSnapshot': [csi.DeleteSnapshotRequest, csi.DeleteSnapshotResponse__Output];
  '/csi.v1.Controller/ListSnapshots': [csi.ListSnapshotsRequest, csi.ListSnapshotsResponse__Output];
  '/csi.v1.GroupController/GroupControllerGetCapabilities': [
    csi.GroupControllerGetCapabilitiesRequest,
    csi.GroupControllerGetCapabilitiesResponse__Output,
  ];
  '/csi.v1.GroupController/CreateVolumeGroupSnapshot': [
    csi.CreateVolumeGroupSnapshotRequest,
    csi.CreateVolumeGroupSnapshotResponse__Output,
  ];
  '/csi.v1.GroupController/DeleteVolumeGroupSnapshot': [
    csi.DeleteVolumeGroupSnapshotRequest,
    csi.DeleteVolumeGroupSnapshotResponse__Output,
  ];
  '/csi.v1.GroupController/GetVolumeGroupSnapshot': [
    csi.GetVolumeGroupSnapshotRequest,
    csi.GetVolumeGroupSnapshotResponse__Output,
  ];
}

export type CsiMethod = keyof CsiMethods;
export type RequestOf<M extends CsiMethod> = CsiMethods[M][0];
export type ResponseOf<M extends CsiMethod> = CsiMethods[M][1];

/** `/csi.v1.Controller/CreateSnapshot` → service `Controller`, RPC `CreateSnapshot`. */
export function splitMethod(method: CsiMethod): { service: 'Identity' | 'Controller' | 'GroupController'; rpc: string } {
  const [, pkgService, rpc] = method.split('/') as [string, string, string];
  return { service: pkgService.slice('csi.v1.'.length) as 'Identity' | 'Controller' | 'GroupController', rpc };
}

/** Every CSI RPC's messages are named <Rpc>Request and <Rpc>Response. */
export function messageTypes(method: CsiMethod): { request: string; response: string } {
  const { rpc } = splitMethod(method);
  return { request: `csi.v1.${rpc}Request`, response: `csi.v1.${rpc}Response` };
}

let definitions: Map<string, grpc.MethodDefinition<unknown, unknown>> | undefined;

/** The grpc-js definition (path, serialisers) of a CSI method. */
export function methodDefinition<M extends CsiMethod>(method: M): grpc.MethodDefinition<RequestOf<M>, ResponseOf<M>> {
  if (!definitions) {
    const v1 = csiGrpc().csi.v1;
    definitions = new Map();
    for (const service of [v1.Identity.service, v1.Controller.service, v1.GroupController.service]) {
      for (const definition of Object.values(service) as Array<grpc.MethodDefinition<unknown, unknown>>) {
        definitions.set(definition.path, definition);
      }
    }
  }
  const definition = definitions.get(method);
  if (!definition) throw new Error(`${method} is not in proto/csi.proto`);
  return definition as grpc.MethodDefinition<RequestOf<M>, ResponseOf<M>>;
}
