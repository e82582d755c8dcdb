/**
 * Helpers of the bundler tests: the temp workspace (an app folder per build, with
 * node_modules/xent-wasm linking to the repository, as an installed package), Chromium, and a
 * page that records every .wasm response and every problem.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../browser/chromium.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = join(ROOT, 'dist');
const APP = fileURLToPath(new URL('./app/', import.meta.url));
const COMPUTE = fileURLToPath(new URL('../browser/compute.mjs', import.meta.url));

/** Fails (never skips) with the fix when something the tests need is missing. */
export function checkPrerequisites(): void {
  const need = ['dist/index.mjs', 'dist/inline.mjs', 'dist/inline.cjs', 'dist/xent-simd.wasm', 'dist/xent.wasm'];
  const missing = need.filter((f) => !existsSync(join(ROOT, f)));
  if (missing.length > 0)
    throw new Error(`missing ${missing.join(', ')}: run \`npm run build\` before the bundler tests`);
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}, and the bundler tests need it (they fail rather than skip). ` +
        `Install Debian's: \`apt-get install -y chromium\` (as root), or point XENT_CHROMIUM at a Chromium/Chrome binary.`,
    );
  }
}

/** Imports a bundler (a devDependency); fails with the install command when it is missing. */
export async function importTool<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    throw new Error(
      `${name} could not be loaded, and this bundler test needs it: \`npm ci\` (it is a devDependency). ${(e as Error).message}`,
    );
  }
}

/** A temp folder for the apps and their builds. */
export function makeWorkspace(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'xent-bundlers-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Copies the test app (test/bundlers/app + test/browser/compute.mjs) to `workspace/name`,
 * importing the package as `specifier` (default 'xent-wasm'), with
 * node_modules/xent-wasm -> the repository (what `npm install xent-wasm` gives).
 */
export function makeApp(workspace: string, name: string, specifier = 'xent-wasm'): string {
  const dir = join(workspace, name);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules', 'xent-wasm'), 'dir');
  for (const f of readdirSync(APP)) {
    const text = readFileSync(join(APP, f), 'utf8').replaceAll("from 'xent-wasm'", `from '${specifier}'`);
    writeFileSync(join(dir, f), text);
  }
  copyFileSync(COMPUTE, join(dir, 'compute.mjs'));
  return dir;
}

/** Every file under `dir`, relative, sorted (node_modules left out). */
export function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules') continue;
    if (e.isDirectory()) out.push(...listFiles(join(dir, e.name), `${prefix}${e.name}/`));
    else out.push(`${prefix}${e.name}`);
  }
  return out.sort();
}

export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  let pw: typeof import('playwright-core');
  try {
    pw = await import('playwright-core');
  } catch (e) {
    throw new Error(`playwright-core is not installed: \`npm ci\` (${(e as Error).message})`);
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'xent-chromium-'));
  const context = await pw.chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface OpenedPage {
  page: Page;
  /** Every response for a URL ending in .wasm. */
  wasm: { path: string; status: number; type: string }[];
  /** Page errors, console errors and HTTP errors (other than those `allow` accepts). */
  problems: string[];
}

/** Opens `url` and waits for the app's `pageReady`. */
export async function openApp(
  context: BrowserContext,
  url: string,
  allow: (status: number, url: string) => boolean = () => false,
): Promise<OpenedPage> {
  const page = await context.newPage();
  const opened: OpenedPage = { page, wasm: [], problems: [] };
  page.on('pageerror', (e) => opened.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
      opened.problems.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.endsWith('.wasm'))
      opened.wasm.push({ path: u.pathname, status: r.status(), type: r.headers()['content-type'] ?? '' });
    if (r.status() >= 400 && !allow(r.status(), r.url())) opened.problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { pageReady?: boolean }).pageReady === true, null, {
    timeout: 20_000,
  });
  return opened;
}

type AppWindow = {
  runCompute(o: { seed: number; simd: boolean }): Promise<unknown>;
  runInWorker(o: { seed: number; simd: boolean }): Promise<unknown>;
  tryCreate(): Promise<{ ok: boolean; simd?: boolean; name?: string; message?: string }>;
};

export const inPage = (page: Page, o: { seed: number; simd: boolean }) =>
  page.evaluate((o) => (window as unknown as AppWindow).runCompute(o), o);
export const inWorker = (page: Page, o: { seed: number; simd: boolean }) =>
  page.evaluate((o) => (window as unknown as AppWindow).runInWorker(o), o);
export const tryCreate = (page: Page) => page.evaluate(() => (window as unknown as AppWindow).tryCreate());
