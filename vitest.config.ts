import { execFileSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

/**
 * V8's flag for WebAssembly relaxed SIMD (test/relaxed.test.ts loads xent-simd-relaxed.wasm),
 * passed to the test processes only where this Node knows it (Node 20 needs it; a Node that does
 * not list it would refuse to start with an unknown flag).
 */
const RELAXED_SIMD_FLAG = '--experimental-wasm-relaxed-simd';
function relaxedSimdFlag(): string[] {
  if (process.execArgv.includes(RELAXED_SIMD_FLAG)) return [RELAXED_SIMD_FLAG];
  try {
    const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    return options.includes(RELAXED_SIMD_FLAG) ? [RELAXED_SIMD_FLAG] : [];
  } catch {
    return [];
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The second: one pack + install of the package per run, for the tests that need it.
    globalSetup: ['test/reference/global-setup.ts', 'test/package/global-setup.ts'],
    // Two shared cores: one worker process at a time keeps timings and memory predictable.
    pool: 'forks',
    // --expose-gc lets test/memory.test.ts check the opt-in FinalizationRegistry (autoFree).
    poolOptions: { forks: { maxForks: 2, minForks: 1, execArgv: ['--expose-gc', ...relaxedSimdFlag()] } },
    testTimeout: 60_000,
    // The JSON report lets .ci/run print one closing "N passed, N failed" line for everything.
    reporters: ['default', 'json'],
    outputFile: { json: 'test/artifacts/vitest.json' },
    hookTimeout: 60_000,
  },
});
