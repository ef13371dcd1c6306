/**
 * Capacity check for kube-test-apiserver: 10,000 stored objects and a sustained write rate, with
 * the server in its own process (as tests and the sidecar use it) and this script as the client.
 *
 *   npm run build && node dist/bench/apiserver-capacity.js [objects=10000] [concurrency=32]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/util/package-root.js';

const OBJECTS = Number(process.argv[2] ?? 10_000);
const CONCURRENCY = Number(process.argv[3] ?? 32);

interface Target {
  url: string;
  token: string;
  ca: string;
  agent: Agent;
}

function call(t: Target, method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, t.url), { method, agent: t.agent, ca: t.ca, headers: { Authorization: `Bearer ${t.token}`, 'Content-Type': contentType } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function pool(count: number, work: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await work(next++);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function content(i: number): string {
  return JSON.stringify({
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name: `bench-${i}`, labels: { bench: 'yes', shard: String(i % 10) } },
    spec: { deletionPolicy: 'Delete', driver: 'bench.csi.k8s.io', source: { volumeHandle: `vol-${i}` }, volumeSnapshotRef: { name: `vs-${i}`, namespace: 'default' } },
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kta-bench-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const server = spawn(process.execPath, [join(packageRoot(), 'dist/src/testing/bin/kube-test-apiserver.js'), '--port', '0', '--kubeconfig-out', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout?.on('data', (c: Buffer) => {
        const m = /ready (\S+)/.exec(c.toString());
        if (m) resolve(m[1] as string);
      });
      server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const text = readFileSync(kubeconfig, 'utf8');
    const token = /token: (\S+)/.exec(text)?.[1] ?? '';
    const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(text)?.[1] ?? '', 'base64').toString();
    const t: Target = { url, token, ca, agent: new Agent({ keepAlive: true, maxSockets: CONCURRENCY }) };
    const base = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';

    const createSeconds = await pool(OBJECTS, async (i) => {
      const r = await call(t, 'POST', base, content(i));
      if (r.status !== 201) throw new Error(`create ${i}: ${r.status} ${r.text}`);
    });
    console.log(`create: ${OBJECTS} objects in ${createSeconds.toFixed(2)} s = ${(OBJECTS / createSeconds).toFixed(0)} writes/s`);

    const patches = Math.min(OBJECTS, 10_000);
    const patchSeconds = await pool(patches, async (i) => {
      const body = `[{"op":"replace","path":"/status","value":{"readyToUse":true,"creationTime":1763773512123456789,"restoreSize":${i}}}]`;
      const r = await call(t, 'PATCH', `${base}/bench-${i}/status`, body, 'application/json-patch+json');
      if (r.status !== 200) throw new Error(`patch ${i}: ${r.status} ${r.text}`);
    });
    console.log(`status patch: ${patches} in ${patchSeconds.toFixed(2)} s = ${(patches / patchSeconds).toFixed(0)} writes/s`);

    let started = process.hrtime.bigint();
    const all = await call(t, 'GET', base);
    const listMs = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`list all: ${(JSON.parse(all.text) as { items: unknown[] }).items.length} items, ${(all.text.length / 1e6).toFixed(1)} MB in ${listMs.toFixed(0)} ms`);

    started = process.hrtime.bigint();
    const page = await call(t, 'GET', `${base}?limit=500&labelSelector=shard%3D3`);
    console.log(`list page (limit=500, label selector): ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0)} ms, status ${page.status}`);

    const gets = 5000;
    const getSeconds = await pool(gets, async (i) => {
      const r = await call(t, 'GET', `${base}/bench-${i % OBJECTS}`);
      if (r.status !== 200) throw new Error(`get ${i}: ${r.status}`);
    });
    console.log(`get: ${gets} in ${getSeconds.toFixed(2)} s = ${(gets / getSeconds).toFixed(0)} req/s`);
    t.agent.destroy();
  } finally {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
