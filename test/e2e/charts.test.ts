import { afterEach, expect, test } from '@jest/globals';
import { hostname } from 'node:os';
import { startSidecar, waitFor } from '../helpers/process.js';
import { freeLocalPort } from '../helpers/ports.js';
import { Env } from './env.js';

// Argument lists as popular CSI driver charts pass them (after Kubernetes expands $(VAR)). Only the
// socket path is replaced (it is where the sample driver listens), the metrics address is moved to
// a free port on 127.0.0.1 (the chart's fixed port on every interface may be taken on a test
// machine, and must not be opened to the network), and a kubeconfig is added (a pod would use its
// service account); every other flag is passed unchanged.
const CHARTS: Array<[string, string, { namespace?: string; endpoint?: string; deprecation?: RegExp; gaGate?: RegExp }]> = [
  ['aws-ebs style', '--csi-address=/var/lib/csi/sockets/pluginproxy/csi.sock --leader-election=true --v=2 --extra-create-metadata --kube-api-qps=20 --kube-api-burst=100 --worker-threads=100 --retry-interval-max=30m --http-endpoint=0.0.0.0:3306', { endpoint: '--http-endpoint=0.0.0.0:3306' }],
  ['azure style', '-csi-address=/csi/csi.sock -leader-election --leader-election-namespace=kube-system -v=2 --timeout=1200s --extra-create-metadata=true --retry-interval-max=30m --worker-threads=250 --kube-api-qps=100 --kube-api-burst=200', { namespace: 'kube-system' }],
  ['ceph-csi style', '--csi-address=unix:///csi/csi-rbdplugin.sock --v=1 --timeout=60s --leader-election=true --extra-create-metadata=true --enable-volume-group-snapshots=false', { deprecation: /Deprecated flag: --enable-volume-group-snapshots/ }],
  ['democratic-csi style', '--v=5 --leader-election --leader-election-namespace=democratic-csi --timeout=90s --worker-threads=10 --csi-address=/csi-data/csi.sock', { namespace: 'democratic-csi' }],
  ['longhorn style', '--v=2 --csi-address=/csi/csi.sock --timeout=1m50s --leader-election --leader-election-namespace=longhorn-system --kube-api-qps=50 --kube-api-burst=100 --http-endpoint=:9504 --feature-gates=CSIVolumeGroupSnapshot=true', { namespace: 'longhorn-system', endpoint: '--http-endpoint=:9504', gaGate: /Warning: setting GA feature gate\. It will be removed in a future release\. featureGate="CSIVolumeGroupSnapshot" value=true/ }],
];

/** The chart's arguments with the socket path and the metrics/health address (in either spelling) replaced. */
function forTest(args: string[], socketPath: string, port: number): string[] {
  return args.map((arg) =>
    arg.replace(/^(-{1,2}csi-address=).*$/, `$1unix://${socketPath}`).replace(/^(-{1,2}(?:http-endpoint|metrics-address)=).*$/, `$1127.0.0.1:${port}`),
  );
}

let env: Env;
afterEach(async () => {
  await env?.stop();
});

test.each(CHARTS)('%s arguments start the sidecar, which elects itself and serves snapshots', async (_name, line, expected) => {
  env = await Env.start();
  if (expected.namespace && expected.namespace !== 'kube-system') {
    await env.rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: expected.namespace } } });
  }
  const chart = line.split(' ');
  const port = await freeLocalPort();
  const args = forTest(chart, env.driver.socketPath, port);
  // The chart's list with exactly the socket and the metrics address replaced, nothing else.
  const socket = chart.find((arg) => /^-{1,2}csi-address=/.test(arg)) as string;
  const replaced = new Map([[socket, `${socket.slice(0, socket.indexOf('=') + 1)}unix://${env.driver.socketPath}`]]);
  if (expected.endpoint) replaced.set(expected.endpoint, `--http-endpoint=127.0.0.1:${port}`);
  expect(args).toEqual(chart.map((arg) => replaced.get(arg) ?? arg));
  env.startSidecar(args.concat(`--kubeconfig=${env.api.kubeconfigPath}`));
  await env.sidecar?.waitForOutput(/Became leader, starting/);
  const lease = await env.rest.request<{ spec: { holderIdentity: string } }>({
    method: 'GET',
    path: `/apis/coordination.k8s.io/v1/namespaces/${expected.namespace ?? 'default'}/leases/external-snapshotter-leader-sample-csi-example-com`,
  });
  expect(lease.spec.holderIdentity).toMatch(/\S/);

  await env.createClass('gold');
  const volume = await env.createVolume('vol');
  await env.createContent({ name: 'content', volumeHandle: volume, className: 'gold' });
  await env.waitForContent('content', 'readyToUse', (c) => c.status?.readyToUse === true);

  if (expected.deprecation) expect(env.sidecar?.output).toMatch(expected.deprecation);
  // As the Go sidecar (v8.7.0) does, setting the GA CSIVolumeGroupSnapshot gate is warned about.
  if (expected.gaGate) expect(env.sidecar?.output).toMatch(expected.gaGate);
  else expect(env.sidecar?.output).not.toMatch(/setting GA feature gate/);
  if (expected.endpoint) {
    const text = await waitFor('metrics', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      const body = await res.text();
      return body.includes('csi_sidecar_operations_seconds_count') ? body : undefined;
    });
    expect(text).toMatch(/csi_sidecar_operations_seconds_count\{driver_name="sample\.csi\.example\.com",method_name="\/csi\.v1\.Controller\/CreateSnapshot",grpc_status_code="OK"\} 1/);
    const health = await fetch(`http://127.0.0.1:${port}/healthz/leader-election`);
    expect(health.status).toBe(200);
  }
});

test('Z-16: without --leader-election-namespace the Lease goes to $POD_NAMESPACE, held by the sanitised host name', async () => {
  env = await Env.start();
  env.sidecar = startSidecar(
    [`--csi-address=${env.driver.socketPath}`, `--kubeconfig=${env.api.kubeconfigPath}`, '--leader-election'],
    { ...process.env, POD_NAMESPACE: 'kube-system' },
  );
  await env.sidecar.waitForOutput(/Became leader, starting/);
  const lease = await env.rest.request<{ spec: { holderIdentity: string } }>({
    method: 'GET',
    path: '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/external-snapshotter-leader-sample-csi-example-com',
  });
  expect(lease.spec.holderIdentity).toBe(hostname().replace(/[^a-zA-Z0-9-]/g, '-').replace(/-$/, '-X'));
});
