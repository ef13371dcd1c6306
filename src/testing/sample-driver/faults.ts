import * as grpc from '@grpc/grpc-js';

/**
 * Fault injection for the sample driver. One JSON document describes every fault; it is set at
 * start (`--faults` / `CSI_SAMPLE_DRIVER_FAULTS`) and replaced, merged or cleared at run time through
 * the control endpoint (PUT / PATCH with JSON Merge Patch semantics, RFC 7386 / DELETE /faults).
 *
 * Method keys are the short CSI method names (`CreateSnapshot`, `Probe`, ...); `*` matches every
 * method, and a method's own entry wins over `*`. Counters (`times`, `probeNotReady`,
 * `exitAfterCalls`) count down as they fire, so GET /faults shows what is left.
 */
export interface Faults {
  /** Milliseconds added before a method is handled (e.g. to push a call past the caller's deadline). */
  latencyMs?: Record<string, number>;
  /** An error a method returns instead of doing its work. */
  errors?: Record<string, ErrorFault>;
  /**
   * New snapshots and groups answer ready_to_use=false until this long after their creation time:
   * a fixed number of milliseconds, or a range from which each new snapshot (or group) draws its
   * own delay, uniformly, so that a batch turns ready spread out as real uploads do.
   */
  readyDelayMs?: number | ReadyDelayRange;
  /** Answer this many more RPCs, then die abruptly (SIGKILL, like a crash) when the next one arrives. */
  exitAfterCalls?: number;
  /**
   * Die abruptly (SIGKILL, like a crash) when a call of one of these methods, or of any method of
   * one of these services, arrives; the call is never answered. Unlike exitAfterCalls it names the
   * moment by what the caller is doing, not by how many calls came before.
   */
  exitOn?: string[];
  /** The next N Probe calls answer ready=false. */
  probeNotReady?: number;
  /** Capabilities left out of the capability replies, so a caller's start-up checks can be tested. */
  withhold?: WithheldCapabilities;
  /** Methods, or whole services (`Controller`, `GroupController`), that answer UNIMPLEMENTED. */
  unimplemented?: string[];
  /** Fields written over every Snapshot the driver answers: a driver that answers garbage. */
  snapshotAnswer?: SnapshotAnswerFault;
  /** Fields written over every VolumeGroupSnapshot the driver answers (Create and Get). */
  groupAnswer?: GroupAnswerFault;
}

/**
 * Lies in the Snapshot of CreateSnapshot and ListSnapshots answers (the stored snapshot is unchanged).
 * Each field is optional; a present one replaces what the driver would have said.
 */
export interface SnapshotAnswerFault {
  /** The snapshot id answered, e.g. '' (none) or 10 KiB of text. */
  snapshotId?: string;
  /** size_bytes as an int64 in decimal, e.g. '-1'. */
  sizeBytes?: string;
  /** creation_time: seconds as an int64 in decimal (negative: before 1970); 'none' leaves the field out. */
  creationTime?: { seconds: string; nanos: number } | 'none';
  /** CreateSnapshot answers `<id>-<n>` on its n-th call: another id for the same name on each retry. */
  newIdEachCall?: boolean;
}

/** Lies in the VolumeGroupSnapshot of CreateVolumeGroupSnapshot and GetVolumeGroupSnapshot answers. */
export interface GroupAnswerFault {
  /** The group's creation_time, as in SnapshotAnswerFault ('none' leaves it out). */
  creationTime?: { seconds: string; nanos: number } | 'none';
}

/** Milliseconds, both ends included; min ≤ max. */
export interface ReadyDelayRange {
  min: number;
  max: number;
}

export interface ErrorFault {
  /**
   * gRPC status code: a number (8) or a name (`RESOURCE_EXHAUSTED` or `ResourceExhausted`); or a
   * list of them, one picked at random each time the fault fires.
   */
  code: number | string | Array<number | string>;
  message?: string;
  /** Fire for the next N calls only; without it the fault stays until cleared. */
  times?: number;
  /** Fire with this probability (0..1) on each call; default 1. */
  probability?: number;
  /**
   * Of the calls the fault fires on, this share (0..1, default 0) does the method's work first and
   * then answers the error instead of the reply: the snapshot exists, but its answer is lost, as
   * when a reply misses the caller's deadline.
   */
  afterWork?: number;
}

export interface WithheldCapabilities {
  /** PluginCapability.Service.Type names, e.g. GROUP_CONTROLLER_SERVICE. */
  plugin?: string[];
  /** ControllerServiceCapability.RPC.Type names, e.g. CREATE_DELETE_SNAPSHOT, LIST_SNAPSHOTS. */
  controller?: string[];
  /** GroupControllerServiceCapability.RPC.Type names, e.g. CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT. */
  groupController?: string[];
}

export class FaultError extends Error {}

const STATUS_BY_NAME = new Map<string, number>();
for (const [name, value] of Object.entries(grpc.status)) {
  if (typeof value !== 'number') continue;
  STATUS_BY_NAME.set(name, value);
  // CamelCase spelling as Go prints it (ResourceExhausted; CANCELLED is "Canceled" there).
  STATUS_BY_NAME.set(name.toLowerCase().replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase()), value);
}
STATUS_BY_NAME.set('Canceled', grpc.status.CANCELLED);

/** The gRPC status number for a code given as a number or a name; throws FaultError when unknown. */
export function statusCode(code: number | string): number {
  if (typeof code === 'number') {
    if (Number.isInteger(code) && code >= 1 && code <= 16) return code;
    throw new FaultError(`error code ${code} is not a gRPC error status (1..16)`);
  }
  const value = STATUS_BY_NAME.get(code);
  if (value === undefined || value === 0) throw new FaultError(`unknown gRPC error status ${JSON.stringify(code)}`);
  return value;
}

/** The proto name of a status number (NOT_FOUND). */
export function statusName(code: number): string {
  return grpc.status[code] ?? String(code);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonNegative(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new FaultError(`${what} must be a non-negative number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new FaultError(`${what} must be a list of strings`);
  }
  return value as string[];
}

const KNOWN_KEYS = ['latencyMs', 'errors', 'readyDelayMs', 'exitAfterCalls', 'exitOn', 'probeNotReady', 'withhold', 'unimplemented', 'snapshotAnswer', 'groupAnswer'];

/** Checks an untrusted JSON value and returns it as Faults; throws FaultError naming what is wrong. */
export function validateFaults(input: unknown): Faults {
  if (!isObject(input)) throw new FaultError('faults must be a JSON object');
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.includes(key)) throw new FaultError(`unknown fault ${JSON.stringify(key)} (known: ${KNOWN_KEYS.join(', ')})`);
  }
  const out: Faults = {};
  if (input.latencyMs !== undefined) {
    if (!isObject(input.latencyMs)) throw new FaultError('latencyMs must map method names to milliseconds');
    out.latencyMs = {};
    for (const [method, ms] of Object.entries(input.latencyMs)) out.latencyMs[method] = nonNegative(ms, `latencyMs.${method}`);
  }
  if (input.errors !== undefined) {
    if (!isObject(input.errors)) throw new FaultError('errors must map method names to {code, message?, times?, probability?}');
    out.errors = {};
    for (const [method, raw] of Object.entries(input.errors)) {
      if (!isObject(raw)) throw new FaultError(`errors.${method} must be an object`);
      for (const key of Object.keys(raw)) {
        if (!['code', 'message', 'times', 'probability', 'afterWork'].includes(key)) throw new FaultError(`errors.${method}: unknown field ${key}`);
      }
      const codes = Array.isArray(raw.code) ? (raw.code as unknown[]) : [raw.code];
      if (codes.length === 0 || codes.some((c) => typeof c !== 'number' && typeof c !== 'string')) {
        throw new FaultError(`errors.${method}.code is required: a code or a non-empty list of codes`);
      }
      (codes as Array<number | string>).forEach(statusCode);
      const fault: ErrorFault = { code: raw.code as ErrorFault['code'] };
      if (raw.message !== undefined) {
        if (typeof raw.message !== 'string') throw new FaultError(`errors.${method}.message must be a string`);
        fault.message = raw.message;
      }
      if (raw.times !== undefined) {
        const times = nonNegative(raw.times, `errors.${method}.times`);
        if (!Number.isInteger(times)) throw new FaultError(`errors.${method}.times must be an integer`);
        fault.times = times;
      }
      if (raw.probability !== undefined) {
        const p = nonNegative(raw.probability, `errors.${method}.probability`);
        if (p > 1) throw new FaultError(`errors.${method}.probability must be between 0 and 1`);
        fault.probability = p;
      }
      if (raw.afterWork !== undefined) {
        const share = nonNegative(raw.afterWork, `errors.${method}.afterWork`);
        if (share > 1) throw new FaultError(`errors.${method}.afterWork must be between 0 and 1`);
        fault.afterWork = share;
      }
      out.errors[method] = fault;
    }
  }
  if (input.readyDelayMs !== undefined) out.readyDelayMs = validateReadyDelay(input.readyDelayMs);
  for (const key of ['exitAfterCalls', 'probeNotReady'] as const) {
    if (input[key] !== undefined) {
      const n = nonNegative(input[key], key);
      if (!Number.isInteger(n)) throw new FaultError(`${key} must be an integer`);
      out[key] = n;
    }
  }
  if (input.withhold !== undefined) {
    if (!isObject(input.withhold)) throw new FaultError('withhold must be an object');
    out.withhold = {};
    for (const [key, value] of Object.entries(input.withhold)) {
      if (key !== 'plugin' && key !== 'controller' && key !== 'groupController') {
        throw new FaultError(`withhold.${key}: unknown (known: plugin, controller, groupController)`);
      }
      out.withhold[key] = stringList(value, `withhold.${key}`);
    }
  }
  if (input.unimplemented !== undefined) out.unimplemented = stringList(input.unimplemented, 'unimplemented');
  if (input.exitOn !== undefined) out.exitOn = stringList(input.exitOn, 'exitOn');
  if (input.snapshotAnswer !== undefined) out.snapshotAnswer = validateSnapshotAnswer(input.snapshotAnswer);
  if (input.groupAnswer !== undefined) out.groupAnswer = validateGroupAnswer(input.groupAnswer);
  return out;
}

function validateReadyDelay(value: unknown): number | ReadyDelayRange {
  if (!isObject(value)) return nonNegative(value, 'readyDelayMs');
  for (const key of Object.keys(value)) if (key !== 'min' && key !== 'max') throw new FaultError(`readyDelayMs.${key}: unknown (known: min, max)`);
  const range = { min: nonNegative(value.min, 'readyDelayMs.min'), max: nonNegative(value.max, 'readyDelayMs.max') };
  if (range.min > range.max) throw new FaultError(`readyDelayMs.min (${range.min}) must not be above readyDelayMs.max (${range.max})`);
  return range;
}

function int64Text(value: unknown, what: string): string {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value) || BigInt(value) > 2n ** 63n - 1n || BigInt(value) < -(2n ** 63n)) {
    throw new FaultError(`${what} must be an int64 in decimal, as a string`);
  }
  return value;
}

function validateSnapshotAnswer(input: unknown): SnapshotAnswerFault {
  if (!isObject(input)) throw new FaultError('snapshotAnswer must be an object');
  const out: SnapshotAnswerFault = {};
  for (const [key, value] of Object.entries(input)) {
    if (key === 'snapshotId') {
      if (typeof value !== 'string') throw new FaultError('snapshotAnswer.snapshotId must be a string');
      out.snapshotId = value;
    } else if (key === 'sizeBytes') out.sizeBytes = int64Text(value, 'snapshotAnswer.sizeBytes');
    else if (key === 'creationTime') out.creationTime = answerTime(value, 'snapshotAnswer.creationTime');
    else if (key === 'newIdEachCall') {
      if (typeof value !== 'boolean') throw new FaultError('snapshotAnswer.newIdEachCall must be a boolean');
      out.newIdEachCall = value;
    } else throw new FaultError(`snapshotAnswer.${key}: unknown (known: snapshotId, sizeBytes, creationTime, newIdEachCall)`);
  }
  return out;
}

function answerTime(value: unknown, what: string): { seconds: string; nanos: number } | 'none' {
  if (value === 'none') return 'none';
  if (!isObject(value)) throw new FaultError(`${what} must be {seconds, nanos} or "none"`);
  const nanos = nonNegative(value.nanos ?? 0, `${what}.nanos`);
  return { seconds: int64Text(value.seconds, `${what}.seconds`), nanos };
}

function validateGroupAnswer(input: unknown): GroupAnswerFault {
  if (!isObject(input)) throw new FaultError('groupAnswer must be an object');
  const out: GroupAnswerFault = {};
  for (const [key, value] of Object.entries(input)) {
    if (key === 'creationTime') out.creationTime = answerTime(value, 'groupAnswer.creationTime');
    else throw new FaultError(`groupAnswer.${key}: unknown (known: creationTime)`);
  }
  return out;
}

/** JSON Merge Patch (RFC 7386): objects merge key by key, `null` removes a key, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** What the fault set decides for one incoming call, before the method's own work. */
export interface CallDecision {
  crash: boolean;
  unimplemented: boolean;
  latencyMs: number;
  /** With `afterWork`, the method runs and its reply is replaced by the error. */
  error?: { code: number; message: string; afterWork: boolean };
}

/** The live fault set: holds the counters and answers the per-call questions. */
export class FaultState {
  private faults: Faults;
  /** CreateSnapshot answers given while snapshotAnswer.newIdEachCall is on. */
  private createAnswers = 0;

  constructor(initial: Faults = {}, private readonly random: () => number = Math.random) {
    this.faults = structuredClone(initial);
  }

  get(): Faults {
    return structuredClone(this.faults);
  }

  /** Replaces every fault (PUT). */
  set(faults: unknown): Faults {
    this.faults = validateFaults(faults);
    return this.get();
  }

  /** Merges a JSON Merge Patch into the current faults (PATCH); nothing changes when the result is invalid. */
  patch(patch: unknown): Faults {
    if (!isObject(patch)) throw new FaultError('a faults patch must be a JSON object');
    this.faults = validateFaults(mergePatch(this.faults, patch));
    return this.get();
  }

  clear(): void {
    this.faults = {};
  }

  /** The ready delay of one new snapshot or group: the fixed delay, or a fresh draw from the range. */
  drawReadyDelayMs(): number {
    const delay = this.faults.readyDelayMs ?? 0;
    if (typeof delay === 'number') return delay;
    return Math.round(delay.min + this.random() * (delay.max - delay.min));
  }

  /** Counts one incoming RPC against every counter and decides what happens to it. */
  onCall(service: string, method: string): CallDecision {
    const f = this.faults;
    const decision: CallDecision = { crash: false, unimplemented: false, latencyMs: 0 };
    if (f.exitAfterCalls !== undefined) {
      if (f.exitAfterCalls <= 0) decision.crash = true;
      else f.exitAfterCalls -= 1;
    }
    if ((f.exitOn ?? []).some((name) => name === method || name === service)) decision.crash = true;
    decision.unimplemented = (f.unimplemented ?? []).some((name) => name === method || name === service);
    decision.latencyMs = f.latencyMs?.[method] ?? f.latencyMs?.['*'] ?? 0;
    const key = f.errors && (method in f.errors ? method : '*' in f.errors ? '*' : undefined);
    const fault = key !== undefined ? f.errors?.[key] : undefined;
    if (fault && key !== undefined) {
      const fires = (fault.times === undefined || fault.times > 0) && this.random() < (fault.probability ?? 1);
      if (fires) {
        const codes = Array.isArray(fault.code) ? fault.code : [fault.code];
        const code = statusCode(codes[Math.floor(this.random() * codes.length)] as number | string);
        const afterWork = this.random() < (fault.afterWork ?? 0);
        const lost = afterWork ? ' after doing the work' : '';
        decision.error = { code, message: fault.message ?? `injected ${statusName(code)} for ${method}${lost}`, afterWork };
        if (fault.times !== undefined) {
          fault.times -= 1;
          if (fault.times <= 0) delete f.errors?.[key];
        }
      }
    }
    return decision;
  }

  /** True when this Probe call must answer ready=false (counts the call down). */
  takeProbeNotReady(): boolean {
    if (!this.faults.probeNotReady) return false;
    this.faults.probeNotReady -= 1;
    if (this.faults.probeNotReady <= 0) delete this.faults.probeNotReady;
    return true;
  }

  /** The Snapshot a method answers, with the snapshotAnswer fault's lies written over it. */
  answerSnapshot<T extends { snapshot_id?: string; size_bytes?: unknown; creation_time?: unknown }>(snapshot: T, method: string): T {
    const lie = this.faults.snapshotAnswer;
    if (!lie) return snapshot;
    const out = { ...snapshot };
    if (lie.snapshotId !== undefined) out.snapshot_id = lie.snapshotId;
    if (lie.sizeBytes !== undefined) out.size_bytes = lie.sizeBytes;
    if (lie.creationTime !== undefined) out.creation_time = lie.creationTime === 'none' ? null : lie.creationTime;
    if (lie.newIdEachCall && method === 'CreateSnapshot') out.snapshot_id = `${out.snapshot_id ?? ''}-${++this.createAnswers}`;
    return out;
  }

  /** The VolumeGroupSnapshot a method answers, with the groupAnswer fault's lies written over it. */
  answerGroup<T extends { creation_time?: unknown }>(group: T): T {
    const lie = this.faults.groupAnswer;
    if (lie?.creationTime === undefined) return group;
    return { ...group, creation_time: lie.creationTime === 'none' ? null : lie.creationTime };
  }

  withheld(kind: keyof WithheldCapabilities): Set<string> {
    return new Set(this.faults.withhold?.[kind] ?? []);
  }
}
