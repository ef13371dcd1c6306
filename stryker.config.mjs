// Mutation testing of the core: what the sidecar decides and what it sends. One Stryker run per
// group of modules (scripts/mutation/groups.mjs); run them all with `npm run test:mutation`, which
// also writes MUTATION.md. Reports go to reports/mutation/.
import { currentGroup } from './scripts/mutation/groups.mjs';

const group = currentGroup();
// scripts/mutation/recheck.mjs narrows a run to given lines and writes it to a report of its own.
const ranges = process.env.MUTATION_RANGES ? process.env.MUTATION_RANGES.split(',') : undefined;

export default {
  packageManager: 'npm',
  testRunner: 'jest',
  jest: { configFile: 'jest.mutation.config.js', enableFindRelatedTests: false },
  testRunnerNodeArgs: ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning'],
  // The sandbox gets the generated CSI types copied in, so tsc alone builds it; the bundle (what
  // tests that start the sidecar as a process run) is made from tsc's output, mutants included.
  // Stryker runs it without a shell, so the two steps are one npm script.
  buildCommand: 'npm run build:sandbox',
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 10000,
  ignorePatterns: ['dist', 'coverage', 'reports', '.real-cluster', 'test/real-cluster/go'],
  mutate: ranges ?? group.mutate,
  // The incremental file is the full report (every mutant, its status and the tests that saw it):
  // MUTATION.md is written from it, and the next run re-tests only what changed.
  incremental: true,
  incrementalFile: process.env.MUTATION_REPORT ?? `reports/mutation/${group.name}.json`,
  reporters: ['clear-text', 'progress-append-only'],
  clearTextReporter: { reportTests: false, reportMutants: false },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
