/**
 * The Chromium that the browser, bundler and threads-in-the-browser tests drive through
 * playwright-core: Debian's binary unless XENT_CHROMIUM names another, and its flags.
 */

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

/** The browser binary. */
export const CHROMIUM = process.env.XENT_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, sandbox-free (CI containers), and nothing that reaches the network on its own. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Chromium, headless, in a new profile directory, through playwright-core. Throws when Chromium
 * or playwright-core is missing: the browser tests fail rather than skip. `close` closes the
 * browser and removes the profile.
 */
export async function launchChromium(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}, and the browser tests need it (they fail rather than skip). ` +
        `Install Debian's: \`apt-get install -y chromium\` (as root), or point XENT_CHROMIUM at a Chromium/Chrome binary.`,
    );
  }
  let pw: typeof import('playwright-core');
  try {
    pw = await import('playwright-core');
  } catch (e) {
    throw new Error(`playwright-core is not installed: \`npm install -D playwright-core\` (${(e as Error).message})`);
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'xent-chromium-'));
  let context: BrowserContext;
  try {
    context = await pw.chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      ...options,
    });
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  const close = async () => {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}

/** Records a page's uncaught errors, console errors and failed requests into `problems`, each after `prefix`. */
export function recordProblems(page: Page, problems: string[], prefix = ''): void {
  page.on('pageerror', (e) => problems.push(`${prefix}page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${prefix}console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${prefix}HTTP ${r.status()} for ${r.url()}`);
  });
}
