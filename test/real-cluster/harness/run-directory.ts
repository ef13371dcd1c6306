import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killRecordedGroupsSync, processStartTime } from './process-groups.js';

/**
 * Every real-cluster run works in its own folder under the system temp folder (never in the work
 * tree): certificates, kubeconfigs, etcd data, sockets, logs and the pid records. The folder names
 * its owner (the jest process) so that the next run can tell a crashed run from a live one.
 */
export function runsRoot(): string {
  return process.env.REAL_CLUSTER_RUNS_DIR ?? join(tmpdir(), 'csi-snapshotter-ts-real-cluster');
}

interface Owner {
  pid: number;
  startTime: number | undefined;
}

function ownerIsAlive(owner: Owner): boolean {
  const startTime = processStartTime(owner.pid);
  return startTime !== undefined && (owner.startTime === undefined || startTime === owner.startTime);
}

/**
 * Ends the processes of earlier runs whose owner is gone (a crash, a SIGKILL, a closed terminal)
 * and deletes their folders. Runs whose owner still lives (a concurrent run) are left alone.
 * Returns the folders cleaned.
 */
export function cleanStaleRuns(): string[] {
  const cleaned: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(runsRoot());
  } catch {
    return cleaned;
  }
  for (const entry of entries) {
    const dir = join(runsRoot(), entry);
    let owner: Owner | undefined;
    try {
      owner = JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as Owner;
    } catch {
      owner = undefined; // no owner file: a run that died while creating its folder
    }
    if (owner && ownerIsAlive(owner)) continue;
    killRecordedGroupsSync(dir);
    rmSync(dir, { recursive: true, force: true });
    cleaned.push(dir);
  }
  return cleaned;
}

/** Creates this run's folder, owned by the current process. */
export function createRunDirectory(): string {
  const dir = join(runsRoot(), `run-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const owner: Owner = { pid: process.pid, startTime: processStartTime(process.pid) };
  writeFileSync(join(dir, 'owner.json'), JSON.stringify(owner));
  return dir;
}
