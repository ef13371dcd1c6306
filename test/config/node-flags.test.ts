import { describe, expect, test } from '@jest/globals';
import { applyNodeFlags, NODE_FLAGS, RUNTIME_FALLBACK } from '../../src/node-flags.js';

describe('the V8 options the sidecar sets for itself', () => {
  const run = (execArgv: string[], nodeOptions = '') => {
    const set: string[] = [];
    const returned = applyNodeFlags(execArgv, nodeOptions, (flag) => set.push(flag));
    return { set, returned };
  };

  test('started as the image starts it (NODE_FLAGS on the command line), nothing is changed', () => {
    expect(NODE_FLAGS).toEqual(['--max-semi-space-size=2']);
    expect(run([...NODE_FLAGS])).toEqual({ set: [], returned: [] });
  });

  test('started without them, the runtime fallback is set', () => {
    expect(run([])).toEqual({ set: [RUNTIME_FALLBACK], returned: [RUNTIME_FALLBACK] });
    expect(run(['--enable-source-maps', '--max-old-space-size=300'])).toEqual({ set: ['--optimize-for-size'], returned: ['--optimize-for-size'] });
  });

  test("a young-generation size of the operator's own, on the command line or in NODE_OPTIONS, is respected", () => {
    for (const flag of ['--max-semi-space-size=8', '--min-semi-space-size=1', '--optimize-for-size', '--semi-space-growth-factor=1']) {
      expect(run([flag]).set).toEqual([]);
      expect(run([], `--enable-source-maps ${flag}`).set).toEqual([]);
    }
    expect(run(['--max-semi-space-size-x']).set).toEqual([RUNTIME_FALLBACK]);
  });
});
