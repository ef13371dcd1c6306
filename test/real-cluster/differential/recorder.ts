import { parseJson as parse, toJson as stringify } from '../../../src/testing/apiserver/json.js';
import type { KubeHttp, RequestInit } from '../kube/http.js';
import { normaliseBody, normaliseValue, type NormaliseContext } from './normalise.js';

/**
 * Sends the steps of a differential sequence and records one normalised entry per step:
 *
 *   ## <step name>
 *   <METHOD> <path> -> <status> [warning: <Warning header>]
 *   <normalised JSON body on one line>
 *
 * and hands the raw parsed body back so later steps can use it (resource versions, tokens).
 */
export class Recorder {
  readonly lines: string[] = [];

  constructor(
    private readonly http: KubeHttp,
    readonly context: NormaliseContext,
  ) {}

  private record(name: string, request: string, status: number, warning: string | undefined, body: unknown): void {
    this.lines.push(`## ${name}`);
    const warningText = warning ? ` warning: ${normaliseValue(warning, this.context) as string}` : '';
    this.lines.push(`${request} -> ${status}${warningText}`);
    this.lines.push(stringify(body));
  }

  /** One request; `show` can narrow what is recorded (e.g. only some fields of a large document). */
  async send(name: string, method: string, path: string, init: RequestInit = {}, show?: (body: Record<string, unknown>) => unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await this.http.request(method, path, init);
    let parsed: Record<string, unknown> = {};
    try {
      parsed = parse(response.body) as Record<string, unknown>;
    } catch {
      // Not JSON (e.g. a plain-text error); recorded as text below.
    }
    const shown = show ? normaliseValue(show(parsed), this.context) : normaliseBody(response.body, this.context);
    const warning = response.headers.warning;
    this.record(name, `${method} ${this.requestPath(path)}`, response.status, Array.isArray(warning) ? warning.join(', ') : warning, shown);
    return { status: response.status, body: parsed };
  }

  /**
   * A watch from a known resource version, recorded as the list of events, read until an event of
   * type `lastEventType` arrives (or `timeoutMs` passes, which then shows in the transcript).
   */
  async watch(name: string, path: string, lastEventType: string, timeoutMs = 20_000): Promise<void> {
    const result = await this.http.watch(path, (frames) => frames.some((frame) => (frame as { type?: string }).type === lastEventType), timeoutMs);
    this.record(name, `WATCH ${this.requestPath(path)}`, result.status, undefined, normaliseValue(result.frames, this.context));
  }

  /** Resource versions and continue tokens in a query differ per run. */
  private requestPath(path: string): string {
    return (normaliseValue(path, this.context) as string).replace(/\b(resourceVersion|continue)=[^&]*/g, '$1=<$1>');
  }
}
