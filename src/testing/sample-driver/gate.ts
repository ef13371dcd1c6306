/**
 * A per-volume write gate: writes pass through it concurrently (shared), a snapshot cut closes it
 * (exclusive). Closing waits for writes already inside to finish and holds back writes that arrive
 * while the cut is waiting or running, so they land after the cut. A waiting cut is never starved by
 * a stream of new writes.
 */
export class Gate {
  private writers = 0;
  private cutting = false;
  private readonly waitingWrites: Array<() => void> = [];
  private readonly waitingCuts: Array<() => void> = [];

  /** Enters as a writer; call the returned function when the write is done. */
  async enterWrite(): Promise<() => void> {
    if (this.cutting || this.waitingCuts.length > 0) {
      await new Promise<void>((resolve) => this.waitingWrites.push(resolve));
    } else {
      this.writers += 1;
    }
    return once(() => {
      this.writers -= 1;
      this.wake();
    });
  }

  /** Closes the gate for a cut; call the returned function to reopen it. */
  async close(): Promise<() => void> {
    if (this.cutting || this.writers > 0 || this.waitingCuts.length > 0) {
      await new Promise<void>((resolve) => this.waitingCuts.push(resolve));
    } else {
      this.cutting = true;
    }
    return once(() => {
      this.cutting = false;
      this.wake();
    });
  }

  private wake(): void {
    if (this.cutting || this.writers > 0) return;
    const cut = this.waitingCuts.shift();
    if (cut) {
      this.cutting = true;
      cut();
      return;
    }
    while (this.waitingWrites.length > 0) {
      this.writers += 1;
      this.waitingWrites.shift()?.();
    }
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

/** Gates by key, created on first use. */
export class Gates {
  private readonly gates = new Map<string, Gate>();

  get(key: string): Gate {
    let gate = this.gates.get(key);
    if (!gate) {
      gate = new Gate();
      this.gates.set(key, gate);
    }
    return gate;
  }

  /** Closes the gates of all keys (in sorted order, so two cuts over overlapping sets cannot deadlock). */
  async closeAll(keys: string[]): Promise<() => void> {
    const releases: Array<() => void> = [];
    for (const key of [...new Set(keys)].sort()) releases.push(await this.get(key).close());
    return () => releases.forEach((release) => release());
  }
}
