import { describe, expect, test } from '@jest/globals';
import { csiGrpc, csiReflection } from '../../src/csi/proto.js';

describe('CSI proto', () => {
  test('serves the csi.v1 method paths the Go sidecar and drivers use', () => {
    const v1 = csiGrpc().csi.v1;
    const paths = [v1.Identity, v1.Controller, v1.GroupController].flatMap((svc) =>
      Object.values(svc.service).map((m) => m.path),
    );
    expect(paths).toEqual(
      expect.arrayContaining([
        '/csi.v1.Identity/GetPluginInfo',
        '/csi.v1.Identity/Probe',
        '/csi.v1.Controller/ControllerGetCapabilities',
        '/csi.v1.Controller/CreateSnapshot',
        '/csi.v1.Controller/DeleteSnapshot',
        '/csi.v1.Controller/ListSnapshots',
        '/csi.v1.GroupController/GroupControllerGetCapabilities',
        '/csi.v1.GroupController/CreateVolumeGroupSnapshot',
        '/csi.v1.GroupController/DeleteVolumeGroupSnapshot',
        '/csi.v1.GroupController/GetVolumeGroupSnapshot',
      ]),
    );
  });

  test('keeps the csi_secret option on every secrets field of the messages the sidecar sends', () => {
    const root = csiReflection();
    for (const message of [
      'CreateSnapshotRequest',
      'DeleteSnapshotRequest',
      'ListSnapshotsRequest',
      'CreateVolumeGroupSnapshotRequest',
      'DeleteVolumeGroupSnapshotRequest',
      'GetVolumeGroupSnapshotRequest',
    ]) {
      const field = root.lookupType(`csi.v1.${message}`).fields.secrets;
      expect(field?.options?.['(csi_secret)']).toBe(true);
    }
    // A field without the option must not look like a secret.
    expect(root.lookupType('csi.v1.CreateSnapshotRequest').fields.parameters?.options?.['(csi_secret)']).toBeUndefined();
  });

  test('int64 fields come out as decimal strings so sizes and times keep every digit', () => {
    const type = csiReflection().lookupType('csi.v1.Snapshot');
    const bytes = type.encode(type.fromObject({ size_bytes: '9007199254740993', snapshot_id: 's' })).finish();
    const decoded = type.toObject(type.decode(bytes), { longs: String });
    expect(decoded.size_bytes).toBe('9007199254740993');
  });
});
