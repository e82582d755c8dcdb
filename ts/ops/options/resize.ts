/**
 * The `resize` option of the loss and scoring ops: PyTorch's `F.interpolate(logits, size=(H, W),
 * mode, align_corners)` fused in before the loss, checked as strictly as the other options.
 * @module
 */

import { RESIZE_MODE_CODE } from '../../kernel/abi.js';
import { XentOptionError } from '../../errors.js';
import { describeValue } from '../../memory/dtype.js';
import { checkOptionNames, optionsObject } from './check.js';

/** How the logits are resized to the target's size (see {@link ResizeOption}). */
export type ResizeMode = 'bilinear' | 'nearest';

/**
 * Resize the logits `(N, C, h, w)` (or `(N, h, w, C)` with `layout: 'NHWC'`) to the target's
 * size `(H, W)` before the loss, fused: PyTorch's `F.interpolate(logits, size=(H, W), mode,
 * align_corners)` then `F.cross_entropy`, without ever building the full-resolution logits.
 * `'bilinear'` and `'nearest'` are shorthands for `{ mode }`.
 */
export type ResizeOption =
  | ResizeMode
  | {
      /** `'bilinear'` or `'nearest'` (PyTorch's legacy `'nearest'`, the floor; not `'nearest-exact'`). */
      mode: ResizeMode;
      /** PyTorch's `align_corners` for `'bilinear'` (default false); not allowed with `'nearest'`. */
      alignCorners?: boolean;
    };

/** @internal A checked resize option. */
export interface NormalizedResize {
  mode: ResizeMode;
  alignCorners: boolean;
  /** The ABI mode code. */
  code: number;
}

const MODES = ['bilinear', 'nearest'] as const;
const UNSUPPORTED: Readonly<Record<string, string>> = {
  linear: "'linear' is for 3-D inputs (N, C, L); for (N, C, h, w) logits use 'bilinear'",
  bicubic: "'bicubic' is not supported (use 'bilinear')",
  trilinear: "'trilinear' is for 5-D inputs, which resize does not support",
  area: "'area' is not supported (use 'bilinear' or 'nearest')",
  'nearest-exact':
    "'nearest-exact' is not supported: 'nearest' is PyTorch's legacy nearest (src = floor(dst * in/out)), " +
    "as mmsegmentation and F.interpolate's default use",
};

/** @internal Checks `options.resize` of `op`; `undefined` when absent. */
export function resizeOption(value: unknown, op: string): NormalizedResize | undefined {
  if (value === undefined) return undefined;
  const what = `${op}: options.resize`;
  let mode: unknown;
  let alignCorners: unknown;
  if (typeof value === 'string') {
    mode = value;
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = optionsObject(value, what);
    checkOptionNames(o, what, ['mode', 'alignCorners'], {
      hint: (key) => (/^align_?corners$/i.test(key) ? 'alignCorners' : undefined),
      misplaced: (key) =>
        /^(size|scale_?factor)$/i.test(key)
          ? `option ${JSON.stringify(key)}: the output size is the target's (H, W), not an option`
          : undefined,
    });
    if (o.mode === undefined) {
      throw new XentOptionError(`${what}.mode is required: 'bilinear' or 'nearest'`);
    }
    mode = o.mode;
    alignCorners = o.alignCorners;
  } else {
    throw new XentOptionError(
      `${what} must be 'bilinear', 'nearest' or { mode: 'bilinear' | 'nearest', alignCorners?: boolean }, got ` +
        describeValue(value),
    );
  }
  if (mode !== 'bilinear' && mode !== 'nearest') {
    const text = typeof mode === 'string' ? mode.toLowerCase().replace(/_/g, '-') : undefined;
    const hint =
      text === undefined
        ? ''
        : (MODES as readonly string[]).includes(text)
          ? `; did you mean '${text}'?`
          : text in UNSUPPORTED
            ? `: ${UNSUPPORTED[text]}`
            : '';
    throw new XentOptionError(`${what}: mode must be 'bilinear' or 'nearest', got ${describeValue(mode)}${hint}`);
  }
  if (alignCorners !== undefined && typeof alignCorners !== 'boolean') {
    throw new XentOptionError(`${what}.alignCorners must be a boolean, got ${describeValue(alignCorners)}`);
  }
  if (mode === 'nearest' && alignCorners !== undefined) {
    throw new XentOptionError(
      `${what}: alignCorners was given with mode 'nearest' (PyTorch: align_corners option can only be set with the ` +
        `interpolating modes: linear | bilinear | bicubic | trilinear)`,
    );
  }
  const ac = alignCorners === true;
  const code =
    mode === 'nearest'
      ? RESIZE_MODE_CODE.nearest
      : ac
        ? RESIZE_MODE_CODE.bilinearAlignCorners
        : RESIZE_MODE_CODE.bilinear;
  return { mode, alignCorners: ac, code };
}
