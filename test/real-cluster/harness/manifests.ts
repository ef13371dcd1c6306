import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../../src/util/package-root.js';

const execFileAsync = promisify(execFile);

/** The kustomization users apply: manifests/ at the repository root. */
export const MANIFESTS_DIR = join(packageRoot(), 'manifests');

/** The optional component that lets the sidecar read the Secrets classes name. */
export const SECRETS_COMPONENT = 'components/snapshotter-secrets';

/** The optional component for clusters that serve group snapshots only at v1alpha1 (member objects). */
export const V1ALPHA1_COMPONENT = 'components/group-snapshots-v1alpha1';

export interface OverlayOptions {
  namespace: string;
  /** Appended to every name (cluster-scoped ones included), so overlays do not overwrite each other. */
  nameSuffix?: string;
  /** Components of manifests/ to enable, relative to it. */
  components?: readonly string[];
}

/**
 * Writes a kustomization in `dir` that uses manifests/ as its base, the way a user's overlay
 * would: kustomize only accepts bases by relative path, so the paths are relative to `dir`.
 */
export function writeOverlay(dir: string, options: OverlayOptions): void {
  mkdirSync(dir, { recursive: true });
  const base = relative(dir, MANIFESTS_DIR);
  const lines = [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    `namespace: ${options.namespace}`,
    ...(options.nameSuffix ? [`nameSuffix: ${options.nameSuffix}`] : []),
    'resources:',
    `  - ${base}`,
    ...(options.components?.length ? ['components:', ...options.components.map((c) => `  - ${join(base, c)}`)] : []),
    '',
  ];
  writeFileSync(join(dir, 'kustomization.yaml'), lines.join('\n'));
}

/** `kubectl kustomize DIR` with the harness-built kubectl (no cluster needed). */
export async function kustomize(kubectlPath: string, dir: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(kubectlPath, ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const detail = error as { stderr?: string; message: string };
    throw new Error(`kubectl kustomize ${dir} failed: ${detail.stderr || detail.message}`);
  }
}

/**
 * The Go sidecar's own RBAC file (deploy/kubernetes/csi-snapshotter/rbac-csi-snapshotter.yaml of
 * the external-snapshotter module in the Go module cache). Upstream ships its Secret rule commented
 * out as optional; `withOptionalSecrets` uncomments those lines (`#` and the two spaces after it),
 * as its comment tells users to.
 */
export function upstreamRbacText(snapshotterDir: string, options: { withOptionalSecrets: boolean }): string {
  const text = readFileSync(join(snapshotterDir, 'deploy', 'kubernetes', 'csi-snapshotter', 'rbac-csi-snapshotter.yaml'), 'utf8');
  if (!options.withOptionalSecrets) return text;
  const rule = /^(\s*)# {2}((?:- )?\s*(?:apiGroups|resources|verbs):.*)$/;
  const lines = text.split('\n');
  const uncommented = lines.map((line) => line.replace(rule, '$1$2'));
  if (uncommented.filter((line, i) => line !== lines[i]).length !== 3) throw new Error('expected the three commented lines of the optional Secret rule in the upstream RBAC file');
  return uncommented.join('\n');
}

/**
 * A kustomization in `dir` holding a copy of the upstream RBAC (with its optional Secret rule),
 * every name suffixed so that it sits beside manifests/ without overwriting it.
 */
export function writeUpstreamRbacOverlay(dir: string, snapshotterDir: string, options: { namespace: string; nameSuffix: string }): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rbac-csi-snapshotter.yaml'), upstreamRbacText(snapshotterDir, { withOptionalSecrets: true }));
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    ['apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', `namespace: ${options.namespace}`, `nameSuffix: ${options.nameSuffix}`, 'resources:', '  - rbac-csi-snapshotter.yaml', ''].join('\n'),
  );
}
