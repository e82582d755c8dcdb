/**
 * The package through bundlers, as a user's app gets it: a tiny app (test/bundlers/app) that
 * does `import { Xent } from 'xent-wasm'`, in a temp folder whose node_modules/xent-wasm links
 * to this repository, built with Vite 7 (its JS API), with rollup (+ node-resolve) and with
 * webpack 5 (its Node API), the output served over HTTP and loaded in Chromium. The
 * crossEntropy (forward + backward), score and scorer numbers must have the same bits as in
 * Node on the same seeded data; the .wasm must be an asset of the bundle (Vite and webpack:
 * emitted by the bundler itself, also for the module worker; rollup: copied beside the bundle by
 * the few-line plugin docs/bundlers.md shows, or not needed with xent-wasm/inline). A bundler that
 * cannot build or load the app fails the test; nothing skips.
 */
import { copyFileSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plugin, RollupLog } from 'rollup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../demo/serve.mjs';
import { compute, type ComputeResult } from '../browser/compute.mjs';
import { lib } from '../reference/dist.js';
import {
  DIST,
  checkPrerequisites,
  importTool,
  inPage,
  inWorker,
  launchChromium,
  listFiles,
  makeApp,
  makeWorkspace,
  openApp,
  tryCreate,
} from './helpers.js';

let ws: ReturnType<typeof makeWorkspace>;
let browser: Awaited<ReturnType<typeof launchChromium>>;
const servers: { close(): Promise<void> }[] = [];

const expected = new Map<string, Promise<ComputeResult>>();
function inNode(seed: number, simd: boolean): Promise<ComputeResult> {
  const key = `${seed}/${simd}`;
  if (!expected.has(key)) expected.set(key, compute(lib, { seed, simd }));
  return expected.get(key)!;
}

async function serve(root: string): Promise<string> {
  const s = await startServer({ root });
  servers.push(s);
  return s.url;
}

/** The package's .wasm files (dist/*.wasm) by name. */
const DIST_WASM = new Map(
  readdirSync(DIST)
    .filter((f) => f.endsWith('.wasm'))
    .map((f) => [f, readFileSync(join(DIST, f))]),
);
/** Which of dist's .wasm files has these bytes (undefined: none). */
const whichWasm = (bytes: Buffer) => [...DIST_WASM].find(([, b]) => b.equals(bytes))?.[0];

/**
 * Serves `out`, a build in which the bundler emitted the .wasm files itself (`wasm`: their paths
 * in `out`), and checks the app in Chromium: the page (both builds, `seed`) and its module worker
 * (`seed + 1`, SIMD) give the same bits as Node; the three .wasm requests (page then worker) are
 * answered from those assets as application/wasm (streaming compilation); no problems. Returns
 * the requested paths, relative to `out`, in order.
 */
async function checkEmittedApp(out: string, wasm: string[], seed: number): Promise<string[]> {
  const url = await serve(out);
  const { page, wasm: fetched, problems } = await openApp(browser.context, new URL('index.html', url).href);
  expect(await page.evaluate(() => (window as unknown as { simdSupported: boolean }).simdSupported)).toBe(true);
  for (const simd of [true, false])
    expect(await inPage(page, { seed, simd }), `page, simd ${simd}`).toEqual(await inNode(seed, simd));
  expect(await inWorker(page, { seed: seed + 1, simd: true }), 'module worker').toEqual(await inNode(seed + 1, true));
  expect(fetched.length).toBe(3);
  for (const f of fetched) {
    expect(wasm).toContain(f.path.slice(1));
    expect(f.status).toBe(200);
    expect(f.type).toBe('application/wasm');
  }
  expect(problems).toEqual([]);
  await page.close();
  return fetched.map((f) => f.path.slice(1));
}

beforeAll(async () => {
  checkPrerequisites();
  ws = makeWorkspace();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  ws?.remove();
});

describe('Vite 7', () => {
  it('vite build: the .wasm files are emitted as assets; page (both builds) and module worker give the same bits as Node', async () => {
    const vite = await importTool('vite', () => import('vite'));
    expect(vite.version).toMatch(/^7\./);
    const app = makeApp(ws.dir, 'vite-app');
    const out = join(ws.dir, 'vite-out');
    const warnings: string[] = [];
    const logger = vite.createLogger('warn');
    try {
      await vite.build({
        root: app,
        configFile: false,
        logLevel: 'warn',
        customLogger: { ...logger, warn: (m) => warnings.push(m), warnOnce: (m) => warnings.push(m) },
        cacheDir: join(ws.dir, 'vite-cache'),
        base: './',
        // node_modules/xent-wasm as a real install has it (not resolved to the repository's path).
        resolve: { preserveSymlinks: true },
        // A module worker ({ type: 'module' }) needs ES-format worker chunks.
        worker: { format: 'es' },
        build: { outDir: out, emptyOutDir: true, reportCompressedSize: false },
      });
    } catch (e) {
      throw new Error(`vite build of the test app failed: ${(e as Error).message}`, { cause: e });
    }
    expect(warnings).toEqual([]);

    const files = listFiles(out);
    const wasm = files.filter((f) => f.endsWith('.wasm'));
    // Every .wasm the loader names literally is emitted (named by content hash: one copy for the
    // page's and the worker's chunks), byte-identical to the package's.
    const emitted = wasm.map((f) => whichWasm(readFileSync(join(out, f))));
    expect(emitted).toContain('xent-simd.wasm');
    expect(emitted).toContain('xent.wasm');
    expect(
      emitted.every((w) => w !== undefined),
      `emitted: ${wasm.join(', ')}`,
    ).toBe(true);
    expect(wasm.every((f) => f.startsWith('assets/'))).toBe(true);
    // The page's chunk and the worker's chunk(s).
    expect(files.filter((f) => f.endsWith('.js')).length).toBeGreaterThanOrEqual(2);

    await checkEmittedApp(out, wasm, 5);
  });
  it("vite dev server, with optimizeDeps.exclude: ['xent-wasm'] (docs/bundlers.md's advice): page and module worker give the same bits as Node", async () => {
    // Vite's dependency pre-bundling moves the package's code to .vite/deps, where
    // new URL('./xent-simd.wasm', import.meta.url) finds no .wasm (Vite serves index.html there
    // instead): excluding the package from pre-bundling keeps import.meta.url pointing at dist/.
    const vite = await importTool('vite', () => import('vite'));
    const app = makeApp(ws.dir, 'vite-dev-app');
    const server = await vite.createServer({
      root: app,
      configFile: false,
      logLevel: 'error',
      cacheDir: join(ws.dir, 'vite-dev-cache'),
      resolve: { preserveSymlinks: true },
      optimizeDeps: { exclude: ['xent-wasm'] },
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
    });
    servers.push(server);
    await server.listen();
    const url = server.resolvedUrls?.local[0];
    expect(url).toBeDefined();
    const { page, wasm, problems } = await openApp(browser.context, new URL('index.html', url).href);
    expect(await inPage(page, { seed: 9, simd: true }), 'page').toEqual(await inNode(9, true));
    expect(await inWorker(page, { seed: 9, simd: false }), 'module worker').toEqual(await inNode(9, false));
    expect(wasm.map((w) => [w.path, w.status, w.type])).toEqual([
      ['/node_modules/xent-wasm/dist/xent-simd.wasm', 200, 'application/wasm'],
      ['/node_modules/xent-wasm/dist/xent.wasm', 200, 'application/wasm'],
    ]);
    expect(problems).toEqual([]);
    await page.close();
  });
});

/**
 * The plugin docs/bundlers.md shows to rollup users: emits the package's .wasm files beside the
 * output (where the loader's `new URL('./xent-simd.wasm', import.meta.url)` looks for them).
 */
function xentWasmAssets(require: NodeJS.Require): Plugin {
  const dist = dirname(require.resolve('xent-wasm'));
  return {
    name: 'xent-wasm-assets',
    generateBundle() {
      for (const fileName of readdirSync(dist).filter((f) => f.endsWith('.wasm'))) {
        this.emitFile({ type: 'asset', fileName, source: readFileSync(join(dist, fileName)) });
      }
    },
  };
}

async function rollupBuild(
  app: string,
  out: string,
  extra: Plugin[] = [],
): Promise<{ files: string[]; warnings: string[] }> {
  const { rollup } = await importTool('rollup', () => import('rollup'));
  const { nodeResolve } = await importTool('@rollup/plugin-node-resolve', () => import('@rollup/plugin-node-resolve'));
  const warnings: string[] = [];
  rmSync(out, { recursive: true, force: true });
  try {
    const bundle = await rollup({
      input: join(app, 'main.js'),
      preserveSymlinks: true,
      plugins: [nodeResolve({ browser: true }), ...extra],
      onwarn: (w: RollupLog) => void warnings.push(`${w.code}: ${w.message}`),
    });
    await bundle.write({ dir: out, format: 'es' });
    await bundle.close();
  } catch (e) {
    throw new Error(`rollup build of the test app failed: ${(e as Error).message}`, { cause: e });
  }
  // rollup does not handle HTML: the page loads the entry chunk.
  copyFileSync(join(app, 'index.html'), join(out, 'index.html'));
  return { files: listFiles(out), warnings };
}

describe('rollup', () => {
  it('with the .wasm copied beside the bundle (xentWasmAssets plugin): same bits as Node, both builds', async () => {
    const app = makeApp(ws.dir, 'rollup-app');
    const out = join(ws.dir, 'rollup-out');
    const { files, warnings } = await rollupBuild(app, out, [xentWasmAssets(createRequire(join(app, 'package.json')))]);
    expect(warnings).toEqual([]);
    expect(files).toEqual(['index.html', 'main.js', ...DIST_WASM.keys()].sort());
    // rollup leaves the loader's new URL('./xent-simd.wasm', import.meta.url) as it is.
    expect(readFileSync(join(out, 'main.js'), 'utf8')).toContain("new URL('./xent-simd.wasm', import.meta.url)");

    const url = await serve(out);
    const { page, wasm, problems } = await openApp(browser.context, new URL('index.html', url).href);
    for (const simd of [true, false])
      expect(await inPage(page, { seed: 7, simd }), `page, simd ${simd}`).toEqual(await inNode(7, simd));
    expect(wasm).toEqual([
      { path: '/xent-simd.wasm', status: 200, type: 'application/wasm' },
      { path: '/xent.wasm', status: 200, type: 'application/wasm' },
    ]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('without copying the .wasm, Xent.create() fails with an XentLoadError that says what is missing', async () => {
    const app = makeApp(ws.dir, 'rollup-nocopy-app');
    const out = join(ws.dir, 'rollup-nocopy-out');
    const { files } = await rollupBuild(app, out);
    expect(files).toEqual(['index.html', 'main.js']);
    const url = await serve(out);
    const { page, problems } = await openApp(
      browser.context,
      new URL('index.html', url).href,
      (status, u) => status === 404 && u.endsWith('.wasm'),
    );
    const r = await tryCreate(page);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/^could not fetch the wasm module http:\/\/127\.0\.0\.1:\d+\/xent-simd\.wasm: HTTP 404/);
    expect(r.name).toBe('XentLoadError');
    expect(problems).toEqual([]);
    await page.close();
  });

  it("with 'xent-wasm/inline': one file, nothing else to copy, no .wasm requested; same bits as Node", async () => {
    const app = makeApp(ws.dir, 'rollup-inline-app', 'xent-wasm/inline');
    const out = join(ws.dir, 'rollup-inline-out');
    const { files, warnings } = await rollupBuild(app, out);
    expect(warnings).toEqual([]);
    expect(files).toEqual(['index.html', 'main.js']);
    const url = await serve(out);
    const { page, wasm, problems } = await openApp(browser.context, new URL('index.html', url).href);
    for (const simd of [true, false])
      expect(await inPage(page, { seed: 8, simd }), `page, simd ${simd}`).toEqual(await inNode(8, simd));
    expect(wasm).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});

describe('webpack 5', () => {
  it('webpack build with no configuration (entry and output only): every .wasm is emitted as an asset; page (both builds) and module worker give the same bits as Node', async () => {
    const { default: webpack } = await importTool('webpack', () => import('webpack'));
    expect(webpack.version).toMatch(/^5\./);
    const app = makeApp(ws.dir, 'webpack-app');
    const out = join(ws.dir, 'webpack-out');
    // The configuration a user needs: none beyond entry and output (no module.rules, no
    // experiments). resolve.symlinks: false keeps node_modules/xent-wasm as a real install has
    // it (not resolved to the repository's path), as Vite's preserveSymlinks above.
    const compiler = webpack({
      mode: 'production',
      context: app,
      entry: './main.js',
      output: { path: out, clean: true },
      resolve: { symlinks: false },
    });
    const stats = await new Promise<import('webpack').Stats | undefined>((resolve, reject) =>
      compiler.run((err, s) => (err ? reject(err) : resolve(s))),
    );
    await new Promise<void>((resolve) => compiler.close(() => resolve()));
    const log = stats?.toJson({ all: false, errors: true, warnings: true });
    expect(
      log?.errors?.map((e) => e.message),
      'webpack errors',
    ).toEqual([]);
    expect(
      log?.warnings?.map((w) => w.message),
      'webpack warnings',
    ).toEqual([]);
    // webpack does not handle HTML: the page loads the entry chunk.
    copyFileSync(join(app, 'index.html'), join(out, 'index.html'));

    const files = listFiles(out);
    const wasm = files.filter((f) => f.endsWith('.wasm'));
    // Every .wasm the loader names literally (new URL('./….wasm', import.meta.url)) is emitted
    // once, named by content hash, byte-identical to the package's.
    expect(wasm.map((f) => whichWasm(readFileSync(join(out, f)))).sort(), `emitted: ${wasm.join(', ')}`).toEqual(
      [...DIST_WASM.keys()].sort(),
    );
    // webpack rewrote every import.meta.url (its default output is classic scripts, where
    // import.meta would be a syntax error); the page's worker is a chunk of its own.
    const js = files.filter((f) => f.endsWith('.js'));
    for (const f of js) expect(readFileSync(join(out, f), 'utf8'), f).not.toContain('import.meta');
    expect(js.length).toBeGreaterThanOrEqual(2);

    const fetched = await checkEmittedApp(out, wasm, 10);
    expect(fetched.map((f) => whichWasm(readFileSync(join(out, f))))).toEqual([
      'xent-simd.wasm',
      'xent.wasm',
      'xent-simd.wasm',
    ]);
  });
});
