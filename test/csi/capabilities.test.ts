import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsiConnection } from '../../src/csi/connection.js';
import { controllerCapabilities } from '../../src/csi/driver-info.js';
import { csiGrpc } from '../../src/csi/proto.js';
import { timestampToNanos } from '../../src/csi/timestamps.js';
import { silentLogger } from '../../src/observe/logger.js';

// Section A with replies the sample driver never gives (entries whose oneof is unset): a small
// scripted driver serving ControllerGetCapabilities over a real unix socket.
let dir: string;
let server: grpc.Server;
let reply: object = {};
let calls = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'caps-'));
  server = new grpc.Server();
  server.addService(csiGrpc().csi.v1.Controller.service, {
    ControllerGetCapabilities: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
      calls++;
      callback(null, reply);
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${join(dir, 'csi.sock')}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

async function supportsCreate(caps: object): Promise<{ supported: boolean; calls: number }> {
  reply = caps;
  calls = 0;
  const conn = await CsiConnection.connect({ address: join(dir, 'csi.sock'), log: silentLogger });
  try {
    const found = await controllerCapabilities(conn, 5000);
    return { supported: found.has('CREATE_DELETE_SNAPSHOT'), calls };
  } finally {
    conn.close();
  }
}

describe('start-up capability check (A)', () => {
  test('A-01: CREATE_DELETE_VOLUME and CREATE_DELETE_SNAPSHOT → supported, with exactly one call', async () => {
    expect(await supportsCreate({ capabilities: [{ rpc: { type: 'CREATE_DELETE_VOLUME' } }, { rpc: { type: 'CREATE_DELETE_SNAPSHOT' } }] })).toEqual({ supported: true, calls: 1 });
  });
  test('A-03: only CREATE_DELETE_VOLUME → not supported', async () => {
    expect((await supportsCreate({ capabilities: [{ rpc: { type: 'CREATE_DELETE_VOLUME' } }] })).supported).toBe(false);
  });
  test('A-04: an entry whose type is unset is ignored → not supported', async () => {
    expect((await supportsCreate({ capabilities: [{}] })).supported).toBe(false);
  });
  test('A-05: no capabilities → not supported', async () => {
    expect((await supportsCreate({ capabilities: [] })).supported).toBe(false);
  });
});

test('K-29: a CSI timestamp becomes Unix nanoseconds, exactly; an absent one stays absent', () => {
  expect(timestampToNanos(null)).toBeUndefined();
  expect(timestampToNanos(undefined)).toBeUndefined();
  expect(timestampToNanos({ seconds: '1763773512', nanos: 123456789 })).toBe(1763773512123456789n);
});
