/**
 * The decomposition ops (softmax, logSoftmax, their backward, nllLoss) against PyTorch's
 * fixtures (test/fixtures/decomposition.json) on the SIMD and the portable build, bit-identical
 * across builds and layouts; and the decomposition itself: nllLoss(logSoftmax(x)) and the
 * chained backward ops against the fused crossEntropy on every class-index fixture.
 *
 * Tolerances as for crossEntropy: values of losses and of (log-)softmax outputs
 * |Δ| ≤ 2e-6 · max(1, |expected|) element by element; gradients max|Δ| ≤ 1e-5 · max|grad|
 * (see gradMismatch for the all-zero case); NaN and ±inf in the same places.
 */
import { describe, expect, it } from 'vitest';
import { elementwiseMismatch, firstBitDifference, gradMismatch, lossMismatch, sameBits } from '../reference/compare.js';
import { referenceCrossEntropy } from '../reference/cross-entropy.js';
import { referenceNllLoss } from '../reference/decomposition.js';
import { useBothBuilds, lib, type Xent } from '../reference/dist.js';
import { loadDecomposition, loadFixtures, type DecompositionCase, type FixtureCase } from '../reference/fixtures.js';
import { nhwcShape, toNCHW, toNHWC } from '../reference/layout.js';

const decomposition = loadDecomposition();
const index = loadFixtures('cross_entropy_index.json');

const getBuilds = useBothBuilds();

function targetArray(t: number[]): Uint8Array | Int32Array {
  return t.every((v) => v >= 0 && v <= 255) ? Uint8Array.from(t) : Int32Array.from(t);
}

interface SoftmaxRun {
  y: Float32Array;
  /** The backward from the forward's own output and the fixture's upstream gradient. */
  gx: Float32Array;
}

/** softmax/log_softmax forward then backward; with `nhwc`, on the transposed data along dim -1 (results transposed back). */
function runSoftmax(x: Xent, c: DecompositionCase, nhwc = false): SoftmaxRun {
  const log = c.op === 'log_softmax';
  const shape = nhwc ? nhwcShape(c.inputShape) : c.inputShape;
  const t = (a: Float32Array) => (nhwc ? toNHWC(a, c.inputShape) : a);
  const back = (a: Float32Array) => (nhwc ? toNCHW(a, c.inputShape) : a);
  const dim = nhwc ? -1 : c.dim;
  using input = x.tensorFrom(t(Float32Array.from(c.input)), shape);
  using y = log ? x.logSoftmax(input, { dim }) : x.softmax(input, { dim });
  using gy = x.tensorFrom(t(Float32Array.from(c.gradOutput!)), shape);
  using gx = x.tensor('float32', shape);
  const r = log ? x.logSoftmaxBackward(y, gy, { dim, out: gx }) : x.softmaxBackward(y, gy, { dim, out: gx });
  expect(r).toBe(gx);
  expect(y.shape).toEqual(shape);
  return { y: back(y.toArray()), gx: back(gx.toArray()) };
}

interface LossRun {
  loss: number | Float32Array;
  sum: number;
  weightSum: number;
  grad?: Float32Array;
  lossMap: Float32Array;
}

function runNll(x: Xent, c: DecompositionCase, nhwc = false): LossRun {
  const shape = nhwc ? nhwcShape(c.inputShape) : c.inputShape;
  const lossShape = c.targetShape!;
  const data = Float32Array.from(c.input);
  using logp = x.tensorFrom(nhwc ? toNHWC(data, c.inputShape) : data, shape);
  using grad = x.tensor('float32', shape);
  const gradOutput = c.gradOutput ? { data: Float32Array.from(c.gradOutput), shape: lossShape } : undefined;
  const wantGrad = c.reduction !== 'none' || gradOutput !== undefined;
  const r = x.nllLoss(
    logp,
    { data: targetArray(c.target!), shape: c.targetShape! },
    {
      weight: c.weight ?? undefined,
      ignoreIndex: c.ignoreIndex,
      reduction: c.reduction,
      grad: wantGrad ? grad : undefined,
      gradOutput,
      layout: nhwc ? 'NHWC' : 'NCHW',
      lossMap: true,
    },
  );
  const lossMap = r.lossMap.toArray();
  const loss = r.loss instanceof lib.Tensor ? r.loss.toArray() : r.loss;
  if (r.loss instanceof lib.Tensor) expect(r.loss).toBe(r.lossMap);
  r.lossMap.dispose();
  return {
    loss,
    sum: r.sum,
    weightSum: r.weightSum,
    lossMap,
    grad: wantGrad ? (nhwc ? toNCHW(grad.toArray(), c.inputShape) : grad.toArray()) : undefined,
  };
}

function sameArrays(a: Record<string, unknown>, b: Record<string, unknown>, what: string): void {
  for (const k of Object.keys(a)) {
    const [p, q] = [a[k], b[k]];
    if (p instanceof Float32Array)
      expect(firstBitDifference(p, q as Float32Array), `${what}: ${k} (first differing element)`).toBe(-1);
    else if (typeof p === 'number') expect(sameBits(p, q as number), `${what}: ${k} ${p} vs ${q}`).toBe(true);
    else expect(q, `${what}: ${k}`).toBe(p);
  }
}

describe(`PyTorch ${decomposition.torch} fixtures: decomposition.json (${decomposition.cases.length} cases)`, () => {
  it('has cases of every op, and softmax along other dims than the class dim', () => {
    for (const op of ['softmax', 'log_softmax', 'nll_loss'])
      expect(decomposition.cases.some((c) => c.op === op)).toBe(true);
    for (const dim of [-1, 0, 2, 3])
      expect(decomposition.cases.some((c) => c.op !== 'nll_loss' && c.dim === dim && c.inputShape.length >= 2)).toBe(
        true,
      );
  });
  for (const c of decomposition.cases) {
    if (c.op === 'nll_loss') {
      it(`${c.name}: ${JSON.stringify(c.inputShape)} ${c.reduction}${c.weight ? ' weight' : ''} ignore=${c.ignoreIndex}`, () => {
        const ref = referenceNllLoss({ ...c, logp: c.input, shape: c.inputShape, target: c.target! });
        const runs = { simd: runNll(getBuilds().simd, c), portable: runNll(getBuilds().portable, c) };
        for (const [build, r] of Object.entries(runs)) {
          if (c.reduction === 'none') {
            const m = elementwiseMismatch(r.loss as Float32Array, c.output as number[], 2e-6, `loss (${build})`);
            expect(m, m).toBeUndefined();
          } else {
            const m = lossMismatch(r.loss as number, c.output as number);
            expect(m, `${build}: ${m}`).toBeUndefined();
            const lm = elementwiseMismatch(r.lossMap, ref.losses, 2e-6, `lossMap (${build})`);
            expect(lm, lm).toBeUndefined();
          }
          expect(lossMismatch(r.sum, ref.sum), `${build}: sum`).toBeUndefined();
          expect(r.weightSum).toBeCloseTo(ref.weightSum, 5);
          if (r.grad) {
            const m = gradMismatch(r.grad, c.gradInput, ref.gradTerms, `grad (${build})`);
            expect(m, m).toBeUndefined();
          }
        }
        sameArrays({ ...runs.simd }, { ...runs.portable }, 'SIMD vs portable');
        if (c.inputShape.length >= 3) {
          for (const [build, x] of Object.entries(getBuilds()))
            sameArrays({ ...runNll(x, c, true) }, { ...runs[build as 'simd'] }, `${build}: NHWC vs NCHW`);
        }
      });
      continue;
    }
    it(`${c.name}: ${JSON.stringify(c.inputShape)} dim ${c.dim}`, () => {
      const runs = { simd: runSoftmax(getBuilds().simd, c), portable: runSoftmax(getBuilds().portable, c) };
      for (const [build, r] of Object.entries(runs)) {
        const m = elementwiseMismatch(r.y, c.output as number[], 2e-6, `output (${build})`);
        expect(m, m).toBeUndefined();
        // Every term of the softmax backward is at most |gy| (· y ≤ 1): the largest |gy| is the
        // scale of the terms where the exact gradient is 0.
        const terms = Math.max(...c.gradOutput!.filter(Number.isFinite).map(Math.abs));
        const g = gradMismatch(r.gx, c.gradInput, terms, `gradInput (${build})`);
        expect(g, g).toBeUndefined();
      }
      sameArrays({ ...runs.simd }, { ...runs.portable }, 'SIMD vs portable');
      if (c.inputShape.length >= 3 && c.dim === 1) {
        // dim 1 of NCHW data and dim -1 of the same data in NHWC: the same bits.
        for (const [build, x] of Object.entries(getBuilds()))
          sameArrays({ ...runSoftmax(x, c, true) }, { ...runs[build as 'simd'] }, `${build}: NHWC vs NCHW`);
      }
    });
  }
});

/** The decomposition of one fixture: logSoftmax → nllLoss (+ grad) → logSoftmaxBackward. */
function decomposed(x: Xent, c: FixtureCase) {
  using logits = x.tensorFrom(Float32Array.from(c.logits), c.logitsShape);
  const target = { data: targetArray(c.target), shape: c.targetShape };
  const dim = c.logitsShape.length === 1 ? 0 : 1;
  using logp = x.logSoftmax(logits, { dim });
  using gLogp = x.tensor('float32', c.logitsShape);
  const gradOutput = c.gradOutput ? { data: Float32Array.from(c.gradOutput), shape: c.lossShape } : undefined;
  const wantGrad = c.reduction !== 'none' || gradOutput !== undefined;
  const r = x.nllLoss(logp, target, {
    weight: c.weight ?? undefined,
    ignoreIndex: c.ignoreIndex,
    reduction: c.reduction,
    grad: wantGrad ? gLogp : undefined,
    gradOutput,
  });
  const loss = r.loss instanceof lib.Tensor ? r.loss.toArray() : r.loss;
  if (r.loss instanceof lib.Tensor) r.loss.dispose();
  let grad: Float32Array | undefined;
  if (wantGrad) {
    using g = x.logSoftmaxBackward(logp, gLogp, { dim });
    grad = g.toArray();
  }
  return { loss, sum: r.sum, weightSum: r.weightSum, grad };
}

describe('nllLoss(logSoftmax(x)) and its chained backward equal crossEntropy(x)', () => {
  const cases = index.cases.filter((c) => c.expectError === undefined && c.labelSmoothing === 0);
  it('covers the class-index fixtures without label smoothing', () => expect(cases.length).toBeGreaterThan(80));
  for (const c of cases) {
    it(c.name, () => {
      const ref = referenceCrossEntropy(c);
      for (const x of [getBuilds().simd, getBuilds().portable]) {
        const d = decomposed(x, c);
        using grad = x.tensor('float32', c.logitsShape);
        const gradOutput = c.gradOutput ? { data: Float32Array.from(c.gradOutput), shape: c.lossShape } : undefined;
        const f = x.crossEntropy(
          { data: Float32Array.from(c.logits), shape: c.logitsShape },
          { data: targetArray(c.target), shape: c.targetShape },
          {
            weight: c.weight ?? undefined,
            ignoreIndex: c.ignoreIndex,
            reduction: c.reduction,
            grad: d.grad ? grad : undefined,
            gradOutput,
          },
        );
        if (f.loss instanceof lib.Tensor) {
          const m = elementwiseMismatch(d.loss as Float32Array, f.loss.data, 2e-6, 'decomposed vs fused loss');
          f.loss.dispose();
          expect(m, m).toBeUndefined();
        } else {
          const m = lossMismatch(d.loss as number, f.loss);
          expect(m, `decomposed vs fused: ${m}`).toBeUndefined();
        }
        expect(d.weightSum).toBe(f.weightSum);
        if (d.grad) {
          // Against PyTorch (the fixture) and against the fused gradient, NaN and ±inf
          // placement included (e.g. a zero weight sum: -0 · (1/0) = NaN at every target).
          const m =
            gradMismatch(d.grad, c.grad, ref.gradTerms, 'decomposed grad vs PyTorch') ??
            gradMismatch(d.grad, grad.data, ref.gradTerms, 'decomposed vs fused grad');
          expect(m, m).toBeUndefined();
        }
      }
    });
  }
});
