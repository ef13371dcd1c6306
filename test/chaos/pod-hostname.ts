import os from 'node:os';
import { syncBuiltinESMExports } from 'node:module';

// Loaded with --import into each sidecar replica: every replica of a Deployment runs in its own pod,
// whose host name (the leader-election identity) is the pod name. Replicas started on one machine
// share a host name, so this gives each the pod name the run assigns it in CHAOS_POD_NAME.
const podName = process.env.CHAOS_POD_NAME;
if (podName) {
  os.hostname = () => podName;
  syncBuiltinESMExports();
}
