import { expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../src/util/package-root.js';
import { RunningProcess } from '../helpers/process.js';

test('the demo takes a snapshot to ready on the embedded API server and driver, deletes it, and exits 0 with --once', async () => {
  const demo = new RunningProcess(spawn(process.execPath, [join(packageRoot(), 'dist/src/testing/demo.js'), '--once'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const { code } = await demo.waitForExit(90_000);
  expect(code).toBe(0);
  expect(demo.stdout).toMatch(/Ready\s+readyToUse=true restoreSize=27 creationTime=\d{19} \(Unix ns\)/);
  expect(demo.stdout).toContain('hello.txt: Hello from the demo volume');
  expect(demo.stdout).toMatch(/Deleted\s+storage snapshot deleted/);
  expect(demo.stdout).toContain('Demo finished.');
});
