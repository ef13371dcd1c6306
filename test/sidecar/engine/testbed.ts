import { CsiConnection } from '../../../src/csi/connection.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import { RestClient } from '../../../src/kube/rest.js';
import { silentLogger } from '../../../src/observe/logger.js';
import { startTestApiServer, type TestApiServer, type TestApiServerOptions } from '../../../src/testing/apiserver/index.js';
import { startSampleDriver, type SampleDriverProcess } from '../../../src/testing/sample-driver/index.js';

export const DRIVER = 'sample.csi.example.com';

/** The pieces a testbed runs on, started together. */
export interface TestbedParts {
  apiServer: TestApiServer;
  driver: SampleDriverProcess;
  rest: RestClient;
  csi: CsiConnection;
}

/**
 * What every sync test of either kind runs against: the API test server (in-process), the sample
 * driver (a process, over gRPC on its unix socket) and the REST client and CSI connection the
 * sidecar itself uses. The single-snapshot and group harnesses add their kind's fixtures on top.
 */
export class Testbed {
  readonly apiServer: TestApiServer;
  readonly driver: SampleDriverProcess;
  readonly rest: RestClient;
  readonly csi: CsiConnection;

  protected constructor(parts: TestbedParts) {
    ({ apiServer: this.apiServer, driver: this.driver, rest: this.rest, csi: this.csi } = parts);
  }

  protected static async boot(options: TestApiServerOptions = {}): Promise<TestbedParts> {
    const apiServer = await startTestApiServer(options);
    const driver = await startSampleDriver();
    const csi = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger });
    return { apiServer, driver, csi, rest: new RestClient({ kubeConfig: loadKubeConfig(apiServer.kubeconfigPath) }) };
  }

  async stop(): Promise<void> {
    this.csi.close();
    await this.driver.dispose();
    await this.apiServer.stop();
  }

  async storeSecret(namespace: string, name: string, data: Record<string, string>): Promise<void> {
    const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    await this.rest.request({ method: 'POST', path: `/api/v1/namespaces/${namespace}/secrets`, body: { apiVersion: 'v1', kind: 'Secret', metadata: { name }, data: encoded } });
  }

  /** A volume on the sample driver holding one file (its size is what a snapshot of it restores). */
  async createVolume(name: string, file: string, content: Buffer | string): Promise<string> {
    const reply = await this.csi.call(
      '/csi.v1.Controller/CreateVolume',
      { name, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] },
      new Date(Date.now() + 10_000),
    );
    const id = reply.volume?.volume_id as string;
    await this.driver.writeFile(id, file, content);
    return id;
  }

  /** False only when the API server answers 404: any other failure is an error, never "gone". */
  protected async found(read: () => Promise<unknown>): Promise<boolean> {
    try {
      await read();
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false;
      throw err;
    }
  }
}
