#!/usr/bin/env node
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../../observe/logger.js';
import { DEFAULT_DRIVER_NAME, SampleDriver } from '../sample-driver/driver.js';
import { FaultError, validateFaults, type Faults } from '../sample-driver/faults.js';
import { parseSeed } from '../random.js';

const NAME = 'csi-sample-driver';

const USAGE = `Usage: ${NAME} --endpoint unix:///path/csi.sock [flags]

A sample CSI driver (Identity, Controller, GroupController) that keeps volumes and snapshots as
directories on disk, with fault injection and a call journal on a loopback HTTP control endpoint.

Flags:
  --endpoint ENDPOINT        CSI socket: unix:///abs/path or /abs/path (required)
  --data-dir DIR             where volumes, snapshots and state.json live (default: a fresh temp dir)
  --driver-name NAME         name reported by GetPluginInfo (default ${DEFAULT_DRIVER_NAME})
  --node-id ID               node id reported in the plugin manifest (default: the hostname)
  --control-address HOST:PORT  loopback HTTP control endpoint (default 127.0.0.1:0 = any free port)
  --faults JSON              initial faults (also env CSI_SAMPLE_DRIVER_FAULTS; the flag wins)
  --fault-seed N             draw the fault decisions (probability, code lists, afterWork) from a
                             generator seeded with N (0..4294967295): the same calls in the same
                             order get the same faults (default: unseeded)
  --v N                      log verbosity (2: one line per RPC, 4: also on arrival)
  --help                     print this help

When serving it prints one line to stdout:
  ready endpoint=unix:///... control=http://127.0.0.1:PORT
SIGTERM or SIGINT stops it gracefully and removes the socket.
`;

class UsageError extends Error {}

interface Options {
  socketPath: string;
  dataDir?: string;
  driverName: string;
  nodeId: string;
  controlHost: string;
  controlPort: number;
  faults: Faults;
  faultSeed?: number;
  verbosity: number;
}

function parseEndpoint(value: string | undefined): string {
  if (!value) throw new UsageError('--endpoint is required');
  const path = value.startsWith('unix://') ? value.slice('unix://'.length) : value;
  if (!isAbsolute(path)) throw new UsageError(`--endpoint must be unix:///absolute/path or an absolute path, got ${JSON.stringify(value)}`);
  return path;
}

function parseControlAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  if (!match) throw new UsageError(`--control-address must be HOST:PORT, got ${JSON.stringify(value)}`);
  const host = (match[1] ?? match[2]) as string;
  const port = Number(match[3]);
  if (port > 65535) throw new UsageError(`--control-address port ${port} is out of range`);
  if (!(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host))) {
    throw new UsageError(`--control-address must be a loopback address (it can write volume files), got ${host}`);
  }
  return { host, port };
}

function parseFaults(text: string, source: string): Faults {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsageError(`${source} is not valid JSON`);
  }
  try {
    return validateFaults(json);
  } catch (err) {
    if (err instanceof FaultError) throw new UsageError(`${source}: ${err.message}`);
    throw err;
  }
}

function parseOptions(argv: string[]): Options | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        endpoint: { type: 'string' },
        'data-dir': { type: 'string' },
        'driver-name': { type: 'string' },
        'node-id': { type: 'string' },
        'control-address': { type: 'string' },
        faults: { type: 'string' },
        'fault-seed': { type: 'string' },
        v: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    const message = (err as Error).message.replace(/^Unknown option/, 'unknown flag');
    throw new UsageError(message);
  }
  if (values.help) return 'help';
  const verbosity = values.v === undefined ? 0 : Number(values.v);
  if (!Number.isInteger(verbosity) || verbosity < 0) throw new UsageError(`--v must be a non-negative integer, got ${values.v}`);
  const envFaults = process.env.CSI_SAMPLE_DRIVER_FAULTS;
  let faults: Faults = {};
  if (values.faults !== undefined) faults = parseFaults(values.faults, '--faults');
  else if (envFaults) faults = parseFaults(envFaults, 'CSI_SAMPLE_DRIVER_FAULTS');
  let faultSeed: number | undefined;
  if (values['fault-seed'] !== undefined) {
    try {
      faultSeed = parseSeed(values['fault-seed'], '--fault-seed');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const control = parseControlAddress(values['control-address'] ?? '127.0.0.1:0');
  const driverName = values['driver-name'] ?? DEFAULT_DRIVER_NAME;
  if (driverName === '') throw new UsageError('--driver-name must not be empty');
  return {
    socketPath: parseEndpoint(values.endpoint),
    dataDir: values['data-dir'],
    driverName,
    nodeId: values['node-id'] || hostname(),
    controlHost: control.host,
    controlPort: control.port,
    faults,
    faultSeed,
    verbosity,
  };
}

async function main(): Promise<void> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${NAME}: ${err.message}\nRun '${NAME} --help' for usage.\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }

  const logger = createLogger({ verbosity: options.verbosity, name: NAME });
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `${NAME}-`));
  let driver: SampleDriver;
  try {
    driver = await SampleDriver.start({
      socketPath: options.socketPath,
      dataDir,
      driverName: options.driverName,
      nodeId: options.nodeId,
      controlHost: options.controlHost,
      controlPort: options.controlPort,
      faults: options.faults,
      faultSeed: options.faultSeed,
      logger,
    });
  } catch (err) {
    logger.error('Cannot start the sample driver', { err: err instanceof Error ? err.message : String(err) });
    await logger.flush();
    process.exit(1);
  }
  process.stdout.write(`ready endpoint=${driver.endpoint} control=${driver.controlUrl}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('Stopping', { signal });
    driver
      .stop()
      .then(() => logger.flush())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error('Stop failed', { err: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${NAME}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
