/**
 * The test kit as every sidecar benchmark sets it up: the API test server in this process (so its
 * request accounting can be read), the sample driver as a child process, a CSI connection and a
 * REST client, the driver's VolumeSnapshotClass, and the benchmark's own watch of contents. One
 * place bounds a run in time and stops everything, also on Ctrl-C.
 */
import { CsiConnection } from '../src/csi/connection.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { RestClient, type RequestOptions } from '../src/kube/rest.js';
import { silentLogger } from '../src/observe/logger.js';
import type { VolumeSnapshotContent } from '../src/sidecar/types.js';
import { startTestApiServer, type TestApiServer } from '../src/testing/apiserver/index.js';
import { startSampleDriver, type SampleDriverProcess } from '../src/testing/sample-driver/index.js';
import { CLASS_PATH, ContentTracker, VSC_PATH } from './contents.js';
import type { Sidecar } from './sidecars.js';

export const CLASS_NAME = 'bench-class';
export const DRIVER_NAME = 'sample.csi.example.com';

type Send = <T>(options: RequestOptions) => Promise<T>;

export class Kit {
  readonly tracker = new ContentTracker();
  /** The sidecar under test now, if any: stopped by dispose() and killed by a time-out. */
  sidecar: Sidecar | undefined;
  private readonly watchAbort = new AbortController();
  private watchDone: Promise<void> | undefined;
  private hardStop: NodeJS.Timeout | undefined;
  private readonly interrupted = (): void => this.abort(130);

  private constructor(
    readonly api: TestApiServer,
    readonly driver: SampleDriverProcess,
    readonly csi: CsiConnection,
    readonly rest: RestClient,
  ) {}

  /** Starts everything; the whole run may take `limitMs`, after which it is killed (exit 2). */
  static async start(limitMs: number): Promise<Kit> {
    const api = await startTestApiServer();
    let driver: SampleDriverProcess | undefined;
    try {
      driver = await startSampleDriver();
      const csi = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger });
      const kit = new Kit(api, driver, csi, new RestClient({ kubeConfig: loadKubeConfig(api.kubeconfigPath) }));
      kit.hardStop = setTimeout(() => {
        console.error('benchmark exceeded its time limit; stopping');
        kit.abort(2);
      }, limitMs);
      kit.hardStop.unref();
      process.once('SIGINT', kit.interrupted);
      process.once('SIGTERM', kit.interrupted);
      return kit;
    } catch (err) {
      await driver?.dispose();
      await api.stop();
      throw err;
    }
  }

  /** Creates the driver's VolumeSnapshotClass (policy Delete) through `send`. */
  async createClass(send: Send = (o) => this.rest.request(o)): Promise<void> {
    await send({
      method: 'POST',
      path: CLASS_PATH,
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: CLASS_NAME }, driver: DRIVER_NAME, deletionPolicy: 'Delete' },
    });
  }

  /** Opens the benchmark's watch of contents from now on; its events feed `tracker`. */
  async watchContents(send: Send = (o) => this.rest.request(o)): Promise<void> {
    const initial = await send<{ metadata: { resourceVersion: string } }>({ method: 'GET', path: VSC_PATH, query: { limit: 1 } });
    this.watchDone = this.rest.watch<VolumeSnapshotContent>({
      path: VSC_PATH,
      query: { resourceVersion: initial.metadata.resourceVersion, timeoutSeconds: 3600 },
      onEvent: (e) => this.tracker.onEvent(e),
      signal: this.watchAbort.signal,
    });
    this.watchDone.catch((err: unknown) => console.error(`benchmark watch failed: ${String(err)}`));
  }

  /** Kills the sidecar and the driver and leaves with `code`. */
  private abort(code: number): void {
    this.sidecar?.child.kill('SIGKILL');
    void this.driver.kill().finally(() => process.exit(code));
  }

  async dispose(): Promise<void> {
    clearTimeout(this.hardStop);
    process.off('SIGINT', this.interrupted);
    process.off('SIGTERM', this.interrupted);
    if (this.sidecar?.running) await this.sidecar.stop();
    this.watchAbort.abort();
    await this.watchDone?.catch(() => undefined);
    this.csi.close();
    this.rest.close();
    await this.driver.dispose();
    await this.api.stop();
  }
}
