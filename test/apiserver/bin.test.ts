import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { packageRoot } from '../../src/util/package-root.js';

let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
  child = undefined;
  dir = undefined;
});

describe('kube-test-apiserver bin', () => {
  test('prints one ready line, writes a working kubeconfig, exits 0 on SIGTERM', async () => {
    dir = mkdtempSync(join(tmpdir(), 'kta-bin-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const proc = spawn(process.execPath, [join(packageRoot(), 'dist/src/testing/bin/kube-test-apiserver.js'), '--port', '0', '--kubeconfig-out', kubeconfig, '--group-snapshot-versions', 'v1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /^ready (https:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
        if (m) resolve(m[1] as string);
      });
      proc.on('exit', (code) => reject(new Error(`exited early with ${code}`)));
    });
    expect(readFileSync(kubeconfig, 'utf8')).toContain(`server: ${url}`);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const list = (await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({
      group: 'groupsnapshot.storage.k8s.io',
      version: 'v1',
      plural: 'volumegroupsnapshotcontents',
    })) as { items: unknown[] };
    expect(list.items).toEqual([]);
    const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  test('rejects an unknown group snapshot version with a clear message', async () => {
    dir = mkdtempSync(join(tmpdir(), 'kta-bin-'));
    const proc = spawn(process.execPath, [join(packageRoot(), 'dist/src/testing/bin/kube-test-apiserver.js'), '--kubeconfig-out', join(dir, 'kc'), '--group-snapshot-versions', 'v2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let err = '';
    proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toContain('unknown group snapshot version "v2"');
  });
});
