import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { forgetProcess, processStartTime, recordProcess, signalRecordedGroup, type PidRecord } from './process-groups.js';
import { pollUntil } from './wait.js';

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * A program the harness started, in its own process group, with stdout and stderr going to
 * `<runDir>/logs/<name>.log`. Tests wait on its log or its exit, and stop it when done.
 */
export class ManagedProcess {
  readonly logFile: string;
  private exitCodeValue: number | null | undefined;
  private readonly exitedPromise: Promise<number | null>;
  private readonly record: PidRecord;

  private constructor(
    runDir: string,
    readonly name: string,
    readonly command: string,
    readonly args: readonly string[],
    options: StartOptions,
  ) {
    const logDir = join(runDir, 'logs');
    mkdirSync(logDir, { recursive: true });
    this.logFile = join(logDir, `${name}.log`);
    const logFd = openSync(this.logFile, 'a');
    try {
      // detached: a new session and process group, so stop() reaches anything the program starts
      // and a Ctrl-C in the terminal reaches only jest, which then ends the groups itself.
      const child = spawn(command, [...args], {
        cwd: options.cwd,
        env: options.env ?? process.env,
        detached: true,
        stdio: ['ignore', logFd, logFd],
      });
      if (child.pid === undefined) {
        child.once('error', () => undefined); // reported by the throw below
        throw new Error(`could not start ${command} (missing or not executable?)`);
      }
      this.record = { name, pid: child.pid, startTime: processStartTime(child.pid), command };
      recordProcess(runDir, this.record);
      this.exitedPromise = new Promise((resolve) => {
        child.once('exit', (code) => {
          this.exitCodeValue = code; // null when ended by a signal
          forgetProcess(runDir, this.record);
          resolve(code);
        });
        child.once('error', () => {
          this.exitCodeValue = null;
          forgetProcess(runDir, this.record);
          resolve(null);
        });
      });
      // A forgotten process must not keep jest alive; the pid record still lets teardown end it.
      child.unref();
    } finally {
      closeSync(logFd);
    }
  }

  static start(runDir: string, name: string, command: string, args: readonly string[], options: StartOptions = {}): ManagedProcess {
    return new ManagedProcess(runDir, name, command, args, options);
  }

  get pid(): number {
    return this.record.pid;
  }

  /** Whether the program has exited (undefined exit code means still running). */
  get running(): boolean {
    return this.exitCodeValue === undefined;
  }

  /** Resolves with the exit code (null when ended by a signal). */
  exited(): Promise<number | null> {
    return this.exitedPromise;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(lines = 40): string {
    const all = this.log().trimEnd().split('\n');
    return `--- last ${Math.min(lines, all.length)} lines of ${basename(this.logFile)} (${this.logFile}) ---\n${all.slice(-lines).join('\n')}`;
  }

  /** Waits until the log matches `pattern` and returns the match; fails early if the program exits. */
  async waitForLog(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return pollUntil(
      () => {
        const match = this.log().match(pattern);
        if (match) return match;
        if (!this.running) throw new Error(`${this.name} exited with code ${this.exitCodeValue}`);
        return undefined;
      },
      { description: `${this.name} to log ${pattern}`, timeoutMs, diagnostics: () => this.logTail() },
    );
  }

  /** Fails with the log tail if the program has already exited. */
  assertRunning(): void {
    if (!this.running) throw new Error(`${this.name} exited with code ${this.exitCodeValue}\n${this.logTail()}`);
  }

  /**
   * Sends a signal to the program's process group, e.g. SIGSTOP and SIGCONT to freeze a driver in
   * the middle of a call. Throws if the program has exited.
   */
  signal(signal: NodeJS.Signals): void {
    this.assertRunning();
    if (!signalRecordedGroup(this.record, signal)) throw new Error(`could not send ${signal} to ${this.name}`);
  }

  /** Ends the program at once with SIGKILL, as a crash or an evicted pod would; resolves once it has exited. */
  async kill(): Promise<void> {
    if (!this.running) return;
    signalRecordedGroup(this.record, 'SIGKILL');
    await this.exitedPromise;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    signalRecordedGroup(this.record, 'SIGTERM');
    const timer = setTimeout(() => signalRecordedGroup(this.record, 'SIGKILL'), graceMs);
    try {
      await this.exitedPromise;
    } finally {
      clearTimeout(timer);
    }
    // Anything the leader left behind in its group goes too.
    signalRecordedGroup(this.record, 'SIGKILL');
  }
}
