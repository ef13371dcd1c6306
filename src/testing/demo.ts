import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { CsiConnection } from '../csi/connection.js';
import { loadKubeConfig } from '../kube/config.js';
import { isNotFound, RestClient } from '../kube/rest.js';
import { silentLogger } from '../observe/logger.js';
import { FINALIZER_CONTENT } from '../sidecar/keys.js';
import type { VolumeSnapshotContent } from '../sidecar/types.js';
import { startTestApiServer } from './apiserver/index.js';
import { startSampleDriver } from './sample-driver/index.js';
import { sidecarEntry } from '../util/package-root.js';

/**
 * The demo: the sidecar on its embedded default, the project's own Kubernetes API server and sample
 * CSI driver. It takes one snapshot the way the snapshot-controller asks for it, shows the status
 * the sidecar writes, deletes it again, takes a second one that it keeps, then leaves everything
 * running for kubectl, doctor and explain until Ctrl-C (`--once` stops after the walk-through).
 */
const VSC = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
const once = process.argv.includes('--once');
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > giveUpAt) throw new Error(`the demo gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A loopback port free right now, for the sidecar's HTTP endpoint (so the demo can print its URL). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function contentBody(name: string, volumeId: string): Record<string, unknown> {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name, finalizers: [FINALIZER_CONTENT] },
    spec: {
      volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', name: name.replace('snapcontent-', ''), namespace: 'default', uid: randomUUID() },
      deletionPolicy: 'Delete',
      driver: 'sample.csi.example.com',
      volumeSnapshotClassName: 'demo',
      source: { volumeHandle: volumeId },
    },
  };
}

async function main(): Promise<number> {
  const api = await startTestApiServer();
  const driver = await startSampleDriver({ faults: { readyDelayMs: 2000 } });
  say(`API server      ${api.url} (kubeconfig ${api.kubeconfigPath})`);
  say(`CSI driver      ${driver.endpoint} (control ${driver.controlUrl})`);

  const port = await freePort();
  const bin = sidecarEntry();
  const flags = [`--csi-address=${driver.socketPath}`, `--kubeconfig=${api.kubeconfigPath}`];
  const sidecar = spawn(process.execPath, [bin, ...flags, '--v=2', '--leader-election', `--http-endpoint=127.0.0.1:${port}`], { stdio: ['ignore', 'inherit', 'pipe'] });
  say(`Metrics         http://127.0.0.1:${port}/metrics`);
  let sidecarLog = '';
  sidecar.stderr.setEncoding('utf8').on('data', (d: string) => {
    sidecarLog += d;
    if (!once) process.stderr.write(d);
  });
  const stopAll = async (): Promise<void> => {
    sidecar.kill('SIGTERM');
    await new Promise((r) => sidecar.once('exit', r));
    await driver.dispose();
    await api.stop();
  };

  try {
    const rest = new RestClient({ kubeConfig: loadKubeConfig(api.kubeconfigPath) });
    const csi = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger });
    const volume = await csi.call(
      '/csi.v1.Controller/CreateVolume',
      { name: 'demo-volume', volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] },
      new Date(Date.now() + 10_000),
    );
    const volumeId = volume.volume?.volume_id as string;
    await driver.writeFile(volumeId, 'hello.txt', 'Hello from the demo volume\n');
    csi.close();
    say(`Volume          ${volumeId} (one file written)`);

    await rest.request({
      method: 'POST',
      path: '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses',
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'demo' }, driver: 'sample.csi.example.com', deletionPolicy: 'Delete' },
    });
    await until('the sidecar to lead', async () => (/Became leader/.test(sidecarLog) ? true : undefined));
    say('Sidecar         started, elected itself leader');

    await rest.request({ method: 'POST', path: VSC, body: contentBody('snapcontent-demo', volumeId) });
    say('Created         VolumeSnapshotContent snapcontent-demo (as the snapshot-controller does)');
    const cut = await until('the snapshot to be cut', async () => {
      const c = await rest.request<VolumeSnapshotContent>({ method: 'GET', path: `${VSC}/snapcontent-demo` });
      return c.status?.snapshotHandle ? c : undefined;
    });
    say(`Cut             snapshotHandle=${cut.status?.snapshotHandle} readyToUse=${cut.status?.readyToUse} (the driver is still "uploading")`);
    const ready = await until('the snapshot to be ready', async () => {
      const c = await rest.request<VolumeSnapshotContent>({ method: 'GET', path: `${VSC}/snapcontent-demo` });
      return c.status?.readyToUse ? c : undefined;
    });
    say(`Ready           readyToUse=true restoreSize=${ready.status?.restoreSize} creationTime=${ready.status?.creationTime} (Unix ns)`);
    const copy = await driver.readSnapshotFile(ready.status?.snapshotHandle as string, 'hello.txt');
    say(`Snapshot data   hello.txt: ${copy.toString().trim()}`);

    await rest.request({
      method: 'PATCH',
      path: `${VSC}/snapcontent-demo`,
      contentType: 'application/merge-patch+json',
      body: { metadata: { annotations: { 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted': 'yes' } } },
    });
    await rest.request({ method: 'DELETE', path: `${VSC}/snapcontent-demo` });
    await until('the content to be released', async () => {
      try {
        await rest.request({ method: 'GET', path: `${VSC}/snapcontent-demo` });
        return undefined;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    });
    say('Deleted         storage snapshot deleted (policy Delete), finalizer released, content gone');
    const sidecarWrites = api.requests.writes({ resource: 'volumesnapshotcontents', name: 'snapcontent-demo' }).length - 3;
    say(`API writes      ${sidecarWrites} by the sidecar for this snapshot, from creation to release`);

    // A second snapshot that stays, so kubectl, doctor and explain have something to show.
    await rest.request({ method: 'POST', path: VSC, body: contentBody('snapcontent-kept', volumeId) });
    await until('the kept snapshot to be ready', async () => {
      const c = await rest.request<VolumeSnapshotContent>({ method: 'GET', path: `${VSC}/snapcontent-kept` });
      return c.status?.readyToUse ? c : undefined;
    });
    say('Kept            VolumeSnapshotContent snapcontent-kept, ready, left in place');

    if (once) {
      await stopAll();
      say('Demo finished.');
      return 0;
    }
    say('');
    say('Everything keeps running. Try:');
    say(`  KUBECONFIG=${api.kubeconfigPath} kubectl get volumesnapshotcontents`);
    say(`  curl -s http://127.0.0.1:${port}/metrics | grep csi_sidecar`);
    say(`  node ${bin} doctor ${flags.join(' ')}`);
    say(`  node ${bin} explain snapcontent-kept ${flags.join(' ')}`);
    say('Press Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await stopAll();
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n--- sidecar log ---\n${sidecarLog}\n`);
    await stopAll();
    return 1;
  }
}

main().then((code) => process.exit(code));
