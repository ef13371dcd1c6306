import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Book-keeping of the process groups a real-cluster run started, as one JSON file per process in
 * `<runDir>/pids/`. The files are written synchronously at spawn time, so that an exit handler, a
 * later teardown or the next run (after a crash or SIGKILL of this one) can still find and end every
 * process, even one started by a test that forgot to stop it.
 */
export interface PidRecord {
  name: string;
  /** Also the process group id: every process is started as the leader of a new group. */
  pid: number;
  /** Kernel start time of the leader (clock ticks since boot), to tell our process from a reused pid. */
  startTime: number | undefined;
  command: string;
}

function pidDir(runDir: string): string {
  return join(runDir, 'pids');
}

function pidFile(runDir: string, record: Pick<PidRecord, 'name' | 'pid'>): string {
  return join(pidDir(runDir), `${record.name}-${record.pid}.json`);
}

/** Start time of a process from /proc/<pid>/stat, or undefined when it does not exist. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields after it are plain.
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(afterName[19]); // field 22 overall
  } catch {
    return undefined;
  }
}

export function recordProcess(runDir: string, record: PidRecord): void {
  mkdirSync(pidDir(runDir), { recursive: true });
  writeFileSync(pidFile(runDir, record), JSON.stringify(record));
}

export function forgetProcess(runDir: string, record: Pick<PidRecord, 'name' | 'pid'>): void {
  rmSync(pidFile(runDir, record), { force: true });
}

export function recordedProcesses(runDir: string): PidRecord[] {
  let names: string[];
  try {
    names = readdirSync(pidDir(runDir));
  } catch {
    return [];
  }
  const records: PidRecord[] = [];
  for (const name of names) {
    try {
      records.push(JSON.parse(readFileSync(join(pidDir(runDir), name), 'utf8')) as PidRecord);
    } catch {
      // A half-written file of a crashed run: nothing usable in it.
    }
  }
  return records;
}

/**
 * Signals the whole group of a recorded process. The group is left alone when its pid now belongs
 * to a different process (same pid, other start time). Returns true when a signal was delivered.
 */
export function signalRecordedGroup(record: PidRecord, signal: NodeJS.Signals): boolean {
  const startTime = processStartTime(record.pid);
  if (startTime !== undefined && record.startTime !== undefined && startTime !== record.startTime) return false;
  try {
    process.kill(-record.pid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone already.
  }
}

/** SIGKILLs every group recorded in a run folder and removes the records. Synchronous, for exit handlers. */
export function killRecordedGroupsSync(runDir: string): void {
  for (const record of recordedProcesses(runDir)) {
    signalRecordedGroup(record, 'SIGKILL');
    forgetProcess(runDir, record);
  }
}

/** Whether any process of a recorded group is still alive (and the pid was not reused). */
export function groupIsAlive(record: PidRecord): boolean {
  const startTime = processStartTime(record.pid);
  if (startTime !== undefined && record.startTime !== undefined && startTime !== record.startTime) return false;
  try {
    process.kill(-record.pid, 0);
    return true;
  } catch {
    return false;
  }
}
