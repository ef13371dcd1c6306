import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { KubeConfig, PatchStrategy } from '@kubernetes/client-node';
import { createKubeApiClients, perCallOptions } from '../../src/kube/api-clients.js';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';

let server: TestApiServer;
let kc: KubeConfig;

beforeAll(async () => {
  server = await startTestApiServer();
  kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
});
afterAll(async () => {
  await server?.stop();
});

describe('rate-limited API clients', () => {
  test('requests beyond the burst wait for tokens, on every client of the set and with per-call options', async () => {
    // 10 QPS with a burst of 2: the first two go at once, each further request waits for a token.
    const clients = createKubeApiClients(kc, { qps: 10, burst: 2 });
    const started = performance.now();
    await clients.core.readNamespace({ name: 'default' });
    await clients.coordination.listNamespacedLease({ namespace: 'default' });
    await clients.core.readNamespace({ name: 'kube-system' });
    await clients.coordination.listNamespacedLease({ namespace: 'kube-system' });
    await clients.core.patchNamespace(
      { name: 'default', body: { metadata: { labels: { touched: 'yes' } } } },
      perCallOptions({ contentType: PatchStrategy.MergePatch }),
    );
    const total = performance.now() - started;

    // The bucket starts with 2 tokens; 5 requests need 3 more at 10/s, so at least 300 ms pass
    // however fast the server answers (unlimited, these take well under 100 ms on loopback).
    expect(total).toBeGreaterThanOrEqual(295);
    expect(server.requests.count({ verb: 'patch', resource: 'namespaces', name: 'default' })).toBe(1);
    expect((await clients.core.readNamespace({ name: 'default' })).metadata?.labels?.touched).toBe('yes');
  });

  test('separate client sets have separate limiters', async () => {
    // One token per 1000 s: a request that had to wait for a's next token would never finish in this test.
    const a = createKubeApiClients(kc, { qps: 0.001, burst: 1 });
    const b = createKubeApiClients(kc, { qps: 0.001, burst: 1 });
    expect(b.limiter).not.toBe(a.limiter);
    await a.core.readNamespace({ name: 'default' });
    expect(a.limiter.available()).toBeLessThan(1);
    // a's request took a's token only: b still holds its own and spends it without waiting.
    expect(b.limiter.available()).toBeGreaterThanOrEqual(1);
    await b.core.readNamespace({ name: 'default' });
    expect(b.limiter.available()).toBeLessThan(1);
  });
});
