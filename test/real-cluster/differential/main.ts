#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runDifferential } from './runner.js';

const USAGE = `Usage: npm run differential -- --kubeconfig PATH [--out FILE]

Sends a fixed sequence of Kubernetes API requests (discovery; create, update, patch, status and
delete with finalizers; selectors; paging; watch; conflicts; validation failures; group snapshot
versions) to the API server of PATH's current context and prints the normalised responses, one
step after another, so that the transcripts of two servers can be compared with diff.`;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.kubeconfig) {
    console.error(USAGE);
    return 2;
  }
  const text = `${(await runDifferential(values.kubeconfig)).join('\n')}\n`;
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
