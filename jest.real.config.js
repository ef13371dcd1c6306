// Real-cluster suites (`npm run test:real`): upstream kube-apiserver, etcd, snapshot-controller and
// the Go csi-snapshotter built from Go modules. Global setup starts the cluster once per run and
// global teardown ends every process the run started; suites run one at a time on the shared cluster.
export default {
  rootDir: '.',
  roots: ['<rootDir>/dist/test/real-cluster'],
  testMatch: ['**/*.test.js'],
  testEnvironment: 'node',
  transform: {},
  globalSetup: '<rootDir>/dist/test/real-cluster/harness/global-setup.js',
  globalTeardown: '<rootDir>/dist/test/real-cluster/harness/global-teardown.js',
  // Snapshots go through the real controller, sidecar and driver on a loaded 2-core machine.
  testTimeout: 300000,
  maxWorkers: 1,
};
