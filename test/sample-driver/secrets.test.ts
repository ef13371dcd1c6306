import { status } from '@grpc/grpc-js';
import { expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { sha256Hex, startSampleDriver } from '../../src/testing/sample-driver/index.js';
import { CsiClient, expectCode, MOUNT_RW } from './csi-client.js';

test('secret values never reach the log, even at --v 10, and the journal holds only their sha256', async () => {
  const token = `tok-${randomBytes(12).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const secrets = { token, password };
  const driver = await startSampleDriver({ verbosity: 10 });
  const csi = new CsiClient(driver.endpoint);
  try {
    // Every RPC that carries secrets, on success and on error paths.
    const vol = (await csi.createVolume({ name: 'pv', volume_capabilities: [MOUNT_RW], secrets })).volume?.volume_id as string;
    const vol2 = (await csi.createVolume({ name: 'pv2', volume_capabilities: [MOUNT_RW], secrets })).volume?.volume_id as string;
    await expectCode(csi.createVolume({ name: 'pv', volume_capabilities: [MOUNT_RW], parameters: { a: 'b' }, secrets }), status.ALREADY_EXISTS);
    await csi.validateVolumeCapabilities({ volume_id: vol, volume_capabilities: [MOUNT_RW], secrets });
    const snap = (await csi.createSnapshot({ name: 's', source_volume_id: vol, secrets })).snapshot?.snapshot_id as string;
    await expectCode(csi.createSnapshot({ name: 's', source_volume_id: vol2, secrets }), status.ALREADY_EXISTS);
    await expectCode(csi.createSnapshot({ source_volume_id: vol, secrets }), status.INVALID_ARGUMENT);
    await csi.listSnapshots({ snapshot_id: snap, secrets });
    await expectCode(csi.listSnapshots({ starting_token: 'bad', secrets }), status.ABORTED);
    const group = (await csi.createGroup({ name: 'g', source_volume_ids: [vol, vol2], secrets })).group_snapshot;
    const memberIds = group?.snapshots.map((s) => s.snapshot_id) as string[];
    await csi.getGroup({ group_snapshot_id: group?.group_snapshot_id, snapshot_ids: memberIds, secrets });
    await expectCode(csi.deleteSnapshot({ snapshot_id: memberIds[0], secrets }), status.INVALID_ARGUMENT);
    await driver.setFaults({ errors: { DeleteSnapshot: { code: 'INTERNAL', times: 1 } } });
    await expectCode(csi.deleteSnapshot({ snapshot_id: snap, secrets }), status.INTERNAL);
    await csi.deleteSnapshot({ snapshot_id: snap, secrets });
    await csi.deleteGroup({ group_snapshot_id: group?.group_snapshot_id, snapshot_ids: memberIds, secrets });
    await csi.deleteVolume({ volume_id: vol, secrets });

    const calls = await driver.calls();
    const withSecrets = calls.filter((c) => c.request.secrets !== undefined);
    expect(withSecrets.map((c) => c.method)).toEqual([
      'CreateVolume',
      'CreateVolume',
      'CreateVolume',
      'ValidateVolumeCapabilities',
      'CreateSnapshot',
      'CreateSnapshot',
      'CreateSnapshot',
      'ListSnapshots',
      'ListSnapshots',
      'CreateVolumeGroupSnapshot',
      'GetVolumeGroupSnapshot',
      'DeleteSnapshot',
      'DeleteSnapshot',
      'DeleteSnapshot',
      'DeleteVolumeGroupSnapshot',
      'DeleteVolume',
    ]);
    for (const call of withSecrets) expect(call.request.secrets).toEqual({ token: sha256Hex(token), password: sha256Hex(password) });
    const journalText = JSON.stringify(calls);
    expect(journalText).not.toContain(token);
    expect(journalText).not.toContain(password);

    expect((await driver.stop()).code).toBe(0);
    const { stdout, stderr } = driver.output();
    // The log did run at high verbosity and named the calls...
    expect(stderr).toContain('method="CreateVolumeGroupSnapshot"');
    expect(stderr).toContain(`snapshot_id="${snap}"`);
    // ...but never a secret value.
    for (const text of [stdout, stderr]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(password);
    }
  } finally {
    csi.close();
    await driver.dispose();
  }
});
