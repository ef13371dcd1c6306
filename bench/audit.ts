/**
 * The real kube-apiserver's audit log (JSON lines, Metadata level, ServiceAccounts only: see
 * test/real-cluster/harness/control-plane.ts) read as request counts, so a benchmark can tell what
 * each sidecar asked of the API server. Reads start at a byte offset, so a phase counts only the
 * requests made since it began.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';

interface AuditEvent {
  stage?: string;
  verb?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; name?: string };
  responseStatus?: { code?: number };
  /** When the stage was reached: for ResponseComplete, when the answer was sent. */
  stageTimestamp?: string;
}

/**
 * One request per event: a request's ResponseComplete, or a watch's ResponseStarted (its
 * ResponseComplete comes when the watch ends, and is not counted again). Keyed like the API test
 * server's accounting, `verb resource[/subresource]`, with ` -> code` for answers of 300 and up.
 */
export function auditRequestKey(event: AuditEvent): string | undefined {
  const watch = event.verb === 'watch';
  if (event.stage !== (watch ? 'ResponseStarted' : 'ResponseComplete')) return undefined;
  const ref = event.objectRef ?? {};
  const code = event.responseStatus?.code ?? 0;
  return `${event.verb ?? '?'} ${ref.resource ?? '?'}${ref.subresource ? `/${ref.subresource}` : ''}${code >= 300 ? ` -> ${code}` : ''}`;
}

/** Counts the requests of `username` in audit-log text (whole lines; a partial last line is ignored). */
export function countAuditRequests(text: string, username: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.endsWith('}') || !line.includes(username)) continue;
    const event = JSON.parse(line) as AuditEvent;
    if (event.user?.username !== username) continue;
    const key = auditRequestKey(event);
    if (key !== undefined) out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * When `username` last wrote each object of `resource` (`patch` or `update`, of `subresource` or of
 * the object itself with ''), answered below 300, in Unix ms by the API server's clock. The last
 * status write of a content that was ready at its first is when it became ready; the last write of
 * the object itself in a deletion is the finalizer's removal. Unlike a watch, the log misses nothing.
 */
export function lastWrites(text: string, username: string, resource: string, subresource: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.endsWith('}') || !line.includes(username)) continue;
    const event = JSON.parse(line) as AuditEvent;
    const ref = event.objectRef ?? {};
    if (event.user?.username !== username || event.stage !== 'ResponseComplete' || (event.verb !== 'patch' && event.verb !== 'update')) continue;
    if (ref.resource !== resource || (ref.subresource ?? '') !== subresource || !ref.name || (event.responseStatus?.code ?? 0) >= 300) continue;
    const at = Date.parse(event.stageTimestamp ?? '');
    if (Number.isFinite(at) && at >= (out.get(ref.name) ?? -Infinity)) out.set(ref.name, at);
  }
  return out;
}

/** The audit log from a byte offset on, up to its last complete line. */
export class AuditLog {
  constructor(readonly path: string) {}

  /** Where the log ends now: the start of what a later read will see. */
  offset(): number {
    try {
      return statSync(this.path).size;
    } catch {
      return 0;
    }
  }

  /** The complete lines written since `from`. */
  readFrom(from: number): string {
    const end = this.offset();
    if (end <= from) return '';
    const buffer = Buffer.alloc(end - from);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, from);
    } finally {
      closeSync(fd);
    }
    const text = buffer.toString('utf8');
    return text.slice(0, text.lastIndexOf('\n') + 1);
  }

  requestsSince(from: number, username: string): Record<string, number> {
    return countAuditRequests(this.readFrom(from), username);
  }
}
