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

/**
 * What the server can be told to serve of groupsnapshot.storage.k8s.io. Two different schemas were
 * both published as v1alpha1: `v1alpha1` is the one of external-snapshotter v8.0–v8.1 (member lists
 * `pvVolumeSnapshotContentList` / `pvcVolumeSnapshotRefList`, CEL rules), `v1alpha1-v7` the older one
 * of v7.0 (`volumeSnapshotContentRefList` / `volumeSnapshotRefList`, no CEL rules at all). Both are
 * served at the URL version v1alpha1; only one of them can be installed at a time.
 */
export type GroupVersion = 'v1beta1' | 'v1beta2' | 'v1' | 'v1alpha1' | 'v1alpha1-v7';

/** The version in URLs and apiVersion for a served flavour. */
export function urlVersion(version: GroupVersion): 'v1beta1' | 'v1beta2' | 'v1' | 'v1alpha1' {
  return version === 'v1alpha1-v7' ? 'v1alpha1' : version;
}

function isAlpha(version: GroupVersion): version is 'v1alpha1' | 'v1alpha1-v7' {
  return version === 'v1alpha1' || version === 'v1alpha1-v7';
}

/** v1 and v1beta2 share one schema; v1beta1 lacks most immutability rules. */
function strict(version: GroupVersion): boolean {
  return version === 'v1beta2' || version === 'v1';
}

/** `{ name }`, the LocalObjectReference of the v8.0–8.1 member lists. */
const localObjectReference = () => obj({ name: str() });

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
  // The v7 schema has no CEL rules at all (its checks lived in an optional webhook).
  const cel = version !== 'v1alpha1-v7';
  const celImmutable = (message: string) => (cel ? { rules: [immutable(message)] } : {});
  const refRules = cel ? [nameAndNamespaceSet('both volumeGroupSnapshotRef.name and volumeGroupSnapshotRef.namespace must be set')] : [];
  if (version === 'v1alpha1') {
    // v8.0–8.1: the whole reference, uid included, may never change (v8.2 dropped this rule).
    refRules.push(transitionRule('volumeGroupSnapshotRef is immutable', (self, old) => jsonEqual(self, old)));
  }
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
  // The member list is the one field every version names differently.
  const members: Record<GroupVersion, Record<string, Schema>> = {
    'v1alpha1-v7': { volumeSnapshotContentRefList: arrayOf(objectReference()) },
    v1alpha1: {
      pvVolumeSnapshotContentList: arrayOf(obj({ persistentVolumeRef: localObjectReference(), volumeSnapshotContentRef: localObjectReference() })),
    },
    v1beta1: {
      volumeSnapshotHandlePairList: arrayOf(obj({ snapshotHandle: str(), volumeHandle: str() }, { required: ['snapshotHandle', 'volumeHandle'] })),
    },
    v1beta2: {
      volumeSnapshotInfoList: arrayOf(obj({ creationTime: int64(), readyToUse: bool(), restoreSize: int64(), snapshotHandle: str(), volumeHandle: str() })),
    },
    v1: {
      volumeSnapshotInfoList: arrayOf(obj({ creationTime: int64(), readyToUse: bool(), restoreSize: int64(), snapshotHandle: str(), volumeHandle: str() })),
    },
  };
  const status = members[version];
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
                { required: ['volumeGroupSnapshotHandle', 'volumeSnapshotHandles'], ...celImmutable('groupSnapshotHandles is immutable') },
              ),
              volumeHandles: arrayOf(str(), celImmutable('volumeHandles is immutable')),
            },
            cel
              ? {
                rules: [
                  requiredOnceSet('volumeHandles', 'volumeHandles is required once set'),
                  requiredOnceSet('groupSnapshotHandles', 'groupSnapshotHandles is required once set'),
                  exactlyOneOf('volumeHandles', 'groupSnapshotHandles', 'exactly one of volumeHandles and groupSnapshotHandles must be set'),
                ],
              }
              : {},
          ),
          volumeGroupSnapshotClassName: str(immutableIf('volumeGroupSnapshotClassName is immutable once set')),
          volumeGroupSnapshotRef: objectReference(refRules.length ? { rules: refRules } : {}),
        },
        { required: ['deletionPolicy', 'driver', 'source', 'volumeGroupSnapshotRef'] },
      ),
      status: obj({
        // Unix nanoseconds in both v1alpha1 schemas; a date-time from v1beta1 on.
        creationTime: isAlpha(version) ? int64() : dateTime(),
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
  const cel = version !== 'v1alpha1-v7';
  if (cel) labelSelector.rules = [immutable('selector is immutable')];
  // The VolumeGroupSnapshot's member list exists only in the v1alpha1 schemas (the controller writes it).
  const members: Record<string, Schema> =
    version === 'v1alpha1-v7'
      ? { volumeSnapshotRefList: arrayOf(objectReference()) }
      : version === 'v1alpha1'
        ? { pvcVolumeSnapshotRefList: arrayOf(obj({ persistentVolumeClaimRef: localObjectReference(), volumeSnapshotRef: localObjectReference() })) }
        : {};
  return obj(
    {
      spec: obj(
        {
          source: obj(
            {
              selector: labelSelector,
              volumeGroupSnapshotContentName: str(cel ? { rules: [immutable('volumeGroupSnapshotContentName is immutable')] } : {}),
            },
            cel
              ? {
                rules: [
                  requiredOnceSet('selector', 'selector is required once set'),
                  requiredOnceSet('volumeGroupSnapshotContentName', 'volumeGroupSnapshotContentName is required once set'),
                  exactlyOneOf('selector', 'volumeGroupSnapshotContentName', 'exactly one of selector and volumeGroupSnapshotContentName must be set'),
                ],
              }
              : {},
          ),
          volumeGroupSnapshotClassName: str(
            cel
              ? { rules: [rule('volumeGroupSnapshotClassName must not be the empty string when set', (self) => typeof self === 'string' && self.length > 0)] }
              : {},
          ),
        },
        { required: ['source'] },
      ),
      status: obj({
        boundVolumeGroupSnapshotContentName: str(strict(version) ? { rules: [immutable('boundVolumeGroupSnapshotContentName is immutable once set')] } : {}),
        creationTime: dateTime(),
        error: snapshotError(),
        readyToUse: bool(),
        ...members,
      }),
    },
    { required: ['spec'] },
  );
}
