import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // bench/: the benchmarks' own pure helpers (parsers, report rendering), not the benchmarks.
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    // Every wait in a test has its own deadline; these are the outer backstops.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
    pool: 'forks',
    // Two cores: more workers than that only adds contention for the loopback servers.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
