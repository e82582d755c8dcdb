/**
 * The PyTorch fixtures of the `resize` option (test/fixtures/cross_entropy_resize.json:
 * `F.interpolate(logits, size=(H, W), mode, align_corners)` then `F.cross_entropy`, computed
 * by PyTorch 1.13 in float32), through the SIMD and the portable build of the published package:
 *
 * - the float64 reference (test/reference/resize.ts, which the fuzz trusts) against PyTorch;
 * - crossEntropy: loss |Δ| ≤ 2e-6 · max(1, |loss|), gradient w.r.t. the low-resolution logits
 *   max|Δ| ≤ 1e-5 · max|grad|, the loss and confidence maps at the target's resolution
 *   (|Δ| ≤ 2e-6 · max(1, |v|) each), NaN and ±inf in the same places;
 * - score: the prediction equals torch.argmax of PyTorch's (float32) interpolated logits, except at
 *   the near-ties the generator lists (there it is one of the tied classes); the confusion
 *   matrix counts (target, pred) pairs; scorer.update accumulates the same matrix;
 * - bit-identity: SIMD vs portable, NHWC vs NCHW on the transposed data, the shorthand
 *   `resize: 'bilinear'` vs `{ mode: 'bilinear' }`, with and without the optional outputs;
 * - PyTorch's errors (alignCorners on 'nearest', a zero-size target) as typed errors, with
 *   memory left as it was.
 */
import { describe, expect, it } from 'vitest';
import { arrayMismatch, elementwiseMismatch, gradMismatch, lossMismatch } from '../../reference/compare.js';
import { lib, useBothBuilds, type Xent } from '../../reference/dist.js';
import {
  expectRunsMatch,
  fixtureInputs,
  type LossRun,
  type RunVariant,
  runFixture,
  sameRun,
  sameWithoutOutputs,
} from '../../reference/fixture-run.js';
import { loadResizeFixtures, type ResizeFixtureCase } from '../../reference/fixtures.js';
import { nhwcShape, toNCHW, toNHWC } from '../../reference/layout.js';
import { referenceResizedCrossEntropy, type ResizeReferenceOutput } from '../../reference/resize.js';

const file = loadResizeFixtures();
const getBuilds = useBothBuilds();

type ResizeOption = 'bilinear' | 'nearest' | { mode: 'bilinear' | 'nearest'; alignCorners?: boolean };

/** The `resize` option of a case: the object form, or (shorthand) the mode alone where that means the same. */
function resizeOption(c: ResizeFixtureCase, shorthand = false): ResizeOption {
  const { mode, alignCorners } = c.resize;
  if (shorthand && !alignCorners) return mode;
  return alignCorners === null ? { mode } : { mode, alignCorners };
}

function reference(c: ResizeFixtureCase): ResizeReferenceOutput {
  return referenceResizedCrossEntropy(c);
}

/** The logits and the (int32 index or probability) target of a case as tensors of `x`, in `layout`. */
function inputs(x: Xent, c: ResizeFixtureCase, layout: 'NCHW' | 'NHWC' = 'NCHW') {
  return fixtureInputs(x, c, layout, 'int32');
}

/** crossEntropy with the case's resize option (the loss and confidence maps at the target's resolution). */
function run(x: Xent, c: ResizeFixtureCase, v: Omit<RunVariant, 'dtype'> & { shorthand?: boolean } = {}): LossRun {
  const { shorthand, ...variant } = v;
  return runFixture(
    x,
    c,
    { ...variant, dtype: 'int32' },
    { options: { resize: resizeOption(c, shorthand) }, mapShape: pixelShape(c) },
  );
}

/** (N, H, W): the target's pixels. */
function pixelShape(c: ResizeFixtureCase): number[] {
  return c.targetKind === 'prob' ? [c.targetShape[0]!, ...c.targetShape.slice(2)] : [...c.targetShape];
}

/** Undefined when `pred` is PyTorch's argmax, or one of the tied classes at a near-tie. */
function predMismatch(pred: ArrayLike<number>, c: ResizeFixtureCase): string | undefined {
  const want = c.pred!;
  if (pred.length !== want.length) return `pred: length ${pred.length}, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const tie = c.predTies?.[String(i)];
    if (tie ? !tie.includes(pred[i]!) : pred[i] !== want[i])
      return `pred[${i}] = ${pred[i]}, expected ${tie ? `one of ${tie.join(', ')} (near-tie)` : want[i]}`;
  }
  return undefined;
}

/** The confusion matrix of `pred` against the case's target (ignored and out-of-range targets left out). */
function confusionOf(pred: ArrayLike<number>, c: ResizeFixtureCase, C: number): number[] {
  const m = new Array<number>(C * C).fill(0);
  for (let i = 0; i < pred.length; i++) {
    const t = c.target[i]!;
    if (t !== c.ignoreIndex && t >= 0 && t < C) m[t * C + pred[i]!]! += 1;
  }
  return m;
}

const cases = file.cases;

describe(`float64 resize reference vs PyTorch ${file.torch} (${cases.length} cases)`, () => {
  it('covers every mode, both target kinds, every reduction, near-ties and errors', () => {
    const live = cases.filter((c) => c.expectError === undefined);
    for (const m of ['bilinear-false', 'bilinear-true', 'nearest-null'])
      expect(live.some((c) => `${c.resize.mode}-${c.resize.alignCorners}` === m)).toBe(true);
    for (const red of ['mean', 'sum', 'none']) expect(live.some((c) => c.reduction === red)).toBe(true);
    expect(live.some((c) => c.targetKind === 'prob')).toBe(true);
    expect(live.some((c) => Object.keys(c.predTies ?? {}).length > 0)).toBe(true);
    expect(cases.some((c) => c.expectError !== undefined)).toBe(true);
  });
  for (const c of cases) {
    if (c.expectError !== undefined) continue;
    it(c.name, () => {
      const r = reference(c);
      for (const layout of ['NCHW', 'NHWC'] as const) {
        const rr =
          layout === 'NCHW'
            ? r
            : referenceResizedCrossEntropy({
                ...c,
                layout,
                logits: toNHWC(Float64Array.from(c.logits), c.logitsShape),
                logitsShape: nhwcShape(c.logitsShape),
                target: c.targetKind === 'prob' ? toNHWC(Float64Array.from(c.target), c.targetShape) : c.target,
                targetShape: c.targetKind === 'prob' ? nhwcShape(c.targetShape) : c.targetShape,
              });
        const grad = rr.grad && (layout === 'NHWC' ? toNCHW(rr.grad, c.logitsShape) : rr.grad);
        if (c.reduction === 'none')
          expect(arrayMismatch(rr.losses, c.loss as number[], 2e-6, `loss (${layout})`)).toBeUndefined();
        else expect(lossMismatch(rr.loss, c.loss as number), layout).toBeUndefined();
        if (grad) expect(gradMismatch(grad, c.grad, rr.gradTerms, `grad (${layout})`)).toBeUndefined();
        expect(elementwiseMismatch(rr.losses, c.lossMap!, 2e-6, `lossMap (${layout})`)).toBeUndefined();
        if (c.confidence) expect(elementwiseMismatch(rr.confidence!, c.confidence, 2e-6, 'confidence')).toBeUndefined();
      }
    });
  }
});

describe(`crossEntropy and score with resize vs PyTorch ${file.torch} (${cases.length} cases)`, () => {
  for (const c of cases) {
    if (c.expectError !== undefined) {
      it(`${c.name}: throws a typed error like PyTorch (${c.expectError}) and writes nothing`, () => {
        const E = /align_corners/.test(c.expectError!) ? lib.XentOptionError : lib.XentShapeError;
        for (const x of [getBuilds().simd, getBuilds().portable]) {
          for (const layout of ['NCHW', 'NHWC'] as const) {
            const before = x.memoryStats();
            expect(() => run(x, c, { layout })).toThrow(E);
            expect(x.memoryStats()).toEqual(before);
          }
        }
      });
      continue;
    }
    const title =
      `${c.name}: ${JSON.stringify(c.logitsShape)} → ${JSON.stringify(pixelShape(c).slice(1))} ${c.reduction}` +
      `${c.weight ? ' weight' : ''} ε=${c.labelSmoothing}` +
      (c.targetKind === 'index' ? ` ignore=${c.ignoreIndex}` : ' prob');
    it(title, () => {
      const ref = reference(c);
      const runs = { simd: run(getBuilds().simd, c), portable: run(getBuilds().portable, c) };
      expectRunsMatch(runs, c, ref, { lossMap: c.lossMap!, confidence: c.confidence });
      sameRun(runs.simd, runs.portable, 'SIMD vs portable');
      for (const [build, x] of Object.entries(getBuilds())) {
        const base = build === 'simd' ? runs.simd : runs.portable;
        sameRun(run(x, c, { layout: 'NHWC' }), base, `${build}: NHWC vs NCHW`);
        if (!c.resize.alignCorners)
          sameRun(run(x, c, { shorthand: true }), base, `${build}: shorthand '${c.resize.mode}'`);
        sameWithoutOutputs(run(x, c, { outputs: false }), base, build);
      }
    });
    if (c.targetKind !== 'index') continue;
    it(`${c.name}: score's prediction is PyTorch's argmax (near-ties excepted) and its confusion matrix counts it`, () => {
      const C = c.logitsShape[1]!;
      for (const x of [getBuilds().simd, getBuilds().portable]) {
        const preds: Uint8Array[] = [];
        for (const layout of ['NCHW', 'NHWC'] as const) {
          const { logits, target } = inputs(x, c, layout);
          using _l = logits;
          using _t = target;
          const opts = {
            resize: resizeOption(c),
            ignoreIndex: c.ignoreIndex,
            weight: c.weight ?? undefined,
            layout,
          } as Parameters<Xent['score']>[2];
          const r = x.score(logits, target as lib.Tensor<'int32'>, opts);
          using pred = r.pred;
          expect(pred.shape).toEqual(c.targetShape);
          const p = Uint8Array.from(pred.data);
          const m = predMismatch(p, c);
          expect(m, `${layout}: ${m}`).toBeUndefined();
          expect(Array.from(r.confusion)).toEqual(confusionOf(p, c, C));
          if (c.labelSmoothing === 0 && c.reduction === 'mean' && Number.isFinite(c.loss as number))
            expect(lossMismatch(r.loss, c.loss as number), `${layout}: score's mean loss`).toBeUndefined();
          using scorer = x.scorer(C, {
            ignoreIndex: c.ignoreIndex,
            weight: c.weight ?? undefined,
            layout,
          } as Parameters<Xent['scorer']>[1]);
          // (update's third argument, the resize option of issue 18)
          (scorer.update as (...a: unknown[]) => unknown)(logits, target, { resize: resizeOption(c) });
          expect(Array.from(scorer.result().confusion), `${layout}: scorer.update`).toEqual(Array.from(r.confusion));
          preds.push(p);
        }
        expect(preds[1], 'NHWC vs NCHW pred').toEqual(preds[0]);
      }
    });
  }
});
