import { describe, expect, test } from '@jest/globals';
import { csiReflection } from '../../src/csi/proto.js';
import { sanitizedJson, STRIPPED } from '../../src/csi/sanitize.js';

describe('log sanitiser', () => {
  test('renders a CreateSnapshot request like the Go sidecar: sorted keys, secrets stripped', () => {
    const line = sanitizedJson('csi.v1.CreateSnapshotRequest', {
      source_volume_id: 'vol-1',
      name: 'snapshot-1b2c',
      parameters: { p: 'v' },
      secrets: { password: 'hunter2' },
    });
    expect(line).toBe('{"name":"snapshot-1b2c","parameters":{"p":"v"},"secrets":"***stripped***","source_volume_id":"vol-1"}');
  });

  test('finds every csi_secret field from the descriptors and strips it, whatever the message', () => {
    const root = csiReflection();
    const secretFields: string[] = [];
    const visit = (ns: { nestedArray: unknown[] }): void => {
      for (const nested of ns.nestedArray) {
        const type = nested as { fieldsArray?: Array<{ name: string; options?: Record<string, unknown> }>; fullName: string; nestedArray?: unknown[] };
        for (const field of type.fieldsArray ?? []) {
          if (field.options?.['(csi_secret)'] === true) secretFields.push(`${type.fullName.slice(1)}.${field.name}`);
        }
        if (type.nestedArray) visit(type as { nestedArray: unknown[] });
      }
    };
    visit(root.lookup('csi.v1') as unknown as { nestedArray: unknown[] });
    // The eight messages the spec lists, plus ValidateVolumeCapabilitiesRequest served by the sample driver.
    expect(secretFields.sort()).toEqual(
      [
        'csi.v1.CreateSnapshotRequest.secrets',
        'csi.v1.CreateVolumeGroupSnapshotRequest.secrets',
        'csi.v1.CreateVolumeRequest.secrets',
        'csi.v1.DeleteSnapshotRequest.secrets',
        'csi.v1.DeleteVolumeGroupSnapshotRequest.secrets',
        'csi.v1.DeleteVolumeRequest.secrets',
        'csi.v1.GetVolumeGroupSnapshotRequest.secrets',
        'csi.v1.ListSnapshotsRequest.secrets',
        'csi.v1.ValidateVolumeCapabilitiesRequest.secrets',
      ].sort(),
    );
    for (const path of secretFields) {
      const typeName = path.slice(0, path.lastIndexOf('.'));
      const line = sanitizedJson(typeName, { secrets: { key: 'TOP-SECRET-VALUE' } });
      expect(line).toContain(`"secrets":"${STRIPPED}"`);
      expect(line).not.toContain('TOP-SECRET-VALUE');
    }
  });

  test('leaves out unset fields, prints enums by name and int64 without losing digits', () => {
    expect(sanitizedJson('csi.v1.DeleteSnapshotRequest', { snapshot_id: 's1', secrets: {} })).toBe('{"snapshot_id":"s1"}');
    const response = sanitizedJson('csi.v1.CreateSnapshotResponse', {
      snapshot: {
        size_bytes: '9007199254740993',
        snapshot_id: 'snap',
        source_volume_id: 'vol',
        creation_time: { seconds: '1763773512', nanos: 123456789 },
        ready_to_use: false,
        group_snapshot_id: '',
      },
    });
    expect(response).toBe(
      '{"snapshot":{"creation_time":{"nanos":123456789,"seconds":1763773512},"size_bytes":9007199254740993,"snapshot_id":"snap","source_volume_id":"vol"}}',
    );
    const caps = sanitizedJson('csi.v1.ControllerGetCapabilitiesResponse', {
      capabilities: [{ rpc: { type: 'CREATE_DELETE_SNAPSHOT' }, type: 'rpc' }, { rpc: { type: 'UNKNOWN' } }],
    });
    expect(caps).toBe('{"capabilities":[{"rpc":{"type":"CREATE_DELETE_SNAPSHOT"}},{"rpc":{}}]}');
  });

  test('a nested message that is present but empty still shows (Probe ready=false)', () => {
    expect(sanitizedJson('csi.v1.ProbeResponse', { ready: { value: false } })).toBe('{"ready":{}}');
    expect(sanitizedJson('csi.v1.ProbeResponse', { ready: null })).toBe('{}');
  });
});

describe('log sanitiser: what is left out and how values print', () => {
  test('zero values are left out, int64 zero in any spelling included; non-zero values are kept', () => {
    const render = (snapshot: Record<string, unknown>) => sanitizedJson('csi.v1.CreateSnapshotResponse', { snapshot });
    expect(render({ size_bytes: '0', snapshot_id: '', ready_to_use: false })).toBe('{"snapshot":{}}');
    expect(render({ size_bytes: '-000' })).toBe('{"snapshot":{}}');
    expect(render({ size_bytes: 0 })).toBe('{"snapshot":{}}');
    expect(render({ size_bytes: 0n })).toBe('{"snapshot":{}}');
    expect(render({ size_bytes: '-5' })).toBe('{"snapshot":{"size_bytes":-5}}');
    expect(render({ size_bytes: '100' })).toBe('{"snapshot":{"size_bytes":100}}');
    expect(render({ size_bytes: 7 })).toBe('{"snapshot":{"size_bytes":7}}');
    expect(render({ size_bytes: 12345678901234567890n })).toBe('{"snapshot":{"size_bytes":12345678901234567890}}');
    expect(render({ ready_to_use: true })).toBe('{"snapshot":{"ready_to_use":true}}');
    expect(render({ snapshot_id: '0' })).toBe('{"snapshot":{"snapshot_id":"0"}}');
  });

  test('an int64 that is not a plain integer prints as the string it is', () => {
    expect(sanitizedJson('csi.v1.CreateSnapshotResponse', { snapshot: { size_bytes: '12abc' } })).toBe('{"snapshot":{"size_bytes":"12abc"}}');
    expect(sanitizedJson('csi.v1.CreateSnapshotResponse', { snapshot: { size_bytes: 'abc12' } })).toBe('{"snapshot":{"size_bytes":"abc12"}}');
  });

  test('maps print with sorted keys, empty maps and lists are left out, lists keep their order', () => {
    expect(sanitizedJson('csi.v1.CreateSnapshotRequest', { name: 'n', parameters: { b: '2', a: '1', c: '3' } })).toBe('{"name":"n","parameters":{"a":"1","b":"2","c":"3"}}');
    expect(sanitizedJson('csi.v1.CreateSnapshotRequest', { name: 'n', parameters: {} })).toBe('{"name":"n"}');
    expect(sanitizedJson('csi.v1.CreateVolumeGroupSnapshotRequest', { source_volume_ids: ['v2', 'v1'], name: 'g' })).toBe('{"name":"g","source_volume_ids":["v2","v1"]}');
    expect(sanitizedJson('csi.v1.CreateVolumeGroupSnapshotRequest', { source_volume_ids: [], name: 'g' })).toBe('{"name":"g"}');
    expect(sanitizedJson('csi.v1.CreateVolumeGroupSnapshotRequest', { source_volume_ids: 'not-a-list', name: 'g' })).toBe('{"name":"g"}');
    expect(sanitizedJson('csi.v1.CreateSnapshotRequest', { name: 'n', parameters: 'not-a-map' })).toBe('{"name":"n"}');
  });

  test('secrets are stripped whatever they hold, even when empty of keys but present as a value', () => {
    expect(sanitizedJson('csi.v1.DeleteSnapshotRequest', { snapshot_id: 's', secrets: { a: '' } })).toBe('{"secrets":"***stripped***","snapshot_id":"s"}');
  });

  test('enums print by name from a name or a number; unknown numbers print as given; the zero value is left out', () => {
    const caps = (type: unknown) => sanitizedJson('csi.v1.ControllerGetCapabilitiesResponse', { capabilities: [{ rpc: { type } }] });
    expect(caps(5)).toBe('{"capabilities":[{"rpc":{"type":"CREATE_DELETE_SNAPSHOT"}}]}');
    expect(caps('LIST_SNAPSHOTS')).toBe('{"capabilities":[{"rpc":{"type":"LIST_SNAPSHOTS"}}]}');
    expect(caps(0)).toBe('{"capabilities":[{"rpc":{}}]}');
    expect(caps('UNKNOWN')).toBe('{"capabilities":[{"rpc":{}}]}');
    expect(caps(999)).toBe('{"capabilities":[{"rpc":{"type":"999"}}]}');
    expect(caps('NOT_AN_ENUM_VALUE')).toBe('{"capabilities":[{"rpc":{"type":"NOT_AN_ENUM_VALUE"}}]}');
  });

  test('fields set to null or undefined are left out, whatever their type (map, list, enum, message, scalar)', () => {
    expect(sanitizedJson('csi.v1.CreateSnapshotRequest', { name: null, source_volume_id: undefined, parameters: null, secrets: null })).toBe('{}');
    expect(sanitizedJson('csi.v1.CreateVolumeGroupSnapshotRequest', { source_volume_ids: null, name: 'g' })).toBe('{"name":"g"}');
    const caps = (type: unknown) => sanitizedJson('csi.v1.ControllerGetCapabilitiesResponse', { capabilities: [{ rpc: { type } }] });
    expect(caps(null)).toBe('{"capabilities":[{"rpc":{}}]}');
    expect(caps(undefined)).toBe('{"capabilities":[{"rpc":{}}]}');
    expect(sanitizedJson('csi.v1.CreateSnapshotResponse', { snapshot: null })).toBe('{}');
  });

  test('a hole in a list still shows where it is, as null', () => {
    expect(sanitizedJson('csi.v1.CreateVolumeGroupSnapshotRequest', { source_volume_ids: ['v1', undefined, 'v3'] })).toBe('{"source_volume_ids":["v1",null,"v3"]}');
  });

  test('numbers and strings print as JSON; a message that is not an object prints as {}', () => {
    expect(sanitizedJson('csi.v1.ListSnapshotsRequest', { starting_token: 't', max_entries: 3 })).toBe('{"max_entries":3,"starting_token":"t"}');
    expect(sanitizedJson('csi.v1.CreateSnapshotRequest', 'text')).toBe('{}');
    expect(sanitizedJson('csi.v1.CreateSnapshotRequest', null)).toBe('{}');
    expect(sanitizedJson('csi.v1.CreateSnapshotRequest', undefined)).toBe('{}');
    expect(sanitizedJson('csi.v1.ListSnapshotsRequest', { max_entries: 0, starting_token: '' })).toBe('{}');
  });
});
