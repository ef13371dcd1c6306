import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleDriverBinPath } from '../../src/testing/sample-driver/index.js';
import { CsiClient } from './csi-client.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'csd-cli-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [sampleDriverBinPath(), ...args], { encoding: 'utf8', timeout: 20_000, env });
}

describe('csi-sample-driver command line', () => {
  test('--help prints the flags and exits 0', () => {
    const result = run(['--help']);
    expect(result.status).toBe(0);
    for (const flag of ['--endpoint', '--data-dir', '--driver-name', '--node-id', '--control-address', '--faults', '--fault-seed', '--v']) {
      expect(result.stdout).toContain(flag);
    }
  });

  test.each([
    [['--endpoint', '/tmp/x.sock', '--bogus'], /unknown flag '--bogus'/],
    [[], /--endpoint is required/],
    [['--endpoint', 'relative.sock'], /absolute/],
    [['--endpoint', '/tmp/x.sock', '--faults', '{not json'], /--faults is not valid JSON/],
    [['--endpoint', '/tmp/x.sock', '--faults', '{"latencyMs":{"Probe":-1}}'], /latencyMs.Probe must be a non-negative number/],
    [['--endpoint', '/tmp/x.sock', '--control-address', '0.0.0.0:0'], /loopback/],
    [['--endpoint', '/tmp/x.sock', '--v', 'loud'], /--v must be a non-negative integer/],
  ])('%j is a usage error: exit 2 with a clear message', (args, message) => {
    const result = run(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  test('a bad CSI_SAMPLE_DRIVER_FAULTS is a usage error too', () => {
    const result = run(['--endpoint', '/tmp/x.sock'], { ...process.env, CSI_SAMPLE_DRIVER_FAULTS: '[1]' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/CSI_SAMPLE_DRIVER_FAULTS: faults must be a JSON object/);
  });

  test('refuses to replace a regular file at the socket path', () => {
    const dir = tempDir();
    const path = join(dir, 'not-a-socket');
    writeFileSync(path, 'precious');
    const result = run(['--endpoint', path, '--data-dir', join(dir, 'data')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/is not a socket/);
  });

  test('accepts a plain absolute path, prints exactly one ready line, serves, and on SIGTERM exits 0 and removes its socket', async () => {
    const dir = tempDir();
    const socket = join(dir, 'csi.sock');
    const child = spawn(process.execPath, [sampleDriverBinPath(), '--endpoint', socket, '--data-dir', join(dir, 'data'), '--driver-name', 'cli.example.com'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ready line')), 15_000);
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) {
          clearTimeout(timer);
          resolve(stdout);
        }
      });
    });
    expect(ready).toMatch(new RegExp(`^ready endpoint=unix://${socket} control=http://127\\.0\\.0\\.1:\\d+\\n$`));
    const csi = new CsiClient(`unix://${socket}`);
    try {
      expect((await csi.getPluginInfo()).name).toBe('cli.example.com');
    } finally {
      csi.close();
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(socket)).toBe(false);
    expect(stdout.split('\n').filter((l) => l.startsWith('ready '))).toHaveLength(1);
  });
});
