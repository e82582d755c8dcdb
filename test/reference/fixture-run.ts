/**
 * A PyTorch fixture case through crossEntropy (plain, or with extra options such as `resize`),
 * everything copied out of wasm memory, and the comparisons the fixture tests make of such runs:
 * against PyTorch and the float64 reference, and bit for bit against each other.
 */
import { expect } from 'vitest';
import {
  arrayMismatch,
  elementwiseMismatch,
  firstBitDifference,
  gradMismatch,
  lossMismatch,
  sameBits,
} from './compare.js';
import { lib, type Xent } from './dist.js';
import type { FixtureCase } from './fixtures.js';
import { nhwcShape, toNCHW, toNHWC } from './layout.js';

export type IndexDtype = 'uint8' | 'uint16' | 'int32';
const INDEX_ARRAYS = { uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array } as const;
const RANGE: Record<IndexDtype, [number, number]> = {
  uint8: [0, 255],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
};

/** The index dtypes that hold every target value (the ignore index need not fit: then it never matches). */
export function fittingDtypes(c: FixtureCase): IndexDtype[] {
  return (['uint8', 'uint16', 'int32'] as const).filter((d) =>
    c.target.every((v) => v >= RANGE[d][0] && v <= RANGE[d][1]),
  );
}

/** Shape of the per-sample outputs: the logits' shape without the class dim. */
export function sampleShape(c: { logitsShape: readonly number[] }): number[] {
  return c.logitsShape.filter((_, i) => i !== (c.logitsShape.length === 1 ? 0 : 1));
}

export interface RunVariant {
  /** The class indices' dtype (default: the narrowest that holds them). */
  dtype?: IndexDtype;
  layout?: 'NCHW' | 'NHWC';
  /** Ask for the gradient and the loss and confidence maps (default true). */
  outputs?: boolean;
}

export interface LossRun {
  loss: number | Float32Array;
  sum: number;
  weightSum: number;
  /** The gradient w.r.t. the logits as given, in NCHW order whatever the layout of the call. */
  grad?: Float32Array;
  /** Absent where the loss is the map ('none'). */
  lossMap?: Float32Array;
  confidence?: Float32Array;
}

/** The logits and the target of `c` as tensors of `x`, in `layout` (a probability target transposed as the logits). */
export function fixtureInputs(
  x: Xent,
  c: FixtureCase,
  layout: 'NCHW' | 'NHWC' = 'NCHW',
  dtype: IndexDtype = fittingDtypes(c)[0]!,
): { logits: lib.Tensor<'float32'>; target: lib.Tensor<IndexDtype | 'float32'> } {
  const nhwc = layout === 'NHWC';
  const logitsData = Float32Array.from(c.logits);
  const logits = x.tensorFrom(
    nhwc ? toNHWC(logitsData, c.logitsShape) : logitsData,
    nhwc ? nhwcShape(c.logitsShape) : c.logitsShape,
  );
  if (c.targetKind === 'index')
    return { logits, target: x.tensorFrom(INDEX_ARRAYS[dtype].from(c.target), c.targetShape) };
  const targetData = Float32Array.from(c.target);
  const target = x.tensorFrom(
    nhwc ? toNHWC(targetData, c.targetShape) : targetData,
    nhwc ? nhwcShape(c.targetShape) : c.targetShape,
  );
  return { logits, target };
}

/**
 * crossEntropy of case `c` in `x` with the case's options and `options` (e.g. `resize`), asking
 * for the gradient (where it applies) and the loss and confidence maps unless `v.outputs` is
 * false. Checks the shapes of what comes back (the maps: `mapShape`, by default the logits'
 * shape without the class dim) and copies it all out.
 */
export function runFixture(
  x: Xent,
  c: FixtureCase,
  v: RunVariant = {},
  { options, mapShape = sampleShape(c) }: { options?: Record<string, unknown>; mapShape?: number[] } = {},
): LossRun {
  const isProb = c.targetKind === 'prob';
  const outputs = v.outputs ?? true;
  const { logits, target } = fixtureInputs(x, c, v.layout, v.dtype);
  using _l = logits;
  using _t = target;
  using grad = x.tensor('float32', logits.shape);
  const gradOutput = c.gradOutput ? { data: Float32Array.from(c.gradOutput), shape: c.lossShape } : undefined;
  const wantGrad = outputs && (c.reduction !== 'none' || gradOutput !== undefined);
  const r = x.crossEntropy(logits, target, {
    ...options,
    weight: c.weight ?? undefined,
    ignoreIndex: c.ignoreIndex,
    reduction: c.reduction,
    labelSmoothing: c.labelSmoothing,
    grad: wantGrad ? grad : undefined,
    gradOutput: wantGrad ? gradOutput : undefined,
    layout: v.layout,
    lossMap: outputs,
    confidence: outputs && !isProb,
  } as Parameters<Xent['crossEntropy']>[2]);
  const out: LossRun = { loss: 0, sum: r.sum, weightSum: r.weightSum };
  if (r.loss instanceof lib.Tensor) {
    expect(r.loss.shape).toEqual(c.lossShape);
    out.loss = r.loss.toArray() as Float32Array;
    if (outputs) expect(r.lossMap).toBe(r.loss);
    r.loss.dispose();
  } else {
    out.loss = r.loss;
    if (outputs) {
      expect(r.lossMap!.shape, 'lossMap shape').toEqual(mapShape);
      out.lossMap = r.lossMap!.toArray();
      r.lossMap!.dispose();
    } else expect(r.lossMap).toBeUndefined();
  }
  if (outputs && !isProb) {
    expect(r.confidence!.shape, 'confidence shape').toEqual(mapShape);
    out.confidence = r.confidence!.toArray();
    r.confidence!.dispose();
  } else expect(r.confidence).toBeUndefined();
  if (wantGrad) out.grad = v.layout === 'NHWC' ? toNCHW(grad.toArray(), c.logitsShape) : grad.toArray();
  return out;
}

/**
 * Each build's run of `c` against PyTorch (the loss, per sample for 'none'; the gradient where
 * there is one, of the logits' size), sum and weightSum against the float64 reference, the loss
 * map (where it is not the loss) and the confidence map against `maps`.
 */
export function expectRunsMatch(
  runs: Record<string, LossRun>,
  c: FixtureCase,
  ref: { sum: number; weightSum: number; gradTerms: number },
  maps: { lossMap: ArrayLike<number>; confidence?: ArrayLike<number> },
): void {
  for (const [build, r] of Object.entries(runs)) {
    if (c.reduction === 'none') {
      const err = arrayMismatch(r.loss as Float32Array, c.loss as number[], 2e-6, `loss (${build})`);
      expect(err, err).toBeUndefined();
    } else {
      const err = lossMismatch(r.loss as number, c.loss as number);
      expect(err, `${build}: ${err}`).toBeUndefined();
      const m = elementwiseMismatch(r.lossMap!, maps.lossMap, 2e-6, `lossMap (${build})`);
      expect(m, m).toBeUndefined();
    }
    expect(lossMismatch(r.sum, ref.sum), `${build}: sum`).toBeUndefined();
    expect(r.weightSum, `${build}: weightSum`).toBeCloseTo(ref.weightSum, 5);
    if (c.reduction !== 'none' || c.gradOutput) {
      expect(r.grad?.length, `${build}: the gradient has the logits' size`).toBe(c.logits.length);
      const err = gradMismatch(r.grad!, c.grad, ref.gradTerms, `grad (${build})`);
      expect(err, err).toBeUndefined();
    }
    if (r.confidence) {
      const m = elementwiseMismatch(r.confidence, maps.confidence!, 2e-6, `confidence (${build})`);
      expect(m, m).toBeUndefined();
    }
  }
}

/** Bit-identity of two runs (NaNs of any sign and payload are equal). */
export function sameRun(a: LossRun, b: LossRun, what: string): void {
  if (typeof a.loss === 'number')
    expect(sameBits(a.loss, b.loss as number), `${what}: loss ${a.loss} vs ${b.loss}`).toBe(true);
  else expect(firstBitDifference(a.loss, b.loss as Float32Array), `${what}: loss (first differing element)`).toBe(-1);
  expect(sameBits(a.sum, b.sum), `${what}: sum ${a.sum} vs ${b.sum}`).toBe(true);
  expect(sameBits(a.weightSum, b.weightSum), `${what}: weightSum`).toBe(true);
  for (const k of ['grad', 'lossMap', 'confidence'] as const) {
    const [p, q] = [a[k], b[k]];
    if (p && q) expect(firstBitDifference(p, q), `${what}: ${k} (first differing element)`).toBe(-1);
    else expect(p === undefined && q === undefined, `${what}: ${k} in one run only`).toBe(true);
  }
}

/** A run without the optional outputs (`bare`) gives the same loss, sum and weightSum bits as `base`. */
export function sameWithoutOutputs(bare: LossRun, base: LossRun, build: string): void {
  expect(
    sameBits(bare.sum, base.sum) && sameBits(bare.weightSum, base.weightSum),
    `${build}: sum without outputs`,
  ).toBe(true);
  if (typeof bare.loss === 'number')
    expect(sameBits(bare.loss, base.loss as number), `${build}: loss without outputs`).toBe(true);
  else expect(firstBitDifference(bare.loss, base.loss as Float32Array), `${build}: loss without outputs`).toBe(-1);
}
