/**
 * The option checks every op shares: the options object itself, unknown names (with a
 * suggestion), `ignoreIndex`, `layout` and the optional outputs.
 * @module
 */

import { XentOptionError } from '../../errors.js';
import { describeValue } from '../../memory/dtype.js';
import { isAnyXentTensor } from '../../memory/tensor.js';
import type { Layout } from '../inputs.js';
import { suggestOption } from './suggest.js';

/** @internal Checks that `options` is undefined, null or a plain options object. */
export function optionsObject(options: unknown, op: string): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (
    typeof options !== 'object' ||
    Array.isArray(options) ||
    ArrayBuffer.isView(options) ||
    isAnyXentTensor(options)
  ) {
    throw new XentOptionError(`${op}: options must be an object, got ${describeValue(options)}`);
  }
  return options as Record<string, unknown>;
}

/** @internal How an op explains option names that are not its own, beyond the generic suggestion. */
export interface NameRules {
  /**
   * For a name that means something elsewhere (another op's option), the text that replaces
   * "unknown option ..." in the message; no suggestion is made then.
   */
  misplaced?(key: string): string | undefined;
  /** A suggestion when {@link suggestOption} has none. */
  hint?(key: string): string | undefined;
}

/** @internal Rejects the first option name not in `names`, saying what was probably meant. */
export function checkOptionNames(
  o: Record<string, unknown>,
  op: string,
  names: readonly string[],
  rules: NameRules = {},
): void {
  for (const key of Object.keys(o)) {
    if (names.includes(key)) continue;
    const misplaced = rules.misplaced?.(key);
    const hint = misplaced === undefined ? (suggestOption(key, names) ?? rules.hint?.(key)) : undefined;
    throw new XentOptionError(
      `${op}: ${misplaced ?? `unknown option ${JSON.stringify(key)}`}` +
        (hint ? `; did you mean ${JSON.stringify(hint)}?` : '') +
        ` Valid options: ${names.join(', ')}.` +
        (hint === 'reduction' && /size_?average|reduce/i.test(key)
          ? ` (PyTorch deprecated ${key}: use reduction: 'mean' | 'sum' | 'none'.)`
          : ''),
    );
  }
}

/** @internal Checks `options.ignoreIndex` (an integer that fits in 32 bits; default -100; -0 is 0). */
export function ignoreIndexOption(value: unknown, op: string): number {
  const ignoreIndex = value ?? -100;
  if (typeof ignoreIndex !== 'number' || !Number.isInteger(ignoreIndex)) {
    throw new XentOptionError(`${op}: options.ignoreIndex must be an integer, got ${describeValue(ignoreIndex)}`);
  }
  if (ignoreIndex < -(2 ** 31) || ignoreIndex > 2 ** 31 - 1) {
    throw new XentOptionError(
      `${op}: options.ignoreIndex must fit in 32 bits ([-2147483648, 2147483647]), got ${ignoreIndex}`,
    );
  }
  return ignoreIndex === 0 ? 0 : ignoreIndex;
}

/** @internal Parses `options.layout` (default 'NCHW'). */
export function layoutOption(value: unknown, op: string): Layout {
  if (value === undefined) return 'NCHW';
  if (value === 'NCHW' || value === 'NHWC') return value;
  const hint =
    typeof value === 'string' && /^(nchw|nhwc)$/i.test(value)
      ? `; did you mean '${value.toUpperCase()}'? (layouts are spelled in upper case)`
      : typeof value === 'string' && /^(channels_?last|nlc|ndhwc)$/i.test(value)
        ? "; did you mean 'NHWC'? (any channels-last shape (N, d1, ..., dk, C) is 'NHWC')"
        : typeof value === 'string' && /^(channels_?first|ncl|ncdhw)$/i.test(value)
          ? "; did you mean 'NCHW'? (any channels-first shape (N, C, d1, ..., dk) is 'NCHW')"
          : '';
  throw new XentOptionError(
    `${op}: options.layout must be exactly 'NCHW' or 'NHWC', got ${describeValue(value)}${hint}`,
  );
}

/** @internal An optional output option: `false` asks for nothing, as leaving it out does. */
export function outputOption(value: unknown): unknown {
  return value === false ? undefined : value;
}
