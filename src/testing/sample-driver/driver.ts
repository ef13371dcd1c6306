import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import type * as http from 'node:http';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../../observe/logger.js';
import { packageRoot } from '../../util/package-root.js';
import { SeededRandom } from '../random.js';
import { createControlServer, listenControl } from './control.js';
import { FaultState, type Faults } from './faults.js';
import { Journal } from './journal.js';
import { addCsiServices } from './server.js';
import { Store } from './store.js';

export const DEFAULT_DRIVER_NAME = 'sample.csi.example.com';

export interface SampleDriverConfig {
  /** Absolute path of the unix socket to serve CSI on. */
  socketPath: string;
  dataDir: string;
  driverName?: string;
  nodeId?: string;
  controlHost?: string;
  /** 0 = any free port. */
  controlPort?: number;
  faults?: Faults;
  /**
   * Seed of the generator the fault decisions are drawn from (which call a `probability` fault
   * fires on, which of its codes, whether after the work); unset, they come from Math.random. The
   * same seed and the same calls in the same order give the same decisions.
   */
  faultSeed?: number;
  logger?: Logger;
  /** What the exitAfterCalls fault does; the bin kills its own process with SIGKILL. */
  crash?: () => void;
}

/** The project version, reported as vendor_version. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version || '0.0.0';
}

/** Removes a socket file left behind by an earlier process; refuses to remove anything else. */
async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  await fs.rm(path, { force: true });
}

/** A running sample driver: the CSI gRPC server on the unix socket plus the HTTP control endpoint. */
export class SampleDriver {
  private constructor(
    readonly endpoint: string,
    readonly controlUrl: string,
    private readonly config: SampleDriverConfig,
    private readonly grpcServer: grpc.Server,
    private readonly controlServer: http.Server,
  ) {}

  static async start(config: SampleDriverConfig): Promise<SampleDriver> {
    const logger = config.logger ?? silentLogger;
    await fs.mkdir(config.dataDir, { recursive: true });
    const store = await Store.open(config.dataDir);
    const seeded = config.faultSeed !== undefined ? new SeededRandom(config.faultSeed) : undefined;
    const faults = new FaultState(config.faults ?? {}, seeded ? () => seeded.next() : Math.random);
    const journal = new Journal();

    await removeStaleSocket(config.socketPath);
    const grpcServer = new grpc.Server();
    addCsiServices(grpcServer, {
      store,
      faults,
      journal,
      logger,
      driverName: config.driverName ?? DEFAULT_DRIVER_NAME,
      vendorVersion: packageVersion(),
      nodeId: config.nodeId ?? 'node',
      crash: config.crash ?? (() => process.kill(process.pid, 'SIGKILL')),
    });
    const endpoint = `unix://${config.socketPath}`;
    await new Promise<void>((resolve, reject) => {
      grpcServer.bindAsync(endpoint, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });

    const controlServer = createControlServer({ store, faults, journal, logger });
    let controlUrl: string;
    try {
      controlUrl = await listenControl(controlServer, config.controlHost ?? '127.0.0.1', config.controlPort ?? 0);
    } catch (err) {
      grpcServer.forceShutdown();
      await fs.rm(config.socketPath, { force: true });
      throw err;
    }
    logger.info('Sample CSI driver serving', { endpoint, control: controlUrl, dataDir: config.dataDir, ...(seeded ? { faultSeed: seeded.seed } : {}) });
    return new SampleDriver(endpoint, controlUrl, config, grpcServer, controlServer);
  }

  /** Stops taking calls, lets running ones finish (up to `graceMs`), closes both servers and removes the socket. */
  async stop(graceMs = 5000): Promise<void> {
    this.controlServer.closeAllConnections();
    const controlClosed = new Promise<void>((resolve) => this.controlServer.close(() => resolve()));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, graceMs);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await controlClosed;
    await fs.rm(this.config.socketPath, { force: true });
  }
}
