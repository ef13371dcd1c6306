/**
 * Turns an API response into text that is the same from run to run and from server to server
 * wherever the servers behave alike: ids, resource versions, timestamps, continue tokens, the
 * server's address and the run's random name suffix are replaced by placeholders, and object keys
 * are sorted.
 */
import { isExactNumber, parseJson as parse } from '../../../src/testing/apiserver/json.js';

export interface NormaliseContext {
  /** The random suffix of every name this run created. */
  suffix: string;
  /** host:port of the server. */
  serverHost: string;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** Keys whose values differ on every run or server, whatever they hold. */
const VOLATILE_KEYS: Record<string, string> = {
  uid: '<uid>',
  resourceVersion: '<rv>',
  continue: '<continue>',
  creationTimestamp: '<time>',
  deletionTimestamp: '<time>',
  time: '<time>',
  selfLink: '<selfLink>',
};

function normaliseString(value: string, context: NormaliseContext): string {
  if (RFC3339.test(value)) return '<time>';
  return value.split(context.suffix).join('<suffix>').split(context.serverHost).join('<server>').replace(UUID, '<uid>');
}

export function normaliseValue(value: unknown, context: NormaliseContext): unknown {
  if (typeof value === 'string') return normaliseString(value, context);
  // int64 fields (e.g. VolumeSnapshotContent status.creationTime in nanoseconds) stay exact.
  if (isExactNumber(value)) return value;
  if (Array.isArray(value)) return value.map((item) => normaliseValue(item, context));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    let object = value as Record<string, unknown>;
    // The real server lists a group version's custom resources in the order of an unordered map
    // (its CRD lister), which differs from one server start to the next; each resource's own
    // subresources follow it in a stable order. So only the resources are put in name order (byte
    // order, by the part before '/'), and the stable sort keeps each one's subresources as the
    // server sent them, where they are still compared.
    if (object.kind === 'APIResourceList' && Array.isArray(object.resources)) {
      const base = (entry: { name?: unknown }): string => String(entry.name).split('/')[0] ?? '';
      const resources = [...(object.resources as { name?: unknown }[])].sort((a, b) => (base(a) < base(b) ? -1 : base(a) > base(b) ? 1 : 0));
      object = { ...object, resources };
    }
    for (const key of Object.keys(object).sort()) {
      const item = object[key];
      if (key in VOLATILE_KEYS && item !== '' && item !== null && typeof item !== 'object') out[key] = VOLATILE_KEYS[key];
      else out[normaliseString(key, context)] = normaliseValue(item, context);
    }
    return out;
  }
  return value;
}

/** Parses a body as JSON when it is JSON, and normalises it; other bodies are normalised as text. */
export function normaliseBody(body: string, context: NormaliseContext): unknown {
  if (body.trim() === '') return '';
  try {
    return normaliseValue(parse(body), context);
  } catch {
    return normaliseString(body.trim(), context);
  }
}
