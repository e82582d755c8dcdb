/**
 * The Chromium that the browser, bundler and threads-in-the-browser tests drive through
 * playwright-core: Debian's binary unless XENT_CHROMIUM names another, and its flags.
 */

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
