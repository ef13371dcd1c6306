import { describe, expect, test } from '@jest/globals';
import { alphaMemberSnapshotIds, memberContentName, memberIdsAnnotation, memberSnapshotHandle, recordedMemberIds } from '../../../src/sidecar/group/members.js';
import type { VolumeSnapshotContent } from '../../../src/sidecar/types.js';
import type { VolumeGroupSnapshotContent } from '../../../src/sidecar/group/types.js';
import { ANN_MEMBER_SNAPSHOT_IDS } from '../../../src/sidecar/keys.js';

// The member snapshot ids a v1alpha1 group content records for its own deletion: what is read back
// from the annotation, and which listed members still need their member content asked.
const UID = 'group-uid';

function group(annotation: string | undefined, members: Array<{ contentName?: string; snapshotHandle?: string }> = []): VolumeGroupSnapshotContent {
  return {
    metadata: { name: 'g', uid: UID, ...(annotation !== undefined ? { annotations: { [ANN_MEMBER_SNAPSHOT_IDS]: annotation } } : {}) },
    spec: { driver: 'd', deletionPolicy: 'Delete', source: {}, volumeGroupSnapshotRef: {} },
    status: { members: members.map((m) => ({ volumeHandle: '', snapshotHandle: m.snapshotHandle ?? '', ...(m.contentName ? { contentName: m.contentName } : {}) })) },
  } as unknown as VolumeGroupSnapshotContent;
}

describe('recordedMemberIds', () => {
  test('reads back what memberIdsAnnotation wrote, by source volume', () => {
    const text = memberIdsAnnotation([{ sourceVolumeId: 'v1', snapshotId: 's1' }, { sourceVolumeId: 'v2', snapshotId: 's2' }] as never);
    expect([...recordedMemberIds(group(text))]).toEqual([['v1', 's1'], ['v2', 's2']]);
  });

  test.each([
    ['no annotation', undefined],
    ['an empty one', ''],
    ['text that is not JSON', '{not json'],
    ['JSON null', 'null'],
    ['a JSON array', '["s1"]'],
    ['a JSON string', '"s1"'],
  ])('%s: no record, so the member contents are asked', (_label, annotation) => {
    expect(recordedMemberIds(group(annotation)).size).toBe(0);
  });

  test('entries whose id is not a non-empty string are left out, the others kept', () => {
    expect([...recordedMemberIds(group(JSON.stringify({ v1: 's1', v2: '', v3: 7, v4: null, v5: { id: 's5' } })))]).toEqual([['v1', 's1']]);
  });
});

describe('alphaMemberSnapshotIds', () => {
  test('the recorded ids, then each listed member the record does not cover, once; members without a content name add nothing', async () => {
    const members = [
      { contentName: memberContentName(UID, 'v1'), snapshotHandle: 'from-status-v1' },
      { contentName: 'snapcontent-other', snapshotHandle: 's2' },
      { contentName: 'snapcontent-again', snapshotHandle: 's1' },
      { snapshotHandle: 'no-content-name' },
    ];
    expect(await alphaMemberSnapshotIds(group(JSON.stringify({ v1: 's1' }), members), undefined)).toEqual(['s1', 's2']);
  });

  test('without a record, every listed member counts', async () => {
    const members = [{ contentName: memberContentName(UID, 'v1'), snapshotHandle: 'a' }, { contentName: memberContentName(UID, 'v2'), snapshotHandle: 'b' }];
    expect(await alphaMemberSnapshotIds(group(undefined, members), undefined)).toEqual(['a', 'b']);
  });
});

describe('alphaMemberSnapshotIds of a group content without a UID', () => {
  test('the record covers the members named after the empty UID', async () => {
    const noUid = group(JSON.stringify({ v1: 's1' }), [{ contentName: memberContentName('', 'v1'), snapshotHandle: 'stale-s1' }]);
    delete (noUid.metadata as { uid?: string }).uid;
    expect(await alphaMemberSnapshotIds(noUid, undefined)).toEqual(['s1']);
  });
});

describe('memberSnapshotHandle', () => {
  const content = (spec: string | undefined, status?: { snapshotHandle?: string }) =>
    ({ metadata: { name: 'c' }, spec: { source: spec === undefined ? {} : { snapshotHandle: spec } }, ...(status ? { status } : {}) }) as unknown as VolumeSnapshotContent;

  test.each([
    ['no content', undefined, undefined],
    ['the status handle first', content('spec-id', { snapshotHandle: 'status-id' }), 'status-id'],
    ['no status: the spec handle', content('spec-id'), 'spec-id'],
    ['a status without a handle: the spec handle', content('spec-id', {}), 'spec-id'],
    ['a cleared status handle: the spec handle', content('spec-id', { snapshotHandle: '' }), 'spec-id'],
    ['no handle anywhere', content(undefined, {}), undefined],
    ['empty handles', content('', { snapshotHandle: '' }), undefined],
  ])('%s', (_label, c, expected) => {
    expect(memberSnapshotHandle(c)).toBe(expected);
  });
});
