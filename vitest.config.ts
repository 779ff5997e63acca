import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['libs/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'cli/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['test/faults/**', 'test/compose/**', '**/node_modules/**'],
    globalSetup: ['libs/testkit/src/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: integration tests share one broker; keep the fan-out modest.
    maxWorkers: 2,
  },
});
