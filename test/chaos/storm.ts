import type { TestApiServerProcess } from '../../src/testing/apiserver/index.js';
import type { Faults as DriverFaults } from '../../src/testing/sample-driver/index.js';
import type { Env } from '../e2e/env.js';
import { waitFor } from '../helpers/process.js';
import type { Random } from './random.js';
import { leaseHolder, type Replica } from './replicas.js';

/** The sidecar's requests start with this User-Agent; the run's own requests are never faulted. */
export const SIDECAR_AGENT = 'csi-snapshotter/';

/** Every CSI call: 20 % fail, half of those after the driver did the work (the answer is lost). */
export const DRIVER_FAULTS: DriverFaults = { errors: { '*': { code: ['UNAVAILABLE', 'DEADLINE_EXCEEDED'], probability: 0.2, afterWork: 0.5 } } };

export interface StormFigures {
  driverKills: number;
  sidecarKills: number;
  /** Milliseconds from each leader's SIGKILL until the other replica held the Lease. */
  takeoverMs: number[];
  watchClosings: number;
  watchesClosed: number;
  forced410: number;
}

// A moment already past (an earlier crash took long) is acted on at once.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * The faults of the chaos run: API faults and driver errors for the whole run, watches closed every
 * few seconds, and, at seeded moments inside the window, two driver crashes, one forced 410 and
 * three SIGKILLs of the leading sidecar (each time the other replica must take the Lease over).
 */
export class Storm {
  readonly figures: StormFigures = { driverKills: 0, sidecarKills: 0, takeoverMs: [], watchClosings: 0, watchesClosed: 0, forced410: 0 };
  private closer: NodeJS.Timeout | undefined;
  /** Ends the wait of the watch-closing loop at once (when disarmed). */
  private wake: (() => void) | undefined;
  /** The loop that closes the watches; it ends when the storm is disarmed or a control call fails. */
  private closing: Promise<void> = Promise.resolve();
  private closingFailure: unknown;
  private armed = false;
  private disarming: Promise<void> | undefined;

  constructor(
    private readonly env: Env<TestApiServerProcess>,
    private readonly replicas: Replica[],
    private readonly random: Random,
  ) {}

  async arm(): Promise<void> {
    const { faults } = this.env.api;
    for (const verb of ['create', 'update', 'patch', 'delete']) await faults.fail({ verb, userAgent: SIDECAR_AGENT, code: 409, fraction: 0.1 });
    await faults.fail({ userAgent: SIDECAR_AGENT, code: 429, fraction: 0.05, retryAfterSeconds: 1 });
    await this.env.driver.setFaults(DRIVER_FAULTS);
    this.armed = true;
    this.closing = this.closeWatchesEvery2To5s().catch((err: unknown) => {
      this.closingFailure = err;
    });
  }

  /** Closes every watch every 2–5 s until disarmed. */
  private async closeWatchesEvery2To5s(): Promise<void> {
    while (this.armed) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.closer = setTimeout(resolve, this.random.between(2000, 5000));
      });
      if (!this.armed) return;
      this.figures.watchClosings++;
      this.figures.watchesClosed += await this.env.api.closeWatches();
    }
  }

  /** Runs the crashes at their moments inside the window; resolves when the last one is over. */
  async run(startedAt: number, windowMs: number): Promise<void> {
    const moment = () => this.random.between(Math.round(windowMs * 0.1), Math.round(windowMs * 0.9));
    const events: Array<{ atMs: number; act: () => Promise<void> }> = [
      { atMs: moment(), act: () => this.crashDriver() },
      { atMs: moment(), act: () => this.crashDriver() },
      { atMs: moment(), act: () => this.force410() },
      { atMs: moment(), act: () => this.killLeader() },
      { atMs: moment(), act: () => this.killLeader() },
      { atMs: moment(), act: () => this.killLeader() },
    ].sort((a, b) => a.atMs - b.atMs);
    for (const e of events) {
      await sleep(startedAt + e.atMs - Date.now());
      await e.act();
    }
  }

  /**
   * Ends the watch closings and every API fault; resolves once the server has none left. Throws when
   * a watch closing failed (the run's figures would otherwise count a storm that stopped early).
   * A second call waits for the first.
   */
  disarm(): Promise<void> {
    this.disarming ??= (async () => {
      this.armed = false;
      clearTimeout(this.closer);
      this.wake?.();
      await this.closing;
      await this.env.api.faults.clear();
      if (this.closingFailure !== undefined) throw this.closingFailure;
    })();
    return this.disarming;
  }

  private async crashDriver(): Promise<void> {
    await this.env.driver.kill();
    this.figures.driverKills++;
    await sleep(this.random.between(1000, 3000));
    await this.env.driver.start();
    // Faults given at run time are gone with the process: the new one gets them again.
    await this.env.driver.setFaults(DRIVER_FAULTS);
  }

  private async force410(): Promise<void> {
    const id = await this.env.api.faults.fail({ verb: 'watch', userAgent: SIDECAR_AGENT, code: 410, times: 1 });
    this.figures.watchesClosed += await this.env.api.closeWatches();
    this.figures.forced410++;
    // Armed while no replica leads (between a kill and the takeover), or late in a run that then
    // settles at once, the 410 could otherwise still be waiting when the storm is disarmed.
    await waitFor('a sidecar watch to be answered the forced 410', async () => !(await this.env.api.faults.pending()).some((f) => f.id === id), 300_000);
  }

  private async killLeader(): Promise<void> {
    const holder = await waitFor('a sidecar replica to lead', async () => {
      const name = await leaseHolder(this.env.rest, this.env.driverName);
      return this.replicas.find((r) => r.name === name && r.current?.child.exitCode === null && r.current.child.signalCode === null);
    }, 300_000);
    await holder.kill();
    const killedAt = Date.now();
    this.figures.sidecarKills++;
    await waitFor('the other replica to take the Lease over', async () => {
      const name = await leaseHolder(this.env.rest, this.env.driverName);
      return name !== undefined && name !== holder.name;
    }, 300_000);
    this.figures.takeoverMs.push(Date.now() - killedAt);
    await sleep(this.random.between(0, 2000));
    holder.start();
  }
}
