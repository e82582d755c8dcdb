/**
 * crossEntropy's API: return values, 'none' outputs, empty tensors (as PyTorch), exact
 * distributed means from sum/weightSum, input kinds, and the public types.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { arrayMismatch, bitIdentical, lossMismatch } from '../../reference/compare.js';
import { referenceCrossEntropy } from '../../reference/cross-entropy.js';
import { lib, useBothBuilds, type Xent } from '../../reference/dist.js';
import { Rng } from '../../reference/rng.js';

let x: Xent;
beforeAll(async () => {
  x = await lib.Xent.create();
});
afterAll(() => x.dispose());
const getBuilds = useBothBuilds();

function randomProblem(seed: number, N: number, C: number, H: number, W: number) {
  const rng = new Rng(seed);
  const logits = Float32Array.from({ length: N * C * H * W }, () => rng.normal() * 2);
  const target = Uint8Array.from({ length: N * H * W }, () => (rng.chance(0.1) ? 255 : rng.int(0, C - 1)));
  return { logits, target, shape: [N, C, H, W], tshape: [N, H, W] };
}

describe('results', () => {
  it("'none' returns a new float32 tensor of the target's shape, which the caller disposes", () => {
    const p = randomProblem(1, 2, 5, 3, 7);
    const before = x.memoryStats().liveTensors;
    const r = x.crossEntropy(
      { data: p.logits, shape: p.shape },
      { data: p.target, shape: p.tshape },
      { reduction: 'none', ignoreIndex: 255 },
    );
    expect(r.loss).toBeInstanceOf(lib.Tensor);
    expect(r.loss.dtype).toBe('float32');
    expect(r.loss.shape).toEqual(p.tshape);
    expect(x.memoryStats().liveTensors).toBe(before + 1);
    const ref = referenceCrossEntropy({
      logits: p.logits,
      logitsShape: p.shape,
      target: p.target,
      ignoreIndex: 255,
      reduction: 'none',
    });
    expect(arrayMismatch(r.loss.data, ref.losses, 2e-6, 'loss')).toBeUndefined();
    expect(lossMismatch(r.sum, ref.sum)).toBeUndefined();
    expect(r.weightSum).toBe(ref.weightSum);
    r.loss.dispose();
    expect(x.memoryStats().liveTensors).toBe(before);
  });

  it("'none' with out writes into out and returns it", () => {
    const p = randomProblem(2, 1, 3, 2, 2);
    using out = x.tensor('float32', p.tshape);
    const r = x.crossEntropy(
      { data: p.logits, shape: p.shape },
      { data: p.target, shape: p.tshape },
      { reduction: 'none', ignoreIndex: 255, out },
    );
    expect(r.loss).toBe(out);
  });

  it('unbatched logits (C) with a scalar target: loss shape []', () => {
    const r = x.crossEntropy(
      { data: new Float32Array([1, 2, 3]), shape: [3] },
      { data: new Int32Array([2]), shape: [] },
      { reduction: 'none' },
    );
    expect(r.loss.shape).toEqual([]);
    expect(r.loss.size).toBe(1);
    expect(r.loss.data[0]).toBeCloseTo(Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3, 6);
    r.loss.dispose();
  });

  it('sum and weightSum give exact distributed means', () => {
    const p = randomProblem(3, 4, 19, 8, 8);
    const weight = Float32Array.from({ length: 19 }, (_, i) => 0.5 + i / 10);
    const opts = { ignoreIndex: 255, weight, labelSmoothing: 0.1 };
    const full = x.crossEntropy({ data: p.logits, shape: p.shape }, { data: p.target, shape: p.tshape }, opts);
    const half = (k: number) =>
      x.crossEntropy(
        { data: p.logits.subarray(k * 2 * 19 * 64, (k + 1) * 2 * 19 * 64), shape: [2, 19, 8, 8] },
        { data: p.target.subarray(k * 128, (k + 1) * 128), shape: [2, 8, 8] },
        opts,
      );
    const [a, b] = [half(0), half(1)];
    expect(full.loss).toBeCloseTo(full.sum / full.weightSum, 12);
    expect((a.sum + b.sum) / (a.weightSum + b.weightSum)).toBeCloseTo(full.loss, 10);
    // The mean of the two means is NOT the mean (different weightSums): that is why both are returned.
    expect(a.weightSum).not.toBe(b.weightSum);
  });

  it('sum is the exact sum of the float32 loss map, rounded once: losses from 1e-11 to 300, both builds', () => {
    // The kernel adds most losses in f64 lanes (exact for magnitudes in [2^-17, 2^7)) and the
    // others one by one into exact bins; both paths and their edges are crossed here, over
    // enough 16-pixel tiles for the lanes to be flushed many times.
    for (const C of [2, 7]) {
      const [N, H, W] = [2, 32, 64];
      const P = H * W;
      const rng = new Rng(40 + C);
      const logits = new Float32Array(N * C * P);
      const target = new Uint8Array(N * P);
      for (let n = 0; n < N; n++)
        for (let i = 0; i < P; i++) {
          const t = rng.chance(0.05) ? 255 : rng.int(0, C - 1);
          target[n * P + i] = t;
          // The target's margin: 25 gives a loss of ~1e-11, -300 one of 300.
          if (t !== 255) logits[(n * C + t) * P + i] = rng.chance(0.5) ? -300 + 325 * rng.next() : -2 + 18 * rng.next();
        }
      for (const [build, xb] of Object.entries(getBuilds())) {
        const r = xb.crossEntropy(
          { data: logits, shape: [N, C, H, W] },
          { data: target, shape: [N, H, W] },
          { ignoreIndex: 255, reduction: 'sum', lossMap: true },
        );
        const map = r.lossMap.toArray();
        r.lossMap.dispose();
        let exact = 0n; // in units of 2^-149: every float32 is a whole number of them
        for (const v of map) exact += BigInt(v * 2 ** 149);
        const [small, large] = [map.filter((v) => v > 0 && v < 2 ** -17).length, map.filter((v) => v >= 2 ** 7).length];
        expect(small, `${build}, C = ${C}: losses below 2^-17`).toBeGreaterThan(50);
        expect(large, `${build}, C = ${C}: losses of 2^7 or more`).toBeGreaterThan(50);
        // Number(bigint) rounds to nearest, ties to even; the division by 2^149 is exact.
        expect(
          Object.is(r.sum, Number(exact) / 2 ** 149),
          `${build}, C = ${C}: ${r.sum} vs ${Number(exact) / 2 ** 149}`,
        ).toBe(true);
        expect(r.loss).toBe(r.sum);
      }
    }
  });

  it('tensors, plain inputs and the three weight kinds give the same bits', () => {
    const p = randomProblem(4, 2, 6, 5, 5);
    const w = [1, 2, 0.5, 0, 3, 1];
    const opts = (weight: lib.CrossEntropyOptions['weight'], grad: lib.Tensor<'float32'>) => ({
      weight,
      grad,
      ignoreIndex: 255,
      labelSmoothing: 0.2,
    });
    using lt = x.tensorFrom(p.logits, p.shape);
    using tt = x.tensorFrom(p.target, p.tshape);
    using wt = x.tensorFrom(Float32Array.from(w));
    using g1 = x.tensor('float32', p.shape);
    using g2 = x.tensor('float32', p.shape);
    using g3 = x.tensor('float32', p.shape);
    const r1 = x.crossEntropy(lt, tt, opts(wt, g1));
    const r2 = x.crossEntropy({ data: p.logits, shape: p.shape }, { data: p.target, shape: p.tshape }, opts(w, g2));
    const r3 = x.crossEntropy(lt, { data: Int32Array.from(p.target), shape: p.tshape }, opts(Float32Array.from(w), g3));
    expect(r2.loss).toBe(r1.loss);
    expect(r3.loss).toBe(r1.loss);
    expect(bitIdentical(g1.data, g2.data) && bitIdentical(g1.data, g3.data)).toBe(true);
  });

  it('the gradient of the mean is the gradient of the sum divided by weightSum', () => {
    const p = randomProblem(5, 1, 4, 4, 4);
    using lt = x.tensorFrom(p.logits, p.shape);
    using tt = x.tensorFrom(p.target, p.tshape);
    using gm = x.tensor('float32', p.shape);
    using gs = x.tensor('float32', p.shape);
    const m = x.crossEntropy(lt, tt, { ignoreIndex: 255, grad: gm });
    x.crossEntropy(lt, tt, { ignoreIndex: 255, grad: gs, reduction: 'sum' });
    const scaled = gs.data.map((v) => v / m.weightSum);
    expect(arrayMismatch(gm.data, scaled, 1e-6)).toBeUndefined();
  });
});

describe('empty tensors, as PyTorch 1.13', () => {
  const cases: Array<[string, number[], number[]]> = [
    ['N = 0', [0, 5], [0]],
    ['a spatial dim of 0', [2, 3, 0, 4], [2, 0, 4]],
    ['N = 0 with spatial dims', [0, 19, 4, 4], [0, 4, 4]],
  ];
  for (const [what, ls, ts] of cases) {
    for (const labelSmoothing of [0, 0.2]) {
      it(`${what} ${JSON.stringify(ls)}, ε=${labelSmoothing}: mean NaN, sum 0, none empty`, () => {
        const logits = { data: new Float32Array(0), shape: ls };
        const target = { data: new Uint8Array(0), shape: ts };
        using grad = x.tensor('float32', ls);
        const weight = new Float32Array(ls[1]!).fill(1);
        const mean = x.crossEntropy(logits, target, { labelSmoothing, grad, weight });
        expect(mean.loss).toBeNaN();
        expect(mean.sum).toBe(0);
        expect(mean.weightSum).toBe(0);
        expect(x.crossEntropy(logits, target, { labelSmoothing, reduction: 'sum', grad }).loss).toBe(0);
        const none = x.crossEntropy(logits, target, {
          labelSmoothing,
          reduction: 'none',
          grad,
          gradOutput: { data: new Float32Array(0), shape: ts },
        });
        expect(none.loss.shape).toEqual(ts);
        expect(none.loss.size).toBe(0);
        expect(none.loss.byteOffset).toBeGreaterThan(0);
        none.loss.dispose();
      });
    }
  }
});

describe('types', () => {
  it('the loss type follows the reduction', () => {
    const l = { data: new Float32Array(3), shape: [3] };
    const t = { data: new Int32Array(1), shape: [] };
    expectTypeOf(x.crossEntropy(l, t).loss).toEqualTypeOf<number>();
    expectTypeOf(x.crossEntropy(l, t, { reduction: 'sum' }).loss).toEqualTypeOf<number>();
    const none = x.crossEntropy(l, t, { reduction: 'none' });
    expectTypeOf(none.loss).toEqualTypeOf<lib.Tensor<'float32'>>();
    none.loss.dispose();
    const r = 'mean' as lib.Reduction;
    expectTypeOf(x.crossEntropy(l, t, { reduction: r }).loss).toEqualTypeOf<number | lib.Tensor<'float32'>>();
    using u8 = x.tensor('uint8', [2]);
    expectTypeOf(u8.data).toEqualTypeOf<Uint8Array>();
    using f = x.tensorFrom(new Float32Array(2));
    expectTypeOf(f).toEqualTypeOf<lib.Tensor<'float32'>>();
    // @ts-expect-error -- snake_case options are a compile-time error too
    expect(() => x.crossEntropy(l, t, { ignore_index: 1 })).toThrow(lib.XentOptionError);
  });
});
