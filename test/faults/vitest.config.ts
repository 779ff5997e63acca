import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** The fault tests (`npm run test:faults`): long, one at a time, against the same infrastructure as `npm test`. */
export default defineConfig({
  root: fileURLToPath(new URL('../../', import.meta.url)),
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['libs/testkit/src/global-setup.ts'],
    testTimeout: 420_000,
    hookTimeout: 180_000,
    maxWorkers: 1,
    fileParallelism: false,
    // The scenario's progress and its report are the point of the run: show them.
    silent: false,
  },
});
