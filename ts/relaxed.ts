/**
 * `Xent.create({ relaxed: true })`: the option, and loading the relaxed-SIMD build
 * (`xent-simd-relaxed.wasm`) — or falling back to the normal build with a warning where that
 * cannot be.
 * @module
 */

import { describeValue } from './memory/dtype.js';
import { XentOptionError } from './errors.js';
import { defaultRelaxedWasmUrl, load, relaxedSimdSupported, type LoadOptions, type Loaded } from './loader.js';
import { errorMessage } from './error-message.js';
import type { WarningSink } from './warnings.js';

/** @internal Checks `options.relaxed` (a boolean; default false) against `options.simd`. */
export function relaxedOption(options: LoadOptions): boolean {
  const r = options.relaxed ?? false;
  if (typeof r !== 'boolean') throw new XentOptionError(`options.relaxed must be a boolean, got ${describeValue(r)}`);
  if (r && options.simd === false) {
    throw new XentOptionError(
      'options.relaxed: true and options.simd: false contradict each other (the relaxed build is a SIMD build)',
    );
  }
  return r;
}

function fallback(warn: WarningSink, why: string): undefined {
  warn('relaxed-fallback', `relaxed: true was asked for, but this instance runs the normal build: ${why}`);
  return undefined;
}

/**
 * @internal Loads the relaxed-SIMD build for `relaxed: true` without `wasm`, or returns
 * undefined (having warned) when it cannot: then the caller loads the normal build.
 * `threads` > 1 always falls back (there is no relaxed threads build).
 */
export async function loadRelaxedBuild(
  options: LoadOptions,
  threads: number,
  warn: WarningSink,
): Promise<Loaded | undefined> {
  if (threads > 1) return fallback(warn, `there is no relaxed-SIMD threads build (threads: ${threads} was asked for)`);
  const url = defaultRelaxedWasmUrl();
  if (url.protocol === 'xent-inline:') {
    return fallback(warn, "xent-wasm/inline embeds no relaxed-SIMD build (use the main entry, 'xent-wasm')");
  }
  if (!relaxedSimdSupported()) {
    return fallback(
      warn,
      'this engine does not support WebAssembly relaxed SIMD ' +
        '(Chrome ≥ 114 and Node ≥ 22 do; Node 20 needs --experimental-wasm-relaxed-simd)',
    );
  }
  try {
    return await load({ ...options, wasm: url });
  } catch (e) {
    return fallback(warn, `the relaxed-SIMD build could not be loaded (${errorMessage(e)})`);
  }
}
