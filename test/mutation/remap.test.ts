// The recheck of a mutation group carries a report over an edit of its module (scripts/mutation/
// remap.mjs): a slip there would keep a "killed" status for code that changed, and the report would
// claim tests that do not exist. These cases pin what is kept, where it moves, and what is retested.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../src/util/package-root.js';

interface Position {
  line: number;
  column: number;
}
interface Mutant {
  id: string;
  status: string;
  location: { start: Position; end: Position };
}
interface Remap {
  lineMap(before: string, after: string): number[];
  carryOver(mutants: Mutant[], before: string, after: string): { kept: Mutant[]; spans: [number, number][] };
}

let remap: Remap;
beforeAll(async () => {
  remap = (await import(pathToFileURL(join(packageRoot(), 'scripts/mutation/remap.mjs')).href)) as Remap;
});

const mutant = (id: string, startLine: number, endLine = startLine): Mutant => ({
  id,
  status: 'Killed',
  location: { start: { line: startLine, column: 3 }, end: { line: endLine, column: 9 } },
});

const BEFORE = ['a', 'b', 'c', 'd', 'e', 'f'].join('\n');

describe('lineMap', () => {
  it('maps every line of an unchanged source to itself', () => {
    expect(remap.lineMap(BEFORE, BEFORE)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('shifts the lines after an inserted line and marks a changed line 0', () => {
    const after = ['a', 'x', 'b', 'C', 'd', 'e', 'f'].join('\n');
    expect(remap.lineMap(BEFORE, after)).toEqual([1, 3, 0, 5, 6, 7]);
  });

  it('marks removed lines 0 and moves the rest up', () => {
    const after = ['a', 'd', 'e', 'f'].join('\n');
    expect(remap.lineMap(BEFORE, after)).toEqual([1, 0, 0, 2, 3, 4]);
  });

  it('pairs repeated lines in order', () => {
    expect(remap.lineMap(['}', '}', 'x'].join('\n'), ['}', 'y', '}', 'x'].join('\n'))).toEqual([1, 3, 4]);
  });
});

describe('carryOver', () => {
  it('keeps a mutant below an inserted comment at its new line, with its status, and retests only the inserted line', () => {
    const after = ['a', '// Stryker disable next-line X: reason', 'b', 'c', 'd', 'e', 'f'].join('\n');
    const { kept, spans } = remap.carryOver([mutant('1', 2), mutant('2', 5)], BEFORE, after);
    expect(kept).toEqual([
      { id: '1', status: 'Killed', location: { start: { line: 3, column: 3 }, end: { line: 3, column: 9 } } },
      { id: '2', status: 'Killed', location: { start: { line: 6, column: 3 }, end: { line: 6, column: 9 } } },
    ]);
    expect(spans).toEqual([[2, 2]]);
  });

  it('drops a mutant on a changed line and retests that line', () => {
    const after = ['a', 'b', 'C', 'd', 'e', 'f'].join('\n');
    const { kept, spans } = remap.carryOver([mutant('1', 3), mutant('2', 4)], BEFORE, after);
    expect(kept.map((m) => m.id)).toEqual(['2']);
    expect(spans).toEqual([[3, 3]]);
  });

  it('drops a surviving mutant over several lines when one of them changed, and retests all of its lines', () => {
    const after = ['a', 'b', 'C', 'd', 'e', 'f'].join('\n');
    const { kept, spans } = remap.carryOver([{ ...mutant('1', 2, 5), status: 'Survived' }, mutant('2', 6)], BEFORE, after);
    expect(kept.map((m) => m.id)).toEqual(['2']);
    expect(spans).toEqual([[2, 5]]);
  });

  it('keeps a killed mutant that encloses the edit (its first and last lines unchanged) at its new lines, and retests only the edit', () => {
    const after = ['a', 'b', 'new', 'C', 'd', 'e', 'f'].join('\n');
    for (const status of ['Killed', 'Timeout']) {
      const { kept, spans } = remap.carryOver([{ ...mutant('1', 2, 5), status }], BEFORE, after);
      expect(kept).toEqual([{ id: '1', status, location: { start: { line: 2, column: 3 }, end: { line: 6, column: 9 } } }]);
      expect(spans).toEqual([[3, 4]]);
    }
  });

  it('drops a killed mutant whose first or last line changed', () => {
    const after = ['a', 'B', 'c', 'd', 'E', 'f'].join('\n');
    const { kept, spans } = remap.carryOver([mutant('1', 2, 4), mutant('2', 3, 5)], BEFORE, after);
    expect(kept).toEqual([]);
    expect(spans).toEqual([[2, 5]]);
  });

  it('drops a surviving mutant whose lines were pulled apart by an insertion, and retests the lines between', () => {
    const after = ['a', 'b', 'c', 'new', 'd', 'e', 'f'].join('\n');
    const { kept, spans } = remap.carryOver([{ ...mutant('1', 3, 4), status: 'NoCoverage' }], BEFORE, after);
    expect(kept).toEqual([]);
    expect(spans).toEqual([[3, 5]]);
  });

  it('drops the mutants of removed lines, with nothing to retest when nothing took their place', () => {
    const after = ['a', 'd', 'e', 'f'].join('\n');
    const { kept, spans } = remap.carryOver([mutant('1', 2), mutant('2', 3), mutant('3', 4)], BEFORE, after);
    expect(kept.map((m) => [m.id, m.location.start.line])).toEqual([['3', 2]]);
    expect(spans).toEqual([]);
  });

  it('keeps everything in place for an unchanged source', () => {
    const mutants = [mutant('1', 1), mutant('2', 3, 6)];
    expect(remap.carryOver(mutants, BEFORE, BEFORE)).toEqual({ kept: mutants, spans: [] });
  });
});
