/**
 * Shape rules: how logits, targets and the softmax ops' inputs flatten to the kernel's
 * `[n, c, s]` in a layout.
 * @module
 */

import { LAYOUT_CODE, type ResizeArgs } from '../kernel/abi.js';
import type { NormalizedResize } from './options/resize.js';
import { INDEX_DTYPES_TEXT, type DType } from '../memory/dtype.js';
import { XentDtypeError, XentOptionError, XentShapeError } from '../errors.js';
import type { Layout } from './inputs.js';
import { formatShape, sameShape, shapeSize } from '../memory/shape.js';

/** @internal Flattened geometry of a loss call. */
export interface LossGeometry {
  n: number;
  c: number;
  s: number;
  /** Shape of the per-sample outputs (loss map, confidence, gradOutput, index target). */
  lossShape: readonly number[];
  /** What the target is: class indices or class probabilities. */
  kind: 'index' | 'prob';
  /** ABI layout code. */
  layout: number;
  /** With `options.resize`: the logits' and the target's spatial sizes (`s` = outH × outW). */
  resize?: ResizeArgs;
}

/**
 * @internal PyTorch's shape rules, in either layout: `(C)` with a target `()`, `(N, C)` with
 * `(N)`, `(N, C, d1..dk)` (NCHW) or `(N, d1..dk, C)` (NHWC) with `(N, d1..dk)`; a float32
 * target holds class probabilities and has the input's shape.
 *
 * @param what - the input's name in messages (`logits`, `logProbs`).
 */
export function lossGeometry(
  input: readonly number[],
  target: { readonly dtype: DType; readonly shape: readonly number[] },
  layout: Layout,
  what = 'logits',
  resize?: NormalizedResize,
): LossGeometry {
  if (resize) return resizedGeometry(input, target, layout, what, resize);
  const tshape = target.shape;
  const rank = input.length;
  if (rank === 0) {
    throw new XentShapeError(`${what} must have shape (C), (N, C) or (N, C, d1, ..., dk); got a scalar shape []`);
  }
  const nhwc = layout === 'NHWC' && rank >= 3;
  const ca = rank === 1 ? 0 : nhwc ? rank - 1 : 1;
  const c = input[ca]!;
  const lossShape = input.filter((_, i) => i !== ca);
  const form = rank === 1 ? '(C)' : rank === 2 ? '(N, C)' : nhwc ? '(N, d1..dk, C)' : '(N, C, d1..dk)';
  const prob = target.dtype === 'float32';

  if (prob) {
    if (!sameShape(tshape, input)) {
      if (sameShape(tshape, lossShape)) {
        throw new XentDtypeError(
          `target of shape ${formatShape(tshape)} is float32, which means class probabilities, but has the shape of ` +
            `class indices for ${what} ${formatShape(input)} ${form}: class indices must be ${INDEX_DTYPES_TEXT} ` +
            `(PyTorch: expected scalar type Long); class probabilities must have the ${what}' shape ` +
            `${formatShape(input)}`,
        );
      }
      const batch =
        rank >= 2 && tshape.length === rank && tshape[0] !== input[0]
          ? ` (Expected input batch_size (${input[0]}) to match target batch_size (${tshape[0]}))`
          : '';
      throw new XentShapeError(
        `a float32 target holds class probabilities and must have the ${what}' shape ${formatShape(input)} ` +
          `${form}${layout === 'NHWC' && rank >= 3 ? ' in the NHWC layout' : ''}, got ` +
          `${formatShape(tshape)}${batch}; class-index targets (${INDEX_DTYPES_TEXT}) have shape ` +
          `${formatShape(lossShape)}`,
      );
    }
  } else if (sameShape(tshape, input)) {
    throw new XentDtypeError(
      `target of shape ${formatShape(tshape)} has the ${what}' shape, which means class probabilities, but is ` +
        `${target.dtype}: class probabilities must be float32 (PyTorch: Expected floating point type for target ` +
        `with class probabilities); class indices (${INDEX_DTYPES_TEXT}) have shape ${formatShape(lossShape)}`,
    );
  } else if (rank === 1) {
    if (tshape.length !== 0) {
      throw new XentShapeError(
        `${what} of shape ${formatShape(input)} (unbatched, C = ${c}) need a scalar target of shape [], got target ` +
          `shape ${formatShape(tshape)} (for a batch use ${what} (N, C) with target (N))`,
      );
    }
  } else {
    const n = input[0]!;
    if (tshape.length !== rank - 1) {
      throw new XentShapeError(
        `target must have shape ${formatShape(lossShape)} for ${what} of shape ${formatShape(input)} ` +
          `${form}${nhwc ? ' (layout NHWC)' : ''}; got ${formatShape(tshape)} (rank ${tshape.length}, expected rank ` +
          `${rank - 1})`,
      );
    }
    if (tshape[0] !== n) {
      throw new XentShapeError(
        `Expected input batch_size (${n}) to match target batch_size (${tshape[0]}): ${what} ${formatShape(input)}, ` +
          `target ${formatShape(tshape)}`,
      );
    }
    if (!sameShape(tshape, lossShape)) {
      throw new XentShapeError(
        `Expected target size ${formatShape(lossShape)}, got ${formatShape(tshape)}: the spatial dims of target must ` +
          `match ${what} ${formatShape(input)}` +
          (nhwc ? ' (layout NHWC: (N, d1..dk, C))' : '') +
          (rank === 4
            ? `; for low-resolution ${what}, give options.resize ('bilinear' or 'nearest') to resize them to the ` +
              `target's size in the loss`
            : ''),
      );
    }
  }
  if (c === 0)
    throw new XentShapeError(`${what} have C = 0 classes (shape ${formatShape(input)}); at least 1 class is needed`);
  const n = rank === 1 ? 1 : input[0]!;
  return {
    n,
    c,
    s: rank === 1 ? 1 : shapeSize(lossShape.slice(1)),
    lossShape,
    kind: prob ? 'prob' : 'index',
    layout: nhwc ? LAYOUT_CODE.nhwc : LAYOUT_CODE.nchw,
  };
}

/**
 * @internal The geometry of a resized loss: 4-D logits `(N, C, h, w)` (NHWC `(N, h, w, C)`)
 * against a target `(N, H, W)` of class indices or `(N, C, H, W)` (NHWC `(N, H, W, C)`)
 * probabilities, any `H, W`; the per-sample outputs are `(N, H, W)`.
 */
function resizedGeometry(
  input: readonly number[],
  target: { readonly dtype: DType; readonly shape: readonly number[] },
  layout: Layout,
  what: string,
  resize: NormalizedResize,
): LossGeometry {
  const nhwc = layout === 'NHWC';
  const form = nhwc ? '(N, h, w, C)' : '(N, C, h, w)';
  if (input.length !== 4) {
    throw new XentShapeError(
      `options.resize needs 4-D ${what} ${form}, got ${formatShape(input)} (rank ${input.length}): only 2-D ` +
        `(bilinear, nearest) resizes are supported`,
    );
  }
  const [n, c, h, w] = (nhwc ? [input[0], input[3], input[1], input[2]] : input) as [number, number, number, number];
  const tshape = target.shape;
  const prob = target.dtype === 'float32';
  const probForm = nhwc ? '(N, H, W, C)' : '(N, C, H, W)';
  if (prob && tshape.length !== 4) {
    throw new XentDtypeError(
      `target of shape ${formatShape(tshape)} is float32, which means class probabilities ${probForm}, but has ` +
        `rank ${tshape.length}: class indices (N, H, W) must be ${INDEX_DTYPES_TEXT} (PyTorch: expected scalar ` +
        `type Long)`,
    );
  }
  if (!prob && tshape.length !== 3) {
    throw new XentShapeError(
      `with options.resize, a class-index target must have shape (N, H, W) (any H, W), got ` +
        `${formatShape(tshape)}` +
        (tshape.length === 4 ? `; class probabilities ${probForm} must be float32, not ${target.dtype}` : ''),
    );
  }
  const [tn, tc, th, tw] = (
    prob ? (nhwc ? [tshape[0], tshape[3], tshape[1], tshape[2]] : tshape) : [tshape[0], c, tshape[1], tshape[2]]
  ) as [number, number, number, number];
  if (tn !== n) {
    throw new XentShapeError(
      `Expected input batch_size (${n}) to match target batch_size (${tn}): ${what} ${formatShape(input)}, ` +
        `target ${formatShape(tshape)}`,
    );
  }
  if (tc !== c) {
    throw new XentShapeError(
      `class probabilities ${formatShape(tshape)} ${probForm} must have the ${what}' C = ${c} classes, got ${tc}`,
    );
  }
  if (h === 0 || w === 0 || th === 0 || tw === 0) {
    throw new XentShapeError(
      `options.resize: Input and output sizes should be greater than 0, but got input (H: ${h}, W: ${w}) output ` +
        `(H: ${th}, W: ${tw}) (${what} ${formatShape(input)}, target ${formatShape(tshape)})`,
    );
  }
  if (c === 0)
    throw new XentShapeError(`${what} have C = 0 classes (shape ${formatShape(input)}); at least 1 class is needed`);
  return {
    n,
    c,
    s: th * tw,
    lossShape: [n, th, tw],
    kind: prob ? 'prob' : 'index',
    layout: nhwc ? LAYOUT_CODE.nhwc : LAYOUT_CODE.nchw,
    resize: { inH: h, inW: w, outH: th, outW: tw, mode: resize.code },
  };
}

/** @internal Flattened geometry of a softmax op: `[outer, C, inner]`. */
export interface SoftmaxGeometry {
  outer: number;
  c: number;
  inner: number;
  /** The normalised dim (in `[0, rank)`, or 0 for a scalar). */
  dim: number;
}

/** @internal PyTorch's `dim` rules (negative counts from the end; a scalar takes 0 or -1). */
export function softmaxGeometry(shape: readonly number[], dimIn: number | undefined, op: string): SoftmaxGeometry {
  const rank = shape.length;
  const lo = -Math.max(rank, 1);
  const hi = Math.max(rank, 1) - 1;
  const d = dimIn ?? (rank >= 2 ? 1 : 0);
  if (d < lo || d > hi) {
    throw new XentOptionError(
      `${op}: options.dim = ${d} is out of range for an input of shape ${formatShape(shape)} (rank ${rank}): ` +
        `Dimension out of range (expected to be in range of [${lo}, ${hi}], but got ${d})`,
    );
  }
  if (rank === 0) return { outer: 1, c: 1, inner: 1, dim: 0 };
  const dim = d < 0 ? d + rank : d;
  return {
    outer: shapeSize(shape.slice(0, dim)),
    c: shape[dim]!,
    inner: shapeSize(shape.slice(dim + 1)),
    dim,
  };
}

/**
 * @internal The `[n, c, s]` and layout to hand the kernel. With one pixel per sample (s = 1:
 * `(C)`, `(N, C)`, `(N, C, 1, 1)`, a softmax over the last dim) both layouts are the same
 * memory, and `[n, c, 1]` is passed as NHWC `[1, c, n]`: the kernel then vectorises across
 * samples instead of running one narrow tile per sample (the per-sample results do not
 * depend on the tiling, so the bits are the same).
 */
export function kernelDims(
  n: number,
  c: number,
  s: number,
  layout: number,
): { n: number; c: number; s: number; layout: number } {
  return s === 1 ? { n: 1, c, s: n, layout: LAYOUT_CODE.nhwc } : { n, c, s, layout };
}
