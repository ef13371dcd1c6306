// Carries a mutation report over an edit of its module, so that a recheck after an edit (a test-only
// refactor, a `Stryker disable` comment, a changed function) tests only what the edit touched
// instead of the whole group again.
//
// A line diff (longest common subsequence of whole lines) pairs the report's source with the
// current one. A mutant whose every line is unchanged, and whose lines stay consecutive, keeps its
// status at its new position. So does a killed mutant that encloses the edit (a function body or
// an object literal removed whole) when its first and last lines are unchanged: removing code that
// tests already missed stays missed, and retesting it would mean retesting every mutant inside it,
// often the whole module. Every other mutant is dropped, and the lines where it now sits, with
// every inserted or changed line, are handed back as ranges for StrykerJS to mutate and test again.

/** For each line of `before` (index 0 = line 1), the 1-based line of `after` it became, or 0 when it was changed or removed. */
export function lineMap(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  // Trim the common head and tail first: an edit is usually small, and the table is then tiny.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const n = a.length - head - tail;
  const m = b.length - head - tail;
  // lcs[i][j]: length of the longest common subsequence of a[head+i..] and b[head+j..].
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[head + i] === b[head + j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const map = new Array(a.length).fill(0);
  for (let k = 0; k < head; k++) map[k] = k + 1;
  for (let k = 0; k < tail; k++) map[a.length - 1 - k] = b.length - k;
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[head + i] === b[head + j]) {
      map[head + i] = head + j + 1;
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) i++;
    else j++;
  }
  return map;
}

/**
 * Splits a module's mutants across an edit. Returns the mutants that keep their status (with
 * their locations moved) and the line spans of the current source ([first, last], 1-based) that
 * must be mutated again: every line no old line became, and the new lines of each dropped mutant.
 */
const ENCLOSING_KEPT = new Set(['Killed', 'Timeout']);

export function carryOver(mutants, before, after) {
  const map = lineMap(before, after);
  const afterLines = after.split('\n').length;
  const reached = new Set(map.filter((line) => line > 0));
  const spans = [];
  for (let line = 1; line <= afterLines; line++) {
    if (reached.has(line)) continue;
    const last = spans.at(-1);
    if (last && last[1] === line - 1) last[1] = line;
    else spans.push([line, line]);
  }
  const kept = [];
  for (const m of mutants) {
    const { start, end } = m.location;
    let unchanged = true;
    for (let line = start.line; line <= end.line; line++) {
      if (map[line - 1] !== map[start.line - 1] + (line - start.line) || map[line - 1] === 0) unchanged = false;
    }
    if (unchanged) {
      const shift = map[start.line - 1] - start.line;
      kept.push({ ...m, location: { start: { ...start, line: start.line + shift }, end: { ...end, line: end.line + shift } } });
      continue;
    }
    if (ENCLOSING_KEPT.has(m.status) && end.line > start.line && map[start.line - 1] > 0 && map[end.line - 1] > 0) {
      kept.push({ ...m, location: { start: { ...start, line: map[start.line - 1] }, end: { ...end, line: map[end.line - 1] } } });
      continue;
    }
    // Where the dropped mutant's code now lies: from the new line of the nearest unchanged line at
    // or before its start to that of the nearest at or after its end.
    let first = 1;
    for (let line = start.line; line >= 1; line--) {
      if (map[line - 1] > 0) {
        first = map[line - 1] + (line === start.line ? 0 : 1);
        break;
      }
    }
    let last = afterLines;
    for (let line = end.line; line <= map.length; line++) {
      if (map[line - 1] > 0) {
        last = map[line - 1] - (line === end.line ? 0 : 1);
        break;
      }
    }
    if (first <= last) spans.push([first, last]);
  }
  return { kept, spans: mergeSpans(spans) };
}

function mergeSpans(spans) {
  const sorted = [...spans].sort((x, y) => x[0] - y[0]);
  const out = [];
  for (const [first, last] of sorted) {
    const prev = out.at(-1);
    if (prev && first <= prev[1] + 1) prev[1] = Math.max(prev[1], last);
    else out.push([first, last]);
  }
  return out;
}
