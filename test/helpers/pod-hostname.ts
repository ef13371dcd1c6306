import os from 'node:os';
import { syncBuiltinESMExports } from 'node:module';

// Loaded with --import into each sidecar replica a test starts: every replica of a Deployment runs in
// its own pod, whose host name (the leader-election identity) is the pod name. Replicas started on
// one machine share a host name, so this gives each the pod name the test assigns it in
// TEST_POD_NAME. podHostnameEnv() makes the environment for that.
const podName = process.env.TEST_POD_NAME;
if (podName) {
  os.hostname = () => podName;
  syncBuiltinESMExports();
}

/** The environment that starts a sidecar replica as if it ran in pod `podName`. */
export function podHostnameEnv(podName: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, NODE_OPTIONS: `--import=${import.meta.url}`, TEST_POD_NAME: podName };
}
