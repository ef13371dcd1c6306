import type { ClusterConfig, LoadOptions } from './cluster-config.js';
import { loadInClusterConfig } from './in-cluster.js';
import { loadKubeconfigFile } from './kubeconfig.js';

export type { ClusterConfig } from './cluster-config.js';

/**
 * The Kubernetes connection settings: the file named by --kubeconfig (its current context), or the
 * pod's service account when the flag is empty. Both are read by the project's own small loaders:
 * importing the Kubernetes JavaScript client for this alone cost two seconds and 70 MiB at start-up.
 */
export function loadKubeConfig(kubeconfigPath: string, options: LoadOptions = {}): ClusterConfig {
  return kubeconfigPath !== '' ? loadKubeconfigFile(kubeconfigPath, options) : loadInClusterConfig(options);
}

/**
 * The cluster to serve, or undefined when there is none: outside a pod (no in-cluster variables,
 * which a pod always has) and without --kubeconfig. The sidecar then only checks its driver, and
 * doctor and explain say that no cluster was named.
 */
export function clusterConfigIfAny(kubeconfigPath: string, env: NodeJS.ProcessEnv = process.env): ClusterConfig | undefined {
  if (kubeconfigPath === '' && !env.KUBERNETES_SERVICE_HOST) return undefined;
  return loadKubeConfig(kubeconfigPath);
}
