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
    // Test files of one worker share its process and module cache. Isolated, every file paid its
    // own import of @kubernetes/client-node (~0.5 s) and the rest: 40 % of the suite's time. So
    // no test may lean on a fresh module: each closes what it opens, restores what it changes, and
    // dates its facts when it builds them.
    isolate: false,
    // Two cores: more workers than that only adds contention for the loopback servers.
    maxWorkers: 2,
    reporters: ['default'],
    // A missing golden file fails instead of being written (Vitest writes it unless CI is set):
    // `npx vitest run <file> --update` writes or refreshes one on purpose.
    update: 'none',
  },
});
