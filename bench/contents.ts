/**
 * What the benchmarks share: a bounded pool of requests, medians, and a cluster's worth of
 * VolumeSnapshotContents that are already ready (as a sidecar leaves them), created through the
 * API like every other object, so the server's own list and watch encoding is what gets measured.
 */
import { randomUUID } from 'node:crypto';
import type { RestClient, WatchEvent } from '../src/kube/rest.js';
import { ANN_BEING_CREATED, FINALIZER_CONTENT } from '../src/sidecar/keys.js';
import type { VolumeSnapshotContent } from '../src/sidecar/types.js';

export const VSC_PATH = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
export const CLASS_PATH = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses';

/** Runs `work(0..count-1)` with at most `concurrency` in flight. */
export async function pool(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(count, concurrency) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * A bound dynamic content as the snapshot-controller creates one for a new VolumeSnapshot: its
 * finalizer, the VolumeSnapshot reference with a fresh UID, the class and the source volume.
 */
export function dynamicContent(name: string, volumeHandle: string, driver: string, className: string): Record<string, unknown> {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name, finalizers: [FINALIZER_CONTENT] },
    spec: {
      volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', name: `vs-${name}`, namespace: 'default', uid: randomUUID() },
      deletionPolicy: 'Delete',
      driver,
      volumeSnapshotClassName: className,
      source: { volumeHandle },
    },
  };
}

export interface ReadyContentsOptions {
  count: number;
  driver: string;
  className: string;
  /** Name prefix; contents are `<prefix>-<i>`. */
  prefix?: string;
  concurrency?: number;
}

/**
 * Creates `count` bound dynamic contents and gives each the status a sidecar writes when the
 * snapshot is ready (handle, int64 nanosecond creation time, size, readyToUse): a sidecar that
 * starts against them has nothing to do for any of them.
 */
export async function createReadyContents(rest: RestClient, options: ReadyContentsOptions): Promise<string[]> {
  const prefix = options.prefix ?? 'ready';
  const names = Array.from({ length: options.count }, (_, i) => `${prefix}-${i}`);
  // A creation time in the past, with all 19 digits of a nanosecond Unix time.
  const baseNanos = BigInt(Date.now() - 86_400_000) * 1_000_000n + 123_456n;
  await pool(options.count, options.concurrency ?? 32, async (i) => {
    const name = names[i] as string;
    await rest.request({ method: 'POST', path: VSC_PATH, body: dynamicContent(name, `vol-${randomUUID()}`, options.driver, options.className) });
    await rest.request({
      method: 'PATCH',
      path: `${VSC_PATH}/${name}/status`,
      contentType: 'application/merge-patch+json',
      body: { status: { snapshotHandle: `snap-${randomUUID()}`, creationTime: baseNanos + BigInt(i) * 1_000_003n, restoreSize: 1073741824, readyToUse: true } },
    });
  });
  return names;
}

/** Tracks every content through one watch: when it appeared, became ready, and disappeared. */
export class ContentTracker {
  readonly createdAt = new Map<string, number>();
  readonly readyAt = new Map<string, number>();
  /** Ready and without the being-created mark: the sidecar has nothing left to write. */
  readonly settledAt = new Map<string, number>();
  readonly goneAt = new Map<string, number>();
  readonly withError = new Set<string>();
  private waiters: Array<() => void> = [];

  onEvent(event: WatchEvent<VolumeSnapshotContent>): void {
    if (event.type === 'ERROR') throw new Error(`watch error: ${event.object.message}`);
    if (event.type === 'BOOKMARK') return;
    const name = event.object.metadata?.name ?? '';
    const t = performance.now();
    if (event.type === 'DELETED') this.goneAt.set(name, t);
    else {
      if (event.object.status?.readyToUse === true && !this.readyAt.has(name)) this.readyAt.set(name, t);
      if (event.object.status?.readyToUse === true && !event.object.metadata?.annotations?.[ANN_BEING_CREATED] && !this.settledAt.has(name)) this.settledAt.set(name, t);
      if (event.object.status?.error) this.withError.add(name);
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Waits until `done()`, looking again at each event of the watch and every `pollMs` (for
   * conditions the watch does not report, such as the API server's request count).
   */
  async until(what: string, done: () => boolean, deadline: number, alive: () => void, pollMs = 250): Promise<void> {
    while (!done()) {
      alive();
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
