import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionLostError, CsiConnection, csiTarget, type CallRecord } from '../../src/csi/connection.js';
import { deadlineIn } from '../../src/csi/driver-info.js';
import { isGrpcError } from '../../src/csi/errors.js';
import { csiGrpc } from '../../src/csi/proto.js';
import { silentLogger } from '../../src/observe/logger.js';
import { DEFAULT_DRIVER_NAME, sha256Hex, startSampleDriver, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { capturingLogger } from '../helpers/logger.js';
import { waitFor } from '../helpers/process.js';

// The connection to the CSI driver, in-process (so that mutation testing sees it): a real gRPC
// channel over a real unix socket to the sample driver, to a scripted gRPC server where the test
// must decide when the driver goes away, or to a plain socket server that answers garbage.

const EXAMPLE = 'for example --csi-address=/csi/csi.sock or --csi-address=unix:///csi/csi.sock';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  jest.restoreAllMocks();
  while (cleanup.length) await cleanup.pop()?.();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'conn-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function connected(options: Parameters<typeof CsiConnection.connect>[0]): Promise<CsiConnection> {
  const conn = await CsiConnection.connect(options);
  cleanup.push(() => conn.close());
  return conn;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('succeeded, but a failure was expected');
    },
    (err: unknown) => err,
  );
}

/** Lets every callback already queued run (grpc-js reports state changes on later turns of the loop). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('csiTarget: --csi-address to a grpc-js target', () => {
  test.each([
    ['/csi/csi.sock', 'unix:///csi/csi.sock'],
    ['unix:///csi/csi.sock', 'unix:///csi/csi.sock'],
  ])('%s → %s', (address, target) => {
    expect(csiTarget(address)).toBe(target);
  });

  test('an empty address', () => {
    expect(() => csiTarget('')).toThrow(new Error(`--csi-address is empty: give the absolute path of the CSI driver's socket, ${EXAMPLE}`));
  });

  test.each([
    ['csi.sock', 'csi.sock'],
    ['./run/csi.sock', './run/csi.sock'],
    ['unix:run/csi.sock', 'run/csi.sock'],
    ['unix://run/csi.sock', 'run/csi.sock'],
    // Only the leading `//` of `unix://` goes; a later one is part of the path.
    ['unix:run//csi.sock', 'run//csi.sock'],
    // A colon after the first path segment is no scheme.
    ['run/csi:0.sock', 'run/csi:0.sock'],
    ['unix:', ''],
  ])('%s is a relative path (%s)', (address, path) => {
    expect(() => csiTarget(address)).toThrow(
      new Error(`--csi-address=${address} is a relative path (${JSON.stringify(path)}): give the absolute path of the CSI driver's socket as this container mounts it, ${EXAMPLE}`),
    );
  });

  test.each([
    ['dns:///x:1', 'dns'],
    ['tcp://127.0.0.1:10000', 'tcp'],
    ['a:b', 'a'],
    // A `/` where `unix:///` has its third one is no unix address either.
    ['dns:////csi.sock', 'dns'],
    ['ipv4+x.y-z:1', 'ipv4+x.y-z'],
  ])('%s is not a unix socket (scheme %s)', (address, scheme) => {
    expect(() => csiTarget(address)).toThrow(
      new Error(`--csi-address=${address} is not a unix socket (scheme ${scheme}:): the sidecar talks to the CSI driver only over its unix socket; give the socket's absolute path, ${EXAMPLE}`),
    );
  });
});

describe('connect: a path that exists but is no socket is refused at once', () => {
  const refusal = (path: string, kind: string) =>
    new Error(
      `error connecting to CSI driver: ${path} exists but is ${kind}, not a unix socket; --csi-address must name the socket the CSI driver listens on (check the driver's --endpoint and the shared volume's mount path)`,
    );

  test.each([
    ['a regular file', (path: string) => writeFileSync(path, 'not a socket')],
    ['a directory', (path: string) => mkdirSync(path)],
    ['a named pipe', (path: string) => execFileSync('mkfifo', [path])],
  ])('%s', async (kind, make) => {
    const path = join(tempDir(), 'csi.sock');
    make(path);
    // A limit far above the time the refusal takes: a refusal that waited first would not come in time.
    const err = await failure(CsiConnection.connect({ address: `unix://${path}`, log: silentLogger, connectTimeoutMs: 60_000 }));
    expect(err).toEqual(refusal(path, kind));
  });

  test('a device', async () => {
    expect(await failure(CsiConnection.connect({ address: '/dev/null', log: silentLogger, connectTimeoutMs: 60_000 }))).toEqual(refusal('/dev/null', 'a device'));
  });
});

describe('connect: waiting for the driver', () => {
  test('a socket that does not exist yet is waited for, saying so with its address, until the driver serves on it', async () => {
    const socketPath = join(tempDir(), 'csi.sock');
    const { log, records } = capturingLogger(2);
    const pending = CsiConnection.connect({ address: socketPath, log, connectTimeoutMs: 60_000, stillConnectingEveryMs: 200 });
    await waitFor('a "Still connecting" line', async () => (await records()).some((r) => r.msg === 'Still connecting'));
    const driver = await startSampleDriver({ socketPath });
    cleanup.push(() => driver.dispose());
    const conn = await pending;
    cleanup.push(() => conn.close());
    const lines = (await records()).map((r) => [r.msg, r.address, r.v]);
    const address = `unix://${socketPath}`;
    expect(lines[0]).toEqual(['Connecting to CSI driver', address, 2]);
    expect(lines.at(-1)).toEqual(['Connected to CSI driver', address, 2]);
    const waiting = lines.slice(1, -1);
    expect(waiting.length).toBeGreaterThanOrEqual(1);
    expect(new Set(waiting.map((l) => JSON.stringify(l)))).toEqual(new Set([JSON.stringify(['Still connecting', address, undefined])]));
    expect((await conn.call('/csi.v1.Identity/GetPluginInfo', {}, deadlineIn(10_000))).name).toBe(DEFAULT_DRIVER_NAME);
  });

  test('nobody listening: gives up after connectTimeoutMs with the address and the limit in whole seconds, having said every stillConnectingEveryMs that it waits', async () => {
    const socketPath = join(tempDir(), 'csi.sock');
    const { log, records } = capturingLogger(0);
    const started = Date.now();
    const err = await failure(CsiConnection.connect({ address: socketPath, log, connectTimeoutMs: 2400, stillConnectingEveryMs: 500 }));
    const took = Date.now() - started;
    expect(err).toEqual(
      new Error(`error connecting to CSI driver: no driver accepted a connection on unix://${socketPath} within 2s (is the driver running and is the socket shared with this container?)`),
    );
    expect(took).toBeGreaterThanOrEqual(2400);
    // A wait every 500 ms until the limit: at most four end before it, and the first certainly does.
    const waiting = (await records()).filter((r) => r.msg === 'Still connecting');
    expect(waiting.length).toBeGreaterThanOrEqual(1);
    expect(waiting.length).toBeLessThanOrEqual(4);
    expect(new Set(waiting.map((r) => `${r.msg} ${r.address}`))).toEqual(new Set([`Still connecting unix://${socketPath}`]));
  });

  test('a driver that answers garbage is retried quickly (100 ms backoff, at most 1 s apart), then given up on', async () => {
    // A plain socket server: every connection gets bytes that are not HTTP/2 and is closed.
    const socketPath = join(tempDir(), 'csi.sock');
    const attempts: Socket[] = [];
    const server: Server = createServer((socket: Socket) => {
      attempts.push(socket);
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of attempts) socket.destroy();
          server.close(() => resolve());
        }),
    );
    const err = await failure(CsiConnection.connect({ address: socketPath, log: silentLogger, connectTimeoutMs: 3000 }));
    expect((err as Error).message).toContain(`no driver accepted a connection on unix://${socketPath} within 3s`);
    // grpc-js's own backoff (1 s, then 1.6 times longer each time, up to 120 s, each ±20 %) makes
    // at most 3 attempts in 3 s; 100 ms growing to at most 1 s makes about 7 (the 4th after about 0.5 s).
    expect(attempts.length).toBeGreaterThanOrEqual(4);
  });
});

describe('calls to the sample driver', () => {
  let driver: SampleDriverProcess;
  beforeAll(async () => {
    driver = await startSampleDriver();
  });
  afterAll(async () => {
    await driver?.dispose();
  });
  afterEach(async () => {
    await driver.clearFaults();
  });

  test('a call answers the reply, reports one record with code 0 and its duration, and is logged at verbosity 5 with secrets stripped', async () => {
    const { log, records } = capturingLogger(5);
    const observed: CallRecord[] = [];
    const conn = await connected({ address: driver.endpoint, log, observeCall: (r) => observed.push(r) });
    await driver.setFaults({ latencyMs: { DeleteSnapshot: 300 } });
    const started = process.hrtime.bigint();
    const reply = await conn.call('/csi.v1.Controller/DeleteSnapshot', { snapshot_id: 'never-existed', secrets: { key: 'pa55' } }, deadlineIn(10_000));
    const took = Number(process.hrtime.bigint() - started) / 1e9;
    expect(reply).toEqual({});
    expect(observed).toEqual([{ method: '/csi.v1.Controller/DeleteSnapshot', code: 0, durationSeconds: expect.any(Number) }]);
    expect(observed[0]?.durationSeconds).toBeGreaterThanOrEqual(0.3);
    expect(observed[0]?.durationSeconds).toBeLessThanOrEqual(took);
    const grpcLines = (await records()).filter((r) => String(r.msg).startsWith('GRPC'));
    expect(grpcLines.map(({ msg, v, method, request, response }) => ({ msg, v, method, request, response }))).toEqual([
      { msg: 'GRPC call', v: 5, method: '/csi.v1.Controller/DeleteSnapshot', request: '{"secrets":"***stripped***","snapshot_id":"never-existed"}', response: undefined },
      { msg: 'GRPC response', v: 5, method: '/csi.v1.Controller/DeleteSnapshot', request: undefined, response: '{}' },
    ]);
    expect((await driver.calls()).at(-1)?.request).toEqual({ snapshot_id: 'never-existed', secrets: { key: sha256Hex('pa55') } });
  });

  test('a failing call rejects with the driver\'s status, reports its code, and logs the error at verbosity 5', async () => {
    const { log, records } = capturingLogger(5);
    const observed: CallRecord[] = [];
    const conn = await connected({ address: driver.endpoint, log, observeCall: (r) => observed.push(r) });
    await driver.setFaults({ errors: { GetPluginInfo: { code: 'INTERNAL', message: 'identity broke' } } });
    const err = await failure(conn.call('/csi.v1.Identity/GetPluginInfo', {}, deadlineIn(10_000)));
    expect(isGrpcError(err) && [err.code, err.details]).toEqual([Status.INTERNAL, 'identity broke']);
    expect(observed).toEqual([{ method: '/csi.v1.Identity/GetPluginInfo', code: Status.INTERNAL, durationSeconds: expect.any(Number) }]);
    const grpcLines = (await records()).filter((r) => String(r.msg).startsWith('GRPC'));
    expect(grpcLines.map(({ msg, method, error }) => ({ msg, method, error }))).toEqual([
      { msg: 'GRPC call', method: '/csi.v1.Identity/GetPluginInfo', error: undefined },
      { msg: 'GRPC error', method: '/csi.v1.Identity/GetPluginInfo', error: 'rpc error: code = Internal desc = identity broke' },
    ]);
  });

  test('below verbosity 5 no call is logged', async () => {
    const { log, records } = capturingLogger(4);
    const conn = await connected({ address: driver.endpoint, log });
    await conn.call('/csi.v1.Identity/Probe', {}, deadlineIn(10_000));
    await failure(conn.call('/csi.v1.Controller/ListSnapshots', { snapshot_id: '', max_entries: -1 }, deadlineIn(10_000)));
    expect((await records()).filter((r) => String(r.msg).startsWith('GRPC'))).toEqual([]);
  });

  test('a call that outlives its deadline fails with DEADLINE_EXCEEDED when the deadline passes, not when the driver answers', async () => {
    const observed: CallRecord[] = [];
    const conn = await connected({ address: driver.endpoint, log: silentLogger, observeCall: (r) => observed.push(r) });
    await driver.setFaults({ latencyMs: { Probe: 20_000 } });
    const err = await failure(conn.call('/csi.v1.Identity/Probe', {}, deadlineIn(300)));
    expect(isGrpcError(err) && err.code).toBe(Status.DEADLINE_EXCEEDED);
    expect(observed).toHaveLength(1);
    expect(observed[0]?.code).toBe(Status.DEADLINE_EXCEEDED);
    expect(observed[0]?.durationSeconds).toBeGreaterThanOrEqual(0.3);
    expect(observed[0]?.durationSeconds).toBeLessThan(20);
  });

  test('whileConnected settles as the work does while the connection holds', async () => {
    const conn = await connected({ address: driver.endpoint, log: silentLogger });
    expect(await conn.whileConnected(conn.call('/csi.v1.Identity/GetPluginInfo', {}, deadlineIn(10_000)))).toMatchObject({ name: DEFAULT_DRIVER_NAME });
    expect(await failure(conn.whileConnected(Promise.reject(new Error('work failed'))))).toEqual(new Error('work failed'));
    expect(conn.lostReason).toBeUndefined();
  });

  test('close: later calls fail at once without reaching the driver (reported without a code), and the shut-down channel is no loss', async () => {
    const observed: CallRecord[] = [];
    const conn = await CsiConnection.connect({ address: driver.endpoint, log: silentLogger, observeCall: (r) => observed.push(r) });
    const lost: string[] = [];
    conn.onLost((reason) => lost.push(reason));
    await driver.clearCalls();
    conn.close();
    const err = await failure(conn.call('/csi.v1.Identity/Probe', {}, deadlineIn(10_000)));
    expect(err).toBeInstanceOf(Error);
    expect(observed).toEqual([{ method: '/csi.v1.Identity/Probe', code: isGrpcError(err) ? err.code : undefined, durationSeconds: expect.any(Number) }]);
    expect(await driver.calls()).toEqual([]);
    await settle();
    expect(lost).toEqual([]);
    expect(conn.lostReason).toBeUndefined();
  });
});

describe('the driver going away', () => {
  test('a killed driver: the reason names the address and the channel state, each listener hears it once, and whileConnected rejects with ConnectionLostError', async () => {
    const driver = await startSampleDriver();
    cleanup.push(() => driver.dispose());
    const conn = await connected({ address: driver.socketPath, log: silentLogger });
    const before: string[] = [];
    conn.onLost((reason) => before.push(reason));
    const pending = failure(conn.whileConnected(new Promise(() => undefined)));
    await driver.kill();
    const reason = `connection to the CSI driver on ${driver.endpoint} was lost (channel state IDLE)`;
    const err = await pending;
    expect(err).toBeInstanceOf(ConnectionLostError);
    expect(err).toMatchObject({ reason, message: `Lost connection to CSI driver, exiting: ${reason}` });
    expect(conn.lostReason).toBe(reason);
    expect(before).toEqual([reason]);
    // A listener that comes after the loss hears it too, once, and not before onLost returned.
    const after: string[] = [];
    conn.onLost((r) => after.push(r));
    expect(after).toEqual([]);
    await settle();
    expect(after).toEqual([reason]);
    expect(before).toEqual([reason]);
    // As does work still running when it is started after the loss.
    expect(await failure(conn.whileConnected(new Promise(() => undefined)))).toMatchObject({ reason });
  });

  test('a listener on a connection that holds is not called', async () => {
    const driver = await startSampleDriver();
    cleanup.push(() => driver.dispose());
    const conn = await connected({ address: driver.socketPath, log: silentLogger });
    const heard: unknown[] = [];
    conn.onLost((reason) => heard.push(reason));
    await conn.call('/csi.v1.Identity/Probe', {}, deadlineIn(10_000));
    await settle();
    expect(heard).toEqual([]);
  });

  test('a driver that dies on a call: the call fails UNAVAILABLE and the loss is reported', async () => {
    const driver = await startSampleDriver({ faults: { exitOn: ['Probe'] } });
    cleanup.push(() => driver.dispose());
    const observed: CallRecord[] = [];
    const conn = await connected({ address: driver.socketPath, log: silentLogger, observeCall: (r) => observed.push(r) });
    const err = await failure(conn.call('/csi.v1.Identity/Probe', {}, deadlineIn(10_000)));
    expect(isGrpcError(err) && err.code).toBe(Status.UNAVAILABLE);
    expect(observed.map((r) => r.code)).toEqual([Status.UNAVAILABLE]);
    await waitFor('the loss', () => conn.lostReason);
    expect(conn.lostReason).toMatch(new RegExp(`^connection to the CSI driver on ${driver.endpoint} was lost \\(channel state [A-Z_]+\\)$`));
  });
});

describe('an idle period of the whole grpc-js idle timeout (2^31-1 ms) is no loss', () => {
  // The clock stands still, then jumps: the connection's last activity is known to the millisecond.
  // The scripted driver then drops the connection, and the channel goes IDLE as after an idle period.
  const IDLE_TIMEOUT_MS = 2_147_483_647;
  const T0 = Date.now();

  function clockAt(ms: number): void {
    jest.spyOn(Date, 'now').mockReturnValue(ms);
  }

  async function scriptedDriver(socketPath: string, identity: grpc.UntypedServiceImplementation = {}): Promise<grpc.Server> {
    const server = new grpc.Server();
    server.addService(csiGrpc().csi.v1.Identity.service, {
      Probe: (_call: unknown, callback: grpc.sendUnaryData<object>) => callback(null, { ready: { value: true } }),
      ...identity,
    });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    return server;
  }

  /** Polls with real timers (the clock is frozen): up to 10 s. */
  async function poll<T>(what: string, check: () => T | undefined): Promise<T> {
    for (let i = 0; i < 400; i++) {
      const value = check();
      if (value !== undefined) return value;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`gave up waiting for ${what}`);
  }

  function channelOf(conn: CsiConnection): grpc.Channel {
    return (conn as unknown as { channel: grpc.Channel }).channel;
  }

  /** A connection whose last activity was a call at T0, to a scripted driver that is then replaced. */
  async function idleConnection(socketPath: string): Promise<{ conn: CsiConnection; restart: () => Promise<void> }> {
    let server = await scriptedDriver(socketPath);
    cleanup.push(() => server.forceShutdown());
    clockAt(T0);
    const conn = await connected({ address: socketPath, log: silentLogger });
    expect(await conn.call('/csi.v1.Identity/Probe', {}, deadlineIn(10_000))).toEqual({ ready: { value: true } });
    return {
      conn,
      /** Replaces the driver; resolves once the channel has noticed the dropped connection. */
      restart: async () => {
        const left = new Promise((resolve) => channelOf(conn).watchConnectivityState(grpc.connectivityState.READY, Infinity, resolve));
        server.forceShutdown();
        server = await scriptedDriver(socketPath);
        await left;
      },
    };
  }

  test('after exactly the idle timeout without a call, a dropped connection is reconnected: no loss, and the next call works', async () => {
    const socketPath = join(tempDir(), 'csi.sock');
    const { conn, restart } = await idleConnection(socketPath);
    clockAt(T0 + IDLE_TIMEOUT_MS);
    await restart();
    await poll('the reconnect or the loss', () => (conn.lostReason !== undefined || channelOf(conn).getConnectivityState(false) === grpc.connectivityState.READY ? true : undefined));
    expect(conn.lostReason).toBeUndefined();
    expect(await conn.call('/csi.v1.Identity/Probe', {}, deadlineIn(10_000))).toEqual({ ready: { value: true } });
    await settle();
    expect(conn.lostReason).toBeUndefined();
  });

  test('one millisecond short of the idle timeout, a dropped connection is a loss', async () => {
    const socketPath = join(tempDir(), 'csi.sock');
    const { conn, restart } = await idleConnection(socketPath);
    clockAt(T0 + IDLE_TIMEOUT_MS - 1);
    await restart();
    expect(await poll('the loss', () => conn.lostReason)).toBe(`connection to the CSI driver on unix://${socketPath} was lost (channel state IDLE)`);
  });

  test('after the idle timeout, a driver that is gone is still a loss once the reconnect fails', async () => {
    const socketPath = join(tempDir(), 'csi.sock');
    const server = await scriptedDriver(socketPath);
    clockAt(T0);
    const conn = await connected({ address: socketPath, log: silentLogger });
    clockAt(T0 + IDLE_TIMEOUT_MS);
    server.forceShutdown();
    expect(await poll('the loss', () => conn.lostReason)).toBe(`connection to the CSI driver on unix://${socketPath} was lost (channel state TRANSIENT_FAILURE)`);
  });

  test('a call in flight when the connection drops: a loss, however long ago the call started, even though the driver is back at once', async () => {
    const socketPath = join(tempDir(), 'csi.sock');
    // GetPluginInfo never answers: the call stays in flight until the connection drops.
    const silent = { GetPluginInfo: () => undefined };
    let server = await scriptedDriver(socketPath, silent);
    cleanup.push(() => server.forceShutdown());
    clockAt(T0);
    const conn = await connected({ address: socketPath, log: silentLogger });
    const inFlight = failure(conn.call('/csi.v1.Identity/GetPluginInfo', {}, deadlineIn(60_000)));
    await settle();
    clockAt(T0 + IDLE_TIMEOUT_MS);
    server.forceShutdown();
    server = await scriptedDriver(socketPath, silent);
    // The driver's shutdown cancels the call.
    expect(isGrpcError(await inFlight)).toBe(true);
    expect(await poll('the loss', () => conn.lostReason)).toBe(`connection to the CSI driver on unix://${socketPath} was lost (channel state IDLE)`);
  });
});
