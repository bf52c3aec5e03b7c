import { defineConfig } from 'vitest/config';

/** The bench's own unit tests (the root config only collects src/ and test/): `npx vitest run --config bench/mirror/vitest.config.ts`. */
export default defineConfig({
  test: { include: ['bench/mirror/**/*.test.ts'], testTimeout: 10_000, pool: 'forks', maxWorkers: 1 },
});
