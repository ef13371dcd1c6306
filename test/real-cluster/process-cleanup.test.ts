import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { groupIsAlive, processStartTime, recordProcess, type PidRecord } from './harness/process-groups.js';
import { cleanStaleRuns, runsRoot } from './harness/run-directory.js';
import { pollUntil } from './harness/wait.js';

// The harness's promise of "nothing left running" rests on these: a run that died without its
// teardown (SIGKILL, power loss) is found by the next run through its pid records and ended.
describe('stale run cleanup', () => {
  test('kills the recorded process groups of a run whose owner is dead, and removes its folder', async () => {
    const staleDir = join(runsRoot(), `run-stale-test-${process.pid}-${Date.now()}`);
    mkdirSync(staleDir, { recursive: true });
    // An owner that cannot be alive: pid 2^22 + 1 is above the kernel's pid limit.
    writeFileSync(join(staleDir, 'owner.json'), JSON.stringify({ pid: 4194305, startTime: 1 }));
    const orphan = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
    orphan.unref();
    const record: PidRecord = { name: 'orphan', pid: orphan.pid as number, startTime: processStartTime(orphan.pid as number), command: 'sleep' };
    recordProcess(staleDir, record);
    expect(groupIsAlive(record)).toBe(true);

    expect(cleanStaleRuns()).toContain(staleDir);

    await pollUntil(() => (groupIsAlive(record) ? undefined : true), { description: 'the orphan to be killed', timeoutMs: 10_000 });
    expect(existsSync(staleDir)).toBe(false);
  });

  test('leaves the folder of the live run alone', () => {
    const live = process.env.REAL_CLUSTER_STATE;
    expect(live).toBeDefined();
    cleanStaleRuns();
    expect(existsSync(live as string)).toBe(true);
  });
});
