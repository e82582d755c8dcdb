import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/reference/global-setup.ts'],
    // Two shared cores: one worker process at a time keeps timings and memory predictable.
    pool: 'forks',
    // --expose-gc lets test/memory.test.ts check the opt-in FinalizationRegistry (autoFree).
    poolOptions: { forks: { maxForks: 2, minForks: 1, execArgv: ['--expose-gc'] } },
    testTimeout: 60_000,
    // The JSON report lets .ci/run print one closing "N passed, N failed" line for everything.
    reporters: ['default', 'json'],
    outputFile: { json: 'test/artifacts/vitest.json' },
    hookTimeout: 60_000,
  },
});
