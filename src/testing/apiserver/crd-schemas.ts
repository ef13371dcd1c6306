import {
  arrayOf,
  bool,
  dateTime,
  exactlyOneOf,
  has,
  immutable,
  int64,
  mapOf,
  obj,
  requiredOnceSet,
  rule,
  str,
  transitionRule,
  type Schema,
} from './schema.js';
import { isObject, jsonEqual } from './json.js';

/**
 * The OpenAPI schemas and CEL rules of the snapshot CRDs (external-snapshotter v8.6; the CRDs of
 * v8.7 are the same), restated as code. Each function returns the schema of the object body without
 * apiVersion/kind/metadata.
 */

const deletionPolicy = () => str({ enum: ['Delete', 'Retain'] });
const snapshotError = () => obj({ message: str(), time: dateTime() });
const objectReference = (extra: Partial<Schema> = {}) =>
  obj(
    {
      apiVersion: str(),
      fieldPath: str(),
      kind: str(),
      name: str(),
      namespace: str(),
      resourceVersion: str(),
      uid: str(),
    },
    extra,
  );
const nameAndNamespaceSet = (message: string) => rule(message, (self) => has(self, 'name') && has(self, 'namespace'));
const quantityPattern = '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

export function volumeSnapshotClassSchema(): Schema {
  return obj({ deletionPolicy: deletionPolicy(), driver: str(), parameters: mapOf(str()) }, { required: ['deletionPolicy', 'driver'] });
}

export function volumeSnapshotContentSchema(): Schema {
  return obj(
    {
      spec: obj(
        {
          deletionPolicy: deletionPolicy(),
          driver: str(),
          source: obj(
            {
              snapshotHandle: str({ rules: [immutable('snapshotHandle is immutable')] }),
              volumeHandle: str({ rules: [immutable('volumeHandle is immutable')] }),
            },
            {
              rules: [
                requiredOnceSet('volumeHandle', 'volumeHandle is required once set'),
                requiredOnceSet('snapshotHandle', 'snapshotHandle is required once set'),
                exactlyOneOf('volumeHandle', 'snapshotHandle', 'exactly one of volumeHandle and snapshotHandle must be set'),
              ],
            },
          ),
          sourceVolumeMode: str({ rules: [immutable('sourceVolumeMode is immutable')] }),
          volumeSnapshotClassName: str(),
          volumeSnapshotRef: objectReference({
            rules: [nameAndNamespaceSet('both spec.volumeSnapshotRef.name and spec.volumeSnapshotRef.namespace must be set')],
          }),
        },
        {
          required: ['deletionPolicy', 'driver', 'source', 'volumeSnapshotRef'],
          rules: [requiredOnceSet('sourceVolumeMode', 'sourceVolumeMode is required once set')],
        },
      ),
      status: obj({
        creationTime: int64(),
        error: snapshotError(),
        readyToUse: bool(),
        restoreSize: int64({ minimum: 0 }),
        snapshotHandle: str(),
        volumeGroupSnapshotHandle: str(),
      }),
    },
    { required: ['spec'] },
  );
}

export function volumeSnapshotSchema(): Schema {
  return obj(
    {
      spec: obj(
        {
          source: obj(
            {
              persistentVolumeClaimName: str({ rules: [immutable('persistentVolumeClaimName is immutable')] }),
              volumeSnapshotContentName: str({ rules: [immutable('volumeSnapshotContentName is immutable')] }),
            },
            {
              rules: [
                requiredOnceSet('persistentVolumeClaimName', 'persistentVolumeClaimName is required once set'),
                requiredOnceSet('volumeSnapshotContentName', 'volumeSnapshotContentName is required once set'),
                exactlyOneOf(
                  'volumeSnapshotContentName',
                  'persistentVolumeClaimName',
                  'exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set',
                ),
              ],
            },
          ),
          volumeSnapshotClassName: str({
            rules: [rule('volumeSnapshotClassName must not be the empty string when set', (self) => typeof self === 'string' && self.length > 0)],
          }),
        },
        { required: ['source'] },
      ),
      status: obj({
        boundVolumeSnapshotContentName: str(),
        creationTime: dateTime(),
        error: snapshotError(),
        readyToUse: bool(),
        restoreSize: str({ intOrString: true, pattern: quantityPattern }),
        volumeGroupSnapshotName: str(),
      }),
    },
    { required: ['spec'] },
  );
}

export type GroupVersion = 'v1beta1' | 'v1beta2' | 'v1';

/** v1 and v1beta2 share one schema; v1beta1 lacks most immutability rules. */
function strict(version: GroupVersion): boolean {
  return version !== 'v1beta1';
}

export function volumeGroupSnapshotClassSchema(version: GroupVersion): Schema {
  const rules = (message: string) => (strict(version) ? { rules: [immutable(message)] } : {});
  return obj(
    {
      deletionPolicy: str({ enum: ['Delete', 'Retain'], ...rules('deletionPolicy is immutable once set') }),
      driver: str(rules('driver is immutable once set')),
      parameters: mapOf(str(), rules('parameters are immutable once set')),
    },
    { required: ['deletionPolicy', 'driver'] },
  );
}

export function volumeGroupSnapshotContentSchema(version: GroupVersion): Schema {
  const immutableIf = (message: string) => (strict(version) ? { rules: [immutable(message)] } : {});
  const refRules = [nameAndNamespaceSet('both volumeGroupSnapshotRef.name and volumeGroupSnapshotRef.namespace must be set')];
  if (strict(version)) {
    refRules.push(
      transitionRule(
        'volumeGroupSnapshotRef.name and volumeGroupSnapshotRef.namespace are immutable',
        (self, old) => isObject(self) && isObject(old) && jsonEqual(self.name, old.name) && jsonEqual(self.namespace, old.namespace),
      ),
      transitionRule(
        'volumeGroupSnapshotRef.uid is immutable once set',
        (self, old) => !has(old, 'uid') || (has(self, 'uid') && isObject(self) && isObject(old) && jsonEqual(self.uid, old.uid)),
      ),
    );
  }
  const status: Record<string, Schema> =
    version === 'v1beta1'
      ? {
          volumeSnapshotHandlePairList: arrayOf(obj({ snapshotHandle: str(), volumeHandle: str() }, { required: ['snapshotHandle', 'volumeHandle'] })),
        }
      : {
          volumeSnapshotInfoList: arrayOf(
            obj({ creationTime: int64(), readyToUse: bool(), restoreSize: int64(), snapshotHandle: str(), volumeHandle: str() }),
          ),
        };
  return obj(
    {
      spec: obj(
        {
          deletionPolicy: deletionPolicy(),
          driver: str(immutableIf('driver is immutable once set')),
          source: obj(
            {
              groupSnapshotHandles: obj(
                { volumeGroupSnapshotHandle: str(), volumeSnapshotHandles: arrayOf(str()) },
                { required: ['volumeGroupSnapshotHandle', 'volumeSnapshotHandles'], rules: [immutable('groupSnapshotHandles is immutable')] },
              ),
              volumeHandles: arrayOf(str(), { rules: [immutable('volumeHandles is immutable')] }),
            },
            {
              rules: [
                requiredOnceSet('volumeHandles', 'volumeHandles is required once set'),
                requiredOnceSet('groupSnapshotHandles', 'groupSnapshotHandles is required once set'),
                exactlyOneOf('volumeHandles', 'groupSnapshotHandles', 'exactly one of volumeHandles and groupSnapshotHandles must be set'),
              ],
            },
          ),
          volumeGroupSnapshotClassName: str(immutableIf('volumeGroupSnapshotClassName is immutable once set')),
          volumeGroupSnapshotRef: objectReference({ rules: refRules }),
        },
        { required: ['deletionPolicy', 'driver', 'source', 'volumeGroupSnapshotRef'] },
      ),
      status: obj({
        creationTime: dateTime(),
        error: snapshotError(),
        readyToUse: bool(),
        volumeGroupSnapshotHandle: str(immutableIf('volumeGroupSnapshotHandle is immutable once set')),
        ...status,
      }),
    },
    { required: ['spec'] },
  );
}

export function volumeGroupSnapshotSchema(version: GroupVersion): Schema {
  const labelSelector = obj({
    matchExpressions: arrayOf(obj({ key: str(), operator: str(), values: arrayOf(str()) }, { required: ['key', 'operator'] })),
    matchLabels: mapOf(str()),
  });
  labelSelector.rules = [immutable('selector is immutable')];
  return obj(
    {
      spec: obj(
        {
          source: obj(
            {
              selector: labelSelector,
              volumeGroupSnapshotContentName: str({ rules: [immutable('volumeGroupSnapshotContentName is immutable')] }),
            },
            {
              rules: [
                requiredOnceSet('selector', 'selector is required once set'),
                requiredOnceSet('volumeGroupSnapshotContentName', 'volumeGroupSnapshotContentName is required once set'),
                exactlyOneOf('selector', 'volumeGroupSnapshotContentName', 'exactly one of selector and volumeGroupSnapshotContentName must be set'),
              ],
            },
          ),
          volumeGroupSnapshotClassName: str({
            rules: [
              rule('volumeGroupSnapshotClassName must not be the empty string when set', (self) => typeof self === 'string' && self.length > 0),
            ],
          }),
        },
        { required: ['source'] },
      ),
      status: obj({
        boundVolumeGroupSnapshotContentName: str(strict(version) ? { rules: [immutable('boundVolumeGroupSnapshotContentName is immutable once set')] } : {}),
        creationTime: dateTime(),
        error: snapshotError(),
        readyToUse: bool(),
      }),
    },
    { required: ['spec'] },
  );
}
