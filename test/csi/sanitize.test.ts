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
