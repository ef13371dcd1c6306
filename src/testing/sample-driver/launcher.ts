import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../util/package-root.js';
import { MAX_SEED } from '../random.js';
import type { Faults } from './faults.js';
import { readInventory, type Inventory } from './inventory.js';
import type { CallRecord } from './journal.js';

/** Options of startSampleDriver; everything is optional. */
export interface SampleDriverOptions {
  /** Data directory; default a fresh temp dir that dispose() removes. restart() always reuses it. */
  dataDir?: string;
  /** Socket path; default csi.sock in a fresh short temp dir. */
  socketPath?: string;
  driverName?: string;
  nodeId?: string;
  /** HOST:PORT of the control endpoint; default 127.0.0.1:0. */
  controlAddress?: string;
  /** Initial faults (passed as --faults, so they apply again after restart()). */
  faults?: Faults;
  /**
   * --fault-seed: the first start draws its fault decisions from this seed, the n-th restart from
   * the seed + n, so that a restarted driver does not repeat the faults its first start drew.
   */
  faultSeed?: number;
  /** --v */
  verbosity?: number;
  /** Extra flags appended to the command line. */
  args?: string[];
  /** Environment of the child; default this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the ready line; default 20 s. */
  readyTimeoutMs?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The --fault-seed of a driver's start number `start` (0 for the first) under `faultSeed`. */
function startSeed(faultSeed: number, start: number): number {
  return (faultSeed + start) % (MAX_SEED + 1);
}

/** Path of the compiled bin the launcher runs. */
export function sampleDriverBinPath(): string {
  return join(packageRoot(), 'dist', 'src', 'testing', 'bin', 'csi-sample-driver.js');
}

const MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * A sample driver running as a child process. Its endpoint stays the same across restart(); the
 * control URL and pid change with each start.
 */
export class SampleDriverProcess {
  readonly socketPath: string;
  readonly dataDir: string;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null });
  private control = '';
  private stdoutText = '';
  private stderrText = '';
  private readonly ownedDirs: string[] = [];
  /** How many times start() has spawned the driver. */
  private starts = 0;
  private readonly killOnExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  constructor(private readonly options: SampleDriverOptions = {}) {
    if (options.socketPath) this.socketPath = options.socketPath;
    else {
      const dir = mkdtempSync(join(tmpdir(), 'csd-'));
      this.ownedDirs.push(dir);
      this.socketPath = join(dir, 'csi.sock');
    }
    if (options.dataDir) this.dataDir = options.dataDir;
    else {
      this.dataDir = mkdtempSync(join(tmpdir(), 'csi-sample-driver-data-'));
      this.ownedDirs.push(this.dataDir);
    }
  }

  get endpoint(): string {
    return `unix://${this.socketPath}`;
  }

  get controlUrl(): string {
    return this.control;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Resolves when the current process exits. */
  get exited(): Promise<ExitStatus> {
    return this.exitPromise;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Everything the driver printed so far (across restarts). */
  output(): { stdout: string; stderr: string } {
    return { stdout: this.stdoutText, stderr: this.stderrText };
  }

  private commandLine(): string[] {
    const o = this.options;
    const args = [sampleDriverBinPath(), '--endpoint', this.endpoint, '--data-dir', this.dataDir];
    if (o.driverName !== undefined) args.push('--driver-name', o.driverName);
    if (o.nodeId !== undefined) args.push('--node-id', o.nodeId);
    if (o.controlAddress !== undefined) args.push('--control-address', o.controlAddress);
    if (o.faults !== undefined) args.push('--faults', JSON.stringify(o.faults));
    if (o.faultSeed !== undefined) args.push('--fault-seed', String(startSeed(o.faultSeed, this.starts)));
    if (o.verbosity !== undefined) args.push('--v', String(o.verbosity));
    return [...args, ...(o.args ?? [])];
  }

  /** Spawns the driver and waits for its ready line. */
  async start(): Promise<void> {
    if (this.running) throw new Error('the sample driver is already running');
    const child = spawn(process.execPath, this.commandLine(), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: this.options.env ?? process.env,
    });
    this.starts++;
    this.child = child;
    process.once('exit', this.killOnExit);
    const startStderr = this.stderrText.length;
    const append = (which: 'stdoutText' | 'stderrText', chunk: Buffer): void => {
      this[which] += chunk.toString('utf8');
      if (this[which].length > MAX_OUTPUT) this[which] = this[which].slice(-MAX_OUTPUT);
    };
    child.stderr?.on('data', (chunk: Buffer) => append('stderrText', chunk));
    this.exitPromise = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        process.off('exit', this.killOnExit);
        resolve({ code, signal });
      });
    });

    const timeoutMs = this.options.readyTimeoutMs ?? 20_000;
    const startedStdout = this.stdoutText.length;
    this.control = '';
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const fail = (why: string): void => {
        if (settled) return;
        child.kill('SIGKILL');
        const stderr = this.stderrText.slice(startStderr).trim();
        settle(new Error(`csi-sample-driver ${why}${stderr ? `; its stderr:\n${stderr}` : ' (no stderr output)'}`));
      };
      const timer = setTimeout(() => fail(`printed no ready line within ${timeoutMs} ms`), timeoutMs);
      child.stdout?.on('data', (chunk: Buffer) => {
        append('stdoutText', chunk);
        if (settled) return;
        const match = /^ready endpoint=(\S+) control=(\S+)$/m.exec(this.stdoutText.slice(startedStdout));
        if (match) {
          this.control = match[2] as string;
          settle();
        }
      });
      child.once('error', (err) => fail(`could not be started: ${err.message}`));
      // Let the last stderr chunk arrive before reporting.
      child.once('exit', (code, signal) => setImmediate(() => fail(`exited before it was ready (code ${code}, signal ${signal})`)));
    });
  }

  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  async stop(graceMs = 10_000): Promise<ExitStatus> {
    if (!this.running) return this.exitPromise;
    this.child?.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    try {
      return await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL (a crash: the socket file stays behind) and waits for the exit. */
  async kill(): Promise<ExitStatus> {
    if (this.running) this.child?.kill('SIGKILL');
    return this.exitPromise;
  }

  /** Stops the driver if it runs and starts it again on the same socket and data directory. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The snapshots and groups stored now, read from the data directory (works while the driver is down). */
  inventory(): Promise<Inventory> {
    return readInventory(this.dataDir);
  }

  /** Stops the driver and removes the temp directories the launcher made. */
  async dispose(): Promise<void> {
    await this.stop();
    for (const dir of this.ownedDirs) rmSync(dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ control endpoint helpers

  private async request(method: string, path: string, body?: string | Buffer): Promise<Response> {
    if (!this.control) throw new Error('the sample driver has not started');
    const res = await fetch(`${this.control}${path}`, { method, ...(body !== undefined ? { body } : {}) });
    if (!res.ok) {
      const text = await res.text();
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // plain text
      }
      throw new Error(`${method} ${path}: HTTP ${res.status}: ${message}`);
    }
    return res;
  }

  async faults(): Promise<Faults> {
    return (await (await this.request('GET', '/faults')).json()) as Faults;
  }

  /** Replaces every fault. */
  async setFaults(faults: Faults): Promise<Faults> {
    return (await (await this.request('PUT', '/faults', JSON.stringify(faults))).json()) as Faults;
  }

  /** JSON Merge Patch into the current faults (`null` removes a key). */
  async patchFaults(patch: Record<string, unknown>): Promise<Faults> {
    return (await (await this.request('PATCH', '/faults', JSON.stringify(patch))).json()) as Faults;
  }

  async clearFaults(): Promise<void> {
    await this.request('DELETE', '/faults');
  }

  /** The call journal, in arrival order (secret values replaced by their sha256 hex). */
  async calls(): Promise<CallRecord[]> {
    return (await (await this.request('GET', '/calls')).json()) as CallRecord[];
  }

  async clearCalls(): Promise<void> {
    await this.request('DELETE', '/calls');
  }

  /** Writes a file into a volume through the volume's write gate. */
  async writeFile(volumeId: string, path: string, content: string | Buffer): Promise<void> {
    await this.request('PUT', filePath('volumes', volumeId, path), content);
  }

  async readFile(volumeId: string, path: string): Promise<Buffer> {
    return Buffer.from(await (await this.request('GET', filePath('volumes', volumeId, path))).arrayBuffer());
  }

  async readSnapshotFile(snapshotId: string, path: string): Promise<Buffer> {
    return Buffer.from(await (await this.request('GET', filePath('snapshots', snapshotId, path))).arrayBuffer());
  }
}

function filePath(kind: string, id: string, path: string): string {
  return `/${kind}/${encodeURIComponent(id)}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** Starts the sample driver as a child process and resolves once it serves. */
export async function startSampleDriver(options: SampleDriverOptions = {}): Promise<SampleDriverProcess> {
  const driver = new SampleDriverProcess(options);
  try {
    await driver.start();
  } catch (err) {
    await driver.dispose();
    throw err;
  }
  return driver;
}
