import { expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../src/util/package-root.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { RestClient } from '../../src/kube/rest.js';
import type { VolumeSnapshotContent } from '../../src/sidecar/types.js';
import { RunningProcess } from '../helpers/process.js';

test('the demo takes a snapshot to ready on the embedded API server and driver, deletes it, and exits 0 with --once', async () => {
  const demo = new RunningProcess(spawn(process.execPath, [join(packageRoot(), 'dist/src/testing/demo.js'), '--once'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const { code } = await demo.waitForExit(90_000);
  expect(code).toBe(0);
  expect(demo.stdout).toMatch(/Ready\s+readyToUse=true restoreSize=27 creationTime=\d{19} \(Unix ns\)/);
  expect(demo.stdout).toContain('hello.txt: Hello from the demo volume');
  expect(demo.stdout).toMatch(/Deleted\s+storage snapshot deleted/);
  expect(demo.stdout).toMatch(/Metrics\s+http:\/\/127\.0\.0\.1:\d+\/metrics/);
  expect(demo.stdout).toMatch(/API server\s+https:\/\/127\.0\.0\.1:\d+ \(kubeconfig \/.+\)/);
  expect(demo.stdout).toContain('Kept            VolumeSnapshotContent snapcontent-kept, ready, left in place');
  expect(demo.stdout).toContain('Demo finished.');
});

test('without --once the demo keeps running and what it prints is true: the metrics URL serves, the kubeconfig reaches the kept content', async () => {
  const demo = new RunningProcess(spawn(process.execPath, [join(packageRoot(), 'dist/src/testing/demo.js')], { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    await demo.waitForOutput(/Press Ctrl-C to stop\./, 90_000);
    const metricsUrl = (demo.stdout.match(/Metrics\s+(http:\/\/\S+)/) as RegExpMatchArray)[1] as string;
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(/csi_sidecar_operations_seconds_count\{[^}]*method_name="\/csi\.v1\.Controller\/CreateSnapshot"[^}]*\} 2/);
    const kubeconfig = (demo.stdout.match(/\(kubeconfig (\/\S+)\)/) as RegExpMatchArray)[1] as string;
    const rest = new RestClient({ kubeConfig: loadKubeConfig(kubeconfig) });
    const kept = await rest.request<VolumeSnapshotContent>({ method: 'GET', path: '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/snapcontent-kept' });
    expect(kept.status?.readyToUse).toBe(true);
    expect(demo.stdout).toMatch(/ {2}node \S+csi-snapshotter\.js explain snapcontent-kept --csi-address=\S+ --kubeconfig=\S+/);
    demo.child.kill('SIGINT');
    expect((await demo.waitForExit(30_000)).code).toBe(0);
  } finally {
    await demo.stop();
  }
});
