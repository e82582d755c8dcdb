/** Fails early, with the fix, when the integration tests would run against a missing build. */
import { existsSync } from 'node:fs';

export default function setup(): void {
  const need = [
    'dist/index.mjs',
    'dist/index.cjs',
    'dist/xent-simd.wasm',
    'dist/xent.wasm',
    'dist/xent-simd-relaxed.wasm',
  ];
  const missing = need.filter((f) => !existsSync(new URL(`../../${f}`, import.meta.url)));
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')}: run \`npm run build\` (build:wasm then build:ts) before the tests`);
  }
}
