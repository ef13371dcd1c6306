import { describe, expect, test } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { buildConfig } from '../../src/config/config.js';
import { parseFlags } from '../../src/config/flags.js';
import { ConnectionLostError } from '../../src/csi/connection.js';
import { checkDriver, connectDriver, startDriver } from '../../src/main.js';
import { createLogger, type Logger } from '../../src/observe/logger.js';
import { createMetrics } from '../../src/observe/metrics.js';
import { serve } from '../../src/serve.js';
import { waitFor } from '../helpers/process.js';
import { stoppedAfterEach } from '../helpers/started.js';

// The driver going away at any point after the sidecar connected ends the sidecar with the
// connection-loss exit (1, "Lost connection to CSI driver, exiting"), also while start-up is still
// running: each test kills the real sample driver at one step of start-up.

const LOST = /Lost connection to CSI driver, exiting/;

const { driver, apiServer, sidecar, defer } = stoppedAfterEach();

function capturedLogger(): { log: Logger; text: () => string } {
  let text = '';
  const stream = new PassThrough();
  stream.setEncoding('utf8').on('data', (d: string) => (text += d));
  return { log: createLogger({ stream }), text: () => text };
}

describe('the driver exits during a start-up call', () => {
  // exitOn: the driver dies (SIGKILL) when the call arrives, so the call is in flight when the
  // socket closes. Whatever the call reports, the loss is what ends start-up.
  test.each([
    ['GetPluginInfo', /error getting CSI driver name/],
    ['Probe', /error waiting for CSI driver to be ready/],
    ['ControllerGetCapabilities', /error determining if driver supports create\/delete snapshot operations/],
    ['GroupControllerGetCapabilities', /group snapshots are disabled|error determining/],
  ])('during %s: exit 1 as a lost connection, not as a failed call', async (method, callFailure) => {
    const d = await driver({ exitOn: [method] });
    const p = sidecar([`--csi-address=${d.socketPath}`, '--timeout=20s']);
    expect((await p.waitForExit()).code).toBe(1);
    expect(await d.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(p.output).toMatch(LOST);
    expect(p.output).not.toMatch(callFailure);
    expect(p.output).not.toMatch(/CSI driver ready/);
  });
});

describe('the driver exits while no call is in flight', () => {
  test('between probes of a driver that is not ready yet: exit 1 as a lost connection', async () => {
    const d = await driver({ probeNotReady: 1_000_000 });
    const p = sidecar([`--csi-address=${d.socketPath}`]);
    await p.waitForOutput(/CSI driver is not ready/);
    await d.kill();
    expect((await p.waitForExit()).code).toBe(1);
    expect(p.output).toMatch(LOST);
    expect(p.output).not.toMatch(/probe failed/);
  });

  test('during group snapshot API discovery (the API server holds the answer): exit 1 at once, not after discovery', async () => {
    const api = await apiServer();
    // Far longer than the exit may take: a sidecar that only noticed the loss after discovery fails the wait below.
    api.faults.addLatency({ verb: 'list', resource: 'volumegroupsnapshotcontents', ms: 120_000 });
    const d = await driver();
    const p = sidecar([`--csi-address=${d.socketPath}`, `--kubeconfig=${api.kubeconfigPath}`, '--timeout=300s']);
    await p.waitForOutput(/CSI driver ready .*groupSnapshots=true/);
    await d.kill();
    expect((await p.waitForExit(20_000)).code).toBe(1);
    expect(p.output).toMatch(LOST);
    expect(p.output).not.toMatch(/Serving VolumeGroupSnapshotContents/);
  });

  test('while the controllers start (their first list keeps failing): exit 1 as a lost connection', async () => {
    const api = await apiServer();
    api.faults.fail({ verb: 'list', resource: 'volumesnapshotcontents', code: 500, times: 1_000_000 });
    const d = await driver();
    const p = sidecar([`--csi-address=${d.socketPath}`, `--kubeconfig=${api.kubeconfigPath}`, '--feature-gates=CSIVolumeGroupSnapshot=false']);
    await waitFor('a refused list of the content informer', () => api.requests.count({ verb: 'list', resource: 'volumesnapshotcontents', injected: true }) > 0);
    await d.kill();
    expect((await p.waitForExit()).code).toBe(1);
    expect(p.output).toMatch(LOST);
  });
});

describe('a loss that happened before anyone listened is still heard', () => {
  const config = buildConfig(parseFlags(['--timeout=20s']));

  test('right after connecting, before the first call: checkDriver ends with ConnectionLostError', async () => {
    const d = await driver();
    const { log } = capturedLogger();
    const conn = await connectDriver({ ...config, csiAddress: d.socketPath }, log);
    defer(() => conn.close());
    await d.kill();
    await waitFor('the connection to notice the loss', () => conn.lostReason !== undefined);
    const outcome = await checkDriver(conn, { ...config, csiAddress: d.socketPath }, log).then(
      () => 'started',
      (err: unknown) => err,
    );
    expect(outcome).toBeInstanceOf(ConnectionLostError);
    expect((outcome as ConnectionLostError).reason).toContain(d.socketPath);
  });

  test('after the checks, before serving: serve returns 1 at once and says why', async () => {
    const d = await driver();
    const { log, text } = capturedLogger();
    const { conn, facts } = await startDriver({ ...config, csiAddress: d.socketPath }, log);
    defer(() => conn.close());
    await d.kill();
    await waitFor('the connection to notice the loss', () => conn.lostReason !== undefined);
    // Driver-check mode (no kubeconfig): only a signal or the driver's loss can end it.
    const code = await serve({ config, conn, facts, metrics: createMetrics(), log, nodeName: undefined, userAgent: 'test' });
    expect(code).toBe(1);
    await waitFor('the log line', () => LOST.test(text()));
  });
});

describe('GroupControllerGetCapabilities failing while the driver is up', () => {
  test.each([['UNAVAILABLE', 'Unavailable'], ['DEADLINE_EXCEEDED', 'DeadlineExceeded'], ['INTERNAL', 'Internal']])(
    '%s stops start-up with exit 1 instead of switching group snapshots off',
    async (code, goName) => {
      const d = await driver({ errors: { GroupControllerGetCapabilities: { code, message: 'group service broke' } } });
      const p = sidecar([`--csi-address=${d.socketPath}`]);
      expect((await p.waitForExit()).code).toBe(1);
      expect(p.output).toContain(`error determining if driver supports create/delete group snapshot operations: rpc error: code = ${goName} desc = group service broke`);
      expect(p.output).not.toMatch(/CSI driver ready|group snapshots are disabled/);
      expect(p.output).not.toMatch(LOST);
      expect(d.running).toBe(true);
    },
  );
});
