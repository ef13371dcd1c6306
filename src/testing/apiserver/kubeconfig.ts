import { readFileSync, writeFileSync } from 'node:fs';

/** A kubeconfig for one cluster, one bearer-token user and a context selecting both. */
export function kubeconfigText(server: string, token: string, caPem: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kube-test-apiserver',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'users:',
    '- name: kube-test-user',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: kube-test-apiserver',
    '  context:',
    '    cluster: kube-test-apiserver',
    '    user: kube-test-user',
    `    namespace: ${namespace}`,
    'current-context: kube-test-apiserver',
    'preferences: {}',
    '',
  ].join('\n');
}

export function writeKubeconfig(path: string, server: string, token: string, caPem: string): void {
  writeFileSync(path, kubeconfigText(server, token, caPem), { mode: 0o600 });
}

/** The server URL, token and CA of a kubeconfig written by `writeKubeconfig`. */
export function readKubeconfig(path: string): { server: string; token: string; caPem: string } {
  const text = readFileSync(path, 'utf8');
  const field = (name: string): string => {
    const match = new RegExp(`^ +${name}: (\\S+)$`, 'm').exec(text);
    if (!match) throw new Error(`${path}: no ${name} in the kubeconfig`);
    return match[1] as string;
  };
  return { server: field('server'), token: field('token'), caPem: Buffer.from(field('certificate-authority-data'), 'base64').toString('utf8') };
}
