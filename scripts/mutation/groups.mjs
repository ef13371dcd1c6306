// Which tests guard which core modules in mutation testing (`npm run test:mutation`).
//
// StrykerJS runs every test file of the jest config for every mutant, and loading a test file (and,
// for the sync suites, starting the API test server and the sample driver) costs seconds. So each
// group pairs a few modules with the test files written to guard them, and one Stryker run is made
// per group. A test outside a module's group can still catch its mutants in the normal test run:
// the scores here are a lower bound.
// The tests of the sync engine and its two kinds: real API test server, real sample driver.
const SYNC_TESTS = [
  'sidecar/snapshot/scenarios',
  'sidecar/snapshot/sync-failures',
  'sidecar/group/sync',
  'sidecar/group/versions',
  'sidecar/engine/poll-delay',
  'sidecar/engine/freshness',
  'sidecar/engine/ordering',
];

export const MUTATION_GROUPS = {
  rules: {
    mutate: [
      'src/sidecar/snapshot/decision.ts',
      'src/sidecar/group/decision.ts',
      'src/sidecar/snapshot/filter.ts',
      'src/sidecar/group/filter.ts',
      'src/sidecar/engine/updates.ts',
      'src/sidecar/engine/patches.ts',
      'src/sidecar/snapshot/status.ts',
      'src/sidecar/group/status.ts',
      'src/sidecar/names.ts',
      'src/sidecar/parameters.ts',
      'src/sidecar/secrets.ts',
    ],
    tests: [
      'sidecar/snapshot/decision',
      'sidecar/group/decision',
      'sidecar/engine/updates',
      'sidecar/engine/patches',
      'sidecar/group/versions',
      'sidecar/helpers',
      'sidecar/names',
      'sidecar/parameters',
      'sidecar/secrets',
      'sidecar/rules-edges',
    ],
  },
  csi: {
    mutate: ['src/csi/errors.ts', 'src/csi/sanitize.ts', 'src/csi/timestamps.ts'],
    tests: ['csi/errors', 'csi/sanitize', 'csi/timestamps'],
  },
  queue: {
    mutate: ['src/runtime/queue.ts'],
    tests: ['runtime/queue', 'runtime/controller'],
  },
  // The one sync engine (every step of a single or group content sync), and the two kinds it runs.
  // Two groups rather than one, so that each finishes in about an hour on two cores.
  engine: {
    mutate: ['src/sidecar/engine/sync.ts', 'src/sidecar/engine/failure.ts'],
    tests: SYNC_TESTS,
  },
  kinds: {
    mutate: ['src/sidecar/snapshot/kind.ts', 'src/sidecar/group/kind.ts'],
    // The v1alpha1 member objects are made by the group kind: their tests guard it too.
    tests: [...SYNC_TESTS, 'sidecar/group/alpha-members'],
  },
  // What goes over the CSI socket (requests, deadlines, the checks on each answer) and the member
  // objects a v1alpha1 group's sidecar creates.
  'csi-calls': {
    mutate: ['src/csi/connection.ts', 'src/csi/snapshotter.ts', 'src/csi/group-snapshotter.ts', 'src/sidecar/group/members.ts'],
    tests: ['csi/connection', 'csi/snapshotter', 'csi/capabilities', 'csi/startup-driver-loss', 'sidecar/group/alpha-members', 'sidecar/group/member-ids', 'sidecar/group/sync'],
  },
};

/** The group named by MUTATION_GROUP (set by scripts/mutation/run.mjs for each Stryker run). */
export function currentGroup() {
  const name = process.env.MUTATION_GROUP;
  const group = name ? MUTATION_GROUPS[name] : undefined;
  if (!group) throw new Error(`MUTATION_GROUP must name one of: ${Object.keys(MUTATION_GROUPS).join(', ')} (run npm run test:mutation)`);
  return { name, ...group };
}
