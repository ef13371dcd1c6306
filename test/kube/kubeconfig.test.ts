import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadKubeConfig } from '../../src/kube/config.js';
import { createCertificate } from '../../src/testing/apiserver/certificate.js';
import { startSidecar } from '../helpers/process.js';
import { base64, seenBy, TempDirs, writeKubeconfig, type KubeconfigParts } from './kubeconfig-files.js';
import { startRecordingServer, type RecordingServer } from './recording-server.js';

const temp = new TempDirs();
let server: RecordingServer;
/** A client certificate the recording server trusts, by being its own CA. */
const client = createCertificate({ usage: 'client', commonName: 'system:serviceaccount:kube-system:csi-snapshotter' });

beforeAll(async () => {
  server = await startRecordingServer({ clientCa: client.certPem });
});
afterEach(() => temp.removeAll());
afterAll(async () => {
  await server?.stop();
});

/** The cluster entry that trusts the recording server by its CA, inline. */
function trusted(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { server: server.url, 'certificate-authority-data': base64(server.caPem), ...extra };
}

describe('credentials a kubeconfig user entry gives, as the server receives them', () => {
  test('token: a bearer token', async () => {
    const seen = await seenBy(loadKubeConfig(writeKubeconfig(temp.make(), { cluster: trusted(), user: { token: 'abc.def' } })));
    expect(seen).toEqual({ authorization: 'Bearer abc.def', clientCertificate: null, servername: null });
  });

  test('tokenFile: a path relative to the kubeconfig, whitespace around the token dropped; it wins over an inline token', async () => {
    const dir = temp.make();
    writeFileSync(join(dir, 'token'), '  from-the-file\n');
    const path = writeKubeconfig(dir, { cluster: trusted(), user: { tokenFile: 'token', token: 'inline' } });
    expect((await seenBy(loadKubeConfig(path))).authorization).toBe('Bearer from-the-file');
  });

  test('username and password: basic authentication', async () => {
    const seen = await seenBy(loadKubeConfig(writeKubeconfig(temp.make(), { cluster: trusted(), user: { username: 'admin', password: 'pa:ss wörd' } })));
    expect(seen.authorization).toBe(`Basic ${Buffer.from('admin:pa:ss wörd').toString('base64')}`);
  });

  test('client-certificate and client-key files (relative paths) and certificate-authority as a file: the server verifies the certificate', async () => {
    const dir = temp.make();
    writeFileSync(join(dir, 'client.crt'), client.certPem);
    writeFileSync(join(dir, 'client.key'), client.keyPem);
    writeFileSync(join(dir, 'ca.crt'), server.caPem);
    const path = writeKubeconfig(dir, { cluster: { server: server.url, 'certificate-authority': 'ca.crt' }, user: { 'client-certificate': 'client.crt', 'client-key': 'client.key' } });
    const seen = await seenBy(loadKubeConfig(path));
    expect(seen).toEqual({ authorization: null, clientCertificate: 'system:serviceaccount:kube-system:csi-snapshotter', servername: null });
  });

  test('client-certificate-data and client-key-data, together with a token', async () => {
    const user = { 'client-certificate-data': base64(client.certPem), 'client-key-data': base64(client.keyPem), token: 'both' };
    const seen = await seenBy(loadKubeConfig(writeKubeconfig(temp.make(), { cluster: trusted(), user })));
    expect(seen).toEqual({ authorization: 'Bearer both', clientCertificate: 'system:serviceaccount:kube-system:csi-snapshotter', servername: null });
  });

  test('a context without a user sends no credentials', async () => {
    const seen = await seenBy(loadKubeConfig(writeKubeconfig(temp.make(), { cluster: trusted(), user: null })));
    expect(seen).toEqual({ authorization: null, clientCertificate: null, servername: null });
  });

  test('the current context picks its cluster and user among several', async () => {
    const path = writeKubeconfig(temp.make(), {
      cluster: trusted(),
      user: { token: 'chosen' },
      root: {
        clusters: [{ name: 'other', cluster: { server: 'https://192.0.2.1:6443' } }, { name: 'c', cluster: trusted() }],
        users: [{ name: 'v', user: { token: 'not-this' } }, { name: 'u', user: { token: 'chosen' } }],
        contexts: [{ name: 'elsewhere', context: { cluster: 'other', user: 'v' } }, { name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'kube-system' } }],
      },
    });
    expect((await seenBy(loadKubeConfig(path))).authorization).toBe('Bearer chosen');
  });
});

describe('how the server is trusted', () => {
  test('without a CA the system roots are used, and they do not trust the test server', async () => {
    const cluster = loadKubeConfig(writeKubeconfig(temp.make(), { cluster: { server: server.url }, user: { token: 't' } }));
    await expect(seenBy(cluster)).rejects.toThrow(/self[- ]signed certificate/);
  });

  test('a CA that did not sign the server certificate is refused', async () => {
    const stranger = createCertificate().certPem;
    const cluster = loadKubeConfig(writeKubeconfig(temp.make(), { cluster: { server: server.url, 'certificate-authority-data': base64(stranger) }, user: { token: 't' } }));
    await expect(seenBy(cluster)).rejects.toThrow(/self[- ]signed certificate|unable to verify/);
  });

  test('insecure-skip-tls-verify: true connects without verifying', async () => {
    const cluster = loadKubeConfig(writeKubeconfig(temp.make(), { cluster: { server: server.url, 'insecure-skip-tls-verify': true }, user: { token: 't' } }));
    expect((await seenBy(cluster)).authorization).toBe('Bearer t');
  });

  describe('tls-server-name', () => {
    let named: RecordingServer;
    beforeAll(async () => {
      // A certificate for a name only: reached at 127.0.0.1, it verifies only when the client checks that name.
      named = await startRecordingServer({ certificate: { dnsNames: ['apiserver.example'], ipv4: [] } });
    });
    afterAll(async () => {
      await named?.stop();
    });

    test('the certificate is checked against tls-server-name, which is also sent as SNI', async () => {
      const cluster = loadKubeConfig(writeKubeconfig(temp.make(), { cluster: { server: named.url, 'certificate-authority-data': base64(named.caPem), 'tls-server-name': 'apiserver.example' }, user: { token: 't' } }));
      expect(await seenBy(cluster)).toEqual({ authorization: 'Bearer t', clientCertificate: null, servername: 'apiserver.example' });
    });

    test('without it the same certificate does not match the address', async () => {
      const cluster = loadKubeConfig(writeKubeconfig(temp.make(), { cluster: { server: named.url, 'certificate-authority-data': base64(named.caPem) }, user: { token: 't' } }));
      await expect(seenBy(cluster)).rejects.toThrow(/IP: 127\.0\.0\.1 is not in the cert's list/);
    });
  });
});

describe('what is refused at load: one line naming the file and the field', () => {
  const keyPair = createCertificate({ usage: 'client' });
  const cases: Array<[string, (dir: string) => KubeconfigParts, string, RegExp]> = [
    ['no current-context', () => ({ cluster: trusted(), root: { 'current-context': '' } }), 'current-context', /is not set/],
    ['a current-context that does not exist', () => ({ cluster: trusted(), root: { 'current-context': 'nope' } }), 'contexts', /has no entry named "nope"/],
    ['a context naming a missing cluster', () => ({ cluster: trusted(), root: { contexts: [{ name: 'ctx', context: { cluster: 'gone', user: 'u' } }] } }), 'clusters', /has no entry named "gone"/],
    ['a context naming a missing user', () => ({ cluster: trusted(), root: { contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'ghost' } }] } }), 'users', /has no entry named "ghost"/],
    ['no server', () => ({ cluster: { 'insecure-skip-tls-verify': true } }), 'clusters[c].cluster.server', /is not set/],
    ['a server without a scheme', () => ({ cluster: { server: 'kube-apiserver:6443' } }), 'clusters[c].cluster.server', /is not an http or https URL \(write https:\/\/host:port\)/],
    ['a server that is not a URL', () => ({ cluster: { server: 'not a url' } }), 'clusters[c].cluster.server', /is not a URL/],
    ['proxy-url', () => ({ cluster: trusted({ 'proxy-url': 'http://proxy:3128' }) }), 'clusters[c].cluster.proxy-url', /proxies are not supported: point server at an address/],
    ['a CA file that cannot be read', () => ({ cluster: { server: server.url, 'certificate-authority': 'missing-ca.crt' } }), 'clusters[c].cluster.certificate-authority', /cannot read \/.+\/missing-ca\.crt: ENOENT/],
    ['both CA forms', () => ({ cluster: trusted({ 'certificate-authority': 'ca.crt' }) }), 'clusters[c].cluster.certificate-authority', /give either certificate-authority or certificate-authority-data, not both/],
    ['CA data that is not base64', () => ({ cluster: { server: server.url, 'certificate-authority-data': '-----BEGIN CERTIFICATE-----' } }), 'clusters[c].cluster.certificate-authority-data', /is not base64/],
    ['CA data that is not a certificate', () => ({ cluster: { server: server.url, 'certificate-authority-data': base64('hello') } }), 'clusters[c].cluster.certificate-authority-data', /is not a PEM certificate/],
    ['insecure-skip-tls-verify with a CA', () => ({ cluster: trusted({ 'insecure-skip-tls-verify': true }) }), 'clusters[c].cluster.insecure-skip-tls-verify', /cannot be true together with certificate-authority-data/],
    ['insecure-skip-tls-verify that is not a boolean', () => ({ cluster: { server: server.url, 'insecure-skip-tls-verify': 'yes' } }), 'clusters[c].cluster.insecure-skip-tls-verify', /must be true or false, got a string$/],
    ['a legacy auth-provider', () => ({ cluster: trusted(), user: { 'auth-provider': { name: 'gcp', config: {} } } }), 'users[u].user.auth-provider (gcp)', /legacy auth-provider plugins \(gcp, azure, oidc\) are not supported: use an exec credential plugin/],
    ['impersonation', () => ({ cluster: trusted(), user: { token: 't', as: 'admin' } }), 'users[u].user.as', /impersonation is not supported/],
    ['a token and a username', () => ({ cluster: trusted(), user: { token: 't', username: 'a', password: 'b' } }), 'users[u].user', /more than one way to authenticate \(token, username\/password\)/],
    ['a username without a password', () => ({ cluster: trusted(), user: { username: 'a' } }), 'users[u].user.password', /username and password go together/],
    ['a token that is not a string', () => ({ cluster: trusted(), user: { token: 12345 } }), 'users[u].user.token', /must be a string, got a number$/],
    ['a tokenFile that does not exist', () => ({ cluster: trusted(), user: { tokenFile: 'no-token' } }), 'users[u].user.tokenFile', /cannot read a token from \/.+\/no-token: ENOENT/],
    [
      'an empty tokenFile',
      (dir) => {
        writeFileSync(join(dir, 'empty'), '\n');
        return { cluster: trusted(), user: { tokenFile: 'empty' } };
      },
      'users[u].user.tokenFile',
      /the token file .+ is empty/,
    ],
    ['a client certificate without its key', () => ({ cluster: trusted(), user: { 'client-certificate-data': base64(client.certPem) } }), 'users[u].user.client-key', /a client certificate needs its key/],
    ['a key of another certificate', () => ({ cluster: trusted(), user: { 'client-certificate-data': base64(client.certPem), 'client-key-data': base64(keyPair.keyPem) } }), 'users[u].user.client-key-data', /does not belong to the certificate in users\[u\]\.user\.client-certificate-data/],
    ['a key that is not a key', () => ({ cluster: trusted(), user: { 'client-certificate-data': base64(client.certPem), 'client-key-data': base64('nope') } }), 'users[u].user.client-key-data', /is not a PEM private key/],
    [
      'an exec plugin together with a client certificate',
      () => ({ cluster: trusted(), user: { 'client-certificate-data': base64(client.certPem), 'client-key-data': base64(client.keyPem), exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x', interactiveMode: 'Never' } } }),
      'users[u].user.exec',
      /cannot be combined with a client certificate/,
    ],
    ['an exec plugin of v1alpha1', () => ({ cluster: trusted(), user: { exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' } } }), 'users[u].user.exec.apiVersion', /"client.authentication.k8s.io\/v1alpha1" is not supported: use client.authentication.k8s.io\/v1 or client.authentication.k8s.io\/v1beta1/],
    ['an exec plugin without a command', () => ({ cluster: trusted(), user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'Never' } } }), 'users[u].user.exec.command', /is not set/],
    ['a v1 exec plugin without interactiveMode', () => ({ cluster: trusted(), user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x' } } }), 'users[u].user.exec.interactiveMode', /is required by client.authentication.k8s.io\/v1: set Never/],
    ['an exec plugin that must interact', () => ({ cluster: trusted(), user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x', interactiveMode: 'Always' } } }), 'users[u].user.exec.interactiveMode', /the sidecar has no terminal/],
    ['exec args that are not strings', () => ({ cluster: trusted(), user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'x', args: ['--ok', 3] } } }), 'users[u].user.exec.args[1]', /must be a string, got a number$/],
    ['an exec env entry without a name', () => ({ cluster: trusted(), user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'x', env: [{ value: 'v' }] } } }), 'users[u].user.exec.env[0].name', /is not set/],
  ];

  test.each(cases)('%s', (_what, parts, field, problem) => {
    const dir = temp.make();
    const path = writeKubeconfig(dir, parts(dir));
    let message = '';
    try {
      loadKubeConfig(path);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.startsWith(`kubeconfig ${path}: ${field}: `)).toBe(true);
    expect(message).toMatch(problem);
    expect(message).not.toContain('\n');
  });

  test('a file that does not exist', () => {
    const path = join(temp.make(), 'absent');
    expect(() => loadKubeConfig(path)).toThrow(`kubeconfig ${path}: cannot read it: ENOENT`);
  });

  test('a file that is not YAML, with the place', () => {
    const path = join(temp.make(), 'config');
    writeFileSync(path, 'apiVersion: v1\nclusters:\n  - name: c\n   cluster: {}\n');
    expect(() => loadKubeConfig(path)).toThrow(new RegExp(`^kubeconfig ${path}: not valid YAML \\(line 4, column \\d+\\): `));
  });

  test('a file that is YAML but not a mapping', () => {
    const path = join(temp.make(), 'config');
    writeFileSync(path, '- just\n- a list\n');
    expect(() => loadKubeConfig(path)).toThrow(`kubeconfig ${path}: (document): must be a mapping`);
  });
});

describe('the sidecar at start-up', () => {
  test('an unsupported kubeconfig stops it with exit 1 and the one line saying what to use instead', async () => {
    const path = writeKubeconfig(temp.make(), { cluster: trusted(), user: { 'auth-provider': { name: 'oidc' } } });
    const sidecar = startSidecar([`--kubeconfig=${path}`, '--csi-address=/nonexistent/csi.sock']);
    const { code } = await sidecar.waitForExit();
    expect(code).toBe(1);
    expect(sidecar.stderr).toMatch(new RegExp(`error building kubeconfig: kubeconfig ${path}: users\\[u\\]\\.user\\.auth-provider \\(oidc\\): legacy auth-provider plugins .* use an exec credential plugin`));
  });
});
