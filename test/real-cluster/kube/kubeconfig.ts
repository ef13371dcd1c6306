import { readFileSync, writeFileSync } from 'node:fs';

/** Credentials of one kubeconfig user: a client certificate or a bearer token. */
export type KubeconfigUser = { clientCertificateFile: string; clientKeyFile: string } | { token: string };

function base64File(path: string): string {
  return readFileSync(path).toString('base64');
}

/**
 * Writes a self-contained kubeconfig (certificates embedded, so it can be copied elsewhere) with a
 * single cluster, user and context, which is the current one.
 */
export function writeKubeconfig(path: string, options: { server: string; caFile: string; userName: string; user: KubeconfigUser }): void {
  const userLines =
    'token' in options.user
      ? [`    token: ${options.user.token}`]
      : [
          `    client-certificate-data: ${base64File(options.user.clientCertificateFile)}`,
          `    client-key-data: ${base64File(options.user.clientKeyFile)}`,
        ];
  const text = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: real-cluster',
    '  cluster:',
    `    server: ${options.server}`,
    `    certificate-authority-data: ${base64File(options.caFile)}`,
    'users:',
    `- name: ${options.userName}`,
    '  user:',
    ...userLines,
    'contexts:',
    `- name: ${options.userName}@real-cluster`,
    '  context:',
    '    cluster: real-cluster',
    `    user: ${options.userName}`,
    `current-context: ${options.userName}@real-cluster`,
    '',
  ].join('\n');
  writeFileSync(path, text, { mode: 0o600 });
}
