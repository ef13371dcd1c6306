import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadKubeConfig } from '../../src/kube/config.js';
import { ApiError, RestClient } from '../../src/kube/rest.js';
import { createCertificate } from '../../src/testing/apiserver/certificate.js';
import { base64, TempDirs, writeKubeconfig } from './kubeconfig-files.js';
import { startRecordingServer, type RecordingServer, type Seen } from './recording-server.js';

const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';

interface Call {
  args: string[];
  greeting: string | null;
  info: { apiVersion: string; kind: string; spec: { interactive: boolean; cluster?: Record<string, unknown> } };
}

/**
 * A real exec plugin: a node script, executable, that appends each invocation (its arguments, one
 * environment variable and KUBERNETES_EXEC_INFO) to calls.jsonl and prints what next.json says.
 */
class Plugin {
  readonly command: string;

  constructor(readonly dir: string) {
    this.command = join(dir, 'plugin.cjs');
    writeFileSync(
      this.command,
      [
        `#!${process.execPath}`,
        "'use strict';",
        "const fs = require('node:fs');",
        "const path = require('node:path');",
        'const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);',
        "fs.appendFileSync(path.join(__dirname, 'calls.jsonl'), JSON.stringify({ args: process.argv.slice(2), greeting: process.env.PLUGIN_GREETING ?? null, info }) + '\\n');",
        "const next = JSON.parse(fs.readFileSync(path.join(__dirname, 'next.json'), 'utf8'));",
        'if (next.exitCode) {',
        '  process.stderr.write(next.stderr);',
        '  process.exit(next.exitCode);',
        '}',
        'process.stdout.write(next.stdout);',
        '',
      ].join('\n'),
    );
    chmodSync(this.command, 0o755);
  }

  /** The next runs print an ExecCredential with this status. */
  answer(status: Record<string, unknown>, apiVersion = V1): void {
    this.print(JSON.stringify({ apiVersion, kind: 'ExecCredential', status }));
  }

  print(stdout: string): void {
    writeFileSync(join(this.dir, 'next.json'), JSON.stringify({ stdout }));
  }

  fail(exitCode: number, stderr: string): void {
    writeFileSync(join(this.dir, 'next.json'), JSON.stringify({ exitCode, stderr }));
  }

  calls(): Call[] {
    const file = join(this.dir, 'calls.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Call);
  }
}

const temp = new TempDirs();
const clientCert = createCertificate({ usage: 'client', commonName: 'from-the-plugin' });
let server: RecordingServer;
const clients: RestClient[] = [];

beforeAll(async () => {
  server = await startRecordingServer({ clientCa: clientCert.certPem });
});
afterEach(() => {
  server.accept = () => true;
  for (const c of clients.splice(0)) c.close();
  temp.removeAll();
});
afterAll(async () => {
  await server?.stop();
});

interface Setup {
  plugin: Plugin;
  path: string;
  client: RestClient;
  /** The clock the credential expiry is judged by. */
  clock: { now: number };
  get(): Promise<Seen>;
}

function setup(exec: Record<string, unknown> = {}, cluster: Record<string, unknown> = {}): Setup {
  const dir = temp.make();
  const plugin = new Plugin(dir);
  const path = writeKubeconfig(dir, {
    cluster: { server: server.url, 'certificate-authority-data': base64(server.caPem), ...cluster },
    // A relative command with a slash is resolved against the kubeconfig's directory, not the test's working directory.
    user: { exec: { apiVersion: V1, command: './plugin.cjs', args: ['--audience', 'kube'], env: [{ name: 'PLUGIN_GREETING', value: 'hello' }], interactiveMode: 'Never', ...exec } },
  });
  const clock = { now: Date.parse('2029-12-31T23:00:00Z') };
  const client = new RestClient({ kubeConfig: loadKubeConfig(path, { now: () => clock.now }) });
  clients.push(client);
  return { plugin, path, client, clock, get: () => client.request<Seen>({ method: 'GET', path: '/api' }) };
}

describe('exec credential plugins, run for real', () => {
  test('the plugin gets its args, env and KUBERNETES_EXEC_INFO; its token is kept until expirationTimestamp, then it runs again', async () => {
    const s = setup();
    s.plugin.answer({ token: 'one', expirationTimestamp: '2030-01-01T00:00:00Z' });
    for (let i = 0; i < 3; i++) expect((await s.get()).authorization).toBe('Bearer one');
    expect(s.plugin.calls()).toEqual([{ args: ['--audience', 'kube'], greeting: 'hello', info: { apiVersion: V1, kind: 'ExecCredential', spec: { interactive: false } } }]);

    s.clock.now = Date.parse('2029-12-31T23:59:59.999Z');
    expect((await s.get()).authorization).toBe('Bearer one');
    expect(s.plugin.calls()).toHaveLength(1);

    s.plugin.answer({ token: 'two', expirationTimestamp: '2030-01-01T01:00:00Z' });
    s.clock.now = Date.parse('2030-01-01T00:00:00Z');
    expect((await s.get()).authorization).toBe('Bearer two');
    expect((await s.get()).authorization).toBe('Bearer two');
    expect(s.plugin.calls()).toHaveLength(2);
  });

  test('requests made while the plugin runs share that one run', async () => {
    const s = setup();
    s.plugin.answer({ token: 'shared' });
    const seen = await Promise.all(Array.from({ length: 8 }, () => s.get()));
    expect(seen.map((x) => x.authorization)).toEqual(Array(8).fill('Bearer shared'));
    expect(s.plugin.calls()).toHaveLength(1);
  });

  test('a token without expiry is kept until the server answers 401; the next request runs the plugin again', async () => {
    const s = setup();
    server.accept = (seen) => seen.authorization === 'Bearer fresh';
    s.plugin.answer({ token: 'stale' });
    const refused = await s.get().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).statusCode).toBe(401);
    expect(s.plugin.calls()).toHaveLength(1);

    s.plugin.answer({ token: 'fresh' });
    expect((await s.get()).authorization).toBe('Bearer fresh');
    expect((await s.get()).authorization).toBe('Bearer fresh');
    expect(s.plugin.calls()).toHaveLength(2);
  });

  test('a 401 for a credential already replaced does not throw the newer one away', async () => {
    const dir = temp.make();
    const plugin = new Plugin(dir);
    const path = writeKubeconfig(dir, { cluster: { server: server.url }, user: { exec: { apiVersion: V1, command: plugin.command, interactiveMode: 'Never' } } });
    const { credentials } = loadKubeConfig(path);
    plugin.answer({ token: 'first' });
    const first = await credentials.get();
    credentials.rejected(first);
    plugin.answer({ token: 'second' });
    const second = await credentials.get();
    expect(second.authorization).toBe('Bearer second');
    credentials.rejected(first);
    expect(await credentials.get()).toBe(second);
    expect(plugin.calls()).toHaveLength(2);
  });

  test('clientCertificateData and clientKeyData are presented as the TLS client certificate', async () => {
    const s = setup();
    s.plugin.answer({ clientCertificateData: clientCert.certPem, clientKeyData: clientCert.keyPem, expirationTimestamp: '2030-01-01T00:00:00Z' });
    expect(await s.get()).toEqual({ authorization: null, clientCertificate: 'from-the-plugin', servername: null });
  });

  test('provideClusterInfo: the server, its CA and the cluster exec extension reach the plugin', async () => {
    const s = setup(
      { provideClusterInfo: true },
      { 'tls-server-name': 'localhost', extensions: [{ name: 'other', extension: { no: 1 } }, { name: 'client.authentication.k8s.io/exec', extension: { audience: 'snapshots' } }] },
    );
    s.plugin.answer({ token: 't' });
    await s.get();
    expect(s.plugin.calls()[0]?.info.spec).toEqual({
      interactive: false,
      cluster: { server: server.url, 'tls-server-name': 'localhost', 'certificate-authority-data': base64(server.caPem), config: { audience: 'snapshots' } },
    });
  });

  test('v1beta1: asked in v1beta1, answered in v1beta1, interactiveMode may be left out', async () => {
    const s = setup({ apiVersion: V1BETA1, interactiveMode: null });
    s.plugin.answer({ token: 'beta' }, V1BETA1);
    expect((await s.get()).authorization).toBe('Bearer beta');
    expect(s.plugin.calls()[0]?.info.apiVersion).toBe(V1BETA1);
  });

  test('a failing plugin fails the request with its exit code and stderr; the failure is not kept', async () => {
    const s = setup();
    s.plugin.fail(3, 'token endpoint down\n');
    await expect(s.get()).rejects.toThrow(`kubeconfig ${s.path}: users[u].user.exec: the plugin ${s.plugin.command} exited with code 3: token endpoint down`);
    s.plugin.answer({ token: 'back' });
    expect((await s.get()).authorization).toBe('Bearer back');
    expect(s.plugin.calls()).toHaveLength(2);
  });

  test('a plugin that is not installed: the error carries its installHint', async () => {
    const s = setup({ command: './not-installed', installHint: 'Install it with: apt-get install the-plugin' });
    await expect(s.get()).rejects.toThrow(/users\[u\]\.user\.exec: the plugin \/.+\/not-installed could not be started: spawn .*ENOENT \(Install it with: apt-get install the-plugin\)/);
  });

  const unusable: Array<[string, string, RegExp]> = [
    ['not JSON', 'Bearer xyz', /not JSON/],
    ['another kind', JSON.stringify({ apiVersion: V1, kind: 'Status', status: { token: 't' } }), /kind is "Status", want "ExecCredential"/],
    ['another version than asked for', JSON.stringify({ apiVersion: V1BETA1, kind: 'ExecCredential', status: { token: 't' } }), /apiVersion is "client.authentication.k8s.io\/v1beta1", want "client.authentication.k8s.io\/v1" as configured/],
    ['no status', JSON.stringify({ apiVersion: V1, kind: 'ExecCredential' }), /status is missing/],
    ['neither token nor certificate', JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', status: { expirationTimestamp: '2030-01-01T00:00:00Z' } }), /neither a token nor clientCertificateData and clientKeyData/],
    ['a certificate without its key', JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', status: { clientCertificateData: 'x' } }), /only one of clientCertificateData and clientKeyData/],
    ['an expiry that is not a time', JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', status: { token: 't', expirationTimestamp: 'tomorrow' } }), /status.expirationTimestamp "tomorrow" is not an RFC 3339 time/],
  ];
  test.each(unusable)('output that cannot be used: %s', async (_what, stdout, problem) => {
    const s = setup();
    s.plugin.print(stdout);
    const err = (await s.get().catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`kubeconfig ${s.path}: users[u].user.exec: the plugin ${s.plugin.command} printed an unusable ExecCredential: `);
    expect(err.message).toMatch(problem);
  });
});
