import { afterEach, describe, expect, test } from '@jest/globals';
import { Writable } from 'node:stream';
import { loadKubeConfig } from '../../../src/kube/config.js';
import { RestClient } from '../../../src/kube/rest.js';
import { createLogger } from '../../../src/observe/logger.js';
import { alphaFlavour, chooseGroupSnapshotVersion } from '../../../src/sidecar/group/discovery.js';
import { startTestApiServer, type GroupVersion, type TestApiServer, type TestApiServerOptions } from '../../../src/testing/apiserver/index.js';

// Start-up discovery of the group snapshot API against the API test server over HTTPS: which
// version (and, for v1alpha1, which of its two schemas) the sidecar uses, what it logs, and that a
// group API it cannot use costs one warning and nothing else.

let server: TestApiServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function discover(options: TestApiServerOptions): Promise<{ mode: unknown; lines: string[]; rest: RestClient }> {
  server = await startTestApiServer(options);
  const rest = new RestClient({ kubeConfig: loadKubeConfig(server.kubeconfigPath) });
  let text = '';
  const stream = new Writable({ write: (chunk: Buffer, _enc, done) => { text += chunk.toString(); done(); } });
  const log = createLogger({ stream, format: 'json' });
  const mode = await chooseGroupSnapshotVersion(rest, 10_000, log);
  await log.flush();
  return { mode, lines: text.split('\n').filter((l) => l.trim() !== ''), rest };
}

/** In the JSON format, info lines carry their verbosity `v`; warnings and errors do not. */
const isWarning = (line: string): boolean => !('v' in (JSON.parse(line) as Record<string, unknown>));

describe('the group API version and schema the sidecar uses', () => {
  test.each<[GroupVersion[], string]>([
    [['v1beta1', 'v1beta2', 'v1'], 'v1'],
    [['v1beta1', 'v1beta2'], 'v1beta2'],
    [['v1beta1'], 'v1beta1'],
    [['v1alpha1'], 'v1alpha1-v8'],
    [['v1alpha1-v7'], 'v1alpha1-v7'],
  ])('served %j → %s, logged once', async (served, expected) => {
    const { mode, lines } = await discover({ groupSnapshotVersions: served });
    expect(mode).toBe(expected);
    const serving = lines.filter((l) => l.includes('Serving VolumeGroupSnapshotContents'));
    expect(serving).toHaveLength(1);
    expect(lines.filter(isWarning)).toEqual([]);
    const entry = JSON.parse(serving[0] as string) as Record<string, unknown>;
    expect(entry.version).toBe(`groupsnapshot.storage.k8s.io/${expected.startsWith('v1alpha1') ? 'v1alpha1' : expected}`);
    if (expected === 'v1alpha1-v7') expect(entry).toMatchObject({ schema: 'external-snapshotter v7.0', membersField: 'volumeSnapshotContentRefList' });
    if (expected === 'v1alpha1-v8') expect(entry).toMatchObject({ schema: 'external-snapshotter v8.0-v8.1', membersField: 'pvVolumeSnapshotContentList' });
    if (!expected.startsWith('v1alpha1')) expect(entry.schema).toBeUndefined();
  });

  test('the flavour is read from the OpenAPI v3 document; a server that does not publish v1alpha1 there is an error naming it', async () => {
    server = await startTestApiServer({ groupSnapshotVersions: ['v1'] });
    const rest = new RestClient({ kubeConfig: loadKubeConfig(server.kubeconfigPath) });
    await expect(alphaFlavour(rest, AbortSignal.timeout(10_000))).rejects.toThrow("the API server's OpenAPI v3 document does not list apis/groupsnapshot.storage.k8s.io/v1alpha1");
  });

  test('without the group API: one warning, group snapshots off', async () => {
    const { mode, lines } = await discover({ groupSnapshotVersions: [] });
    expect(mode).toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('disabling the VolumeGroupSnapshot feature');
    expect(isWarning(lines[0] as string)).toBe(true);
  });

  test('v1alpha1 that cannot be listed (RBAC missing): one warning naming the refusal, group snapshots off', async () => {
    const { mode, lines } = await discover({ groupSnapshotVersions: ['v1alpha1'], deny: [{ verb: 'list', group: 'groupsnapshot.storage.k8s.io', resource: 'volumegroupsnapshotcontents' }] });
    expect(mode).toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('disabling the VolumeGroupSnapshot feature');
    expect(lines[0]).toContain('forbidden');
    expect(isWarning(lines[0] as string)).toBe(true);
  });
});
