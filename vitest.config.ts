import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources; end-to-end tests spawn the built CLI (dist/),
// which `npm test` builds first. Heavy end-to-end files get long timeouts of their own.
// Files run in parallel: each one makes its own temp folders, starts its own servers (Redis,
// stand-ins) on free loopback ports and names its own queues, so none shares state with another.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One demo warehouse for the whole run, built with the real CLI; files copy it (test/util/cli.ts).
    globalSetup: ['test/util/demoWarehouseSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 3,
  },
});
