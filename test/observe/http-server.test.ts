import { afterEach, describe, expect, test } from '@jest/globals';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetrics } from '../../src/observe/metrics.js';
import { parseListenAddress, startHttpServer, type HealthStatus, type RunningHttpServer } from '../../src/observe/http-server.js';

interface Reply {
  status: number;
  contentType: string | undefined;
  body: string;
}

function fetchText(url: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject);
  });
}

const running: RunningHttpServer[] = [];
const blockers: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
  await Promise.all(blockers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('HTTP endpoint', () => {
  test('serves metrics at the configured path and 404 elsewhere; no health check without leader election', async () => {
    const metrics = createMetrics();
    metrics.setDriverName('d.example.com');
    const server = await startHttpServer({ address: '127.0.0.1:0', metricsPath: '/custom-metrics', registry: metrics.registry });
    running.push(server);

    const reply = await fetchText(`${server.url}/custom-metrics`);
    expect(reply.status).toBe(200);
    expect(reply.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(reply.body).toContain('# TYPE csi_sidecar_operations_seconds histogram');
    expect(reply.body).toContain('csi_snapshotter_contents_pending{driver_name="d.example.com",kind="VolumeSnapshotContent"} 0');

    expect((await fetchText(`${server.url}/metrics`)).status).toBe(404);
    const health = await fetchText(`${server.url}/healthz/leader-election`);
    expect(health.status).toBe(404);
    expect(health.body).toBe('404 page not found\n');
  });

  test('leader-election health answers ok, then 500 with the reason', async () => {
    let status: HealthStatus = { ok: true };
    const server = await startHttpServer({ address: ':0', metricsPath: '/metrics', registry: createMetrics().registry, leaderHealth: () => status });
    running.push(server);

    const ok = await fetchText(`${server.url}/healthz/leader-election`);
    expect(ok).toMatchObject({ status: 200, body: 'ok' });
    status = { ok: false, reason: 'lease not renewed' };
    const failing = await fetchText(`${server.url}/healthz/leader-election`);
    expect(failing.status).toBe(500);
    expect(failing.body).toBe('internal server error: lease not renewed\n');
    expect((await fetchText(`${server.url}/metrics`)).status).toBe(200);
  });

  test('a busy port is rejected with a message naming the address', async () => {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    await expect(startHttpServer({ address: `127.0.0.1:${port}`, metricsPath: '/metrics', registry: createMetrics().registry })).rejects.toThrow(
      `cannot serve HTTP on 127.0.0.1:${port}: listen EADDRINUSE`,
    );
  });

  test('listen addresses', () => {
    expect(parseListenAddress(':8080')).toEqual({ host: undefined, port: 8080 });
    expect(parseListenAddress('0.0.0.0:9808')).toEqual({ host: '0.0.0.0', port: 9808 });
    expect(parseListenAddress('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(() => parseListenAddress('8080')).toThrow('invalid HTTP listen address "8080"');
    expect(() => parseListenAddress('host:99999')).toThrow('invalid HTTP listen address');
  });
});
