/**
 * What an informer cache keeps of an object: everything the sidecar reads or patches (spec, status,
 * name, uid, resourceVersion, creation and deletion times, labels, annotations, finalizers), without
 * the metadata nobody reads, and with the strings that repeat from object to object shared.
 *
 * - Dropped: `metadata.managedFields` (server-side apply bookkeeping; on a real API server often the
 *   largest part of an object), `metadata.selfLink` and `metadata.generation`. No code reads them,
 *   and the sidecar's writes are JSON patches of single fields (engine/patches.ts), so an object
 *   is never written back whole. Whether an update needs work (engine/updates.ts) compares spec
 *   and metadata, so a change of generation is seen through the spec it counts.
 * - Shared: JSON.parse gives every object its own copy of each string value. The values of a few
 *   keys are the same for nearly every object (apiVersion, kind, the driver, the class, the
 *   deletion policy, the VolumeSnapshot's namespace, finalizers, annotation values such as "yes"),
 *   so one copy of each is kept and shared; the pool is bounded, so objects with unusual values
 *   cannot grow it without limit.
 *
 * With 5,000 ready VolumeSnapshotContents this took the heap per cached object from 1,176 to about
 * 800 bytes (BENCHMARKS.md, "Where the memory goes").
 */

const DROPPED_METADATA: ReadonlySet<string> = new Set(['managedFields', 'selfLink', 'generation']);

/** Keys whose string values repeat across objects. */
const SHARED_VALUES: ReadonlySet<string> = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'driver',
  'deletionPolicy',
  'volumeSnapshotClassName',
  'volumeGroupSnapshotClassName',
  'sourceVolumeMode',
  'fieldPath',
]);

/** Strings longer than this are not shared (they are not the repeating kind). */
const MAX_SHARED_LENGTH = 253;
/** The pool stops taking new strings at this size; strings already in it are still shared. */
const MAX_POOL = 4096;

export class StringPool {
  private readonly pool = new Map<string, string>();

  constructor(private readonly limit = MAX_POOL) {}

  /** The pooled copy of `value` (pooling it when there is room). */
  share(value: string): string {
    const known = this.pool.get(value);
    if (known !== undefined) return known;
    if (value.length <= MAX_SHARED_LENGTH && this.pool.size < this.limit) this.pool.set(value, value);
    return value;
  }

  get size(): number {
    return this.pool.size;
  }
}

const defaultPool = new StringPool();

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function shareStrings(value: unknown, pool: StringPool): void {
  if (Array.isArray(value)) {
    for (const item of value) shareStrings(item, pool);
    return;
  }
  if (!isRecord(value)) return;
  for (const key in value) {
    const item = value[key];
    if (typeof item === 'string') {
      if (SHARED_VALUES.has(key)) value[key] = pool.share(item);
    } else if (item !== null && typeof item === 'object') shareStrings(item, pool);
  }
}

function shareAll(values: unknown, pool: StringPool): void {
  if (Array.isArray(values)) {
    for (let i = 0; i < values.length; i++) if (typeof values[i] === 'string') values[i] = pool.share(values[i] as string);
  } else if (isRecord(values)) {
    for (const key in values) if (typeof values[key] === 'string') values[key] = pool.share(values[key]);
  }
}

function slimMetadata(meta: Json, pool: StringPool): Json {
  let kept = meta;
  for (const key in meta) {
    if (!DROPPED_METADATA.has(key)) continue;
    // A fresh object rather than `delete`: deleting a property that is not the last one turns a V8
    // object into a (larger) dictionary.
    kept = {};
    for (const k in meta) if (!DROPPED_METADATA.has(k)) kept[k] = meta[k];
    break;
  }
  if (typeof kept.namespace === 'string') kept.namespace = pool.share(kept.namespace);
  shareAll(kept.finalizers, pool);
  shareAll(kept.annotations, pool);
  shareAll(kept.labels, pool);
  shareStrings(kept.ownerReferences, pool);
  return kept;
}

/** The object as an informer caches it (see above); changes `obj` in place and returns it. */
export function slimObject<T>(obj: T, pool: StringPool = defaultPool): T {
  if (!isRecord(obj)) return obj;
  const record: Json = obj;
  for (const key in record) {
    const value = record[key];
    if (key === 'metadata' && isRecord(value)) record[key] = slimMetadata(value, pool);
    else if (typeof value === 'string') {
      if (SHARED_VALUES.has(key)) record[key] = pool.share(value);
    } else shareStrings(value, pool);
  }
  return obj;
}
