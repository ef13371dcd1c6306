import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { CORE_SCHEMA, load, YAMLException } from 'js-yaml';
import type { ClusterConfig, LoadOptions, TlsSettings } from './cluster-config.js';
import { basicAuthorization, bearer, fixedCredentials, tokenFileCredentials, type Credential, type Credentials } from './credentials.js';
import { EXEC_API_VERSIONS, execCredentials, type ExecApiVersion, type ExecClusterInfo, type ExecPluginSpec } from './exec-plugin.js';

/**
 * Reads one kubeconfig file and returns the connection settings of its current context. The sidecar
 * takes a single --kubeconfig path, so the KUBECONFIG list of files that kubectl merges is not
 * supported. Every error names the file and the field.
 */

type Fields = Record<string, unknown>;

/** The cluster extension whose content is handed to exec plugins that ask for cluster information. */
const EXEC_EXTENSION = 'client.authentication.k8s.io/exec';
const INTERACTIVE_MODES = ['Never', 'IfAvailable', 'Always'];

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

class Reader {
  readonly dir: string;

  constructor(readonly file: string) {
    this.dir = dirname(resolve(file));
  }

  error(field: string, problem: string): Error {
    return new Error(`kubeconfig ${this.file}: ${field}: ${problem}`);
  }

  object(value: unknown, field: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw this.error(field, 'must be a mapping');
    return value as Fields;
  }

  /** A string field; absent, null and '' all read as unset, as in Go's zero values. */
  string(fields: Fields, key: string, where: string): string | undefined {
    const value = fields[key];
    if (value === undefined || value === null || value === '') return undefined;
    // The value is not echoed: the field may hold a secret (a token, a password).
    if (typeof value !== 'string') throw this.error(`${where}.${key}`, `must be a string, got ${kindOf(value)}`);
    return value;
  }

  boolean(fields: Fields, key: string, where: string): boolean {
    const value = fields[key];
    if (value === undefined || value === null) return false;
    if (typeof value !== 'boolean') throw this.error(`${where}.${key}`, `must be true or false, got ${kindOf(value)}`);
    return value;
  }

  list(fields: Fields, key: string, where: string): unknown[] {
    const value = fields[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw this.error(`${where}${where ? '.' : ''}${key}`, 'must be a list');
    return value;
  }

  /** The `inner` mapping of the entry called `name` in the list `key` (clusters, users, contexts). */
  named(root: Fields, key: string, name: string, inner: string): { fields: Fields; where: string } {
    const where = `${key}[${name}]`;
    for (const [i, item] of this.list(root, key, '').entries()) {
      const entry = this.object(item, `${key}[${i}]`);
      if (entry.name === name) return { fields: this.object(entry[inner] ?? {}, `${where}.${inner}`), where: `${where}.${inner}` };
    }
    throw this.error(key, `has no entry named "${name}"`);
  }

  /** A relative path in a kubeconfig is relative to the file's own directory. */
  path(path: string): string {
    return isAbsolute(path) ? path : resolve(this.dir, path);
  }

  /** PEM from `<key>` (a file) or `<key>-data` (base64 in the file); one of the two, not both. */
  pem(fields: Fields, key: string, where: string): { pem: string; field: string } | undefined {
    const file = this.string(fields, key, where);
    const data = this.string(fields, `${key}-data`, where);
    if (file !== undefined && data !== undefined) throw this.error(`${where}.${key}`, `give either ${key} or ${key}-data, not both`);
    if (file !== undefined) {
      const path = this.path(file);
      try {
        return { pem: readFileSync(path, 'utf8'), field: `${where}.${key}` };
      } catch (err) {
        throw this.error(`${where}.${key}`, `cannot read ${path}: ${(err as Error).message}`);
      }
    }
    if (data !== undefined) {
      if (!/^[A-Za-z0-9+/=\s]+$/.test(data)) throw this.error(`${where}.${key}-data`, 'is not base64');
      return { pem: Buffer.from(data, 'base64').toString('utf8'), field: `${where}.${key}-data` };
    }
    return undefined;
  }

  /** Parses the certificate now, so a broken one fails at start-up rather than in the first TLS handshake. */
  certificate(pem: { pem: string; field: string }): X509Certificate {
    try {
      return new X509Certificate(pem.pem);
    } catch (err) {
      throw this.error(pem.field, `is not a PEM certificate (${(err as Error).message})`);
    }
  }
}

export function loadKubeconfigFile(file: string, options: LoadOptions = {}): ClusterConfig {
  const r = new Reader(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`kubeconfig ${file}: cannot read it: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    // The core schema reads what JSON and kubectl write; timestamps and other YAML 1.1 types stay strings.
    parsed = load(text, { schema: CORE_SCHEMA, filename: file });
  } catch (err) {
    const where = err instanceof YAMLException ? ` (line ${err.mark.line + 1}, column ${err.mark.column + 1})` : '';
    throw new Error(`kubeconfig ${file}: not valid YAML${where}: ${err instanceof YAMLException ? err.reason : (err as Error).message}`, { cause: err });
  }
  const root = r.object(parsed ?? {}, '(document)');
  const contextName = r.string(root, 'current-context', '');
  if (contextName === undefined) throw r.error('current-context', 'is not set: name the context to use');
  const context = r.named(root, 'contexts', contextName, 'context');
  const clusterName = r.string(context.fields, 'cluster', context.where);
  if (clusterName === undefined) throw r.error(`${context.where}.cluster`, 'is not set');
  const cluster = r.named(root, 'clusters', clusterName, 'cluster');
  const { server, tls, execInfo } = readCluster(r, cluster.fields, cluster.where);
  const userName = r.string(context.fields, 'user', context.where);
  // A context without a user is anonymous access; the server decides what that may do.
  const credentials = userName === undefined ? fixedCredentials({}) : readUser(r, r.named(root, 'users', userName, 'user'), execInfo, options);
  return { server, tls, credentials, source: `kubeconfig ${file}` };
}

function readCluster(r: Reader, fields: Fields, where: string): { server: URL; tls: TlsSettings; execInfo: ExecClusterInfo } {
  if (r.string(fields, 'proxy-url', where) !== undefined) {
    throw r.error(`${where}.proxy-url`, 'proxies are not supported: point server at an address the sidecar reaches directly (in a pod, leave --kubeconfig empty to use the service account)');
  }
  const serverText = r.string(fields, 'server', where);
  if (serverText === undefined) throw r.error(`${where}.server`, 'is not set');
  let server: URL;
  try {
    server = new URL(serverText);
  } catch {
    throw r.error(`${where}.server`, `${JSON.stringify(serverText)} is not a URL (write https://host:port)`);
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') throw r.error(`${where}.server`, `${JSON.stringify(serverText)} is not an http or https URL (write https://host:port)`);
  const ca = r.pem(fields, 'certificate-authority', where);
  if (ca) r.certificate(ca);
  const insecureSkipVerify = r.boolean(fields, 'insecure-skip-tls-verify', where);
  if (insecureSkipVerify && ca) throw r.error(`${where}.insecure-skip-tls-verify`, `cannot be true together with ${ca.field.slice(where.length + 1)}: give one`);
  const serverName = r.string(fields, 'tls-server-name', where);
  const tls: TlsSettings = { insecureSkipVerify, ...(ca ? { ca: ca.pem } : {}), ...(serverName ? { serverName } : {}) };
  const execInfo: ExecClusterInfo = {
    server: serverText,
    ...(serverName ? { 'tls-server-name': serverName } : {}),
    ...(insecureSkipVerify ? { 'insecure-skip-tls-verify': true } : {}),
    ...(ca ? { 'certificate-authority-data': Buffer.from(ca.pem, 'utf8').toString('base64') } : {}),
  };
  for (const [i, item] of r.list(fields, 'extensions', where).entries()) {
    const extension = r.object(item, `${where}.extensions[${i}]`);
    if (extension.name === EXEC_EXTENSION) execInfo.config = extension.extension;
  }
  return { server, tls, execInfo };
}

const IMPERSONATION = 'impersonation is not supported: give the sidecar credentials of its own service account';

/** What a user entry may not contain, and what to do instead. Impersonation is refused rather than ignored: ignoring it would act with the wrong identity. */
const REFUSED_USER_FIELDS: Array<[string, string]> = [
  ['auth-provider', 'legacy auth-provider plugins (gcp, azure, oidc) are not supported: use an exec credential plugin (user.exec), such as gke-gcloud-auth-plugin, kubelogin or an OIDC exec plugin'],
  ['as', IMPERSONATION],
  ['as-uid', IMPERSONATION],
  ['as-groups', IMPERSONATION],
  ['as-user-extra', IMPERSONATION],
];

function readUser(r: Reader, user: { fields: Fields; where: string }, execInfo: ExecClusterInfo, options: LoadOptions): Credentials {
  const { fields, where } = user;
  for (const [key, problem] of REFUSED_USER_FIELDS) {
    const value = fields[key];
    if (value !== undefined && value !== null && value !== '' && !(Array.isArray(value) && value.length === 0)) {
      // Naming the provider (gcp, azure, oidc) tells the reader which exec plugin replaces it.
      const provider = key === 'auth-provider' && typeof value === 'object' && typeof (value as Fields).name === 'string' ? ` (${(value as Fields).name as string})` : '';
      throw r.error(`${where}.${key}${provider}`, problem);
    }
  }
  const token = r.string(fields, 'token', where);
  const tokenFile = r.string(fields, 'tokenFile', where);
  const username = r.string(fields, 'username', where);
  const password = r.string(fields, 'password', where);
  const exec = fields.exec === undefined || fields.exec === null ? undefined : r.object(fields.exec, `${where}.exec`);
  const methods = [
    ...(token !== undefined || tokenFile !== undefined ? ['token'] : []),
    ...(username !== undefined || password !== undefined ? ['username/password'] : []),
    ...(exec ? ['exec'] : []),
  ];
  if (methods.length > 1) throw r.error(where, `has more than one way to authenticate (${methods.join(', ')}): keep one`);
  if ((username === undefined) !== (password === undefined)) throw r.error(`${where}.${username === undefined ? 'username' : 'password'}`, 'is not set: username and password go together');

  const cert = r.pem(fields, 'client-certificate', where);
  const key = r.pem(fields, 'client-key', where);
  if ((cert === undefined) !== (key === undefined)) {
    throw r.error(`${where}.${cert === undefined ? 'client-certificate' : 'client-key'}`, 'is not set: a client certificate needs its key (client-certificate and client-key, or their -data forms)');
  }
  const base: Credential = {};
  if (cert && key) {
    if (exec) throw r.error(`${where}.exec`, 'cannot be combined with a client certificate: the plugin supplies the credential');
    const x509 = r.certificate(cert);
    let privateKey;
    try {
      privateKey = createPrivateKey(key.pem);
    } catch (err) {
      throw r.error(key.field, `is not a PEM private key (${(err as Error).message})`);
    }
    if (!x509.checkPrivateKey(privateKey)) throw r.error(key.field, `does not belong to the certificate in ${cert.field}`);
    base.cert = cert.pem;
    base.key = key.pem;
  }

  if (exec) return execCredentials(readExec(r, exec, `${where}.exec`, execInfo), { now: options.now });
  // client-go lets a token file win over a token given inline: the file is the one that is kept current.
  if (tokenFile !== undefined) {
    const path = r.path(tokenFile);
    try {
      return tokenFileCredentials(path, { refreshMs: options.tokenRefreshMs, now: options.now }, base);
    } catch (err) {
      throw r.error(`${where}.tokenFile`, `cannot read a token from ${path}: ${(err as Error).message}`);
    }
  }
  if (token !== undefined) return fixedCredentials({ ...base, authorization: bearer(token) });
  if (username !== undefined && password !== undefined) return fixedCredentials({ ...base, authorization: basicAuthorization(username, password) });
  return fixedCredentials(base);
}

function readExec(r: Reader, exec: Fields, where: string, cluster: ExecClusterInfo): ExecPluginSpec {
  const apiVersion = r.string(exec, 'apiVersion', where);
  if (apiVersion === undefined || !(EXEC_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    throw r.error(`${where}.apiVersion`, `${apiVersion === undefined ? 'is not set' : `"${apiVersion}" is not supported`}: use ${EXEC_API_VERSIONS.join(' or ')}`);
  }
  const command = r.string(exec, 'command', where);
  if (command === undefined) throw r.error(`${where}.command`, 'is not set');
  const args = r.list(exec, 'args', where).map((arg, i) => {
    if (typeof arg !== 'string') throw r.error(`${where}.args[${i}]`, `must be a string, got ${kindOf(arg)}`);
    return arg;
  });
  const env = r.list(exec, 'env', where).map((item, i) => {
    const entry = r.object(item, `${where}.env[${i}]`);
    const name = r.string(entry, 'name', `${where}.env[${i}]`);
    if (name === undefined) throw r.error(`${where}.env[${i}].name`, 'is not set');
    return { name, value: r.string(entry, 'value', `${where}.env[${i}]`) ?? '' };
  });
  const mode = r.string(exec, 'interactiveMode', where);
  // v1 makes the mode explicit; v1beta1 defaults it to IfAvailable.
  if (mode === undefined && apiVersion === 'client.authentication.k8s.io/v1') throw r.error(`${where}.interactiveMode`, 'is required by client.authentication.k8s.io/v1: set Never (the sidecar has no terminal)');
  if (mode !== undefined && !INTERACTIVE_MODES.includes(mode)) throw r.error(`${where}.interactiveMode`, `"${mode}" is not one of ${INTERACTIVE_MODES.join(', ')}`);
  if (mode === 'Always') throw r.error(`${where}.interactiveMode`, 'is Always, but the sidecar has no terminal to interact on: use Never or IfAvailable');
  const installHint = r.string(exec, 'installHint', where);
  return {
    apiVersion: apiVersion as ExecApiVersion,
    // A command with a slash is a path, and relative paths are relative to the kubeconfig; a bare name is looked up on PATH.
    command: command.includes('/') ? r.path(command) : command,
    args,
    env,
    ...(installHint ? { installHint } : {}),
    ...(r.boolean(exec, 'provideClusterInfo', where) ? { cluster } : {}),
    origin: `kubeconfig ${r.file}: ${where}`,
  };
}
