#!/usr/bin/env node
// Screenshots the demo page once its worker has scored the sample (a plain `chromium
// --screenshot` shoots at the load event, while the page still says "Loading…").
//
//   node demo/screenshot.mjs [--out demo/screenshot.png] [--isolate] [--all] [--sample 0]
//
// Serves the repository (demo/serve.mjs, on a free port), opens /demo/ in Chromium through
// playwright-core (a devDependency), waits until the page is done (body[data-state="done"]; it
// fails on "error"), and writes a full-page PNG at 1440 px wide. --isolate serves with COOP/COEP
// (the page then scores with 2 worker threads), --all also runs "Score all samples". The browser
// is /usr/bin/chromium, or XENT_CHROMIUM. Run `npm run build` first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, startServer } from './serve.mjs';

const USAGE = [
  'usage: node demo/screenshot.mjs [--out demo/screenshot.png] [--isolate] [--all] [--sample N]',
  '  --out FILE   where the PNG goes (default demo/screenshot.png)',
  '  --isolate    serve with COOP/COEP: cross-origin isolated, the page scores with 2 threads',
  '  --all        also run "Score all samples" (the streaming scorer) before the shot',
  '  --sample N   the sample to show (default 0)',
  '  -h, --help   this help',
  'Chromium: /usr/bin/chromium, or the binary XENT_CHROMIUM names.',
].join('\n');

let values;
try {
  ({ values } = parseArgs({
    options: {
      out: { type: 'string', default: join(ROOT, 'demo', 'screenshot.png') },
      isolate: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      sample: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }));
} catch (e) {
  console.error(`screenshot: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!/^\d+$/.test(values.sample)) {
  console.error(`screenshot: --sample must be a sample number, got ${values.sample}\n\n${USAGE}`);
  process.exit(2);
}

const { chromium } = await import('playwright-core');
const server = await startServer({ isolate: values.isolate });
const profile = mkdtempSync(join(tmpdir(), 'xent-screenshot-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.XENT_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // Headless and sandbox-free (containers), nothing that reaches the network on its own.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    viewport: { width: 1440, height: 1000 },
  });
  const page = await context.newPage();
  await page.goto(`${server.url}demo/?sample=${values.sample}`);
  const waitDone = async () => {
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 60_000 });
    if ((await page.getAttribute('body', 'data-state')) === 'error')
      throw new Error(`the demo page failed: ${await page.textContent('#status')}`);
  };
  await waitDone();
  if (values.all) {
    await page.click('#run-all');
    await page.waitForFunction(() => window.__demoAll !== undefined, null, { timeout: 60_000 });
    await waitDone();
  }
  const out = resolve(values.out);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`screenshot: ${out}\n  ${(await page.textContent('#status'))?.trim()}`);
} finally {
  await context?.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}
