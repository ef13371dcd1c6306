#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { parseGroupSnapshotVersions, startTestApiServer } from '../apiserver/index.js';

const USAGE = 'usage: kube-test-apiserver --port 0 --kubeconfig-out PATH [--group-snapshot-versions v1beta1,v1beta2,v1 | v1alpha1 | v1alpha1-v7] [--token TOKEN]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'kubeconfig-out': { type: 'string' },
      'group-snapshot-versions': { type: 'string', default: 'v1beta1,v1beta2,v1' },
      token: { type: 'string' },
      'bookmark-interval': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer 0..65535, got "${values.port}"`);
  if (!values['kubeconfig-out']) throw new Error(`--kubeconfig-out is required\n${USAGE}`);
  const server = await startTestApiServer({
    port,
    kubeconfigPath: values['kubeconfig-out'],
    groupSnapshotVersions: parseGroupSnapshotVersions(values['group-snapshot-versions'] ?? ''),
    ...(values.token ? { token: values.token } : {}),
    ...(values['bookmark-interval'] ? { bookmarkIntervalMs: Number(values['bookmark-interval']) } : {}),
  });
  process.stdout.write(`ready ${server.url}\n`);
  const shutdown = () => {
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`kube-test-apiserver: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
