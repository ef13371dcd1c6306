import { afterEach } from '@jest/globals';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';
import { startSampleDriver, type Faults, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { startSidecar, type RunningProcess } from './process.js';

/**
 * The processes (and anything else) a test starts, each ended after that test, newest first. Call
 * once at the top of a test file: it registers the afterEach hook.
 */
export function stoppedAfterEach(): {
  driver(faults?: Faults): Promise<SampleDriverProcess>;
  apiServer(): Promise<TestApiServer>;
  sidecar(args: string[]): RunningProcess;
  /** Anything else to undo after the test (a folder, a connection). */
  defer(undo: () => Promise<void> | void): void;
} {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()?.();
  });
  return {
    async driver(faults) {
      const d = await startSampleDriver(faults ? { faults } : {});
      cleanup.push(() => d.dispose());
      return d;
    },
    async apiServer() {
      const api = await startTestApiServer();
      cleanup.push(() => api.stop());
      return api;
    },
    sidecar(args) {
      const p = startSidecar(args);
      cleanup.push(() => p.stop());
      return p;
    },
    defer(undo) {
      cleanup.push(undo);
    },
  };
}
