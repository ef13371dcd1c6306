/**
 * What the benchmarks share: a bounded pool of requests, medians, and a cluster's worth of
 * VolumeSnapshotContents that are already ready (as a sidecar leaves them), created through the
 * API like every other object, so the server's own list and watch encoding is what gets measured.
 */
import { randomUUID } from 'node:crypto';
import type { RestClient } from '../src/kube/rest.js';
import { FINALIZER_CONTENT } from '../src/sidecar/keys.js';

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
    const vsUid = randomUUID();
    await rest.request({
      method: 'POST',
      path: VSC_PATH,
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        metadata: { name, finalizers: [FINALIZER_CONTENT] },
        spec: {
          volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', name: `vs-${i}`, namespace: 'default', uid: vsUid, resourceVersion: String(1000 + i) },
          deletionPolicy: 'Delete',
          driver: options.driver,
          volumeSnapshotClassName: options.className,
          source: { volumeHandle: `vol-${randomUUID()}` },
        },
      },
    });
    await rest.request({
      method: 'PATCH',
      path: `${VSC_PATH}/${name}/status`,
      contentType: 'application/merge-patch+json',
      body: { status: { snapshotHandle: `snap-${vsUid}`, creationTime: baseNanos + BigInt(i) * 1_000_003n, restoreSize: 1073741824, readyToUse: true } },
    });
  });
  return names;
}
