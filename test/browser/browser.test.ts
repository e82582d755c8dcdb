/**
 * The package in a real browser: Debian's Chromium, headless, driven by playwright-core, on
 * the repository served by demo/serve.mjs (node:http). A page imports /dist/index.mjs as an ES
 * module (no bundler; the loader fetches the .wasm beside it), runs crossEntropy forward and
 * backward, score and the streaming scorer on seeded data, on the main thread and in a module
 * Web Worker, in both builds; every number must have the same bits as in Node. Then the demo
 * page: it must score a sample in its worker and fill the metrics table with the numbers Node
 * computes, and its screenshot goes to test/artifacts/demo.png. Served with COOP/COEP (serve.mjs
 * --isolate), the demo must score with 2 worker threads and say so (test/artifacts/demo-isolated.png).
 *
 * Chromium is required: without it this test FAILS (CI installs it). XENT_CHROMIUM overrides
 * the binary (default /usr/bin/chromium).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decode as decodePng } from 'fast-png';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLASSES, IGNORE, SAMPLES, makeSample } from '../../demo/make-samples.mjs';
import { startServer } from '../../demo/serve.mjs';
import { lib } from '../reference/dist.js';
import { compute, type ComputeResult } from './compute.mjs';
import { CHROMIUM, launchChromium, recordProblems } from './chromium.js';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

let server: Awaited<ReturnType<typeof startServer>>;
let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
const problems: string[] = [];

beforeAll(async () => {
  chromium = await launchChromium({ viewport: { width: 1440, height: 1000 } });
  server = await startServer();
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

/** A new page that records failed requests, uncaught errors and console errors into `problems`. */
async function openPage(
  path: string,
  base = server.url,
): Promise<{ page: Page; wasm: { url: string; status: number; type: string }[] }> {
  const page = await chromium!.context.newPage();
  const wasm: { url: string; status: number; type: string }[] = [];
  recordProblems(page, problems, `${path}: `);
  page.on('response', (r) => {
    if (r.url().endsWith('.wasm'))
      wasm.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] ?? '' });
  });
  await page.goto(new URL(path, base).href);
  return { page, wasm };
}

const node = new Map<string, Promise<ComputeResult>>();
function inNode(seed: number, simd: boolean): Promise<ComputeResult> {
  const key = `${seed}/${simd}`;
  if (!node.has(key)) node.set(key, compute(lib, { seed, simd }));
  return node.get(key)!;
}

describe('the package in Chromium (no bundler)', () => {
  it('the page imports dist/index.mjs; the .wasm is fetched beside it as application/wasm', async () => {
    const { page, wasm } = await openPage('test/browser/page.html');
    await page.waitForFunction(() => (window as unknown as { pageReady?: boolean }).pageReady === true, null, {
      timeout: 20_000,
    });
    expect(await page.evaluate(() => (window as unknown as { simdSupported: boolean }).simdSupported)).toBe(true);
    const r = (await page.evaluate(
      (o) => (window as unknown as { runCompute: (o: unknown) => Promise<ComputeResult> }).runCompute(o),
      {
        seed: 1,
        simd: true,
      },
    )) as ComputeResult;
    expect(r.simd).toBe(true);
    expect(wasm.map((w) => new URL(w.url).pathname)).toEqual(['/dist/xent-simd.wasm']);
    expect(wasm[0]!.status).toBe(200);
    expect(wasm[0]!.type).toBe('application/wasm');
    await page.close();
    expect(problems).toEqual([]);
  });

  it('crossEntropy (forward + backward), score and the scorer: the same bits as Node, both builds, page and worker', async () => {
    const { page } = await openPage('test/browser/page.html');
    await page.waitForFunction(() => (window as unknown as { pageReady?: boolean }).pageReady === true, null, {
      timeout: 20_000,
    });
    for (const seed of [1, 2, 3]) {
      for (const simd of [true, false]) {
        const expected = await inNode(seed, simd);
        expect(expected.simd).toBe(simd);
        const onPage = await page.evaluate(
          (o) => (window as unknown as { runCompute: (o: unknown) => Promise<ComputeResult> }).runCompute(o),
          { seed, simd },
        );
        expect(onPage, `page, seed ${seed}, ${simd ? 'SIMD' : 'portable'}`).toEqual(expected);
        const inWorker = await page.evaluate(
          (o) => (window as unknown as { runInWorker: (o: unknown) => Promise<ComputeResult> }).runInWorker(o),
          { seed, simd },
        );
        expect(inWorker, `worker, seed ${seed}, ${simd ? 'SIMD' : 'portable'}`).toEqual(expected);
      }
      // And the two builds agree with each other on the scores.
      const [s, p] = [await inNode(seed, true), await inNode(seed, false)];
      expect(p.crossEntropy).toEqual(s.crossEntropy);
      expect(p.scorer).toEqual(s.scorer);
    }
    await page.close();
    expect(problems).toEqual([]);
  });
});

describe('the demo page', () => {
  it('scores a sample in its worker, fills the metrics table with the numbers Node computes; screenshot', async () => {
    const { page, wasm } = await openPage('demo/');
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 30_000 });
    const status = await page.textContent('#status');
    expect(await page.getAttribute('body', 'data-state'), `demo status: ${status}`).toBe('done');
    expect(await page.locator('#metrics tbody tr').count()).toBe(CLASSES.length);
    expect(wasm.map((w) => w.type)).toEqual(['application/wasm']);

    // Node, on the generator's data for the first sample (what the page decoded from the PNG and .bin).
    const m = makeSample(SAMPLES[0]!.seed);
    // The pixel counts agree: the image's, the scored ones and the ignored ones, in the status
    // line and on the card. Not cross-origin isolated: one thread, and the page says why.
    const total = m.width * m.height;
    const ignored = m.mask.filter((v) => v === IGNORE).length;
    const n = (v: number) => v.toLocaleString('en-US');
    expect(ignored).toBeGreaterThan(0);
    expect(status).toContain(
      `${SAMPLES[0]!.title}: ${CLASSES.length} classes, ${n(total)} pixels, ${n(total - ignored)} scored (${n(ignored)} ignored)`,
    );
    expect(status).toMatch(/in a Web Worker, 1 thread, not cross-origin isolated: node demo\/serve\.mjs --isolate/);
    const summary = await page.textContent('#summary');
    expect(summary).toContain(`${n(total - ignored)}pixels scored, of ${n(total)} (${n(ignored)} ignored)`);
    expect(summary).toContain('1 threadnot cross-origin isolated');
    expect(await page.getAttribute('body', 'data-threads')).toBe('1');
    const x = await lib.Xent.create();
    const C = CLASSES.length;
    const r = x.score(
      { data: m.logits, shape: [1, C, m.height, m.width] },
      { data: m.mask, shape: [1, m.height, m.width] },
      { ignoreIndex: IGNORE },
    );
    const metrics = lib.segmentationMetrics(r.confusion, C);
    const demo = (await page.evaluate(() => {
      const d = (
        window as unknown as {
          __demo: { loss: number; metrics: lib.SegmentationMetrics; pred: Uint8Array; simd: boolean };
        }
      ).__demo;
      return {
        loss: d.loss,
        meanIoU: d.metrics.meanIoU,
        iou: Array.from(d.metrics.iou),
        confusion: Array.from(d.metrics.confusion),
        pred: Array.from(d.pred),
        simd: d.simd,
      };
    })) as { loss: number; meanIoU: number; iou: number[]; confusion: number[]; pred: number[]; simd: boolean };
    expect(demo.simd).toBe(x.simd);
    expect(demo.loss).toBe(r.loss); // the same build: the same bits
    expect(demo.confusion).toEqual(Array.from(r.confusion));
    expect(demo.pred).toEqual(Array.from(r.pred.data));
    expect(demo.meanIoU).toBe(metrics.meanIoU);
    expect(demo.iou).toEqual(Array.from(metrics.iou));
    // The table shows them (per cent, one decimal).
    const roadIoU = await page.textContent('#metrics tbody tr[data-class="0"] td:nth-child(2)');
    expect(roadIoU?.trim()).toBe((100 * metrics.iou[0]!).toFixed(1));
    r.pred.dispose();

    // The streaming scorer over every sample, in the worker.
    await page.click('#run-all');
    await page.waitForFunction(() => (window as unknown as { __demoAll?: unknown }).__demoAll !== undefined, null, {
      timeout: 30_000,
    });
    using scorer = x.scorer(C, { ignoreIndex: IGNORE });
    for (const s of SAMPLES) {
      const d = makeSample(s.seed);
      scorer.update(
        { data: d.logits, shape: [1, C, d.height, d.width] },
        { data: d.mask, shape: [1, d.height, d.width] },
      );
    }
    const all = scorer.result();
    const pageAll = (await page.evaluate(() => {
      const a = (window as unknown as { __demoAll: lib.ScorerResult }).__demoAll;
      return { loss: a.loss, meanIoU: a.meanIoU, confusion: Array.from(a.confusion) };
    })) as { loss: number; meanIoU: number; confusion: number[] };
    expect(pageAll).toEqual({ loss: all.loss, meanIoU: all.meanIoU, confusion: Array.from(all.confusion) });

    // "Your own files": the second sample's image and mask, with its logits transposed to NHWC.
    const s2 = makeSample(SAMPLES[1]!.seed);
    const nhwc = new Float32Array(s2.logits.length);
    const HW = s2.width * s2.height;
    for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) nhwc[p * C + c] = s2.logits[c * HW + p]!;
    const dir = mkdtempSync(join(tmpdir(), 'xent-own-'));
    const samples = fileURLToPath(new URL('../../demo/samples/', import.meta.url));
    writeFileSync(join(dir, 'mine.nhwc.bin'), nhwc);
    await page.setInputFiles('#f-image', join(samples, `${SAMPLES[1]!.id}.png`));
    await page.setInputFiles('#f-mask', join(samples, `${SAMPLES[1]!.id}.mask.png`));
    await page.setInputFiles('#f-logits', join(dir, 'mine.nhwc.bin'));
    await page.selectOption('#layout', 'NHWC');
    await page.click('#run-own');
    await page.waitForFunction(() => (window as unknown as { __demo: { id: string } }).__demo.id === 'own', null, {
      timeout: 30_000,
    });
    rmSync(dir, { recursive: true, force: true });
    const own = (await page.evaluate(() => {
      const d = (window as unknown as { __demo: { loss: number; metrics: lib.SegmentationMetrics } }).__demo;
      return { loss: d.loss, confusion: Array.from(d.metrics.confusion) };
    })) as { loss: number; confusion: number[] };
    const r2 = x.score(
      { data: s2.logits, shape: [1, C, s2.height, s2.width] },
      { data: s2.mask, shape: [1, s2.height, s2.width] },
      { ignoreIndex: IGNORE },
    );
    expect(own).toEqual({ loss: r2.loss, confusion: Array.from(r2.confusion) }); // NHWC = NCHW, bit for bit
    r2.pred.dispose();
    x.dispose();

    // Back to the first sample for the screenshot, once the worker has scored it (window.__demo is
    // set, and data-state turns "done", after the page has drawn the worker's result).
    await page.selectOption('#sample', '0');
    await page.waitForFunction(
      () =>
        (window as unknown as { __demo: { id: string } }).__demo.id === 'street-1' &&
        document.body.dataset.state === 'done',
      null,
      { timeout: 30_000 },
    );
    expect(await page.textContent('#status')).toMatch(new RegExp(`^${SAMPLES[0]!.title}: `));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'demo.png'), fullPage: true });
    await page.close();
    expect(problems).toEqual([]);
  });
});

describe('the demo page, cross-origin isolated (demo/serve.mjs --isolate)', () => {
  it('scores with 2 worker threads and says so; crossEntropyAsync on them gives the same loss bits as Node', async () => {
    const isolated = await startServer({ isolate: true });
    try {
      const { page } = await openPage('demo/', isolated.url);
      await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 30_000 });
      const status = await page.textContent('#status');
      expect(await page.getAttribute('body', 'data-state'), `demo status: ${status}`).toBe('done');
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(status).toMatch(/, in a Web Worker, 2 threads \(cross-origin isolated\)\.$/);
      expect(await page.getAttribute('body', 'data-threads')).toBe('2');
      expect(await page.textContent('#summary')).toContain('2 threadscrossEntropyAsync on them: the same loss bits');
      const demo = (await page.evaluate(() => {
        const d = (
          window as unknown as { __demo: { loss: number; threads: number; isolated: boolean; threadsLoss: number } }
        ).__demo;
        return { loss: d.loss, threads: d.threads, isolated: d.isolated, threadsLoss: d.threadsLoss };
      })) as { loss: number; threads: number; isolated: boolean; threadsLoss: number };
      const m = makeSample(SAMPLES[0]!.seed);
      const x = await lib.Xent.create();
      const r = x.crossEntropy(
        { data: m.logits, shape: [1, CLASSES.length, m.height, m.width] },
        { data: m.mask, shape: [1, m.height, m.width] },
        { ignoreIndex: IGNORE },
      );
      x.dispose();
      expect(demo).toEqual({ loss: r.loss, threads: 2, isolated: true, threadsLoss: r.loss });
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'demo-isolated.png'), fullPage: true });
      await page.close();
      expect(problems).toEqual([]);
    } finally {
      await isolated.close();
    }
  });
});

describe('demo/screenshot.mjs', () => {
  // Asynchronous (not execFileSync): the test worker's event loop stays free for vitest's RPC meanwhile.
  const run = promisify(execFile);
  it('shoots the page after the worker has scored it (not "Loading…"), cross-origin isolated with --isolate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xent-shot-'));
    try {
      const out = join(dir, 'shot.png');
      const script = fileURLToPath(new URL('../../demo/screenshot.mjs', import.meta.url));
      const { stdout } = await run(process.execPath, [script, '--isolate', '--out', out], {
        encoding: 'utf8',
        timeout: 90_000,
        env: { ...process.env, XENT_CHROMIUM: CHROMIUM },
      });
      expect(stdout).toMatch(new RegExp(`^screenshot: .*shot\\.png\\n  ${SAMPLES[0]!.title}: 7 classes, 9,216 pixels`));
      expect(stdout).toContain('2 threads (cross-origin isolated).');
      const png = decodePng(readFileSync(out));
      expect(png.width).toBe(1440);
      expect(png.height).toBeGreaterThan(1000);
      const help = (await run(process.execPath, [script, '--help'], { encoding: 'utf8' })).stdout;
      expect(help).toMatch(/^usage: node demo\/screenshot\.mjs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
