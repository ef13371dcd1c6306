import { randomBytes } from 'node:crypto';
import { KubeHttp } from '../kube/http.js';
import { Recorder } from './recorder.js';
import { runSequence } from './sequence.js';

/**
 * Sends the differential sequence to the API server of a kubeconfig (current context) and returns
 * the normalised transcript. Run it against a server where nothing else acts on snapshot objects
 * (no snapshot-controller or sidecar), or their writes show up as differences.
 */
export async function runDifferential(kubeconfig: string): Promise<string[]> {
  const http = await KubeHttp.fromKubeconfig(kubeconfig);
  const suffix = randomBytes(4).toString('hex');
  const recorder = new Recorder(http, { suffix, serverHost: http.server.host });
  await runSequence(recorder, suffix);
  return recorder.lines;
}
