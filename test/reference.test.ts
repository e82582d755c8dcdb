/**
 * The float64 TS references (test/reference/) against PyTorch's fixtures: the fuzz tests trust
 * them, so they must agree with PyTorch on every fixture, NaN positions included — for both
 * target kinds, in both layouts (NHWC on the transposed fixture), and for the decomposition
 * ops.
 */
import { describe, expect, it } from 'vitest';
import { arrayMismatch, lossMismatch } from './reference/compare.js';
import { ReferenceTargetError, referenceCrossEntropy, type ReferenceOutput } from './reference/cross-entropy.js';
import { referenceNllLoss, referenceSoftmax, referenceSoftmaxBackward } from './reference/decomposition.js';
import { loadDecomposition, loadFixtures, type FixtureCase } from './reference/fixtures.js';
import { nhwcShape, toNCHW, toNHWC } from './reference/layout.js';

const index = loadFixtures('cross_entropy_index.json');
const prob = loadFixtures('cross_entropy_prob.json');
const decomposition = loadDecomposition();

function check(c: FixtureCase, r: ReferenceOutput): void {
  if (c.reduction === 'none') {
    expect(arrayMismatch(r.losses, c.loss as number[], 1e-12, 'loss')).toBeUndefined();
  } else {
    expect(lossMismatch(r.loss, c.loss as number, 1e-12)).toBeUndefined();
  }
  if (c.reduction !== 'none' || c.gradOutput) expect(arrayMismatch(r.grad!, c.grad, 1e-12)).toBeUndefined();
}

/** The reference in NHWC on the transposed case, with the gradient transposed back. */
function nhwcReference(c: FixtureCase): ReferenceOutput {
  const r = referenceCrossEntropy({
    ...c,
    layout: 'NHWC',
    logits: toNHWC(Float64Array.from(c.logits), c.logitsShape),
    logitsShape: nhwcShape(c.logitsShape),
    target: c.targetKind === 'prob' ? toNHWC(Float64Array.from(c.target), c.logitsShape) : c.target,
  });
  return { ...r, grad: r.grad && toNCHW(r.grad, c.logitsShape) };
}

for (const file of [index, prob]) {
  describe(`float64 reference vs PyTorch ${file.torch}: ${file.cases[0]?.targetKind} targets`, () => {
    it('has cases', () => expect(file.cases.length).toBeGreaterThan(0));
    for (const c of file.cases) {
      if (c.expectError !== undefined) {
        if (/out of bounds/.test(c.expectError)) {
          it(`${c.name}: rejects the target`, () => {
            expect(() => referenceCrossEntropy(c)).toThrow(ReferenceTargetError);
            expect(() => referenceCrossEntropy(c)).toThrow(c.expectError);
          });
        }
        continue;
      }
      it(c.name, () => {
        const r = referenceCrossEntropy(c);
        check(c, r);
        expect(r.weightSum).toBeGreaterThanOrEqual(0);
        if (c.targetKind === 'index') {
          // The confidence is the softmax probability of the target class (0 where ignored).
          const C = c.logitsShape.length === 1 ? c.logitsShape[0]! : c.logitsShape[1]!;
          const S = c.target.length === 0 ? 1 : c.logitsShape.slice(2).reduce((a, b) => a * b, 1);
          const sm = referenceSoftmax(c.logits, c.logitsShape, c.logitsShape.length === 1 ? 0 : 1, false);
          const want = c.target.map((t, i) =>
            t === c.ignoreIndex ? 0 : sm[(Math.floor(i / S) * C + t) * S + (i % S)]!,
          );
          expect(arrayMismatch(r.confidence!, want, 1e-12, 'confidence')).toBeUndefined();
        } else {
          expect(r.confidence).toBeUndefined();
          expect(r.weightSum).toBe(
            c.target.length / (c.logitsShape.length === 1 ? c.logitsShape[0]! : c.logitsShape[1]!),
          );
        }
        // NHWC on the transposed data: the same operations in the same order.
        if (c.logitsShape.length >= 3) {
          const t = nhwcReference(c);
          check(c, t);
          expect(Array.from(t.losses)).toEqual(Array.from(r.losses));
          if (r.grad) expect(Array.from(t.grad!)).toEqual(Array.from(r.grad));
        }
      });
    }
  });
}

describe(`float64 decomposition references vs PyTorch ${decomposition.torch}`, () => {
  it('has cases of every op', () => {
    for (const op of ['softmax', 'log_softmax', 'nll_loss'])
      expect(decomposition.cases.some((c) => c.op === op)).toBe(true);
  });
  for (const c of decomposition.cases) {
    it(c.name, () => {
      if (c.op === 'nll_loss') {
        const r = referenceNllLoss({ ...c, logp: c.input, shape: c.inputShape, target: c.target! });
        if (c.reduction === 'none')
          expect(arrayMismatch(r.losses, c.output as number[], 1e-12, 'loss')).toBeUndefined();
        else expect(lossMismatch(r.loss, c.output as number, 1e-12)).toBeUndefined();
        if (c.reduction !== 'none' || c.gradOutput) expect(arrayMismatch(r.grad!, c.gradInput, 1e-12)).toBeUndefined();
        return;
      }
      const log = c.op === 'log_softmax';
      const y = referenceSoftmax(c.input, c.inputShape, c.dim, log);
      expect(arrayMismatch(y, c.output as number[], 1e-12, 'output')).toBeUndefined();
      // The backward from PyTorch's (float64) forward output, as autograd computes it.
      const gx = referenceSoftmaxBackward(c.output as number[], c.gradOutput!, c.inputShape, c.dim, log);
      expect(arrayMismatch(gx, c.gradInput, 1e-12, 'gradInput')).toBeUndefined();
    });
  }
});
