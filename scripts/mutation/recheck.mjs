// `node scripts/mutation/recheck.mjs GROUP [--timeouts] [--list]` (--list: print the ranges to test, run nothing): tests again only the mutants that survived
// (or had no coverage; with --timeouts also those that timed out, which a busy machine can cause) in
// the group's last report, and merges their new status into that report. Much faster
// than a full run after tests were added for the survivors.
//
// A file whose source changed since the report was made (a `// Stryker disable` comment added, a
// line refactored) is matched line by line with its old source: a killed mutant that lies wholly on
// unchanged lines keeps its status at its new position, and everything else in the file (the open
// mutants, and every mutant on or next to a changed line) is tested again. That holds as long as the
// change is local, as after adding tests and marking equivalent mutants; after a larger rewrite run
// the group in full (npm run test:mutation -- GROUP).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MUTATION_GROUPS } from './groups.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const group = process.argv[2];
const withTimeouts = process.argv.includes('--timeouts');
if (!group || !(group in MUTATION_GROUPS)) {
  console.error(`usage: recheck.mjs GROUP [--timeouts] [--list] (GROUP one of ${Object.keys(MUTATION_GROUPS).join(', ')})`);
  process.exit(2);
}
const reportFile = join(root, 'reports/mutation', `${group}.json`);
const report = JSON.parse(readFileSync(reportFile, 'utf8'));
const OPEN = new Set(['Survived', 'NoCoverage', ...(withTimeouts ? ['Timeout'] : [])]);

/**
 * For each line of `before` (0-based), its line in `after` when it is kept unchanged (a longest
 * common subsequence of the two), else undefined.
 */
function lineMap(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint16Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const map = new Array(a.length);
  const kept = new Set();
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    if (a[i] === b[j]) {
      map[i] = j;
      kept.add(j);
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) i++;
    else j++;
  }
  return { map, kept, lines: b.length };
}

// Each mutant's exact span: StrykerJS only makes the mutants that lie wholly inside a range, so a
// range of whole lines would miss a mutant that spans several (a block, an object literal).
// A range's columns count from 0, the report's from 1; one column more on each side keeps the
// span inside the range whichever way the ends are counted.
const spanOf = ({ start, end }) => `${start.line}:${Math.max(0, start.column - 2)}-${end.line}:${end.column + 1}`;

const ranges = [];
/** Per changed file: the killed mutants carried over to their new position. */
const carried = new Map();
for (const [path, entry] of Object.entries(report.files)) {
  const source = readFileSync(join(root, path), 'utf8');
  if (source === entry.source) {
    const open = entry.mutants.filter((m) => OPEN.has(m.status));
    for (const span of new Set(open.map((m) => spanOf(m.location)))) ranges.push(`${path}:${span}`);
    continue;
  }
  const { map, kept, lines } = lineMap(entry.source, source);
  const oldLines = entry.source.split('\n');
  const newLines = source.split('\n');
  const isComment = (j) => newLines[j]?.trim().startsWith('//') ?? false;
  // A line counts as changed when it is new, and so does the line after a new one (a `Stryker
  // disable next-line` comment changes what the next line's mutants are), and every line from a new
  // `Stryker disable` comment to the next `Stryker restore`. A mutant's directives are those of the
  // line it starts on.
  const touched = new Set();
  for (let j = 0; j < lines; j++) {
    if (kept.has(j)) continue;
    touched.add(j).add(j + 1);
    if (/Stryker disable (?!next-line)/.test(newLines[j] ?? '')) for (let k = j + 1; k < lines && !/Stryker restore/.test(newLines[k - 1] ?? ''); k++) touched.add(k);
  }
  const keep = [];
  const again = new Set();
  for (const m of entry.mutants) {
    const { start, end } = m.location;
    const from = map[start.line - 1];
    const to = map[end.line - 1];
    // Carried: every line of the old span kept, in order, but for comment lines added or removed
    // between them, and its first line untouched.
    let whole = from !== undefined && to !== undefined && !touched.has(from);
    let before = from;
    for (let line = start.line; whole && line < end.line; line++) {
      const here = map[line];
      if (here === undefined) {
        if (!oldLines[line]?.trim().startsWith('//')) whole = false;
        continue;
      }
      if (here <= before) whole = false;
      else for (let j = before + 1; j < here; j++) if (!isComment(j)) whole = false;
      before = here;
    }
    const moved = whole ? { ...m, location: { start: { ...start, line: from + 1 }, end: { ...end, line: to + 1 } } } : undefined;
    if (moved && !OPEN.has(m.status)) keep.push(moved);
    else if (moved) again.add(spanOf(moved.location));
    else {
      // Its code changed: test again whatever StrykerJS now makes from the old span's surroundings
      // (from the last kept line before it to the first kept line after it).
      let first = start.line - 1;
      while (first > 0 && map[first] === undefined) first--;
      let last = end.line - 1;
      while (last < map.length - 1 && map[last] === undefined) last++;
      const newFirst = (map[first] ?? 0) + 1;
      const newLast = (map[last] ?? lines - 1) + 1;
      again.add(`${newFirst}:0-${newLast}:1000`);
    }
  }
  // New lines no old mutant touched (added code) are tested too.
  for (const j of touched) if (j < lines) again.add(`${j + 1}:0-${j + 1}:1000`);
  for (const span of again) ranges.push(`${path}:${span}`);
  carried.set(path, { source, keep });
  console.log(`${path} changed since the report was made: ${keep.length} killed mutants on unchanged lines kept, the rest tested again`);
}
if (process.argv.includes('--list')) {
  for (const range of ranges) console.log(range);
  process.exit(0);
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
// Mutants of a changed file get new ids, after every id in the report.
let nextId = Math.max(0, ...Object.values(report.files).flatMap((e) => e.mutants.map((m) => Number(m.id)).filter(Number.isFinite))) + 1;
for (const [path, entry] of Object.entries(report.files)) {
  const changed = carried.get(path);
  if (changed) {
    // The fresh results, and the carried mutants StrykerJS did not make again.
    const mutants = [...(recheck.files[path]?.mutants ?? [])];
    const seen = new Set(mutants.map((m) => keyOf(path, m)));
    for (const m of changed.keep) if (!seen.has(keyOf(path, m))) mutants.push(m);
    updated += recheck.files[path]?.mutants.length ?? 0;
    mutants.sort((x, y) => x.location.start.line - y.location.start.line || x.location.start.column - y.location.start.column);
    report.files[path] = { ...entry, source: changed.source, mutants: mutants.map((m) => ({ ...m, id: String(nextId++) })) };
    continue;
  }
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
