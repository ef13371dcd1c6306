/**
 * The benchmark's own watch of contents on the real kube-apiserver, kept open for the whole run.
 * The real API server ends a watch whose reader falls behind (apiserver_terminated_watchers_total),
 * which a niced benchmark on a loaded 2-core machine does during a burst of hundreds of writes, and
 * ends it cleanly, so the reader learns nothing more. Then this lists the contents (each one fed to
 * the tracker as an update, the ones gone as deletions) and watches again from the list. What
 * happened while the watch was down is timed at the relist, late, so every restart is counted and
 * reported with the run.
 */
import type { RestClient } from '../src/kube/rest.js';
import type { VolumeSnapshotContent } from '../src/sidecar/types.js';
import { VSC_PATH, type ContentTracker } from './contents.js';

export class ResilientContentWatch {
  /** Times the watch ended and was started again from a fresh list. */
  restarts = 0;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;

  constructor(private readonly rest: RestClient, private readonly tracker: ContentTracker, firstResourceVersion: string) {
    this.done = this.run(firstResourceVersion);
  }

  /** Lists the contents now and opens the watch from there. */
  static async open(rest: RestClient, tracker: ContentTracker): Promise<ResilientContentWatch> {
    const initial = await rest.request<{ metadata: { resourceVersion: string } }>({ method: 'GET', path: VSC_PATH, query: { limit: 1 } });
    return new ResilientContentWatch(rest, tracker, initial.metadata.resourceVersion);
  }

  private async run(firstResourceVersion: string): Promise<void> {
    let resourceVersion = firstResourceVersion;
    const { signal } = this.abort;
    while (!signal.aborted) {
      try {
        await this.rest.watch<VolumeSnapshotContent>({ path: VSC_PATH, query: { resourceVersion, timeoutSeconds: 3600 }, onEvent: (e) => this.tracker.onEvent(e), signal });
      } catch (err) {
        if (signal.aborted) break;
        console.error(`benchmark watch failed (${err instanceof Error ? err.message : String(err)}); listing and watching again`);
      }
      if (signal.aborted) break;
      this.restarts++;
      try {
        resourceVersion = await this.relist();
      } catch (err) {
        console.error(`benchmark relist failed: ${err instanceof Error ? err.message : String(err)}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Feeds the tracker what a list shows now; returns the list's resourceVersion. */
  private async relist(): Promise<string> {
    const list = await this.rest.request<{ metadata: { resourceVersion: string }; items: VolumeSnapshotContent[] }>({ method: 'GET', path: VSC_PATH });
    const present = new Set<string>();
    for (const object of list.items) {
      present.add(object.metadata.name);
      this.tracker.onEvent({ type: 'MODIFIED', object });
    }
    for (const name of this.tracker.createdAt.keys()) {
      if (!present.has(name) && !this.tracker.goneAt.has(name)) this.tracker.onEvent({ type: 'DELETED', object: { metadata: { name } } as VolumeSnapshotContent });
    }
    return list.metadata.resourceVersion;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}
