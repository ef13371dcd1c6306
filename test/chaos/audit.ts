import type { RestClient, WatchEvent } from '../../src/kube/rest.js';
import { FINALIZER_CONTENT, FINALIZER_GROUP_CONTENT } from '../../src/sidecar/keys.js';
import type { Inventory } from '../../src/testing/sample-driver/index.js';
import { VGSC_PATH, VSC_PATH } from '../e2e/env.js';

interface Watched {
  metadata: { name: string; resourceVersion?: string; finalizers?: string[] };
  spec?: { volumeSnapshotRef?: { uid?: string }; volumeGroupSnapshotRef?: { uid?: string } };
  status?: { snapshotHandle?: string; volumeGroupSnapshotHandle?: string };
}

/** A moment a content stood without its finalizer (or was gone), to be held against storage. */
interface Unprotected {
  kind: 'content' | 'group';
  name: string;
  uid: string;
  handle: string | undefined;
  why: 'finalizer removed' | 'deleted';
}

const KINDS = [
  { kind: 'content', path: VSC_PATH, finalizer: FINALIZER_CONTENT },
  { kind: 'group', path: VGSC_PATH, finalizer: FINALIZER_GROUP_CONTENT },
] as const;

/**
 * The run's own watch of contents and group contents. Every time one is seen without its finalizer
 * (or deleted), storage is read afterwards: the storage snapshot it names must already be gone.
 * The sidecar deletes the storage snapshot before it lets the finalizer go, so a read that starts
 * after the event can only find one if the order was broken (or if it was cut after the content
 * lost its protection, a leak in the making).
 */
export class FinalizerAudit {
  readonly violations: string[] = [];
  /** Events seen, moments held against storage, and storage reads made for them. */
  readonly counts = { events: 0, checked: 0, storageReads: 0, rewatches: 0, relists: 0 };
  private readonly pending: Unprotected[] = [];
  private readonly abort = new AbortController();
  private draining: Promise<void> = Promise.resolve();
  private readonly loops: Promise<void>[] = [];
  private failure: unknown;

  constructor(
    private readonly rest: RestClient,
    private readonly inventory: () => Promise<Inventory>,
    private readonly names: { snapshot: (uid: string) => string; group: (uid: string) => string },
  ) {}

  start(fromResourceVersion: string): void {
    for (const k of KINDS) {
      const loop = this.watchLoop(k.kind, k.path, k.finalizer, fromResourceVersion).catch((err: unknown) => {
        this.failure ??= err;
      });
      this.loops.push(loop);
    }
  }

  /** Ends the watch and waits for the last storage checks; throws when the watch itself broke. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
    await this.drain();
    if (this.failure) throw this.failure;
  }

  private async watchLoop(kind: Unprotected['kind'], path: string, finalizer: string, from: string): Promise<void> {
    let rv = from;
    while (!this.abort.signal.aborted) {
      try {
        await this.rest.watch<Watched>({
          path,
          query: { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 3600 },
          signal: this.abort.signal,
          onEvent: (e: WatchEvent<Watched>) => {
            if (e.type === 'ERROR') throw Object.assign(new Error(`watch ${path}: ${JSON.stringify(e.object)}`), { statusCode: (e.object as { code?: number }).code });
            rv = e.object.metadata.resourceVersion ?? rv;
            if (e.type === 'BOOKMARK') return;
            this.counts.events++;
            this.observe(kind, e.type === 'DELETED', e.object, finalizer);
          },
        });
        this.counts.rewatches++;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 410) throw err;
        // Events were lost: look at every object as it is now, and count the gap (the run fails on it).
        this.counts.relists++;
        const list = await this.rest.request<{ metadata: { resourceVersion: string }; items: Watched[] }>({ method: 'GET', path });
        for (const item of list.items) this.observe(kind, false, item, finalizer);
        rv = list.metadata.resourceVersion;
      }
    }
  }

  private observe(kind: Unprotected['kind'], deleted: boolean, o: Watched, finalizer: string): void {
    if (!deleted && (o.metadata.finalizers ?? []).includes(finalizer)) return;
    const uid = (kind === 'content' ? o.spec?.volumeSnapshotRef?.uid : o.spec?.volumeGroupSnapshotRef?.uid) ?? '';
    const handle = kind === 'content' ? o.status?.snapshotHandle : o.status?.volumeGroupSnapshotHandle;
    this.pending.push({ kind, name: o.metadata.name, uid, handle, why: deleted ? 'deleted' : 'finalizer removed' });
    this.draining = this.draining.then(() => this.check()).catch((err: unknown) => {
      this.failure ??= err;
    });
  }

  private drain(): Promise<void> {
    return this.draining;
  }

  /** Holds every moment noted so far against one storage read that starts after all of them. */
  private async check(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0);
    this.counts.storageReads++;
    const stored = await this.inventory();
    for (const u of batch) {
      this.counts.checked++;
      const held =
        u.kind === 'content'
          ? stored.snapshots.filter((s) => !s.groupId && (s.name === this.names.snapshot(u.uid) || s.id === u.handle)).map((s) => s.id)
          : stored.groups.filter((g) => g.name === this.names.group(u.uid) || g.id === u.handle).map((g) => g.id);
      if (held.length > 0) this.violations.push(`${u.kind} ${u.name}: ${u.why} while storage still held ${held.join(', ')}`);
    }
  }
}
