import { spawn } from 'node:child_process';
import type { Credential, Credentials } from './credentials.js';
import { bearer } from './credentials.js';

/** The ExecCredential versions a plugin may be asked for. */
export const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;
export type ExecApiVersion = (typeof EXEC_API_VERSIONS)[number];

/** The cluster as the plugin sees it in KUBERNETES_EXEC_INFO (when the user entry sets provideClusterInfo). */
export interface ExecClusterInfo {
  server: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  /** Base64 of the PEM CA bundle, as in a kubeconfig. */
  'certificate-authority-data'?: string;
  /** The cluster's `client.authentication.k8s.io/exec` extension, handed to the plugin as is. */
  config?: unknown;
}

export interface ExecPluginSpec {
  apiVersion: ExecApiVersion;
  /** A path, or a name looked up on PATH. */
  command: string;
  args: string[];
  /** Added to the sidecar's own environment. */
  env: Array<{ name: string; value: string }>;
  installHint?: string;
  cluster?: ExecClusterInfo;
  /** Where the plugin was configured, e.g. `kubeconfig /etc/kube/config: users[alice].user.exec`; starts every error. */
  origin: string;
}

export interface ExecOptions {
  /** Clock for expirationTimestamp, injectable so tests can move past an expiry without waiting. */
  now?: () => number;
}

interface Obtained {
  credential: Credential;
  /** Epoch ms; undefined: valid until the server rejects it. */
  expiresAt: number | undefined;
}

const STDERR_IN_ERRORS = 500;

/**
 * Credentials from an exec plugin. The plugin runs on first use, its answer is kept until its
 * expirationTimestamp (or, without one, until the server answers 401), and concurrent requests
 * share one run.
 */
export function execCredentials(spec: ExecPluginSpec, options: ExecOptions = {}): Credentials {
  const now = options.now ?? Date.now;
  let cached: Obtained | undefined;
  let running: Promise<Credential> | undefined;
  return {
    get() {
      if (cached && (cached.expiresAt === undefined || now() < cached.expiresAt)) return Promise.resolve(cached.credential);
      running ??= runPlugin(spec)
        .then((obtained) => {
          cached = obtained;
          return obtained.credential;
        })
        .finally(() => (running = undefined));
      return running;
    },
    rejected(used) {
      // Only the credential that was rejected is dropped: a 401 for one fetched before the last run must not cost another run.
      if (cached?.credential === used) cached = undefined;
    },
  };
}

function execInfo(spec: ExecPluginSpec): string {
  // The sidecar has no terminal: the plugin is told so, and gets no stdin.
  const info = { apiVersion: spec.apiVersion, kind: 'ExecCredential', spec: { interactive: false, ...(spec.cluster ? { cluster: spec.cluster } : {}) } };
  return JSON.stringify(info);
}

function runPlugin(spec: ExecPluginSpec): Promise<Obtained> {
  const failure = (problem: string) => new Error(`${spec.origin}: the plugin ${spec.command} ${problem}`);
  return new Promise<Obtained>((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const { name, value } of spec.env) env[name] = value;
    env.KUBERNETES_EXEC_INFO = execInfo(spec);
    const child = spawn(spec.command, spec.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'ENOENT' && spec.installHint ? ` (${spec.installHint.trim()})` : '';
      reject(failure(`could not be started: ${err.message}${hint}`));
    });
    child.on('close', (code, signal) => {
      if (code !== 0) {
        const text = Buffer.concat(stderr).toString('utf8').trim().slice(0, STDERR_IN_ERRORS);
        reject(failure(`${signal ? `was killed by ${signal}` : `exited with code ${code}`}${text ? `: ${text}` : ''}`));
        return;
      }
      try {
        resolve(parseExecCredential(Buffer.concat(stdout).toString('utf8'), spec.apiVersion));
      } catch (err) {
        reject(failure(`printed an unusable ExecCredential: ${(err as Error).message}`));
      }
    });
  });
}

function optionalString(status: Record<string, unknown>, field: string): string | undefined {
  const value = status[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`status.${field} must be a string`);
  return value;
}

/** The credential in a plugin's output, which must be an ExecCredential of the version it was asked for. */
export function parseExecCredential(text: string, apiVersion: ExecApiVersion): Obtained {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
  const object = parsed as Record<string, unknown>;
  if (object.kind !== 'ExecCredential') throw new Error(`kind is ${JSON.stringify(object.kind)}, want "ExecCredential"`);
  if (object.apiVersion !== apiVersion) throw new Error(`apiVersion is ${JSON.stringify(object.apiVersion)}, want "${apiVersion}" as configured`);
  const status = object.status;
  if (typeof status !== 'object' || status === null) throw new Error('status is missing');
  const fields = status as Record<string, unknown>;
  const token = optionalString(fields, 'token');
  const cert = optionalString(fields, 'clientCertificateData');
  const key = optionalString(fields, 'clientKeyData');
  if ((cert === undefined) !== (key === undefined)) throw new Error('status has only one of clientCertificateData and clientKeyData; both are needed');
  if (token === undefined && cert === undefined) throw new Error('status has neither a token nor clientCertificateData and clientKeyData');
  const expiry = optionalString(fields, 'expirationTimestamp');
  let expiresAt: number | undefined;
  if (expiry !== undefined) {
    expiresAt = Date.parse(expiry);
    if (Number.isNaN(expiresAt)) throw new Error(`status.expirationTimestamp ${JSON.stringify(expiry)} is not an RFC 3339 time`);
  }
  const credential: Credential = {};
  if (token !== undefined) credential.authorization = bearer(token);
  if (cert !== undefined && key !== undefined) {
    credential.cert = cert;
    credential.key = key;
  }
  return { credential, expiresAt };
}
