import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** `npm run test:compose`: docker-compose.yml through podman (long: images are built on the first run). */
export default defineConfig({
  root: fileURLToPath(new URL('../../', import.meta.url)),
  test: {
    include: ['test/compose/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 1_800_000,
    maxWorkers: 1,
    fileParallelism: false,
    // The build and run figures are part of the point of the run: show them.
    silent: false,
  },
});
