/**
 * Worker threads in Chromium (headless, playwright-core, Debian's binary as the browser tests):
 * a cross-origin isolated page (COOP + COEP headers) runs crossEntropyAsync on 2 and 3 module
 * Web Workers over a shared memory, and crossEntropy on its main thread (which cannot block),
 * with the same bits as Node's single-thread build; a page without the headers falls back to
 * one thread with one console warning and the same bits. Chromium is required (as in
 * test/browser/); XENT_CHROMIUM overrides the binary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST, lib } from '../reference/dist.js';
import { run } from './threads.browser.run.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../browser/chromium.js';

const RUN = readFileSync(new URL('./threads.browser.run.mjs', import.meta.url), 'utf8');
const COMPUTE = readFileSync(new URL('../browser/compute.mjs', import.meta.url), 'utf8');
const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>xent-wasm threads</title>
<script type="module">
  import * as lib from '/dist/index.mjs';
  import { run } from '/threads/run.mjs';
  window.run = (o) => run(lib, o);
  window.isolated = self.crossOriginIsolated === true;
  window.ready = true;
</script>`;
const TYPES: Record<string, string> = {
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/** Serves the page, run.mjs (and the helpers it imports) and dist/; with `isolated`, every response has COOP + COEP. */
function serve(isolated: boolean): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const headers: Record<string, string> = isolated
      ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
      : {};
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let body: string | Buffer | undefined;
    let type = 'text/html';
    if (path === '/') body = PAGE;
    else if (path === '/threads/run.mjs') [body, type] = [RUN, 'text/javascript'];
    else if (path === '/browser/compute.mjs') [body, type] = [COMPUTE, 'text/javascript'];
    else if (path.startsWith('/dist/')) {
      const file = normalize(join(DIST, path.slice('/dist/'.length)));
      if (file.startsWith(DIST) && existsSync(file))
        [body, type] = [readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream'];
    }
    if (body === undefined) {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Cache-Control': 'no-store' }).end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }),
    ),
  );
}

let browser: Browser;
const servers: Server[] = [];
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}, and this test needs it: \`apt-get install -y chromium\`, or set XENT_CHROMIUM.`,
    );
  }
  const pw = await import('playwright-core');
  browser = await pw.chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  for (const s of servers) s.close();
});

async function open(isolated: boolean): Promise<{ page: Page; problems: string[]; warnings: string[] }> {
  const { server, url } = await serve(isolated);
  servers.push(server);
  const page = await browser.newPage();
  const problems: string[] = [];
  const warnings: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    if (m.type() === 'warning') warnings.push(m.text());
  });
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, null, {
    timeout: 20_000,
  });
  return { page, problems, warnings };
}

type Result = Awaited<ReturnType<typeof run>>;
const inPage = (page: Page, o: { seed: number; threads: number; mode: 'sync' | 'async' }): Promise<Result> =>
  page.evaluate((o) => (window as unknown as { run: (o: unknown) => Promise<Result> }).run(o), o);

describe('worker threads in Chromium', () => {
  it('a cross-origin isolated page: crossEntropyAsync on 2 and 3 Web Workers, crossEntropy on the page, the same bits as Node', async () => {
    const { page, problems, warnings } = await open(true);
    expect(await page.evaluate(() => (window as unknown as { isolated: boolean }).isolated)).toBe(true);
    for (const seed of [1, 2]) {
      const { threads: _t, shared: _s, ...expected } = await run(lib, { seed, threads: 1, mode: 'sync' });
      for (const threads of [2, 3]) {
        for (const mode of ['async', 'sync'] as const) {
          const r = await inPage(page, { seed, threads, mode });
          expect(r, `${threads} threads, ${mode}`).toEqual({ threads, shared: true, ...expected });
        }
      }
    }
    expect(problems).toEqual([]);
    expect(warnings).toEqual([]);
    await page.close();
  });

  it('a page that is not cross-origin isolated runs on one thread, warns once, same bits', async () => {
    const { page, problems, warnings } = await open(false);
    const { threads: _t, shared: _s, ...expected } = await run(lib, { seed: 3, threads: 1, mode: 'sync' });
    for (const mode of ['async', 'sync'] as const) {
      expect(await inPage(page, { seed: 3, threads: 2, mode })).toEqual({ threads: 1, shared: false, ...expected });
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /threads: 2 was asked for, but this instance runs on 1 thread: the page is not cross-origin isolated/,
    );
    expect(problems).toEqual([]);
    await page.close();
  });
});
