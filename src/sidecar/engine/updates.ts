import { ANN_BEING_CREATED } from '../keys.js';
import type { ObjectMeta } from '../types.js';

function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      // Keys of one object are unique, so no two compare equal.
      // Stryker disable next-line EqualityOperator: with unique keys `<` and `<=` sort alike.
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}

/**
 * Whether an update of a content needs work: a resync (same resourceVersion) does; readiness
 * turning true does (a deletion may be waiting for it); otherwise only changes beyond what the
 * sidecar writes itself (status, finalizers, managedFields, the being-created mark) do. This keeps
 * the sidecar's own writes from re-queueing the object over and over. Group contents pass their
 * own being-created key.
 */
export function shouldEnqueueUpdate<O extends { metadata: ObjectMeta; status?: object }>(oldObj: O, newObj: O, beingCreatedKey: string = ANN_BEING_CREATED): boolean {
  if (oldObj.metadata.resourceVersion === newObj.metadata.resourceVersion) return true;
  const ready = (obj: O): boolean => (obj.status as { readyToUse?: unknown } | undefined)?.readyToUse === true;
  if (!ready(oldObj) && ready(newObj)) return true;
  const strip = (obj: O): unknown => {
    const { resourceVersion: _rv, finalizers: _f, managedFields: _m, annotations, ...meta } = obj.metadata as ObjectMeta & { managedFields?: unknown };
    const rest = { ...(annotations ?? {}) };
    delete rest[beingCreatedKey];
    return { ...obj, status: undefined, metadata: { ...meta, annotations: Object.keys(rest).length ? rest : undefined } };
  };
  return stable(strip(oldObj)) !== stable(strip(newObj));
}

/**
 * The newest copy of each object seen, from the informer and from the sidecar's own writes:
 * a copy with a lower resourceVersion than one already seen is stale and is not acted on.
 */
export class VersionStore<T extends { metadata: { name: string; resourceVersion?: string } }> {
  private readonly objects = new Map<string, T>();

  /** Records `obj` if it is not older than what is known; returns the newest copy. Throws on a non-numeric version. */
  offer(obj: T): { newest: T; stale: boolean } {
    const version = parseVersion(obj);
    const known = this.objects.get(obj.metadata.name);
    if (known && parseVersion(known) > version) return { newest: known, stale: true };
    this.objects.set(obj.metadata.name, obj);
    return { newest: obj, stale: false };
  }

  delete(name: string): void {
    this.objects.delete(name);
  }

  get(name: string): T | undefined {
    return this.objects.get(name);
  }
}

function parseVersion(obj: { metadata: { name: string; resourceVersion?: string } }): bigint {
  const rv = obj.metadata.resourceVersion ?? '';
  if (!/^\d+$/.test(rv)) throw new Error(`object ${obj.metadata.name} has resourceVersion ${JSON.stringify(rv)}, which is not a decimal integer`);
  return BigInt(rv);
}
