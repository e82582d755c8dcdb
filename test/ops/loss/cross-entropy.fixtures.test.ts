/**
 * Every PyTorch fixture of crossEntropy (test/fixtures/cross_entropy_index.json and
 * cross_entropy_prob.json), through the SIMD and the portable build of the published package:
 *
 * - loss and gradient against PyTorch (loss |Δ| ≤ 2e-6 · max(1, |loss|), gradient
 *   max|Δ| ≤ 1e-5 · max|grad| — see gradMismatch for the all-zero case);
 * - the loss map (every reduction) and the confidence map against the float64 reference
 *   (which test/reference.test.ts checks against PyTorch);
 * - bit-identity: SIMD vs portable, NHWC vs NCHW on the transposed data, every target dtype
 *   the labels fit in, with and without the optional outputs;
 * - PyTorch's errors as typed errors, with memory left as it was.
 */
import { describe, expect, it } from 'vitest';
import { firstBitDifference, gradMismatch, lossMismatch, sameBits } from '../../reference/compare.js';
import { referenceCrossEntropy } from '../../reference/cross-entropy.js';
import { useBothBuilds, lib } from '../../reference/dist.js';
import {
  expectRunsMatch,
  fittingDtypes,
  runFixture as run,
  sameRun,
  sameWithoutOutputs,
} from '../../reference/fixture-run.js';
import { loadFixtures, type FixtureCase } from '../../reference/fixtures.js';

const index = loadFixtures('cross_entropy_index.json');
const prob = loadFixtures('cross_entropy_prob.json');

const getBuilds = useBothBuilds();

/** Which typed error a PyTorch error message corresponds to. */
function errorClassFor(c: FixtureCase): new (...a: never[]) => Error {
  const m = c.expectError ?? '';
  if (/out of bounds/i.test(m)) return lib.XentTargetError;
  // A target whose dtype contradicts its shape (integers shaped like the logits, floats shaped
  // like class indices): PyTorch complains about the dtype, and so does xent-wasm.
  if (/scalar type Long but found|floating point type for target/.test(m)) return lib.XentDtypeError;
  if (/ignore_index/.test(m)) return lib.XentOptionError;
  if (/label_smoothing|reduction|weight/i.test(m)) return lib.XentOptionError;
  if (/size|shape|dim|batch|expected/i.test(m)) return lib.XentShapeError;
  if (/type|dtype|Long|Float/i.test(m)) return lib.XentDtypeError;
  return lib.XentError;
}

function fixtureSuite(file: typeof index): void {
  const kind = file.cases[0]?.targetKind;
  describe(`PyTorch ${file.torch} fixtures: ${kind} targets (${file.cases.length} cases)`, () => {
    it('has cases', () => {
      expect(file.cases.length).toBeGreaterThan(0);
      expect(file.cases.every((c) => c.targetKind === kind)).toBe(true);
    });
    for (const c of file.cases) {
      if (c.labelSmoothing < 0) {
        // PyTorch 1.13 only rejects label_smoothing > 1; xent-wasm rejects any value outside [0, 1].
        it(`${c.name}: labelSmoothing ${c.labelSmoothing} < 0 is rejected (stricter than PyTorch ${file.torch})`, () => {
          for (const x of [getBuilds().simd, getBuilds().portable]) {
            const before = x.memoryStats();
            expect(() => run(x, c)).toThrow(lib.XentOptionError);
            expect(() => run(x, c)).toThrow('label_smoothing must be between 0.0 and 1.0. Got: -0.1');
            expect(x.memoryStats()).toEqual(before);
          }
        });
        continue;
      }
      if (c.expectError !== undefined && /scalar type Long but found Int/.test(c.expectError)) {
        // PyTorch wants int64 targets; xent-wasm takes int32 (and uint8/uint16) by design.
        it(`${c.name}: int32 targets, which PyTorch ${file.torch} rejects, are accepted and match the float64 reference`, () => {
          for (const x of [getBuilds().simd, getBuilds().portable]) {
            const r = run(x, c, { dtype: 'int32' });
            const ref = referenceCrossEntropy(c);
            expect(lossMismatch(r.loss as number, ref.loss)).toBeUndefined();
            expect(gradMismatch(r.grad!, ref.grad!, ref.gradTerms)).toBeUndefined();
          }
        });
        continue;
      }
      if (c.expectError !== undefined) {
        it(`${c.name}: throws like PyTorch (${c.expectError})`, () => {
          for (const x of [getBuilds().simd, getBuilds().portable]) {
            for (const layout of ['NCHW', 'NHWC'] as const) {
              // (NHWC transposes a probability target, which needs the logits' shape.)
              const transposable =
                c.targetKind === 'index' || JSON.stringify(c.targetShape) === JSON.stringify(c.logitsShape);
              if (layout === 'NHWC' && (c.logitsShape.length < 3 || !transposable)) continue;
              const before = x.memoryStats();
              const E = errorClassFor(c);
              expect(() => run(x, c, { layout })).toThrow(E);
              if (/out of bounds/.test(c.expectError!)) {
                const bad = /Target (-?\d+) is out of bounds/.exec(c.expectError!)?.[1];
                expect(() => run(x, c, { layout })).toThrow(`Target ${bad} is out of bounds.`);
              }
              if (/ignore_index/.test(c.expectError!))
                expect(() => run(x, c, { layout })).toThrow('ignore_index is not supported for floating point target');
              expect(x.memoryStats()).toEqual(before);
            }
          }
        });
        continue;
      }
      const title =
        `${c.name}: ${JSON.stringify(c.logitsShape)} ${c.reduction}${c.weight ? ' weight' : ''} ε=${c.labelSmoothing}` +
        (kind === 'index' ? ` ignore=${c.ignoreIndex}` : '');
      it(title, () => {
        const ref = referenceCrossEntropy(c);
        const runs = { simd: run(getBuilds().simd, c), portable: run(getBuilds().portable, c) };
        expectRunsMatch(runs, c, ref, { lossMap: ref.losses, confidence: ref.confidence });
        // The kernel is designed to give the same bits in both builds (up to the sign of NaNs) ...
        sameRun(runs.simd, runs.portable, 'SIMD vs portable');
        for (const [build, x] of Object.entries(getBuilds())) {
          const base = build === 'simd' ? runs.simd : runs.portable;
          // ... and in both layouts, on the transposed data ...
          sameRun(run(x, c, { layout: 'NHWC' }), base, `${build}: NHWC vs NCHW`);
          // ... whatever the target dtype ...
          if (kind === 'index')
            for (const dtype of fittingDtypes(c).slice(1))
              sameRun(run(x, c, { dtype }), base, `${build}: ${dtype} targets`);
          // ... and whether or not the gradient and the maps are computed.
          sameWithoutOutputs(run(x, c, { outputs: false }), base, build);
        }
      });
    }
  });
}

fixtureSuite(index);
fixtureSuite(prob);

describe('target dtypes: uint8, uint16 and int32 label maps', () => {
  it('the fixtures exercise all three dtypes, including labels only uint16 or int32 can hold', () => {
    const fits = index.cases.filter((c) => c.expectError === undefined).map(fittingDtypes);
    expect(fits.some((f) => f[0] === 'uint8')).toBe(true);
    expect(fits.some((f) => f.length === 3)).toBe(true);
    expect(fits.some((f) => f[0] === 'uint16')).toBe(true); // labels 256..299 (C = 300)
    expect(fits.some((f) => f[0] === 'int32')).toBe(true); // negative labels (ignore index -100, -5)
  });
  it('labels >= 256 in a uint16 map (C = 300, ignoreIndex 65535) match int32 and the reference', () => {
    const C = 300;
    const S = 37;
    const logits = Float32Array.from({ length: 2 * C * S }, (_, i) => Math.sin(i * 0.7) * 4);
    const labels = Array.from({ length: 2 * S }, (_, i) => (i % 7 === 0 ? 65535 : (i * 53) % C));
    const opts = { ignoreIndex: 65535, labelSmoothing: 0.1 } as const;
    for (const x of [getBuilds().simd, getBuilds().portable]) {
      using g16 = x.tensor('float32', [2, C, S]);
      using g32 = x.tensor('float32', [2, C, S]);
      const a = x.crossEntropy(
        { data: logits, shape: [2, C, S] },
        { data: Uint16Array.from(labels), shape: [2, S] },
        { ...opts, grad: g16 },
      );
      const b = x.crossEntropy(
        { data: logits, shape: [2, C, S] },
        { data: Int32Array.from(labels), shape: [2, S] },
        { ...opts, grad: g32 },
      );
      expect(sameBits(a.loss, b.loss)).toBe(true);
      expect(firstBitDifference(g16.data, g32.data)).toBe(-1);
      const ref = referenceCrossEntropy({ logits, logitsShape: [2, C, S], target: labels, ...opts });
      expect(lossMismatch(a.loss, ref.loss)).toBeUndefined();
      expect(gradMismatch(g16.data, ref.grad!, ref.gradTerms)).toBeUndefined();
      expect(() =>
        x.crossEntropy(
          { data: logits, shape: [2, C, S] },
          { data: Uint8Array.from(labels, (v) => v & 255), shape: [2, S] },
          opts,
        ),
      ).not.toThrow();
    }
  });
});

describe('non-finite logits behave like PyTorch (fixtures)', () => {
  const byName = (f: typeof index, name: string) => {
    const c = f.cases.find((k) => k.name === name);
    if (!c) throw new Error(`fixture ${name} is missing`);
    return c;
  };
  const perPixel = (c: FixtureCase) =>
    run(getBuilds().simd, { ...c, reduction: 'none', gradOutput: null }, { outputs: false }).loss as Float32Array;

  it('a NaN logit makes that sample NaN, and the reduced loss NaN', () => {
    const c = byName(index, 'nan-logit-nonignored-none');
    const pixels = perPixel(c);
    // pixels (0, 2) and (1, 1) of the 2x3 map hold a NaN logit
    expect(Array.from(pixels, Number.isNaN)).toEqual([false, false, true, false, true, false]);
    for (const red of ['mean', 'sum'] as const) {
      const r = run(getBuilds().portable, byName(index, `nan-logit-nonignored-${red}`));
      expect(r.loss).toBeNaN();
      expect(Array.from(r.lossMap!, Number.isNaN)).toEqual([false, false, true, false, true, false]);
    }
  });
  it('an ignored sample with a NaN logit stays out of the loss (its gradient is NaN, as PyTorch)', () => {
    for (const red of ['mean', 'sum'] as const) {
      const c = byName(index, `nan-logit-ignored-${red}`);
      const r = run(getBuilds().simd, c);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(lossMismatch(r.loss as number, c.loss as number)).toBeUndefined();
      expect(Array.from(r.lossMap!)).toContain(0);
      expect(r.lossMap!.every(Number.isFinite)).toBe(true);
      expect(r.confidence![2]).toBe(0);
      expect(r.confidence![4]).toBe(0);
    }
    const c = byName(index, 'nonfinite-in-ignored-pixels-mean');
    expect(Number.isFinite(run(getBuilds().portable, c).loss)).toBe(true);
  });
  it('-inf at the target gives +inf; -inf elsewhere is harmless; +inf logits give NaN', () => {
    const t = perPixel(byName(index, 'neginf-target-none'));
    expect(t[0]).toBe(Infinity);
    expect(t[1]).toBe(Infinity);
    expect(perPixel(byName(index, 'neginf-nontarget-none')).every(Number.isFinite)).toBe(true);
    expect(Array.from(perPixel(byName(index, 'posinf-logit-none')), Number.isNaN)).toEqual([true, true, true, false]);
  });
  it('probability targets: NaN and +inf logits give NaN, -inf where q = 0 gives NaN (0 · -inf), where q > 0 +inf', () => {
    expect(Array.from(perPixel(byName(prob, 'prob-nan-posinf-logits-none')), Number.isNaN)).toEqual([
      true,
      true,
      false,
    ]);
    const l = perPixel(byName(prob, 'prob-neginf-logits-none'));
    expect([Number.isNaN(l[0]), Number.isNaN(l[1]), Number.isFinite(l[2]), l[3]]).toEqual([true, true, true, Infinity]);
    expect(run(getBuilds().simd, byName(prob, 'prob-neginf-logits-mean')).loss).toBeNaN();
  });
});
