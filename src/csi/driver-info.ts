import { status as Status } from '@grpc/grpc-js';
import type { Logger } from '../observe/logger.js';
import type { CsiConnection } from './connection.js';
import { errorText, isGrpcError } from './errors.js';

/** The deadline for one call made now with the `--timeout` budget. */
export function deadlineIn(timeoutMs: number): Date {
  return new Date(Date.now() + timeoutMs);
}

/** The driver's name from GetPluginInfo; a driver that reports no name cannot be matched to objects. */
export async function getDriverName(conn: CsiConnection, timeoutMs: number): Promise<string> {
  const info = await conn.call('/csi.v1.Identity/GetPluginInfo', {}, deadlineIn(timeoutMs));
  if (!info.name) throw new Error('driver name is empty: the CSI driver answered GetPluginInfo without a name');
  return info.name;
}

export interface ProbeOptions {
  timeoutMs: number;
  log: Logger;
  /** Pause between probes while the driver is not ready yet. */
  intervalMs?: number;
  /** Stops probing early (shutdown). */
  signal?: AbortSignal;
}

/**
 * Probes until the driver reports ready. A driver that is starting (ready=false) or slow (the probe
 * ran past its deadline) is asked again; any other failure is final, because a driver that answers
 * Probe with an error is broken, not busy.
 */
export async function waitForDriverReady(conn: CsiConnection, options: ProbeOptions): Promise<void> {
  const interval = options.intervalMs ?? 1000;
  for (;;) {
    options.signal?.throwIfAborted();
    options.log.v(2).info('Probing CSI driver for readiness');
    try {
      const reply = await conn.call('/csi.v1.Identity/Probe', {}, deadlineIn(options.timeoutMs));
      // An unset `ready` means ready (drivers that do not track start-up leave it out).
      if (!reply.ready || reply.ready.value) return;
      options.log.info('CSI driver is not ready');
    } catch (err) {
      if (!(isGrpcError(err) && err.code === Status.DEADLINE_EXCEEDED)) {
        throw new Error(`CSI driver probe failed: ${errorText(err)}`);
      }
      options.log.info('CSI driver probe timed out');
    }
    await new Promise<void>((resolve) => setTimeout(resolve, interval));
  }
}

/** The controller RPC capabilities the driver advertises, by name (entries without an RPC type are ignored). */
export async function controllerCapabilities(conn: CsiConnection, timeoutMs: number): Promise<Set<string>> {
  const reply = await conn.call('/csi.v1.Controller/ControllerGetCapabilities', {}, deadlineIn(timeoutMs));
  return new Set(reply.capabilities.flatMap((c) => (c?.rpc?.type ? [String(c.rpc.type)] : [])));
}

/** The group controller RPC capabilities the driver advertises, by name. */
export async function groupControllerCapabilities(conn: CsiConnection, timeoutMs: number): Promise<Set<string>> {
  const reply = await conn.call('/csi.v1.GroupController/GroupControllerGetCapabilities', {}, deadlineIn(timeoutMs));
  return new Set(reply.capabilities.flatMap((c) => (c?.rpc?.type ? [String(c.rpc.type)] : [])));
}
