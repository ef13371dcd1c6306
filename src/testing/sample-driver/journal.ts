import { createHash } from 'node:crypto';
import type protobuf from 'protobufjs';
import { csiReflection } from '../../csi/proto.js';
import { monotonicMicros } from '../monotonic.js';
import { statusName } from './faults.js';

/** One RPC as the driver received and answered it. */
export interface CallRecord {
  /** 1, 2, ... in arrival order. */
  seq: number;
  service: string;
  method: string;
  /** The request, with the value of every csi_secret field replaced by its sha256 hex digest. */
  request: Record<string, unknown>;
  /** gRPC status number of the answer; undefined while the call is still running. */
  code?: number;
  /** Status name of the answer (OK, NOT_FOUND, ...). */
  codeName?: string;
  /** Error message when code is not OK. */
  message?: string;
  startedAt: string;
  durationMs?: number;
  /**
   * When the call arrived and when it was answered, in microseconds on the machine's monotonic
   * clock: comparable with the API test server's request log.
   */
  receivedUs: number;
  answeredUs?: number;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * Copies a decoded request, hashing every field the proto marks `[(csi_secret) = true]` (a map's
 * values, or a string) and walking into nested messages, so the journal can show what arrived
 * without ever holding a secret value.
 */
export function redactSecrets(type: protobuf.Type, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, fieldValue] of Object.entries(value as Record<string, unknown>)) {
    const field = type.fields[key];
    if (!field) {
      out[key] = fieldValue;
      continue;
    }
    field.resolve();
    if (field.options?.['(csi_secret)'] === true) {
      out[key] = hashSecret(fieldValue);
    } else if (field.resolvedType && 'fields' in field.resolvedType) {
      const nested = field.resolvedType as protobuf.Type;
      if (field.map) {
        out[key] = Object.fromEntries(
          Object.entries((fieldValue ?? {}) as Record<string, unknown>).map(([k, v]) => [k, redactSecrets(nested, v)]),
        );
      } else if (Array.isArray(fieldValue)) {
        out[key] = fieldValue.map((v) => redactSecrets(nested, v));
      } else {
        out[key] = redactSecrets(nested, fieldValue);
      }
    } else {
      out[key] = fieldValue;
    }
  }
  return out;
}

function hashSecret(value: unknown): unknown {
  if (typeof value === 'string') return sha256Hex(value);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, sha256Hex(String(v))]));
  }
  return value;
}

/** The driver's record of the RPCs it received, in order, kept in memory. */
export class Journal {
  private records: CallRecord[] = [];
  private seq = 0;

  /** Keeps at most `limit` records (the oldest go first), so a long benchmark run cannot exhaust memory. */
  constructor(private readonly limit = 100_000) {}

  /** Starts a record for a call; finish it with the returned function. */
  begin(service: string, method: string, requestType: string, request: unknown): (code: number, message?: string) => void {
    const type = csiReflection().lookupType(`csi.v1.${requestType}`);
    const record: CallRecord = {
      seq: ++this.seq,
      service,
      method,
      request: redactSecrets(type, request) as Record<string, unknown>,
      startedAt: new Date().toISOString(),
      receivedUs: monotonicMicros(),
    };
    this.records.push(record);
    if (this.records.length > this.limit) this.records.splice(0, this.records.length - this.limit);
    const started = performance.now();
    return (code, message) => {
      record.code = code;
      record.codeName = statusName(code);
      if (code !== 0 && message !== undefined) record.message = message;
      record.durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      record.answeredUs = monotonicMicros();
    };
  }

  list(): CallRecord[] {
    return structuredClone(this.records);
  }

  clear(): void {
    this.records = [];
  }
}
