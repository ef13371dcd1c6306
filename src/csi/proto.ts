import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { ProtoGrpcType } from './generated/csi.js';
import { CSI_DESCRIPTOR } from './generated/descriptor.js';

export type * as csi from './generated/csi/v1/index.js';
export type { Timestamp, Timestamp__Output } from './generated/google/protobuf/Timestamp.js';

/**
 * Loader options shared by clients and servers. They decide the JavaScript shape of every message
 * and must match scripts/gen-csi-types.mjs: snake_case field names as in the proto, int64 as decimal
 * strings (snapshot sizes and timestamps must not lose precision), enums by name, defaults filled
 * in and a virtual field naming the member set in each oneof.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cachedGrpc: ProtoGrpcType | undefined;
let cachedRoot: protobuf.Root | undefined;

/**
 * The gRPC service constructors and message definitions of csi.v1, loaded once per process from the
 * descriptor the build made of the proto (parsing the .proto text at start took longer).
 */
export function csiGrpc(): ProtoGrpcType {
  if (!cachedGrpc) {
    const definition = protoLoader.fromJSON(CSI_DESCRIPTOR, LOADER_OPTIONS);
    cachedGrpc = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cachedGrpc;
}

/**
 * The reflection tree of the proto, with field options (csi_secret) intact. The log sanitiser walks
 * it; proto-loader's package definition does not keep custom options.
 */
export function csiReflection(): protobuf.Root {
  if (!cachedRoot) {
    const root = protobuf.Root.fromJSON(CSI_DESCRIPTOR);
    root.resolveAll();
    cachedRoot = root;
  }
  return cachedRoot;
}
