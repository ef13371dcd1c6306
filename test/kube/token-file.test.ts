import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadKubeConfig } from '../../src/kube/config.js';
import { loadInClusterConfig } from '../../src/kube/in-cluster.js';
import { ApiError, RestClient } from '../../src/kube/rest.js';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';
import { waitFor } from '../helpers/process.js';
import { base64, seenBy, TempDirs, writeKubeconfig } from './kubeconfig-files.js';
import { startRecordingServer, type RecordingServer } from './recording-server.js';

const temp = new TempDirs();
let api: TestApiServer;
let recorder: RecordingServer;
const clients: RestClient[] = [];

beforeAll(async () => {
  api = await startTestApiServer();
  recorder = await startRecordingServer();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  temp.removeAll();
});
afterAll(async () => {
  await api?.stop();
  await recorder?.stop();
});

/** True once the API test server accepts the client's credential; false while it answers 401. */
async function accepted(client: RestClient): Promise<boolean> {
  try {
    await client.request({ method: 'GET', path: '/api/v1/namespaces/default' });
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.statusCode === 401) return false;
    throw err;
  }
}

/**
 * A service-account volume laid out as kubelet writes it: `token` and `ca.crt` are links into
 * `..data`, itself a link to a timestamped directory, and an update swaps `..data` in one rename.
 */
class ProjectedVolume {
  private generation = 0;

  constructor(readonly dir: string, ca: string, token: string) {
    this.write(ca, token);
    symlinkSync('..data/token', join(dir, 'token'));
    symlinkSync('..data/ca.crt', join(dir, 'ca.crt'));
  }

  write(ca: string, token: string): void {
    const version = `..2030_01_01_00_00_0${this.generation++}`;
    mkdirSync(join(this.dir, version));
    writeFileSync(join(this.dir, version, 'token'), token);
    writeFileSync(join(this.dir, version, 'ca.crt'), ca);
    symlinkSync(version, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
  }
}

describe('token files are read again, because projected tokens rotate', () => {
  test('tokenFile in a kubeconfig: the API test server accepts the rotated token once the interval has passed', async () => {
    const dir = temp.make();
    const tokenPath = join(dir, 'token');
    writeFileSync(tokenPath, api.token);
    const path = writeKubeconfig(dir, { cluster: { server: api.url, 'certificate-authority-data': base64(api.caPem) }, user: { tokenFile: 'token' } });
    const client = new RestClient({ kubeConfig: loadKubeConfig(path, { tokenRefreshMs: 50 }) });
    clients.push(client);
    expect(await accepted(client)).toBe(true);

    const before = api.token;
    try {
      writeFileSync(tokenPath, 'rotated-token\n');
      api.setToken('rotated-token');
      await waitFor('the rotated token to be sent', () => accepted(client), 10_000);
    } finally {
      api.setToken(before);
    }
  });

  test('not before the interval (a minute by default), and a failed read keeps the last token', async () => {
    const dir = temp.make();
    const tokenPath = join(dir, 'token');
    writeFileSync(tokenPath, 'first');
    const clock = { now: 1_000_000 };
    const cluster = loadKubeConfig(writeKubeconfig(dir, { cluster: { server: recorder.url, 'certificate-authority-data': base64(recorder.caPem) }, user: { tokenFile: tokenPath } }), { now: () => clock.now });
    const sent = async () => (await seenBy(cluster)).authorization;
    expect(await sent()).toBe('Bearer first');

    writeFileSync(tokenPath, 'second');
    clock.now += 59_999;
    expect(await sent()).toBe('Bearer first');
    clock.now += 1;
    expect(await sent()).toBe('Bearer second');

    rmSync(tokenPath);
    clock.now += 60_000;
    expect(await sent()).toBe('Bearer second');
    writeFileSync(tokenPath, 'third');
    clock.now += 59_999;
    expect(await sent()).toBe('Bearer second');
    clock.now += 1;
    expect(await sent()).toBe('Bearer third');
  });
});

describe('in-cluster configuration', () => {
  test('the service address from the environment, the mounted CA, and the token re-read after kubelet swaps the volume', async () => {
    const volume = new ProjectedVolume(temp.make(), api.caPem, api.token);
    const port = new URL(api.url).port;
    const cluster = loadInClusterConfig({ env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, serviceAccountDir: volume.dir, tokenRefreshMs: 50 });
    expect(cluster.server.href).toBe(`https://127.0.0.1:${port}/`);
    const client = new RestClient({ kubeConfig: cluster });
    clients.push(client);
    expect(await accepted(client)).toBe(true);

    const before = api.token;
    try {
      volume.write(api.caPem, 'kubelet-rotated');
      api.setToken('kubelet-rotated');
      await waitFor('the rotated token to be sent', () => accepted(client), 10_000);
    } finally {
      api.setToken(before);
    }
  });

  test('an IPv6 service host is put in brackets', () => {
    const volume = new ProjectedVolume(temp.make(), api.caPem, 't');
    const cluster = loadInClusterConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '6443' }, serviceAccountDir: volume.dir });
    expect(cluster.server.href).toBe('https://[fd00:10:96::1]:6443/');
  });

  test('outside a pod, or with the service account not mounted, it says which', () => {
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(() => loadInClusterConfig({ env: { KUBERNETES_SERVICE_PORT: '443' } })).toThrow(
      'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (pass --kubeconfig when running outside a cluster)',
    );
    const empty = temp.make();
    expect(() => loadInClusterConfig({ env, serviceAccountDir: empty })).toThrow(`in-cluster configuration: cannot use the service account CA ${join(empty, 'ca.crt')}: ENOENT`);
    writeFileSync(join(empty, 'ca.crt'), api.caPem);
    expect(() => loadInClusterConfig({ env, serviceAccountDir: empty })).toThrow(`in-cluster configuration: cannot read the service account token ${join(empty, 'token')}: ENOENT`);
    writeFileSync(join(empty, 'token'), ' \n');
    expect(() => loadInClusterConfig({ env, serviceAccountDir: empty })).toThrow(`in-cluster configuration: cannot read the service account token ${join(empty, 'token')}: the token file ${join(empty, 'token')} is empty`);
  });
});
