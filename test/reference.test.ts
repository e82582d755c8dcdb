/**
 * The float64 TS reference (test/reference/cross-entropy.ts) against PyTorch's fixtures: the
 * fuzz test trusts it, so it must agree with PyTorch on every fixture, NaN positions included.
 */
import { describe, expect, it } from 'vitest';
import { arrayMismatch, lossMismatch } from './reference/compare.js';
import { ReferenceTargetError, referenceCrossEntropy } from './reference/cross-entropy.js';
import { loadFixtures } from './reference/fixtures.js';

const { cases, torch } = loadFixtures('cross_entropy_index.json');

describe(`float64 reference vs PyTorch ${torch}`, () => {
  for (const c of cases) {
    if (c.targetKind === 'prob') continue;
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
      if (c.reduction === 'none') {
        expect(arrayMismatch(r.losses, c.loss as number[], 1e-12, 'loss')).toBeUndefined();
      } else {
        expect(lossMismatch(r.loss, c.loss as number, 1e-12)).toBeUndefined();
      }
      if (c.reduction !== 'none' || c.gradOutput) expect(arrayMismatch(r.grad!, c.grad, 1e-12)).toBeUndefined();
    });
  }
});
