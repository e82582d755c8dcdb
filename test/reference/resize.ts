/**
 * An independent float64 reference of PyTorch's `F.interpolate(logits, size=(H, W), mode,
 * align_corners)` followed by `F.cross_entropy`, and of the gradient w.r.t. the low-resolution
 * logits, written from PyTorch 1.13's CPU definition (aten/src/ATen/native/UpSample.h,
 * UpSampleKernel.cpp), not from the kernel.
 *
 * Coordinates as PyTorch's CPU kernels compute them for a float32 tensor: the scale in float32,
 * the source coordinate in float64 from it (never rounded to float32), the weights rounded to
 * float32; only the interpolation and everything after it are in float64 here.
 * - bilinear, align_corners false: scale = float32(in/out), src = max(0, scale (dst + 0.5) − 0.5);
 *   align_corners true: scale = float32((in − 1)/(out − 1)) (0 when out = 1), src = scale · dst.
 *   i0 = ⌊src⌋, i1 = i0 + 1 (i0 at the last row), λ1 = float32(clamp(src − i0, 0, 1)),
 *   λ0 = float32(1 − λ1). When in = out: i0 = i1 = dst, λ0 = 1, λ1 = 0. (So at 3 → 6 with
 *   align_corners the last row has λ1 = 2.98e-8, not 0, and from 7 rows to 19 output row 9
 *   reads rows 2 and 3 with λ0 = 6e-8: what decides −inf or NaN beside an infinite logit;
 *   checked against PyTorch by test/ops/loss/cross-entropy-resize.fixtures.test.ts.)
 * - nearest (legacy, floor): in = out → dst; out = 2·in → dst >> 1; otherwise
 *   src = min(⌊float32(dst · float32(in/out))⌋, in − 1): in float32, so dst 41 of 82 from
 *   2 rows is row 0, not 1.
 * - bilinear value: (x[i0,j0] λx0 + x[i0,j1] λx1) λy0 + (x[i1,j0] λx0 + x[i1,j1] λx1) λy1, all
 *   four terms always (so a −inf logit beside the pixel gives NaN through −inf · 0, as PyTorch).
 * - adjoint: each output pixel's gradient g adds λy λx g into each of its four sources (again
 *   all four, so a NaN gradient reaches the sources of weight 0, as in PyTorch's backward);
 *   nearest adds g into its one source.
 */
import { type Layout, type ReferenceInput, type ReferenceOutput, referenceCrossEntropy } from './cross-entropy.js';
import { toNCHW, toNHWC } from './layout.js';

export type ResizeMode = 'bilinear' | 'nearest';
export interface ResizeSpec {
  mode: ResizeMode;
  alignCorners?: boolean | null;
}

/** The two source taps and weights of every output index along one axis. */
export interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  l0: Float64Array;
  l1: Float64Array;
}

const f = Math.fround;

/** PyTorch's source indices and weights for `outSize` outputs from `inSize` inputs. */
export function taps(inSize: number, outSize: number, spec: ResizeSpec): Taps {
  const t: Taps = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    l0: new Float64Array(outSize),
    l1: new Float64Array(outSize),
  };
  for (let o = 0; o < outSize; o++) {
    let i0: number;
    let i1: number;
    let l1 = 0;
    if (spec.mode === 'nearest') {
      if (outSize === inSize) i0 = o;
      else if (outSize === 2 * inSize) i0 = o >> 1;
      else i0 = Math.min(Math.floor(f(o * f(inSize / outSize))), inSize - 1);
      i1 = i0;
    } else if (outSize === inSize) {
      i0 = o;
      i1 = o;
    } else {
      // The source coordinate in float64 from the float32 scale, never rounded to float32:
      // at 3 → 6 with align_corners, the last row's is 0.4000000059604645 · 5 = 2.0000000298…,
      // so λ1 = 2.98e-8, not 0 (which decides between −inf and NaN beside a −inf logit).
      const scale = spec.alignCorners ? (outSize > 1 ? f((inSize - 1) / (outSize - 1)) : 0) : f(inSize / outSize);
      const src = spec.alignCorners ? scale * o : Math.max(scale * (o + 0.5) - 0.5, 0);
      i0 = Math.min(Math.trunc(src), inSize - 1);
      l1 = f(Math.min(Math.max(src - i0, 0), 1));
      i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    }
    t.i0[o] = i0;
    t.i1[o] = i1;
    t.l1[o] = l1;
    t.l0[o] = f(1 - l1);
  }
  return t;
}

/**
 * One output pixel of a resize from (N, C, h, w) to (N, C, H, W), NCHW: `o` its flat index,
 * `r0 + j0`, `r0 + j1`, `r1 + j0`, `r1 + j1` the flat indices of its four sources (the same one
 * four times for 'nearest', whose weights are then 1 and 0), and their weights along each axis.
 */
interface Pixel {
  o: number;
  r0: number;
  r1: number;
  j0: number;
  j1: number;
  y0: number;
  y1: number;
  x0: number;
  x1: number;
}

/** Calls `visit` for every output pixel, in order (so that the adjoint's sums keep their order). */
function forEachPixel(
  [N, C, h, w]: readonly number[],
  [H, W]: readonly number[],
  spec: ResizeSpec,
  visit: (p: Pixel) => void,
): void {
  const ty = taps(h!, H!, spec);
  const tx = taps(w!, W!, spec);
  const p: Pixel = { o: 0, r0: 0, r1: 0, j0: 0, j1: 0, y0: 0, y1: 0, x0: 0, x1: 0 };
  for (let nc = 0; nc < N! * C!; nc++) {
    const src = nc * h! * w!;
    for (let y = 0; y < H!; y++) {
      p.r0 = src + ty.i0[y]! * w!;
      p.r1 = src + ty.i1[y]! * w!;
      p.y0 = ty.l0[y]!;
      p.y1 = ty.l1[y]!;
      for (let xo = 0; xo < W!; xo++) {
        p.o = (nc * H! + y) * W! + xo;
        p.j0 = tx.i0[xo]!;
        p.j1 = tx.i1[xo]!;
        p.x0 = tx.l0[xo]!;
        p.x1 = tx.l1[xo]!;
        visit(p);
      }
    }
  }
}

/** Interpolates NCHW `x` of shape (N, C, h, w) to (N, C, H, W) in float64. */
export function interpolate(
  x: ArrayLike<number>,
  lowShape: readonly number[],
  size: readonly number[],
  spec: ResizeSpec,
): Float64Array {
  const [N, C] = lowShape as [number, number];
  const out = new Float64Array(N * C * size[0]! * size[1]!);
  const near = spec.mode === 'nearest';
  forEachPixel(lowShape, size, spec, ({ o, r0, r1, j0, j1, y0, y1, x0: a, x1: b }) => {
    out[o] = near ? x[r0 + j0]! : (x[r0 + j0]! * a + x[r0 + j1]! * b) * y0 + (x[r1 + j0]! * a + x[r1 + j1]! * b) * y1;
  });
  return out;
}

/** The adjoint of `interpolate`: NCHW gradient (N, C, H, W) → (N, C, h, w). */
export function interpolateAdjoint(
  g: ArrayLike<number>,
  lowShape: readonly number[],
  size: readonly number[],
  spec: ResizeSpec,
): Float64Array {
  const [N, C, h, w] = lowShape as [number, number, number, number];
  const out = new Float64Array(N * C * h * w);
  const near = spec.mode === 'nearest';
  forEachPixel(lowShape, size, spec, ({ o, r0, r1, j0, j1, y0, y1, x0, x1 }) => {
    const v = g[o]!;
    if (near) {
      out[r0 + j0] = out[r0 + j0]! + v;
      return;
    }
    const [a, b, c, d] = [y0 * x0, y0 * x1, y1 * x0, y1 * x1];
    out[r0 + j0] = out[r0 + j0]! + a * v;
    out[r0 + j1] = out[r0 + j1]! + b * v;
    out[r1 + j0] = out[r1 + j0]! + c * v;
    out[r1 + j1] = out[r1 + j1]! + d * v;
  });
  return out;
}

export interface ResizeReferenceInput extends ReferenceInput {
  resize: ResizeSpec;
  /**
   * The target's shape: (N, H, W) class indices, or probabilities (N, C, H, W) (NCHW) /
   * (N, H, W, C) (NHWC), in the logits' layout.
   */
  targetShape: readonly number[];
}

export interface ResizeReferenceOutput extends ReferenceOutput {
  /** The interpolated logits, NCHW (N, C, H, W), float64. */
  up: Float64Array;
  /** (N, C, H, W). */
  upShape: number[];
}

/**
 * crossEntropy of the interpolated logits: loss, sum and weightSum, the loss and confidence maps
 * at the target's resolution, and the gradient w.r.t. the low-resolution logits (in their layout).
 */
export function referenceResizedCrossEntropy(input: ResizeReferenceInput): ResizeReferenceOutput {
  const layout: Layout = input.layout ?? 'NCHW';
  const nhwc = layout === 'NHWC';
  const s = input.logitsShape;
  if (s.length !== 4) throw new Error('resize reference: logits must be 4-D');
  const lowShape = nhwc ? [s[0]!, s[3]!, s[1]!, s[2]!] : [...s];
  const [N, C] = lowShape as [number, number];
  const prob = input.targetKind === 'prob';
  const ts = input.targetShape;
  const size = prob ? (nhwc ? [ts[1]!, ts[2]!] : [ts[2]!, ts[3]!]) : [ts[1]!, ts[2]!];
  const upShape = [N, C, size[0]!, size[1]!];
  const low = Float64Array.from(input.logits);
  const up = interpolate(nhwc ? toNCHW(low, lowShape) : low, lowShape, size, input.resize);
  const target = prob && nhwc ? toNCHW(Float64Array.from(input.target), upShape) : input.target;
  const ref = referenceCrossEntropy({ ...input, logits: up, logitsShape: upShape, target, layout: 'NCHW' });
  let grad: Float64Array | undefined;
  if (ref.grad) {
    grad = interpolateAdjoint(ref.grad, lowShape, size, input.resize);
    if (nhwc) grad = toNHWC(grad, lowShape);
  }
  return { ...ref, grad, up, upShape };
}
