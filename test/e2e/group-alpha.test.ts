import { afterEach, describe, expect, test } from '@jest/globals';
import { Env } from './env.js';

// The sidecar as a separate process against the API test server serving one of the two v1alpha1
// group snapshot schemas: which API and schema it says it uses, the old switch, and single
// snapshots served whatever happens to the group API.
let env: Env | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

/** Starts the sidecar with `flags` and cuts one single snapshot: single snapshots never wait on the group API. */
async function singleSnapshotServed(e: Env, flags: string[]): Promise<string> {
  await e.createClass('gold');
  e.startSidecar(flags);
  await e.sidecar?.waitForOutput(/VolumeSnapshotContent caches synced/);
  const volume = await e.createVolume('single-1');
  await e.createContent({ name: 'snapcontent-single', volumeHandle: volume, className: 'gold' });
  await e.waitForContent('snapcontent-single', 'readyToUse', (c) => c.status?.readyToUse === true);
  return e.sidecar?.output ?? '';
}

describe('v1alpha1 clusters', () => {
  test.each([
    ['v1alpha1-v7' as const, /Serving VolumeGroupSnapshotContents.*groupsnapshot\.storage\.k8s\.io\/v1alpha1.*external-snapshotter v7\.0.*volumeSnapshotContentRefList/],
    ['v1alpha1' as const, /Serving VolumeGroupSnapshotContents.*groupsnapshot\.storage\.k8s\.io\/v1alpha1.*external-snapshotter v8\.0-v8\.1.*pvVolumeSnapshotContentList/],
  ])('served %s: the sidecar logs once which API and schema it uses and serves group contents there', async (served, line) => {
    env = await Env.start({ groupSnapshotVersions: [served] });
    const output = await singleSnapshotServed(env, []);
    await env.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    expect(output.match(/Serving VolumeGroupSnapshotContents/g)).toHaveLength(1);
    expect(output).toMatch(line);
    expect(output).not.toMatch(/disabling the VolumeGroupSnapshot feature/);
  });

  test('--enable-volume-group-snapshots (the switch charts of that era pass) turns group snapshots on, =false off; single snapshots are served either way', async () => {
    env = await Env.start({ groupSnapshotVersions: ['v1alpha1-v7'] });
    const on = await singleSnapshotServed(env, ['--enable-volume-group-snapshots']);
    await env.sidecar?.waitForOutput(/VolumeGroupSnapshotContent caches synced/);
    expect(on).toMatch(/Serving VolumeGroupSnapshotContents.*v1alpha1/);
    await env.stop();

    env = await Env.start({ groupSnapshotVersions: ['v1alpha1-v7'] });
    const off = await singleSnapshotServed(env, ['--enable-volume-group-snapshots=false']);
    expect(off).toMatch(/Deprecated flag: --enable-volume-group-snapshots/);
    expect(off).not.toMatch(/Serving VolumeGroupSnapshotContents/);
    expect(off).not.toMatch(/VolumeGroupSnapshotContent caches synced/);
    // No group request at all: the switch is off before discovery.
    expect(env.api.requests.all({ group: 'groupsnapshot.storage.k8s.io' })).toEqual([]);
  });

  test('v1alpha1 the sidecar may not list: one warning, single snapshots served', async () => {
    env = await Env.start({ groupSnapshotVersions: ['v1alpha1'], api: { deny: [{ verb: 'list', group: 'groupsnapshot.storage.k8s.io', resource: 'volumegroupsnapshotclasses' }] } });
    const output = await singleSnapshotServed(env, []);
    expect(output.match(/disabling the VolumeGroupSnapshot feature/g)).toHaveLength(1);
    expect(output).not.toMatch(/VolumeGroupSnapshotContent caches synced/);
  });
});
