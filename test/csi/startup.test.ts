import { describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSampleDriver, type Faults } from '../../src/testing/sample-driver/index.js';
import { startSidecar } from '../helpers/process.js';
import { stoppedAfterEach } from '../helpers/started.js';

const { driver, sidecar, defer } = stoppedAfterEach();

describe('sidecar start-up against the sample driver', () => {
  test('logs the driver name and capabilities, stays up, and exits 0 on SIGTERM', async () => {
    const d = await driver();
    const p = sidecar([`--csi-address=unix://${d.socketPath}`, '--timeout=10s', '--v=5']);
    await p.waitForOutput(/CSI driver ready driver="sample\.csi\.example\.com".*CREATE_DELETE_SNAPSHOT.*LIST_SNAPSHOTS.*CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT.*groupSnapshots=true/);
    expect(p.output).toMatch(/GRPC call method="\/csi\.v1\.Identity\/GetPluginInfo"/);
    // Neither --kubeconfig nor the in-cluster variables: there is no cluster, only the driver check.
    await p.waitForOutput(/No Kubernetes configuration \(no --kubeconfig and not running in a pod\): the CSI driver was checked/);
    p.child.kill('SIGTERM');
    expect((await p.waitForExit()).code).toBe(0);
  });

  test('waits for a socket that does not exist yet, says so, and connects when the driver appears', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'csi-wait-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const socketPath = join(dir, 'csi.sock');
    const p = sidecar([`--csi-address=${socketPath}`, '--timeout=10s']);
    await p.waitForOutput(/Still connecting address="unix:\/\/.*csi\.sock"/, 20_000);
    const d = await startSampleDriver({ socketPath });
    defer(() => d.dispose());
    await p.waitForOutput(/CSI driver ready/);
  });

  test('exits 1 with a clear message when the driver dies after start-up', async () => {
    const d = await driver();
    const p = sidecar([`--csi-address=${d.socketPath}`]);
    await p.waitForOutput(/CSI driver ready/);
    await d.kill();
    expect((await p.waitForExit()).code).toBe(1);
    expect(p.output).toMatch(/Lost connection to CSI driver, exiting/);
  });

  test('A-03: a driver without CREATE_DELETE_SNAPSHOT stops start-up with exit 1', async () => {
    const d = await driver({ withhold: { controller: ['CREATE_DELETE_SNAPSHOT'] } });
    const p = sidecar([`--csi-address=${d.socketPath}`]);
    expect((await p.waitForExit()).code).toBe(1);
    expect(p.output).toContain('CSI driver sample.csi.example.com does not support ControllerCreateSnapshot');
  });

  test('A-02: a failing ControllerGetCapabilities stops start-up with exit 1', async () => {
    const d = await driver({ errors: { ControllerGetCapabilities: { code: 'INTERNAL', message: 'caps broke' } } });
    const p = sidecar([`--csi-address=${d.socketPath}`]);
    expect((await p.waitForExit()).code).toBe(1);
    expect(p.output).toMatch(/rpc error: code = Internal desc = caps broke/);
  });

  test.each([
    ['the group capability is withheld', { withhold: { groupController: ['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT'] } }],
    ['Z-12: the GroupController service is unimplemented', { unimplemented: ['GroupController'] }],
  ] as Array<[string, Faults]>)('group snapshots are switched off with a warning when %s; single snapshots are served', async (_name, faults) => {
    const d = await driver(faults);
    const p = sidecar([`--csi-address=${d.socketPath}`]);
    await p.waitForOutput(/CSI driver ready .*groupSnapshots=false/);
    expect(p.output).toMatch(/^W.*group snapshots are disabled for this run/m);
  });

  test('a resync period of 0 (no periodic pass) is accepted', async () => {
    const d = await driver();
    const p = sidecar([`--csi-address=${d.socketPath}`, '--resync-period=0s']);
    await p.waitForOutput(/CSI driver ready/);
  });

  test('Z-13: with the group feature gate off the driver is not asked about groups', async () => {
    const d = await driver();
    const p = sidecar([`--csi-address=${d.socketPath}`, '--feature-gates=CSIVolumeGroupSnapshot=false']);
    await p.waitForOutput(/CSI driver ready .*groupSnapshots=false/);
    const methods = (await d.calls()).map((c) => c.method);
    expect(methods).not.toContain('GroupControllerGetCapabilities');
    expect(p.output).not.toMatch(/group snapshot/i);
  });

  test('Z-07: a driver that is not ready yet is probed again until it is', async () => {
    const d = await driver({ probeNotReady: 2 });
    const p = sidecar([`--csi-address=${d.socketPath}`]);
    await p.waitForOutput(/CSI driver ready/);
    expect(p.output.match(/CSI driver is not ready/g)).toHaveLength(2);
    expect((await d.calls()).filter((c) => c.method === 'Probe')).toHaveLength(3);
  });

  test('Z-08: a probe that times out is retried', async () => {
    const d = await driver({ errors: { Probe: { code: 'DEADLINE_EXCEEDED', times: 1 } } });
    const p = sidecar([`--csi-address=${d.socketPath}`]);
    await p.waitForOutput(/CSI driver ready/);
    expect(p.output).toContain('CSI driver probe timed out');
  });

  test('Z-09: a probe that fails stops start-up with exit 1', async () => {
    const d = await driver({ errors: { Probe: { code: 'FAILED_PRECONDITION', message: 'disk gone' } } });
    const p = sidecar([`--csi-address=${d.socketPath}`]);
    expect((await p.waitForExit()).code).toBe(1);
    expect(p.output).toMatch(/error waiting for CSI driver to be ready: CSI driver probe failed: rpc error: code = FailedPrecondition desc = disk gone/);
  });

  test('Z-06: GetPluginInfo failing stops start-up with exit 1', async () => {
    const d = await driver({ errors: { GetPluginInfo: { code: 'UNAVAILABLE', message: 'no identity' } } });
    const p = sidecar([`--csi-address=${d.socketPath}`]);
    expect((await p.waitForExit()).code).toBe(1);
    expect(p.output).toMatch(/error getting CSI driver name: rpc error: code = Unavailable desc = no identity/);
  });

  test('Z-10: an empty snapshot name prefix is refused after the capability check', async () => {
    const d = await driver();
    const p = sidecar([`--csi-address=${d.socketPath}`, '--snapshot-name-prefix=']);
    expect((await p.waitForExit()).code).toBe(1);
    expect(p.output).toContain('Snapshot name prefix cannot be of length 0');
    expect((await d.calls()).map((c) => c.method)).toContain('ControllerGetCapabilities');
  });
});

describe('sidecar start-up failures before any driver traffic', () => {
  test.each([
    ['Z-05: a non-unix address', ['--csi-address=dns:///x:1'], 1, /--csi-address=dns:\/\/\/x:1 is not a unix socket \(scheme dns:\).*give the socket's absolute path, for example --csi-address=\/csi\/csi\.sock/],
    ['Z-01: node deployment with leader election', ['--node-deployment', '--leader-election'], 1, /Leader election cannot happen when node-deployment is set to true/],
    ['Z-03: both metrics addresses', ['--metrics-address=:1', '--http-endpoint=:2'], 1, /only one of `--metrics-address` and `--http-endpoint` can be set\./],
    ['Z-14: an unknown feature gate', ['--feature-gates=Foo=true'], 255, /Error while parsing feature gates: unrecognized feature gate: Foo/],
    ['an unknown flag', ['--logtostdout'], 2, /flag provided but not defined: -logtostdout/],
  ] as Array<[string, string[], number, RegExp]>)('%s: exit code and message', async (_name, args, code, message) => {
    const p = sidecar(args);
    expect((await p.waitForExit()).code).toBe(code);
    expect(p.output).toMatch(message);
  });

  test.each([
    ['a bare relative path', 'csi.sock', '"csi.sock"'],
    ['a dotted relative path', './run/csi.sock', '"./run/csi.sock"'],
    ['unix:// with a relative path', 'unix://run/csi.sock', '"run/csi.sock"'],
  ])('%s is refused at once with exit 1, saying what to give instead (no Go wording)', async (_name, address, shown) => {
    const p = sidecar([`--csi-address=${address}`]);
    expect((await p.waitForExit()).code).toBe(1);
    const errors = p.output.split('\n').filter((line) => line.startsWith('E'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(
      `error connecting to CSI driver: --csi-address=${address} is a relative path (${shown}): give the absolute path of the CSI driver's socket as this container mounts it, for example --csi-address=/csi/csi.sock or --csi-address=unix:///csi/csi.sock`,
    );
    expect(p.output).not.toMatch(/OnConnectionLoss|callback|Still connecting/);
  });

  test.each([
    ['a regular file', 'a regular file', (path: string) => writeFileSync(path, 'not a socket')],
    ['a directory (the socket\'s folder given by mistake)', 'a directory', (path: string) => mkdirSync(path)],
  ])('a --csi-address that is %s is named as such at once (no 30 s wait), exit 1', async (_name, kind, make) => {
    const dir = mkdtempSync(join(tmpdir(), 'csi-notsock-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'csi.sock');
    make(path);
    const p = sidecar([`--csi-address=${path}`]);
    // Well inside the first 10 s "Still connecting" round of a sidecar that waits for the socket.
    expect((await p.waitForExit(8_000)).code).toBe(1);
    expect(p.output).toContain(`error connecting to CSI driver: ${path} exists but is ${kind}, not a unix socket; --csi-address must name the socket the CSI driver listens on`);
    expect(p.output).not.toMatch(/Still connecting/);
  });

  test('durations that cannot work are refused in one line before the driver is contacted, exit 1', async () => {
    const p = sidecar(['--timeout=0s', '--retry-interval-start=-1s', '--resync-period=-1m', '--csi-address=/nonexistent/socket', '--v=2']);
    expect((await p.waitForExit()).code).toBe(1);
    const errors = p.output.split('\n').filter((line) => line.startsWith('E'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/--resync-period=-1m0s is invalid: it must not be negative .*; --timeout=0s is invalid: it must be positive \(the deadline of every CSI call\), for example --timeout=1m; --retry-interval-start=-1s is invalid: it must be positive/);
    expect(p.output).not.toMatch(/Connecting to CSI driver|Still connecting/);
  });

  test('Z-02: --node-deployment without NODE_NAME exits 255', async () => {
    const env = { ...process.env };
    delete env.NODE_NAME;
    const p = startSidecar(['--node-deployment', '--csi-address=/nonexistent/socket'], env);
    defer(() => p.stop());
    expect((await p.waitForExit()).code).toBe(255);
    expect(p.output).toContain('The NODE_NAME environment variable must be set when using --node-deployment.');
  });

  test.each([
    ['Z-17: a lease duration not above the renew deadline', ['--leader-election', '--leader-election-lease-duration=5s'], /--leader-election-lease-duration .* must be greater than --leader-election-renew-deadline/],
    ['a UID length the UID cannot have (Go panics at the first create)', ['--snapshot-name-uuid-length=40'], /--snapshot-name-uuid-length=40 is invalid: use -1 \(whole UID\) or 0\.\.32/],
  ] as Array<[string, string[], RegExp]>)('%s is refused at start-up with exit 1', async (_name, args, message) => {
    const p = sidecar([...args, '--csi-address=/nonexistent/socket']);
    expect((await p.waitForExit()).code).toBe(1);
    expect(p.output).toMatch(message);
  });

  test('Z-04: a socket nobody serves for 30 s ends start-up with exit 1', async () => {
    const p = sidecar(['--csi-address=/nonexistent/dir/csi.sock']);
    expect((await p.waitForExit(60_000)).code).toBe(1);
    expect(p.output).toMatch(/error connecting to CSI driver: no driver accepted a connection on unix:\/\/\/nonexistent\/dir\/csi\.sock within 30s/);
    expect(p.output.match(/Still connecting/g)?.length).toBeGreaterThanOrEqual(2);
  });

  test('Z-15: --version prints the program and version and exits 0', async () => {
    const p = sidecar(['--version', '--csi-address=/nonexistent/socket']);
    expect((await p.waitForExit()).code).toBe(0);
    expect(p.stdout).toMatch(/^csi-snapshotter v\d+\.\d+\.\d+\n$/);
  });

  test('--help prints the usage and exits 0', async () => {
    const p = sidecar(['--help']);
    expect((await p.waitForExit()).code).toBe(0);
    expect(p.stderr).toMatch(/Usage of csi-snapshotter:[\s\S]*-csi-address string/);
  });
});
