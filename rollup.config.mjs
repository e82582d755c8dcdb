// Builds dist/: index.mjs (ESM), index.cjs (CommonJS), their types, cli.mjs, worker.mjs, the tfjs
// and inline entries, and copies build/wasm/*.wasm beside them (the loader finds them with
// new URL(..., import.meta.url)). dist/ is exactly what the package ships (package.json "files").
//
// What is not built, and why:
// - No source maps. They would point at ../ts/*.ts, which the package does not ship, so a user's
//   debugger would show nothing; and the bundles are plain, unminified JavaScript with their
//   comments, readable as they are.
// - Types: one .d.mts and one .d.cts per entry, no .d.ts. "exports" gives each condition its own
//   types (import -> .d.mts, require -> .d.cts): with moduleResolution node16/nodenext, TypeScript
//   takes a declaration file's module format from its extension, so ESM and CommonJS users each get
//   types of the format they load (no "masquerading as ESM"), and bundler resolution reads the same
//   conditions. A .d.ts would be read as ESM here ("type": "module") and is needed by nothing:
//   the top-level "types" (for the legacy node10 resolution, which ignores "exports" and loads
//   "main", the .cjs) points at index.d.cts.
import { existsSync, readFileSync } from 'node:fs';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';
import { inlineBuilds } from './scripts/rollup-inline.mjs';

const WASM = ['xent-simd.wasm', 'xent.wasm', 'xent-simd-threads.wasm', 'xent-simd-relaxed.wasm'];

/** Emits build/wasm/*.wasm as assets of the bundle (no extra dependency needed). @returns {import('rollup').Plugin} */
function copyWasm() {
  return {
    name: 'xent-copy-wasm',
    buildStart() {
      for (const f of WASM) this.addWatchFile(`build/wasm/${f}`);
    },
    generateBundle() {
      for (const f of WASM) {
        const path = `build/wasm/${f}`;
        if (!existsSync(path)) {
          this.warn(`${path} is missing: run npm run build:wasm first (dist/ will not load without it)`);
          continue;
        }
        this.emitFile({ type: 'asset', fileName: f, source: readFileSync(path) });
      }
    },
  };
}

// The library is type-checked without Node's types (it must run in browsers too); the CLI with them.
const ts = ({ node = false } = {}) =>
  typescript({
    tsconfig: './tsconfig.json',
    include: ['ts/**/*.ts'],
    exclude: ['test/**', 'vitest.config.ts', ...(node ? [] : ['ts/cli.ts'])],
    noEmitOnError: true,
    compilerOptions: { noEmit: false, declaration: false, sourceMap: false, types: node ? ['node'] : [] },
  });

const banner = '/*! xent-wasm — MIT OR Apache-2.0 */';
// The main entry, as imported by ts/tfjs.ts (kept external: one copy of the library per program).
const isIndex = (/** @type {string} */ id) => id === './index.js' || /[\\/]ts[\\/]index\.(js|ts)$/.test(id);
// Tensor and Xent implement Disposable (Symbol.dispose): consumers need the lib's types.
const dtsBanner = '/// <reference lib="esnext.disposable" />';

/** @type {import('rollup').RollupOptions[]} */
export default [
  {
    input: 'ts/index.ts',
    output: [
      { file: 'dist/index.mjs', format: 'es', banner },
      // import.meta.url is rewritten by rollup for CommonJS (pathToFileURL(__filename) in Node).
      { file: 'dist/index.cjs', format: 'cjs', exports: 'named', banner },
    ],
    plugins: [ts(), copyWasm()],
  },
  {
    // The worker threads' entry (Xent.create({ threads })), beside index.mjs: new URL('./worker.mjs', import.meta.url).
    input: 'ts/threads/worker.ts',
    output: { file: 'dist/worker.mjs', format: 'es', banner },
    plugins: [ts()],
  },
  {
    // The CLI uses the published ESM entry, exactly what users get.
    input: 'ts/cli.ts',
    external: (id) => id === './index.js' || id.startsWith('node:'),
    output: {
      file: 'dist/cli.mjs',
      format: 'es',
      banner: '#!/usr/bin/env node',
      paths: (id) => (id === './index.js' || /[\\/]ts[\\/]index\.(js|ts)$/.test(id) ? './index.mjs' : id),
    },
    plugins: [ts({ node: true })],
  },
  {
    // xent-wasm/tfjs: the TF.js adapter. TF.js (a peer dependency) and the main entry stay external.
    input: 'ts/tfjs.ts',
    external: (id) => isIndex(id) || id.startsWith('@tensorflow/'),
    output: [
      {
        file: 'dist/tfjs.mjs',
        format: 'es',
        banner,
        paths: (id) => (isIndex(id) ? './index.mjs' : id),
      },
      {
        file: 'dist/tfjs.cjs',
        format: 'cjs',
        exports: 'named',
        banner,
        paths: (id) => (isIndex(id) ? './index.cjs' : id),
      },
    ],
    plugins: [ts()],
  },
  {
    input: 'ts/tfjs.ts',
    external: (id) => isIndex(id) || id.startsWith('@tensorflow/'),
    output: [
      { file: 'dist/tfjs.d.cts', format: 'es', banner: dtsBanner, paths: (id) => (isIndex(id) ? './index.cjs' : id) },
      { file: 'dist/tfjs.d.mts', format: 'es', banner: dtsBanner, paths: (id) => (isIndex(id) ? './index.mjs' : id) },
    ],
    plugins: [dts({ tsconfig: './tsconfig.json', compilerOptions: { types: [] } })],
  },
  {
    input: 'ts/index.ts',
    output: [
      { file: 'dist/index.d.cts', format: 'es', banner: dtsBanner },
      // Also what TypeScript finds next to index.mjs (the tests' and demo's import of dist/index.mjs).
      { file: 'dist/index.d.mts', format: 'es', banner: dtsBanner },
    ],
    plugins: [dts({ tsconfig: './tsconfig.json', compilerOptions: { types: [] } })],
  },
  // xent-wasm/inline: the same API with both .wasm builds embedded (see scripts/rollup-inline.mjs).
  ...inlineBuilds({ ts, banner, dtsBanner }),
];
