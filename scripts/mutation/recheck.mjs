// `node scripts/mutation/recheck.mjs GROUP [--timeouts]`: tests again only the mutants that survived
// (or had no coverage; with --timeouts also those that timed out, which a busy machine can cause) in
// the group's last report, and merges their new status into that report. Much faster
// than a full run after tests were added for the survivors. A module edited since the report was
// made keeps the status of every mutant on lines the edit did not touch (moved to their new lines,
// see remap.mjs); the mutants on touched lines are made and tested again. A full run stays the
// reference: it also notices a killed mutant that a changed test no longer kills.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MUTATION_GROUPS } from './groups.mjs';
import { carryOver } from './remap.mjs';

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
// Modules edited since the report: the spans of their current source to mutate again.
const edited = new Map();
for (const [path, entry] of Object.entries(report.files)) {
  const current = readFileSync(join(root, path), 'utf8');
  if (current !== entry.source) {
    const { kept, spans } = carryOver(entry.mutants, entry.source, current);
    const lines = current.split('\n');
    console.log(`${path} changed since the report: ${entry.mutants.length - kept.length} mutants on changed lines dropped, lines ${spans.map(([a, b]) => (a === b ? a : `${a}-${b}`)).join(', ') || 'none'} mutated again`);
    edited.set(path, spans);
    entry.mutants = kept;
    entry.source = current;
    for (const [first, last] of spans) ranges.push(`${path}:${first}:0-${last}:${lines[last - 1].length + 1}`);
  }
  const open = entry.mutants.filter((m) => OPEN.has(m.status));
  if (open.length === 0) continue;
  // Each mutant's exact span: StrykerJS only makes the mutants that lie wholly inside a range, so a
  // range of whole lines would miss a mutant that spans several (a block, an object literal).
  // A range's columns count from 0, the report's from 1; one column more on each side keeps the
  // span inside the range whichever way the ends are counted.
  const spans = new Set(open.map(({ location: { start, end } }) => `${start.line}:${Math.max(0, start.column - 2)}-${end.line}:${end.column + 1}`));
  for (const span of spans) ranges.push(`${path}:${span}`);
}
if (ranges.length === 0) {
  console.log(`${group}: no surviving mutants to test again`);
  if (edited.size > 0) {
    // Only removed lines: the report moves to the current source without a run.
    writeFileSync(reportFile, JSON.stringify(report, null, 2) + '\n');
    spawnSync(process.execPath, [join(root, 'scripts/mutation/summary.mjs')], { cwd: root, stdio: 'inherit' });
  }
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
let added = 0;
let nextId = 1 + Math.max(0, ...Object.values(report.files).flatMap((entry) => entry.mutants.map((m) => Number(m.id) || 0)));
for (const [path, entry] of Object.entries(report.files)) {
  const spans = edited.get(path) ?? [];
  const inSpans = (m) => spans.some(([first, last]) => m.location.start.line >= first && m.location.end.line <= last);
  const known = new Set();
  entry.mutants = entry.mutants.map((m) => {
    known.add(keyOf(path, m));
    const again = OPEN.has(m.status) || inSpans(m) ? fresh.get(keyOf(path, m)) : undefined;
    if (!again) return m;
    updated++;
    return { ...again, id: m.id };
  });
  // Mutants of the edited lines that the report did not have yet.
  for (const m of recheck.files[path]?.mutants ?? []) {
    if (known.has(keyOf(path, m)) || !inSpans(m)) continue;
    entry.mutants.push({ ...m, id: String(nextId++) });
    added++;
  }
}
// The tests the new statuses name must be in the report too.
report.testFiles = { ...(report.testFiles ?? {}), ...(recheck.testFiles ?? {}) };
writeFileSync(reportFile, JSON.stringify(report, null, 2) + '\n');
rmSync(recheckFile, { force: true });
console.log(`${group}: ${updated} mutants tested again and ${added} new ones of edited lines merged into ${reportFile}`);
const summary = spawnSync(process.execPath, [join(root, 'scripts/mutation/summary.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(summary.status ?? 1);
