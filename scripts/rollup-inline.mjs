// The xent-wasm/inline entry: dist/inline.mjs, dist/inline.cjs and their types. The same library
// as dist/index.*, bundled on its own, with both .wasm builds embedded as base64 (nothing is
// fetched at load). Used by rollup.config.mjs (`...inlineBuilds({ ts, banner, dtsBanner })`).
//
// How: every `./loader.js` import inside ts/ resolves to ts/inline-loader.ts (which wraps the
// real loader and defaults to the embedded bytes), and `./inline-bytes.js` is a virtual module
// holding the base64 of build/wasm/*.wasm. The real loader's `new URL('./x.wasm',
// import.meta.url)` (dead code here) is replaced, so that bundlers that bundle the inline entry
// do not emit the .wasm files too; the build fails if any `import.meta` is left.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { dts } from 'rollup-plugin-dts';

const TS_DIR = resolve('ts');
const LOADER = resolve('ts/loader.ts');
const INLINE_LOADER = resolve('ts/inline-loader.ts');
const THREADS_ENV = resolve('ts/threads/env.ts');
const BYTES_ID = '\0xent-inline-bytes';
const WASM = { SIMD_WASM_BASE64: 'build/wasm/xent-simd.wasm', PORTABLE_WASM_BASE64: 'build/wasm/xent.wasm' };
const isIndex = (/** @type {string} */ id) => id === './index.js' || /[\\/]ts[\\/]index\.(js|ts)$/.test(id);

/** @returns {import('rollup').Plugin} */
function inlineWasm() {
  return {
    name: 'xent-inline-wasm',
    buildStart() {
      for (const f of Object.values(WASM)) this.addWatchFile(resolve(f));
    },
    resolveId(source, importer) {
      if (!importer || !resolve(importer).startsWith(TS_DIR)) return null;
      if (source === './inline-bytes.js') return BYTES_ID;
      if (source === './loader.js' && resolve(importer) !== INLINE_LOADER) return INLINE_LOADER;
      return null;
    },
    load(id) {
      if (id !== BYTES_ID) return null;
      const lines = [];
      for (const [name, file] of Object.entries(WASM)) {
        if (!existsSync(file))
          this.error(`${file} is missing: run \`npm run build:wasm\` first (xent-wasm/inline embeds it)`);
        lines.push(`export const ${name} = ${JSON.stringify(readFileSync(file).toString('base64'))};`);
      }
      // No source map content for 290 KB of base64.
      return { code: lines.join('\n'), map: { mappings: '' } };
    },
    transform(code, id) {
      if (resolve(id) !== LOADER && resolve(id) !== THREADS_ENV) return null;
      // ts/threads/env.ts: the worker entry (never reached: the inline build has no threads build).
      const out = code.replace(
        /new URL\((['"])\.\/([\w-]+\.(?:wasm|mjs))\1,\s*import\.meta\.url\)/g,
        "new URL('xent-inline:$2')",
      );
      return { code: out, map: null };
    },
    renderChunk(code, chunk) {
      if (/import\.meta\b/.test(code.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, ''))) {
        this.error(
          `${chunk.fileName} still uses import.meta (ts/loader.ts changed how it finds the .wasm?): update scripts/rollup-inline.mjs`,
        );
      }
      return null;
    },
  };
}

/**
 * The rollup configs of xent-wasm/inline, with the main config's TypeScript plugin factory and banners.
 * @param {{ ts: () => import('rollup').Plugin, banner: string, dtsBanner: string }} options
 * @returns {import('rollup').RollupOptions[]}
 */
export function inlineBuilds({ ts, banner, dtsBanner }) {
  return [
    {
      input: 'ts/inline.ts',
      output: [
        { file: 'dist/inline.mjs', format: 'es', banner },
        { file: 'dist/inline.cjs', format: 'cjs', exports: 'named', banner },
      ],
      plugins: [inlineWasm(), ts()],
    },
    {
      // Types: the main entry's (the same API), re-exported.
      input: 'ts/inline.ts',
      external: (id) => isIndex(id),
      output: [
        {
          file: 'dist/inline.d.cts',
          format: 'es',
          banner: dtsBanner,
          paths: (id) => (isIndex(id) ? './index.cjs' : id),
        },
        {
          file: 'dist/inline.d.mts',
          format: 'es',
          banner: dtsBanner,
          paths: (id) => (isIndex(id) ? './index.mjs' : id),
        },
      ],
      plugins: [dts({ tsconfig: './tsconfig.json', compilerOptions: { types: [] } })],
    },
  ];
}
