// Writes MUTATION.md from the per-group JSON reports in reports/mutation/: the score of every
// mutated module, and every mutant that survived or that a `// Stryker disable` comment marks as
// equivalent, with its reason.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MUTATION_GROUPS } from './groups.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const KILLED = new Set(['Killed', 'Timeout']);
const COUNTED = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);

const durationsFile = join(root, 'reports/mutation/durations.json');
const durations = existsSync(durationsFile) ? JSON.parse(readFileSync(durationsFile, 'utf8')) : {};
const rows = [];
const survivors = [];
const ignored = [];
const missing = [];
// Modules whose source changed after their group's last run: their figures describe older code.
const stale = [];
for (const [group, { mutate }] of Object.entries(MUTATION_GROUPS)) {
  const file = join(root, 'reports/mutation', `${group}.json`);
  // The report doubles as Stryker's incremental file (see stryker.config.mjs).
  if (!existsSync(file)) {
    missing.push(group);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  for (const path of mutate) {
    const entry = report.files[path];
    if (!entry) {
      // A module that moved or was split since the group's last run.
      missing.push(`${group} (${path})`);
      continue;
    }
    if (readFileSync(join(root, path), 'utf8') !== entry.source) stale.push(`\`${path}\` (${group})`);
    const lines = entry.source.split('\n');
    const counts = { killed: 0, timedOut: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 };
    for (const m of entry.mutants) {
      if (KILLED.has(m.status)) counts.killed++;
      if (m.status === 'Timeout') counts.timedOut++;
      else if (m.status === 'Survived') counts.survived++;
      else if (m.status === 'NoCoverage') counts.noCoverage++;
      else if (m.status === 'Ignored') counts.ignored++;
      else counts.errors++;
      const where = `${path}:${m.location.start.line}`;
      const code = (lines[m.location.start.line - 1] ?? '').trim();
      if (m.status === 'Survived' || m.status === 'NoCoverage') survivors.push({ where, mutator: m.mutatorName, code, replacement: m.replacement ?? '', status: m.status });
      if (m.status === 'Ignored') ignored.push({ where, mutator: m.mutatorName, reason: m.statusReason ?? '' });
    }
    const counted = entry.mutants.filter((m) => COUNTED.has(m.status)).length;
    const score = counted === 0 ? 100 : (100 * counts.killed) / counted;
    rows.push({ group, path, total: entry.mutants.length, ...counts, score });
  }
}

const all = rows.reduce((a, r) => ({ killed: a.killed + r.killed, counted: a.counted + r.killed + r.survived + r.noCoverage }), { killed: 0, counted: 0 });
const cell = (text) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const out = [];
out.push('# Mutation testing');
out.push('');
out.push('StrykerJS changes the core one small edit at a time (a condition flipped, a string emptied, a');
out.push('call removed) and runs the tests that cover the changed code. A mutant that no test notices');
out.push('"survives": a place where the code could be wrong and the suite would stay green. Run it with');
out.push('`npm run test:mutation` (or `npm run test:mutation -- rules` for one group); the groups and the');
out.push('tests each one runs are in `scripts/mutation/groups.mjs`. After adding tests for survivors,');
out.push('`npm run test:mutation:recheck GROUP` tests only those mutants again and updates the report. This');
out.push('file is written by `scripts/mutation/summary.mjs` from the reports in `reports/mutation/`.');
out.push('');
out.push(`Overall: **${all.counted === 0 ? '-' : ((100 * all.killed) / all.counted).toFixed(1)} %** of ${all.counted} mutants killed (equivalent mutants marked in the code are not counted).`);
if (missing.length > 0) out.push(`\nNo report yet for: ${missing.join(', ')}. The engine and kinds groups run 7 test files of real processes (API test server, sample driver) for each mutant, csi-calls 7: about an hour each on a quiet 2-core machine. On a loaded machine tests slow down past Stryker's time limit and are counted as timed out, which inflates the score; run them alone.`);
if (stale.length > 0) out.push(`\nChanged since their group's last run, so their figures are for the code as it was then (\`npm run test:mutation:recheck GROUP\` tests the changed lines again and carries the rest over; a full run of the group is the reference): ${stale.join(', ')}.`);
out.push('');
out.push('"Killed" counts the mutants a test failed on, including those that made a test run past its time limit ("of them timed out"): a mutant that makes the queue or a sync wait forever is caught that way.');
out.push('');
out.push('| group | module | mutants | killed | of them timed out | survived | no coverage | equivalent | score |');
out.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) out.push(`| ${r.group} | \`${r.path}\` | ${r.total} | ${r.killed} | ${r.timedOut} | ${r.survived} | ${r.noCoverage} | ${r.ignored} | ${r.score.toFixed(1)} % |`);
out.push('');
out.push('How long each group\'s last run took on a 2-core machine. A later run takes about as long: the tests run from');
out.push('dist/, which StrykerJS builds in its sandbox and does not count among its input files, so its incremental');
out.push('mode cannot tell which tests changed and tests every mutant again. `npm run test:mutation:recheck GROUP`');
out.push('tests only the survivors and the lines edited since the report, and takes minutes.');
out.push('');
for (const [group, d] of Object.entries(durations)) out.push(`- ${group}: ${Math.round(d.seconds / 60)} min (${d.finished.slice(0, 10)})`);
out.push('');
out.push('## Survivors');
out.push('');
if (survivors.length === 0) out.push('None.');
else {
  out.push('| where | mutator | code | replaced by |');
  out.push('| --- | --- | --- | --- |');
  for (const s of survivors) out.push(`| ${s.where}${s.status === 'NoCoverage' ? ' (no coverage)' : ''} | ${s.mutator} | \`${cell(s.code.slice(0, 100))}\` | \`${cell(s.replacement.slice(0, 60))}\` |`);
}
out.push('');
out.push('## Equivalent mutants');
out.push('');
out.push('Marked in the code with `// Stryker disable next-line <mutator>: <reason>`: changes that no test');
out.push('can observe because the behaviour does not change.');
out.push('');
if (ignored.length === 0) out.push('None.');
else {
  out.push('| where | mutator | why it is equivalent |');
  out.push('| --- | --- | --- |');
  for (const i of ignored) out.push(`| ${i.where} | ${i.mutator} | ${cell(i.reason)} |`);
}
writeFileSync(join(root, 'MUTATION.md'), out.join('\n') + '\n');
console.log(`MUTATION.md: ${rows.length} modules, ${survivors.length} survivors, ${ignored.length} marked equivalent`);
