// The tests StrykerJS runs against each mutant of one mutation group (`npm run test:mutation`; the
// groups are in scripts/mutation/groups.mjs). Only in-process suites are used: a mutant that runs
// inside a child process is invisible to Stryker's per-test coverage.
import base from './jest.config.js';
import { currentGroup } from './scripts/mutation/groups.mjs';

const group = currentGroup();

export default {
  ...base,
  testMatch: group.tests.map((t) => `**/dist/test/${t}.test.js`),
  maxWorkers: 1,
};
