import type { Credentials } from './credentials.js';

/** How to verify the API server's certificate. */
export interface TlsSettings {
  /** PEM CA bundle; absent: the system's trusted roots. */
  ca?: string;
  /** Do not verify the server's certificate at all (kubeconfig `insecure-skip-tls-verify`). */
  insecureSkipVerify: boolean;
  /** The name the server's certificate is checked against, and sent as SNI, instead of the URL's host. */
  serverName?: string;
}

/** Everything the REST client needs to reach one cluster: where, how to trust it, and who we are. */
export interface ClusterConfig {
  server: URL;
  tls: TlsSettings;
  credentials: Credentials;
  /** Where the settings came from (`kubeconfig /path` or `in-cluster`), for messages. */
  source: string;
}

/** Options that tests inject; the sidecar uses the defaults. */
export interface LoadOptions {
  /** How often token files are read again (default once a minute). */
  tokenRefreshMs?: number;
  /** Clock for token refreshes and exec credential expiry. */
  now?: () => number;
}
