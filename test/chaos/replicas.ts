import type { RestClient } from '../../src/kube/rest.js';
import { leaseName } from '../../src/kube/leader.js';
import { startSidecar, type RunningProcess } from '../helpers/process.js';
import { podHostnameEnv } from '../helpers/pod-hostname.js';

export interface ExitRecord {
  replica: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the run killed it on purpose. */
  planned: boolean;
  /** The last lines it printed, for the report of an exit nobody planned. */
  tail: string;
  /** Why it ended, when its last words say so in a way the sidecar is meant to end; else undefined. */
  reason?: string;
}

/**
 * Exits the sidecar makes on purpose, as the Go sidecar does: it ends when the driver connection is
 * lost, when a start-up call to the driver fails, and when it stops leading. Anything else (a
 * crash, a hang ended by the supervisor) is a finding.
 */
const INTENDED_EXITS: Array<[RegExp, string]> = [
  [/Lost connection to CSI driver, exiting/, 'driver connection lost'],
  [/error getting CSI driver name|error waiting for CSI driver to be ready|error determining if driver supports/, 'a start-up call to the driver failed'],
  [/Stopped leading|leadership lost/, 'stopped leading'],
];

function reasonOf(tail: string, code: number | null): string | undefined {
  if (code !== 1) return undefined;
  // Work already in flight may log errors after the reason, so any error line of the tail counts.
  const errors = tail.split('\n').filter((l) => l.startsWith('E'));
  return INTENDED_EXITS.find(([pattern]) => errors.some((line) => pattern.test(line)))?.[1];
}


/**
 * One sidecar replica under a supervisor, as a Deployment's pod under the kubelet: when the process
 * ends on its own it is started again after `restartDelayMs`; after kill() the caller restarts it.
 * Every start's output is kept, so the logs of all verbosities can be searched at the end.
 */
export class Replica {
  readonly starts: Array<{ process: RunningProcess; verbosity: number }> = [];
  readonly exits: ExitRecord[] = [];
  private stopped = false;
  private plannedKill = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    private readonly argsFor: (verbosity: number) => string[],
    private readonly nextVerbosity: () => number,
    private readonly restartDelayMs: () => number,
  ) {}

  get current(): RunningProcess | undefined {
    return this.starts.at(-1)?.process;
  }

  start(): void {
    const verbosity = this.nextVerbosity();
    const child = startSidecar(this.argsFor(verbosity), podHostnameEnv(this.name));
    this.starts.push({ process: child, verbosity });
    void child.exit.then(({ code, signal }) => {
      if (this.stopped) return;
      const planned = this.plannedKill;
      const tail = child.output.split('\n').slice(-40).join('\n');
      const reason = reasonOf(tail, code);
      this.exits.push({ replica: this.name, code, signal, planned, tail, ...(reason ? { reason } : {}) });
      this.plannedKill = false;
      // Whoever killed it on purpose decides when it comes back; any other exit is restarted, as the kubelet does.
      if (!planned) this.restartTimer = setTimeout(() => this.start(), this.restartDelayMs());
    });
  }

  /** SIGKILL, as a node failure or OOM kill; start() brings it back. */
  async kill(): Promise<void> {
    const child = this.current;
    if (!child || child.child.exitCode !== null || child.child.signalCode !== null) return;
    this.plannedKill = true;
    await child.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.current?.stop();
  }

  /** Everything every start of this replica printed. */
  output(): string {
    return this.starts.map((s) => s.process.output).join('\n');
  }
}

/** The holder of the sidecar's leader Lease, or undefined when none holds it. */
export async function leaseHolder(rest: RestClient, driverName: string, namespace = 'default'): Promise<string | undefined> {
  try {
    const lease = await rest.request<{ spec?: { holderIdentity?: string } }>({
      method: 'GET',
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${leaseName(driverName)}`,
    });
    return lease.spec?.holderIdentity || undefined;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}
