/**
 * The options of `Xent.create`, checked as strictly as the ops' options: an unknown name is an
 * error with a did-you-mean (`{ thread: 2 }` -> "threads"), `simd` and `autoFree` must be
 * booleans, and `onWarning` a function or null. The other values are checked where they are read: `threads` and
 * `minElementsPerThread` in ts/threads/start.ts, `relaxed` in ts/relaxed.ts, `wasm` and `memory`
 * by the loader (a `XentLoadError`).
 * @module
 */

import { XentOptionError } from '../../errors.js';
import { describeValue } from '../../memory/dtype.js';
import type { XentOptions } from '../../xent.js';
import { checkOptionNames, optionsObject } from './check.js';

/** Every option of `Xent.create` (the Record makes the compiler list them all). */
const NAMES: Readonly<Record<keyof XentOptions, true>> = {
  wasm: true,
  simd: true,
  relaxed: true,
  memory: true,
  threads: true,
  minElementsPerThread: true,
  autoFree: true,
  onWarning: true,
};
const CREATE_OPTION_NAMES: readonly string[] = Object.freeze(Object.keys(NAMES));

/**
 * @internal Throws a `XentOptionError` for options that are not an object (`null` included:
 * every throw of `create` is a typed error), an unknown option name of `Xent.create`, or a
 * non-boolean `simd` or `autoFree`, or an `onWarning` that is neither a function nor null.
 * `undefined` passes (no options).
 */
export function checkCreateOptions(options: unknown): void {
  if (options === undefined) return;
  if (options === null) throw new XentOptionError('Xent.create: options must be an object, got null');
  const o = optionsObject(options, 'Xent.create');
  checkOptionNames(o, 'Xent.create', CREATE_OPTION_NAMES);
  for (const name of ['simd', 'autoFree'] as const) {
    const value = o[name];
    if (value !== undefined && typeof value !== 'boolean') {
      throw new XentOptionError(`Xent.create: options.${name} must be a boolean, got ${describeValue(value)}`);
    }
  }
  const w = o.onWarning;
  if (w !== undefined && w !== null && typeof w !== 'function') {
    throw new XentOptionError(
      `Xent.create: options.onWarning must be a function (warning) => void, or null to silence warnings; got ${describeValue(w)}`,
    );
  }
}
