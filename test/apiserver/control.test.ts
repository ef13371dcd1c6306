import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Faults, startTestApiServerProcess, testApiServerBinPath, type TestApiServerProcess } from '../../src/testing/apiserver/index.js';
import { RunningProcess } from '../helpers/process.js';
import { eventually, raw } from './helpers.js';

// The control socket of `kube-test-apiserver --control-socket PATH`, which the chaos run steers the
// server with: off unless asked for, never on the HTTPS port, every operation against the real
// process, and a clear error for bad input.

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function server(options: Parameters<typeof startTestApiServerProcess>[0] = {}): Promise<TestApiServerProcess> {
  const api = await startTestApiServerProcess(options);
  cleanup.push(() => api.stop());
  return api;
}

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kta-ctl-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function bin(args: string[]): RunningProcess {
  const p = new RunningProcess(spawn(process.execPath, [testApiServerBinPath(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  cleanup.push(() => p.stop());
  return p;
}

/** Paths of the unix sockets `pid` listens on (Linux: its socket fds held against /proc/net/unix). */
function listeningUnixSockets(pid: number): string[] {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((inode): inode is string => inode !== undefined),
  );
  // Num RefCount Protocol Flags Type St Inode [Path]; flag 0x10000 is a listening socket.
  return readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 7 && inodes.has(f[6] as string) && (parseInt(f[3] as string, 16) & 0x10000) !== 0)
    .map((f) => f[7] ?? '(unnamed)');
}

/** A raw request on a control socket, for bodies the client would never send. */
function rawControl(socketPath: string, method: string, path: string, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const NS_PATH = '/api/v1/namespaces/default';
const get = (api: TestApiServerProcess, userAgent: string) => raw(api, 'GET', NS_PATH, undefined, { 'User-Agent': userAgent });

describe('kube-test-apiserver control socket', () => {
  test('off by default: no control= in the ready line, no unix socket listening, and the control paths are not on the HTTPS port', async () => {
    const dir = folder();
    const p = bin(['--port', '0', '--kubeconfig-out', join(dir, 'kc')]);
    const [line, url] = (await p.waitForOutput(/^ready (\S+)(.*)\n/m)) as unknown as [string, string, string];
    expect(line).toBe(`ready ${url}\n`);
    expect(readdirSync(dir)).toEqual(['kc']);
    expect(listeningUnixSockets(p.child.pid as number)).toEqual([]);
    const text = readFileSync(join(dir, 'kc'), 'utf8');
    const target = { url, token: /token: (\S+)/.exec(text)?.[1] as string, caPem: Buffer.from(/certificate-authority-data: (\S+)/.exec(text)?.[1] as string, 'base64').toString() };
    for (const [method, path] of [['GET', '/healthz'], ['GET', '/requests'], ['GET', '/resource-version'], ['POST', '/watches/close'], ['POST', '/faults/failures'], ['DELETE', '/faults']] as const) {
      const res = await raw(target, method, path, method === 'POST' ? '{"code":500}' : undefined);
      expect([method, path, res.status]).toEqual([method, path, path === '/healthz' ? 200 : 404]);
    }
  });

  test('on with the flag: a socket of mode 0600 in the ready line, still nothing of it on the HTTPS port; SIGTERM removes the socket', async () => {
    const dir = folder();
    const socket = join(dir, 'ctl.sock');
    const p = bin(['--port', '0', '--kubeconfig-out', join(dir, 'kc'), '--control-socket', socket]);
    const [, url] = (await p.waitForOutput(/^ready (\S+) control=(\S+)\n/m)) as unknown as [string, string, string];
    expect(p.stdout).toBe(`ready ${url} control=${socket}\n`);
    expect(statSync(socket).isSocket()).toBe(true);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(listeningUnixSockets(p.child.pid as number)).toEqual([socket]);
    expect((await rawControl(socket, 'GET', '/resource-version')).status).toBe(200);
    const text = readFileSync(join(dir, 'kc'), 'utf8');
    const target = { url, token: /token: (\S+)/.exec(text)?.[1] as string, caPem: Buffer.from(/certificate-authority-data: (\S+)/.exec(text)?.[1] as string, 'base64').toString() };
    for (const path of ['/requests', '/resource-version', '/faults/failures']) expect((await raw(target, 'GET', path)).status).toBe(404);
    expect((await raw(target, 'POST', '/watches/close', '{}')).status).toBe(404);
    p.child.kill('SIGTERM');
    expect(await p.waitForExit()).toEqual({ code: 0, signal: null });
    expect(existsSync(socket)).toBe(false);
  });

  test('refuses a control path that is taken, and a bad --fault-seed, with a clear message', async () => {
    const dir = folder();
    const taken = join(dir, 'taken');
    writeFileSync(taken, '');
    const p = bin(['--port', '0', '--kubeconfig-out', join(dir, 'kc'), '--control-socket', taken]);
    expect(await p.waitForExit()).toEqual({ code: 2, signal: null });
    expect(p.stderr).toContain(`--control-socket ${taken}: something is already there`);
    const seed = bin(['--port', '0', '--kubeconfig-out', join(dir, 'kc2'), '--fault-seed', 'x1']);
    expect(await seed.waitForExit()).toEqual({ code: 2, signal: null });
    expect(seed.stderr).toContain('--fault-seed must be an integer 0..4294967295, got "x1"');
  });

  test('resourceVersion follows the writes', async () => {
    const api = await server();
    const before = await api.resourceVersion();
    const created = await raw(api, 'POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: 'rv-test' } }));
    expect(created.status).toBe(201);
    const after = await api.resourceVersion();
    expect(after).toBeGreaterThan(before);
    expect(String(after)).toBe((created.json().metadata as { resourceVersion: string }).resourceVersion);
  });

  test('faults.fail aims a rule by verb and User-Agent; pending and remove show and end rules; clear ends them all', async () => {
    const api = await server();
    const once = await api.faults.fail({ verb: 'get', resource: 'namespaces', userAgent: 'victim/', code: 409, times: 1 });
    expect(await api.faults.pending()).toEqual([{ id: once, remaining: 1 }]);
    expect((await get(api, 'bystander/1.0')).status).toBe(200);
    const hit = await get(api, 'victim/1.0');
    expect(hit.status).toBe(409);
    expect(hit.json()).toMatchObject({ kind: 'Status', reason: 'Conflict', code: 409 });
    expect((await get(api, 'victim/1.0')).status).toBe(200);
    expect(await api.faults.pending()).toEqual([]);

    const always = await api.faults.fail({ verb: 'get', userAgent: 'victim/', code: 429, fraction: 1, retryAfterSeconds: 3 });
    const throttled = await get(api, 'victim/1.0');
    expect([throttled.status, throttled.headers['retry-after']]).toEqual([429, '3']);
    expect(await api.faults.pending()).toEqual([{ id: always, remaining: null }]);
    await api.faults.remove(always);
    expect((await get(api, 'victim/1.0')).status).toBe(200);
    await expect(api.faults.remove(always)).rejects.toThrow(`DELETE /faults/failures/${always}: HTTP 404: no armed failure rule ${always}`);

    await api.faults.fail({ code: 503, fraction: 1 });
    await api.faults.fail({ verb: 'list', code: 500 });
    expect((await get(api, 'anyone')).status).toBe(503);
    await api.faults.clear();
    expect(await api.faults.pending()).toEqual([]);
    expect((await get(api, 'anyone')).status).toBe(200);
  });

  test('--fault-seed decides fractional faults as the in-process Faults with that seed', async () => {
    const api = await server({ faultSeed: 1234567 });
    await api.faults.fail({ verb: 'get', resource: 'namespaces', code: 500, fraction: 0.5 });
    const reference = new Faults(1234567);
    reference.fail({ verb: 'get', resource: 'namespaces', code: 500, fraction: 0.5 });
    const info = { verb: 'get', resource: 'namespaces', subresource: '', namespace: '', name: 'default', userAgent: 'x' };
    const expected = Array.from({ length: 24 }, () => reference.check(info)?.code ?? 200);
    const seen: number[] = [];
    for (let i = 0; i < 24; i++) seen.push((await get(api, 'x')).status);
    expect(seen).toEqual(expected);
    expect(new Set(seen)).toEqual(new Set([200, 500]));
  });

  test('closeWatches ends every open watch and says how many', async () => {
    const api = await server();
    expect(await api.closeWatches()).toBe(0);
    const watches = [
      raw(api, 'GET', '/api/v1/namespaces?watch=true', undefined, { 'User-Agent': 'watcher/1' }),
      raw(api, 'GET', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents?watch=true', undefined, { 'User-Agent': 'watcher/1' }),
    ];
    await eventually(async () => ((await api.requests.count({ verb: 'watch' })) === 2 ? true : undefined), 'both watches to be open');
    expect(await api.closeWatches()).toBe(2);
    expect((await Promise.all(watches)).map((w) => w.status)).toEqual([200, 200]);
    expect(await api.closeWatches()).toBe(0);
  });

  test('requests.all returns the accounting with the in-process filter fields (exact matches), injected answers marked', async () => {
    const api = await server();
    await api.faults.fail({ verb: 'get', userAgent: 'victim/', code: 409, times: 1 });
    await get(api, 'victim/2.0');
    await get(api, 'victim/2.0');
    await get(api, 'other/1.0');
    const victim = await api.requests.all({ userAgent: 'victim/2.0' });
    expect(victim.map((r) => [r.verb, r.resource, r.name, r.code, r.injected])).toEqual([
      ['get', 'namespaces', 'default', 409, true],
      ['get', 'namespaces', 'default', 200, false],
    ]);
    expect(victim[0]?.atUs).toBeLessThan(victim[1]?.atUs as number);
    expect((await api.requests.all({ injected: true })).map((r) => r.userAgent)).toEqual(['victim/2.0']);
    expect(await api.requests.count({ verb: 'get', resource: 'namespaces', code: 200 })).toBe(2);
    expect(await api.requests.count({ userAgent: 'victim/' })).toBe(0);
    expect((await api.requests.all()).length).toBe(3);
  });

  test('bad input gets a 400 that says what is wrong; unknown paths 404, wrong methods 405', async () => {
    const api = await server();
    const s = api.socketPath;
    expect(await rawControl(s, 'POST', '/faults/failures', '{"code": 409,')).toEqual({ status: 400, body: { error: 'body is not valid JSON: "{\\"code\\": 409,"' } });
    const refused: Array<[unknown, string]> = [
      [[409], 'failure spec: must be a JSON object like {"verb":"patch","code":409,"fraction":0.1}, got [409]'],
      [{ verb: 'get' }, 'failure spec: "code" is required'],
      [{ code: '409' }, 'failure spec: "code" must be an integer HTTP error status 400..599, got "409"'],
      [{ code: 200 }, 'failure spec: "code" must be an integer HTTP error status 400..599, got 200'],
      [{ code: 409, fraction: 1.5 }, 'failure spec: "fraction" must be a number in (0, 1], got 1.5'],
      [{ code: 409, times: 0 }, 'failure spec: "times" must be a positive integer, got 0'],
      [{ code: 409, retryAfterSeconds: -1 }, 'failure spec: "retryAfterSeconds" must be a non-negative integer, got -1'],
      [{ code: 409, verb: 'PATCH' }, 'failure spec: "verb" must be one of get, list, watch, create, update, patch, delete, deletecollection, got "PATCH"'],
      [{ code: 409, user_agent: 'x' }, 'failure spec: unknown field "user_agent" (known: verb, resource, subresource, namespace, name, userAgent, code, times, fraction, retryAfterSeconds, message)'],
      [{ code: 409, resource: 7 }, 'failure spec: "resource" must be a string, got 7'],
    ];
    for (const [spec, message] of refused) {
      const res = await rawControl(s, 'POST', '/faults/failures', JSON.stringify(spec));
      expect([spec, res.status, res.body.error]).toEqual([spec, 400, expect.stringContaining(message)]);
    }
    // The client throws the same message, and nothing was armed.
    await expect(api.faults.fail({ code: 409, fraction: 2 })).rejects.toThrow('POST /faults/failures: HTTP 400: failure spec: "fraction" must be a number in (0, 1], got 2');
    expect(await api.faults.pending()).toEqual([]);

    expect(await rawControl(s, 'GET', '/requests?code=abc')).toEqual({ status: 400, body: { error: 'request filter: "code" must be an HTTP status of three digits, got "abc"' } });
    expect(await rawControl(s, 'GET', '/requests?injected=yes')).toEqual({ status: 400, body: { error: 'request filter: "injected" must be true or false, got "yes"' } });
    expect(await rawControl(s, 'GET', '/requests?verb=get&verb=list')).toEqual({ status: 400, body: { error: 'request filter: "verb" is given 2 times; give each field once' } });
    await expect(api.requests.all({ atUs: 1 } as never)).rejects.toThrow('GET /requests?atUs=1: HTTP 400: request filter: unknown field "atUs"');
    expect(await rawControl(s, 'DELETE', '/faults/failures/abc')).toEqual({ status: 400, body: { error: 'failure rule id must be a number, got "abc"' } });
    expect(await rawControl(s, 'GET', '/api/v1/namespaces')).toEqual({ status: 404, body: { error: 'no route for GET /api/v1/namespaces' } });
    expect(await rawControl(s, 'GET', '/watches/close')).toEqual({ status: 405, body: { error: 'GET /watches/close is not served' } });
    expect(await rawControl(s, 'PUT', '/faults')).toEqual({ status: 405, body: { error: 'PUT /faults is not served' } });
  });

  test('a client of a socket nobody serves says which socket', async () => {
    const api = await server();
    await api.kill();
    await expect(api.resourceVersion()).rejects.toThrow(`kube-test-apiserver control socket ${api.socketPath}: connect ECONNREFUSED`);
  });
});
