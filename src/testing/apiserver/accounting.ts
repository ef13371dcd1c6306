/** One served request, as recorded for tests and benchmarks. */
export interface RequestRecord {
  verb: string;
  group: string;
  version: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** The client's User-Agent header ('' when it sent none). */
  userAgent: string;
  code: number;
  /** True when the answer came from an injected fault. */
  injected: boolean;
  /**
   * When the answer was decided (after a write was stored, before the reply was sent), in
   * microseconds on the machine's monotonic clock: comparable with the sample driver's journal.
   */
  atUs: number;
  /** The object a successful create, update or patch stored (only with `recordObjects`). */
  object?: Record<string, unknown>;
}

export type RequestFilter = Partial<Omit<RequestRecord, 'code' | 'injected' | 'atUs' | 'object'>> & { code?: number; injected?: boolean };

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

function matches(record: RequestRecord, filter: RequestFilter): boolean {
  return Object.entries(filter).every(([key, value]) => value === undefined || record[key as keyof RequestRecord] === value);
}

/**
 * Request accounting by verb, resource and subresource (verbs as the API server's audit log names
 * them: get, list, watch, create, update, patch, delete, deletecollection).
 */
export class RequestLog {
  private records: RequestRecord[] = [];

  record(entry: RequestRecord): void {
    this.records.push(entry);
  }

  all(filter: RequestFilter = {}): RequestRecord[] {
    return this.records.filter((r) => matches(r, filter));
  }

  count(filter: RequestFilter = {}): number {
    let n = 0;
    for (const r of this.records) if (matches(r, filter)) n++;
    return n;
  }

  /** create/update/patch/delete/deletecollection requests matching `filter`. */
  writes(filter: RequestFilter = {}): RequestRecord[] {
    return this.records.filter((r) => WRITE_VERBS.has(r.verb) && matches(r, filter));
  }

  /** Counts keyed `verb resource[/subresource]`, handy for printing. */
  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.records) {
      const key = `${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ''}`;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }

  reset(): void {
    this.records = [];
  }
}
