/**
 * Float16 logits in an engine that has `Float16Array` (Node 20 has none, so the Node tests
 * pass half bits as a `Uint16Array` with `dtype: 'float16'`): Debian's Chromium, headless,
 * driven by playwright-core, on the repository served by demo/serve.mjs. A page imports
 * /dist/index.mjs and runs test/browser/float16.mjs, on the SIMD and on the portable build:
 *
 * - the kernel's conversion (the raw export `xent_f16_to_f32` of dist/xent-simd.wasm and
 *   dist/xent.wasm) of all 65536 halves against the engine's own decoding of a
 *   `Float16Array` holding them, bit for bit (NaN: a NaN with the half's sign and payload);
 * - crossEntropy (gradient, loss map, confidence), score and a Scorer on a real
 *   `Float16Array`, on `tensorFrom(Float16Array)` and on its bits as a `Uint16Array` with
 *   `dtype: 'float16'`: every bit of the same calls on float32 logits holding the
 *   `Float16Array`'s own values (which `Math.f16round` of the source data must equal);
 * - and Node, given the page's half bits, computes the same bits again.
 *
 * Chromium is required: without it this test FAILS (as test/browser/browser.test.ts).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../demo/serve.mjs';
import { lib } from '../reference/dist.js';
import { launchChromium, recordProblems } from './chromium.js';
import { CASES, caseData, type PageResult, summarize } from './float16.mjs';

let server: Awaited<ReturnType<typeof startServer>>;
let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  chromium = await launchChromium();
  server = await startServer();
  page = await chromium.context.newPage();
  recordProblems(page, problems);
  await page.goto(new URL('test/browser/float16.html', server.url).href);
  await page.waitForFunction(() => (window as unknown as { pageReady?: boolean }).pageReady === true, null, {
    timeout: 20_000,
  });
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

/** The NaN halves, from the format: exponent 31 and a mantissa not 0 (with either sign). */
const NAN_HALVES = Array.from({ length: 65536 }, (_, h) => ((h >> 10) & 0x1f) === 31 && (h & 0x3ff) !== 0).filter(
  Boolean,
).length;

const results = new Map<boolean, Promise<PageResult>>();
function inPage(simd: boolean): Promise<PageResult> {
  if (!results.has(simd)) {
    results.set(
      simd,
      page.evaluate((o) => (window as unknown as { runFloat16: (o: unknown) => Promise<PageResult> }).runFloat16(o), {
        simd,
      }),
    );
  }
  return results.get(simd)!;
}

describe('float16 logits in Chromium, with its Float16Array', () => {
  it('the engine has Float16Array and Math.f16round', async () => {
    const r = await inPage(true);
    expect({ float16Array: r.float16Array, f16round: r.f16round }).toEqual({ float16Array: true, f16round: true });
  });

  it('the kernel converts all 65536 halves as the engine’s Float16Array decodes them (both builds)', async () => {
    const r = await inPage(true);
    expect(NAN_HALVES).toBe(2 * 1023);
    expect(r.conversion.map((c) => c.file)).toEqual(['xent-simd.wasm', 'xent.wasm']);
    for (const c of r.conversion) {
      expect(c, c.file).toEqual({ file: c.file, status: 0, same: 65536, nans: NAN_HALVES, wrong: [] });
    }
  });

  for (const simd of [true, false]) {
    it(`${simd ? 'SIMD' : 'portable'} build: crossEntropy, score and Scorer on a Float16Array and on tensorFrom(Float16Array) give the bits of float32 logits of the same values`, async () => {
      const r = await inPage(simd);
      expect(r.simd).toBe(simd);
      expect(r.cases).toHaveLength(CASES.length);
      const x = await lib.Xent.create({ simd });
      try {
        for (const [i, k] of r.cases.entries()) {
          const what = `case ${i} ${JSON.stringify(CASES[i])}`;
          const d = caseData(i);
          expect(k.roundingDiffers, `${what}: Math.f16round against Float16Array`).toBe(0);
          expect(k.tensor, what).toEqual({
            dtype: 'float16',
            shape: d.shape,
            dataIsUint16Array: true,
            sameBits: true,
          });
          expect(k.float32.score !== undefined, what).toBe(!CASES[i]!.prob);
          expect(k.float16Array, `${what}: Float16Array`).toEqual(k.float32);
          expect(k.tensorFrom, `${what}: tensorFrom(Float16Array)`).toEqual(k.float32);
          expect(k.uint16, `${what}: Uint16Array with dtype 'float16'`).toEqual(k.float32);
          // Node (no Float16Array) on the page's half bits: the same bits again.
          const halves = Uint16Array.from(k.halves);
          expect(halves.length).toBe(d.logits.length);
          expect(summarize(x, i, { data: halves, shape: d.shape, dtype: 'float16' }), `${what}: in Node`).toEqual(
            k.float32,
          );
        }
      } finally {
        x.dispose();
      }
      expect(r.liveTensors).toBe(0);
      expect(problems).toEqual([]);
    });
  }

  it('the SIMD and the portable build agree on float32 logits too', async () => {
    const [s, p] = [await inPage(true), await inPage(false)];
    for (const [i, k] of s.cases.entries()) expect(p.cases[i]!.float32, `case ${i}`).toEqual(k.float32);
  });
});
