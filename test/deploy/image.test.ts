import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsiConnection } from '../../src/csi/connection.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { RestClient } from '../../src/kube/rest.js';
import { silentLogger } from '../../src/observe/logger.js';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { ANN_BEING_CREATED, FINALIZER_CONTENT } from '../../src/sidecar/keys.js';
import type { VolumeSnapshotContent } from '../../src/sidecar/types.js';
import { startTestApiServer, type TestApiServer } from '../../src/testing/apiserver/index.js';
import { DEFAULT_DRIVER_NAME, startSampleDriver, type SampleDriverProcess } from '../../src/testing/sample-driver/index.js';
import { packageRoot } from '../../src/util/package-root.js';
import { listTree, type EmulatedImage } from '../helpers/dockerfile.js';
import { buildImageTree, projectDockerfile } from '../helpers/image.js';
import { freeLocalPort } from '../helpers/ports.js';
import { RunningProcess, waitFor } from '../helpers/process.js';
import { uidFor } from '../helpers/uid.js';

// The image, built from the Dockerfile without a container engine (test/helpers/dockerfile.ts): the
// production install (`npm ci --omit=dev` from the npm cache) and the runtime stage run as written,
// from a copy of only the files the Dockerfile copies past .dockerignore; the compile stage's output
// is this checkout's dist/ (see compiledOutputFromCheckout; the real-cluster deploy test compiles
// for real). Then the image's ENTRYPOINT runs with a chart's arguments, as the image's USER, from a
// tree nobody may write to, against the API test server and the sample driver.

const VSC_PATH = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
const CLASS_PATH = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses';

let scratch: string;
let image: EmulatedImage;
let app: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'csi-snapshotter-image-'));
  image = buildImageTree(join(scratch, 'build'), { compile: false });
  app = image.workdir;
}, 120_000);

afterAll(() => {
  if (!scratch) return;
  // The test made the tree read-only; make it removable again.
  chmodSync(scratch, 0o700);
  for (const dir of [scratch, ...walkDirs(scratch)]) chmodSync(dir, 0o755);
  rmSync(scratch, { recursive: true, force: true });
});

function walkDirs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      const full = join(dir, entry.name);
      out.push(full, ...walkDirs(full));
    }
  }
  return out;
}

/** Removes every write permission bit under `dir`, folders last so that it can still walk them. */
function makeReadOnly(dir: string): void {
  for (const file of listTree(dir)) {
    const full = join(dir, file);
    const stat = lstatSync(full);
    if (stat.isFile()) chmodSync(full, stat.mode & 0o555);
  }
  for (const folder of [...walkDirs(dir).reverse(), dir]) chmodSync(folder, 0o555);
}

function treeBytes(dir: string): number {
  let total = 0;
  for (const file of listTree(dir)) {
    const stat = lstatSync(join(dir, file));
    if (stat.isFile()) total += stat.size;
  }
  return total;
}

describe('the runtime stage', () => {
  test('holds package.json, the production dependencies, the proto and the compiled sidecar: no test kit, no sources, no dev tools', () => {
    expect(readdirSync(app).sort()).toEqual(['dist', 'node_modules', 'package.json', 'proto']);
    // The sidecar as one bundled file (scripts/bundle.mjs), not the compiled tree.
    expect(listTree(join(app, 'dist'))).toEqual(['bundle/csi-snapshotter.js']);
    // The test kit (API test server, sample driver, demo) is not in the image, nor are any tests.
    expect(existsSync(join(app, 'dist', 'src', 'testing'))).toBe(false);
    expect(listTree(app).filter((f) => /(^|\/)(testing|test)\//.test(f) && !f.startsWith('node_modules/'))).toEqual([]);
    expect(listTree(join(app, 'dist')).filter((f) => f.endsWith('.ts'))).toEqual([]);

    // Exactly the lockfile's production packages: none that only development needs (jest,
    // typescript, eslint, stryker and what they pull in), every one the sidecar needs.
    const lock = JSON.parse(readFileSync(join(packageRoot(), 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
    const locked = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const installed = (path: string): boolean => existsSync(join(app, path, 'package.json'));
    expect(locked.filter(([path, entry]) => entry.dev === true && installed(path)).map(([path]) => path)).toEqual([]);
    expect(locked.filter(([path, entry]) => entry.dev !== true && entry.optional !== true && !installed(path)).map(([path]) => path)).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    // Not vacuous: every direct dependency is a production package of the lock file, and is installed.
    const production = locked.filter(([, entry]) => entry.dev !== true).map(([path]) => path);
    expect(Object.keys(pkg.dependencies).filter((name) => !production.includes(`node_modules/${name}`) || !installed(`node_modules/${name}`))).toEqual([]);
    // Only tests use @kubernetes/client-node (it loads every generated API at import): not in the image.
    expect(installed('node_modules/@kubernetes/client-node')).toBe(false);
    // Declarations and source maps of the dependencies are removed; Node never reads them.
    expect(listTree(join(app, 'node_modules')).filter((f) => /\.(d\.[mc]?ts|map)$/.test(f))).toEqual([]);

    // Its package.json names no bin (the test-kit programs), scripts or devDependencies.
    const runtimePkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(runtimePkg).not.toHaveProperty('bin');
    expect(runtimePkg).not.toHaveProperty('scripts');
    expect(runtimePkg).not.toHaveProperty('devDependencies');
    expect(runtimePkg).toMatchObject({ type: 'module', dependencies: pkg.dependencies });

    // The build context: only what .dockerignore lets through (no tests, no node_modules, no dist).
    expect(image.contextFiles.filter((f) => /^(test|node_modules|dist|bench|docs)\//.test(f))).toEqual([]);
    expect(image.contextFiles.filter((f) => f.startsWith('src/csi/generated/'))).toEqual([]);

    // The application layer (files only; see the README's Deploy section for the image size).
    const bytes = treeBytes(app);
    console.log(`runtime layer: ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${listTree(app).length} files`);
    expect(bytes).toBeLessThan(64 * 1024 * 1024);
  });

  test("is based on the Node the tests run on: the `node` devDependency's version, a slim Debian bookworm image", () => {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const pinned = pkg.devDependencies.node as string;
    expect(pinned).toMatch(/^24\.\d+\.\d+$/);
    expect(projectDockerfile().globalArgs.NODE_IMAGE).toBe(`node:${pinned}-bookworm-slim`);
    // npm scripts (and so every test) run on that devDependency: it is first on their PATH.
    expect(process.version).toBe(`v${pinned}`);
  });

  test('runs as a numeric non-root user, with the sidecar as exec-form entrypoint and no CMD', () => {
    expect(image.user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(image.user?.split(':')[0])).toBeGreaterThan(0);
    // Node runs with the sidecar's V8 options (src/node-flags.ts), the same the benchmarks start it with.
    expect(image.entrypoint).toEqual(['node', ...NODE_FLAGS, join(app, 'dist', 'bundle', 'csi-snapshotter.js')]);
    expect(image.cmd).toBeUndefined();
  });
});

describe('the entrypoint', () => {
  let api: TestApiServer | undefined;
  let driver: SampleDriverProcess | undefined;
  let sidecar: RunningProcess | undefined;
  let csi: CsiConnection | undefined;

  afterAll(async () => {
    await sidecar?.stop();
    csi?.close();
    await driver?.dispose();
    await api?.stop();
  });

  test("takes a chart's arguments unchanged, as the image user from a read-only tree, and cuts a snapshot", async () => {
    // Reachable by the image's user: a folder everyone may enter, holding the socket and kubeconfig.
    const shared = join(scratch, 'shared');
    mkdirSync(shared, { recursive: true });
    chmodSync(scratch, 0o755);
    chmodSync(shared, 0o755);
    const kubeconfig = join(shared, 'kubeconfig');
    api = await startTestApiServer({ kubeconfigPath: kubeconfig });
    chmodSync(kubeconfig, 0o644);
    const socketPath = join(shared, 'csi.sock');
    driver = await startSampleDriver({ socketPath });
    chmodSync(socketPath, 0o666);

    // Nobody may write to the image tree. Root ignores permission bits, so as root the sidecar runs
    // as the image's USER (as in a container); otherwise as this user, who cannot write either.
    makeReadOnly(image.root);
    const [uid, gid] = (image.user ?? '').split(':').map(Number);
    const asImageUser = process.getuid?.() === 0 ? { uid, gid: gid ?? uid } : {};
    const noWrites = join(scratch, 'read-only-home');
    mkdirSync(noWrites);
    chmodSync(noWrites, 0o555);

    // A chart's args (upstream's example deployment plus a metrics endpoint); --kubeconfig since
    // this is not a pod.
    const port = await freeLocalPort();
    const args = [`--csi-address=${socketPath}`, '--v=5', '--leader-election=false', `--http-endpoint=127.0.0.1:${port}`, `--kubeconfig=${kubeconfig}`];
    const [command, ...entrypointArgs] = image.entrypoint;
    sidecar = new RunningProcess(
      spawn(command === 'node' ? process.execPath : command, [...entrypointArgs, ...args], {
        cwd: '/',
        env: { PATH: process.env.PATH ?? '', HOME: noWrites, TMPDIR: noWrites, ...image.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        ...asImageUser,
      }),
    );
    await sidecar.waitForOutput(/VolumeSnapshotContent caches synced/, 30_000);
    if ('uid' in asImageUser) {
      const status = readFileSync(`/proc/${sidecar.child.pid}/status`, 'utf8');
      expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
    }

    const rest = new RestClient({ kubeConfig: loadKubeConfig(kubeconfig) });
    csi = await CsiConnection.connect({ address: socketPath, log: silentLogger });
    const volume = await csi.call('/csi.v1.Controller/CreateVolume', { name: 'vol-image', volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, new Date(Date.now() + 10_000));
    await rest.request({ method: 'POST', path: CLASS_PATH, body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'image' }, driver: DEFAULT_DRIVER_NAME, deletionPolicy: 'Delete' } });
    await rest.request({
      method: 'POST',
      path: VSC_PATH,
      body: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        metadata: { name: 'snapcontent-image', finalizers: [FINALIZER_CONTENT] },
        spec: {
          volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', name: 'vs-image', namespace: 'default', uid: uidFor('snapcontent-image') },
          deletionPolicy: 'Delete',
          driver: DEFAULT_DRIVER_NAME,
          volumeSnapshotClassName: 'image',
          source: { volumeHandle: volume.volume?.volume_id },
        },
      },
    });
    const ready = await waitFor('the content to be ready and unmarked', async () => {
      const c = await rest.request<VolumeSnapshotContent>({ method: 'GET', path: `${VSC_PATH}/snapcontent-image` });
      return c.status?.readyToUse === true && c.metadata.annotations?.[ANN_BEING_CREATED] === undefined ? c : undefined;
    });
    expect(ready.status?.snapshotHandle).toMatch(/\S/);
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('csi_sidecar_operations_seconds');
    rest.close();

    sidecar.child.kill('SIGTERM');
    expect(await sidecar.waitForExit()).toEqual({ code: 0, signal: null });
    expect(sidecar.output).not.toMatch(/EACCES|EROFS|permission denied/i);
    // Nothing appeared in the tree (it could not have: the point is that nothing needed to).
    expect(statSync(app).mode & 0o222).toBe(0);
  });
});
