import { request } from 'node:https';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { startTestApiServer, type TestApiServer, type TestApiServerOptions } from '../../src/testing/apiserver/index.js';

export const SNAP = { group: 'snapshot.storage.k8s.io', version: 'v1' };
export const GROUP = 'groupsnapshot.storage.k8s.io';

export interface Harness {
  server: TestApiServer;
  kc: KubeConfig;
  custom: CustomObjectsApi;
  core: CoreV1Api;
  leases: CoordinationV1Api;
}

export async function startHarness(options: TestApiServerOptions = {}): Promise<Harness> {
  const server = await startTestApiServer(options);
  const kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  return { server, kc, custom: kc.makeApiClient(CustomObjectsApi), core: kc.makeApiClient(CoreV1Api), leases: kc.makeApiClient(CoordinationV1Api) };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): Record<string, unknown>;
}

/** Raw HTTPS for what the typed client cannot express (or would reshape). */
export function raw(
  server: Pick<TestApiServer, 'url' | 'caPem' | 'token'>,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
  token: string | null = server.token,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.url);
    const req = request(
      url,
      {
        method,
        ca: server.caPem,
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The HTTP status and Status body of a failed client-node call. */
export async function failure(promise: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { code?: number; body?: unknown };
    const body = typeof e.body === 'string' ? (JSON.parse(e.body) as Record<string, unknown>) : ((e.body ?? {}) as Record<string, unknown>);
    return { code: e.code ?? 0, body };
  }
  throw new Error('expected the request to fail');
}

export function vscBody(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name, ...((extra.metadata as object) ?? {}) },
    spec: {
      deletionPolicy: 'Delete',
      driver: 'hostpath.csi.k8s.io',
      source: { volumeHandle: `vol-${name}` },
      volumeSnapshotRef: { name: `vs-${name}`, namespace: 'default' },
      ...((extra.spec as object) ?? {}),
    },
  };
}

export function vsBody(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: { name, labels },
    spec: { source: { persistentVolumeClaimName: `pvc-${name}` } },
  };
}

export type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
