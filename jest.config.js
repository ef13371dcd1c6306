// Tests are written in TypeScript and compiled by `tsc` (npm run build) together with the sources,
// so the suite type-checks everything once and jest runs plain ESM JavaScript from dist/.
export default {
  rootDir: '.',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  testEnvironment: 'node',
  transform: {},
  // Integration tests start real processes (driver, API server, sidecar); give them room on a loaded 2-core machine.
  testTimeout: 60000,
  // Real-cluster suites run only through `npm run test:real`.
  testPathIgnorePatterns: ['/node_modules/', '/dist/test/real-cluster/'],
  maxWorkers: process.env.CI ? 2 : '50%',
};
