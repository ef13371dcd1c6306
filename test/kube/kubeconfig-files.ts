import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import type { ClusterConfig } from '../../src/kube/cluster-config.js';
import { RestClient } from '../../src/kube/rest.js';
import type { Seen } from './recording-server.js';

/** Temporary directories for kubeconfigs and the files they name; removed by `removeAll`. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(): string {
    const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-test-'));
    this.dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

export const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

export interface KubeconfigParts {
  cluster: Record<string, unknown>;
  /** null: the context names no user. */
  user?: Record<string, unknown> | null;
  /** Replaces or adds top-level fields (contexts, current-context, ...). */
  root?: Record<string, unknown>;
}

/** Writes a kubeconfig with one cluster `c`, one user `u` and the current context `ctx` using both. */
export function writeKubeconfig(dir: string, parts: KubeconfigParts, name = 'config'): string {
  const path = join(dir, name);
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: parts.cluster }],
    users: parts.user === null ? [] : [{ name: 'u', user: parts.user ?? {} }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', ...(parts.user === null ? {} : { user: 'u' }) } }],
    'current-context': 'ctx',
    ...parts.root,
  };
  writeFileSync(path, dump(doc), { mode: 0o600 });
  return path;
}

/** One GET through the project's REST client; the recording server answers with what it saw. */
export async function seenBy(cluster: ClusterConfig): Promise<Seen> {
  const client = new RestClient({ kubeConfig: cluster });
  try {
    return await client.request<Seen>({ method: 'GET', path: '/api' });
  } finally {
    client.close();
  }
}
