/**
 * xent-wasm/inline (dist/inline.mjs, dist/inline.cjs): both .wasm builds embedded as base64.
 * In Node it computes the same bits as the main entry (ESM, CommonJS, and imported from a data:
 * URL); in Chromium it loads from a folder that serves no .wasm at all (the server answers 404),
 * on the page, in a module worker and imported from a blob: URL. The main entry stays free of
 * the embedded bytes.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../demo/serve.mjs';
import { compute, type ComputeResult } from '../browser/compute.mjs';
import { lib } from '../reference/dist.js';
import {
  DIST,
  checkPrerequisites,
  inPage,
  inWorker,
  launchChromium,
  makeApp,
  makeWorkspace,
  openApp,
} from './helpers.js';

type Lib = typeof lib;
let inline: Lib;
let inlineCjs: Lib;
const WASM_MAGIC_BASE64 = 'AGFzbQ'; // "\0asm", the first bytes of every module, in base64

const expected = new Map<string, Promise<ComputeResult>>();
function inNode(seed: number, simd: boolean): Promise<ComputeResult> {
  const key = `${seed}/${simd}`;
  if (!expected.has(key)) expected.set(key, compute(lib, { seed, simd }));
  return expected.get(key)!;
}

beforeAll(async () => {
  checkPrerequisites();
  inline = (await import('../../dist/inline.mjs')) as unknown as Lib;
  inlineCjs = createRequire(import.meta.url)('../../dist/inline.cjs') as Lib;
});

describe('xent-wasm/inline in Node', () => {
  it('computes the same bits as the main entry (crossEntropy fwd+bwd, score, scorer), both builds, ESM and CommonJS', async () => {
    for (const seed of [1, 2]) {
      for (const simd of [true, false]) {
        const want = await inNode(seed, simd);
        expect(want.simd).toBe(simd);
        expect(await compute(inline, { seed, simd }), `inline.mjs seed ${seed} simd ${simd}`).toEqual(want);
        expect(await compute(inlineCjs, { seed, simd }), `inline.cjs seed ${seed} simd ${simd}`).toEqual(want);
      }
    }
  });

  it('picks the SIMD build by WebAssembly.validate, as the main entry; options.wasm still overrides', async () => {
    expect(inline.simdSupported()).toBe(lib.simdSupported());
    using a = await inline.Xent.create();
    expect(a.simd).toBe(lib.simdSupported());
    using b = await inline.Xent.create({ wasm: readFileSync(join(DIST, 'xent.wasm')) });
    expect(b.simd).toBe(false);
    // The default "URL" is the embedded module itself.
    expect(inline.defaultWasmUrl(true).href.startsWith(`data:application/wasm;base64,${WASM_MAGIC_BASE64}`)).toBe(true);
    expect(
      readFileSync(join(DIST, 'xent-simd.wasm')).equals(
        Buffer.from(inline.defaultWasmUrl(true).href.split(',')[1]!, 'base64'),
      ),
    ).toBe(true);
    expect(
      readFileSync(join(DIST, 'xent.wasm')).equals(
        Buffer.from(inline.defaultWasmUrl(false).href.split(',')[1]!, 'base64'),
      ),
    ).toBe(true);
  });

  it('load errors name the embedded module', async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const err = await inline.Xent.create({ memory }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(inline.XentLoadError);
    expect((err as Error).message).toMatch(/^could not link the embedded xent-simd\.wasm with options\.memory/);
  });

  it('loads as a module from a data: URL (no file beside it)', async () => {
    const src = readFileSync(join(DIST, 'inline.mjs'));
    const fromData = (await import(/* @vite-ignore */ `data:text/javascript;base64,${src.toString('base64')}`)) as Lib;
    expect(await compute(fromData, { seed: 3, simd: true })).toEqual(await inNode(3, true));
  });

  it('the main entry does not embed the bytes; the inline bundle has no import.meta (bundlers emit no .wasm for it)', () => {
    for (const f of ['index.mjs', 'index.cjs']) {
      const text = readFileSync(join(DIST, f), 'utf8');
      expect(text, f).not.toContain(WASM_MAGIC_BASE64);
    }
    const simdBase64 = readFileSync(join(DIST, 'xent-simd.wasm')).toString('base64');
    const portableBase64 = readFileSync(join(DIST, 'xent.wasm')).toString('base64');
    for (const f of ['inline.mjs', 'inline.cjs']) {
      const text = readFileSync(join(DIST, f), 'utf8');
      expect(text.includes(simdBase64) && text.includes(portableBase64), f).toBe(true);
      expect(/import\.meta\b/.test(text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '')), f).toBe(false);
    }
    // Its types are the main entry's.
    expect(readFileSync(join(DIST, 'inline.d.mts'), 'utf8')).toContain("export * from './index.mjs';");
    expect(readFileSync(join(DIST, 'inline.d.cts'), 'utf8')).toContain("export * from './index.cjs';");
  });

  it("package.json exports 'xent-wasm/inline' (import and require)", async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      exports: Record<string, unknown>;
    };
    expect(pkg.exports['./inline']).toEqual({
      import: { types: './dist/inline.d.mts', default: './dist/inline.mjs' },
      require: { types: './dist/inline.d.cts', default: './dist/inline.cjs' },
    });
  });
});

describe('xent-wasm/inline in Chromium, with no .wasm served', () => {
  let ws: ReturnType<typeof makeWorkspace>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let server: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    ws = makeWorkspace();
    // No bundler: the app's modules as they are, importing ./inline.mjs, in a folder without any .wasm.
    const app = makeApp(ws.dir, 'inline-page', './inline.mjs');
    copyFileSync(join(DIST, 'inline.mjs'), join(app, 'inline.mjs'));
    // A page that imports the inline module (and the computation) from blob: URLs of their text.
    writeFileSync(
      join(app, 'blob.html'),
      `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
  const blobUrl = async (path) => URL.createObjectURL(new Blob([await (await fetch(path)).text()], { type: 'text/javascript' }));
  window.runCompute = async (opts) => {
    const lib = await import(await blobUrl('./inline.mjs'));
    const { compute } = await import(await blobUrl('./compute.mjs'));
    return compute(lib, opts);
  };
  window.pageReady = true;
</script>`,
    );
    server = await startServer({ root: app });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    ws?.remove();
  });

  it('the server has no .wasm (404)', async () => {
    for (const f of ['xent-simd.wasm', 'xent.wasm']) expect((await fetch(new URL(f, server.url))).status).toBe(404);
  });

  it('the same bits as Node on the page (both builds) and in a module worker; no .wasm requested', async () => {
    const { page, wasm, problems } = await openApp(browser.context, new URL('index.html', server.url).href);
    expect(await page.evaluate(() => (window as unknown as { simdSupported: boolean }).simdSupported)).toBe(true);
    for (const simd of [true, false])
      expect(await inPage(page, { seed: 1, simd }), `page, simd ${simd}`).toEqual(await inNode(1, simd));
    expect(await inWorker(page, { seed: 2, simd: true }), 'worker').toEqual(await inNode(2, true));
    expect(wasm).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('imported from a blob: URL (import.meta.url has no siblings)', async () => {
    const { page, wasm, problems } = await openApp(browser.context, new URL('blob.html', server.url).href);
    const r = await inPage(page, { seed: 3, simd: true });
    expect(r).toEqual(await inNode(3, true));
    expect(wasm).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
