import { KubeConfig } from '@kubernetes/client-node';

/**
 * The Kubernetes connection settings: the file named by --kubeconfig (its current context), or the
 * pod's service account when the flag is empty. client-node handles the formats, TLS and every
 * authentication method (tokens, client certificates, exec plugins, token refresh).
 */
export function loadKubeConfig(kubeconfigPath: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath !== '') {
    kc.loadFromFile(kubeconfigPath);
    if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${kubeconfigPath} has no current cluster (set current-context)`);
  } else {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new Error(
        'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (pass --kubeconfig when running outside a cluster)',
      );
    }
    kc.loadFromCluster();
  }
  return kc;
}
