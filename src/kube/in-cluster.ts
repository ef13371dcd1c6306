import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterConfig, LoadOptions } from './cluster-config.js';
import { tokenFileCredentials } from './credentials.js';

/** Where kubelet mounts the pod's service account. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface InClusterOptions extends LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** The directory holding `token` and `ca.crt` (tests use a temporary one). */
  serviceAccountDir?: string;
}

/**
 * The pod's own connection: the API server's service address from the environment kubelet sets,
 * the CA it mounts, and its projected token, read again every minute because kubelet rotates it.
 */
export function loadInClusterConfig(options: InClusterOptions = {}): ClusterConfig {
  const env = options.env ?? process.env;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new Error(
      'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (pass --kubeconfig when running outside a cluster)',
    );
  }
  // An IPv6 address needs brackets in a URL, as net.JoinHostPort adds them in Go.
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenPath = join(dir, 'token');
  const caPath = join(dir, 'ca.crt');
  let ca: string;
  try {
    ca = readFileSync(caPath, 'utf8');
    // Parsed now, so a broken CA fails at start-up rather than in the first TLS handshake.
    new X509Certificate(ca);
  } catch (err) {
    throw new Error(`in-cluster configuration: cannot use the service account CA ${caPath}: ${(err as Error).message}`, { cause: err });
  }
  let credentials;
  try {
    credentials = tokenFileCredentials(tokenPath, { refreshMs: options.tokenRefreshMs, now: options.now });
  } catch (err) {
    throw new Error(`in-cluster configuration: cannot read the service account token ${tokenPath}: ${(err as Error).message}`, { cause: err });
  }
  return { server, tls: { ca, insecureSkipVerify: false }, credentials, source: 'in-cluster' };
}
