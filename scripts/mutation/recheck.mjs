// `node scripts/mutation/recheck.mjs GROUP [--timeouts]`: tests again only the mutants that survived
// (or had no coverage; with --timeouts also those that timed out, which a busy machine can cause) in
// the group's last report, and merges their new status into that report. Much faster
// than a full run after tests were added for the survivors. It refuses a file whose source changed
// since the report was made: the mutants' positions would no longer match (run the group in full).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MUTATION_GROUPS } from './groups.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const group = process.argv[2];
const withTimeouts = process.argv.includes('--timeouts');
if (!group || !(group in MUTATION_GROUPS)) {
  console.error(`usage: recheck.mjs GROUP [--timeouts] (GROUP one of ${Object.keys(MUTATION_GROUPS).join(', ')})`);
  process.exit(2);
}
const reportFile = join(root, 'reports/mutation', `${group}.json`);
const report = JSON.parse(readFileSync(reportFile, 'utf8'));
const OPEN = new Set(['Survived', 'NoCoverage', ...(withTimeouts ? ['Timeout'] : [])]);

const ranges = [];
for (const [path, entry] of Object.entries(report.files)) {
  const open = entry.mutants.filter((m) => OPEN.has(m.status));
  if (open.length === 0) continue;
  if (readFileSync(join(root, path), 'utf8') !== entry.source) {
    console.error(`${path} changed since the report was made: run the group in full (npm run test:mutation -- ${group})`);
    process.exit(1);
  }
  // Each mutant's exact span: StrykerJS only makes the mutants that lie wholly inside a range, so a
  // range of whole lines would miss a mutant that spans several (a block, an object literal).
  // A range's columns count from 0, the report's from 1; one column more on each side keeps the
  // span inside the range whichever way the ends are counted.
  const spans = new Set(open.map(({ location: { start, end } }) => `${start.line}:${Math.max(0, start.column - 2)}-${end.line}:${end.column + 1}`));
  for (const span of spans) ranges.push(`${path}:${span}`);
}
if (ranges.length === 0) {
  console.log(`${group}: no surviving mutants to test again`);
  process.exit(0);
}

const recheckFile = join(root, 'reports/mutation', `${group}.recheck.json`);
rmSync(recheckFile, { force: true });
console.log(`== ${group}: testing again the mutants in ${ranges.length} places`);
const run = spawnSync(process.execPath, [join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js'), 'run', 'stryker.config.mjs'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, MUTATION_GROUP: group, MUTATION_RANGES: ranges.join(','), MUTATION_REPORT: recheckFile },
});
if (run.status !== 0 || !existsSync(recheckFile)) process.exit(run.status || 1);

// Same file, mutator, replacement and position: the same mutant.
const keyOf = (path, m) => `${path}|${m.mutatorName}|${m.replacement}|${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column}`;
const recheck = JSON.parse(readFileSync(recheckFile, 'utf8'));
const fresh = new Map();
for (const [path, entry] of Object.entries(recheck.files)) for (const m of entry.mutants) fresh.set(keyOf(path, m), m);
let updated = 0;
for (const [path, entry] of Object.entries(report.files)) {
  entry.mutants = entry.mutants.map((m) => {
    const again = OPEN.has(m.status) ? fresh.get(keyOf(path, m)) : undefined;
    if (!again) return m;
    updated++;
    return { ...again, id: m.id };
  });
}
// The tests the new statuses name must be in the report too.
report.testFiles = { ...(report.testFiles ?? {}), ...(recheck.testFiles ?? {}) };
writeFileSync(reportFile, JSON.stringify(report));
rmSync(recheckFile, { force: true });
console.log(`${group}: ${updated} mutants tested again and merged into ${reportFile}`);
const summary = spawnSync(process.execPath, [join(root, 'scripts/mutation/summary.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(summary.status ?? 1);
