// `npm run test:mutation [group ...]`: one StrykerJS run per mutation group (all groups when none is
// named), then MUTATION.md from the reports. The reports in reports/mutation/ are also Stryker's incremental files:
// make a repeated run test only the mutants whose code or covering tests changed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MUTATION_GROUPS } from './groups.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const names = process.argv.slice(2);
for (const name of names) {
  if (!(name in MUTATION_GROUPS)) {
    console.error(`unknown mutation group "${name}": use one of ${Object.keys(MUTATION_GROUPS).join(', ')}`);
    process.exit(2);
  }
}
const stryker = join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js');
// How long each group's last run took, for MUTATION.md (an incremental run is much shorter).
const durationsFile = join(root, 'reports/mutation/durations.json');
const durations = existsSync(durationsFile) ? JSON.parse(readFileSync(durationsFile, 'utf8')) : {};
for (const name of names.length > 0 ? names : Object.keys(MUTATION_GROUPS)) {
  const started = Date.now();
  console.log(`== mutation group ${name}: ${MUTATION_GROUPS[name].mutate.join(' ')}`);
  const run = spawnSync(process.execPath, [stryker, 'run', 'stryker.config.mjs'], { cwd: root, stdio: 'inherit', env: { ...process.env, MUTATION_GROUP: name } });
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`== mutation group ${name}: exit ${run.status} after ${seconds} s`);
  if (run.status !== 0) process.exit(run.status ?? 1);
  durations[name] = { seconds, finished: new Date().toISOString() };
  writeFileSync(durationsFile, JSON.stringify(durations, null, 2) + '\n');
}
const summary = spawnSync(process.execPath, [join(root, 'scripts/mutation/summary.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(summary.status ?? 1);
