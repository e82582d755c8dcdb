/**
 * The API of the PyTorch-parity features: probability targets, layouts, the loss and confidence
 * maps (new, given, shared with 'none'), the softmax ops' dims and outputs, empty tensors,
 * memory ownership, the one-pixel-per-sample fast path, and the public types.
 *
 * Longer than 400 lines: one section per feature, on one shared instance and its inputs.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  arrayMismatch,
  elementwiseMismatch,
  firstBitDifference,
  gradMismatch,
  lossMismatch,
  sameBits,
} from '../reference/compare.js';
import { referenceCrossEntropy } from '../reference/cross-entropy.js';
import { referenceSoftmax } from '../reference/decomposition.js';
import { DIST, lib, type Xent } from '../reference/dist.js';
import { nhwcShape, toNCHW, toNHWC } from '../reference/layout.js';
import { Rng } from '../reference/rng.js';

let x: Xent;
beforeAll(async () => {
  x = await lib.Xent.create();
});
afterAll(() => x.dispose());

function problem(seed: number, shape: number[], ignore = 0.1) {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const C = shape[1]!;
  const samples = size / C;
  const logits = Float32Array.from({ length: size }, () => rng.normal() * 2);
  const target = Uint8Array.from({ length: samples }, () => (rng.chance(ignore) ? 255 : rng.int(0, C - 1)));
  return { logits, target, shape, tshape: shape.filter((_, i) => i !== 1) };
}

describe('lossMap and confidence', () => {
  it('true: new float32 tensors of the loss shape, computed in the same pass, owned by the caller', () => {
    const p = problem(1, [2, 5, 3, 7]);
    const before = x.memoryStats().liveTensors;
    const weight = [1, 0.5, 2, 1, 0.25];
    const r = x.crossEntropy(
      { data: p.logits, shape: p.shape },
      { data: p.target, shape: p.tshape },
      { ignoreIndex: 255, weight, labelSmoothing: 0.1, lossMap: true, confidence: true },
    );
    expect(x.memoryStats().liveTensors).toBe(before + 2);
    for (const m of [r.lossMap, r.confidence]) {
      expect(m).toBeInstanceOf(lib.Tensor);
      expect(m.dtype).toBe('float32');
      expect(m.shape).toEqual(p.tshape);
    }
    const ref = referenceCrossEntropy({
      logits: p.logits,
      logitsShape: p.shape,
      target: p.target,
      ignoreIndex: 255,
      weight,
      labelSmoothing: 0.1,
    });
    expect(elementwiseMismatch(r.lossMap.data, ref.losses)).toBeUndefined();
    expect(elementwiseMismatch(r.confidence.data, ref.confidence!)).toBeUndefined();
    // Ignored pixels: 0 in both maps.
    p.target.forEach((t, i) => {
      if (t === 255) expect([r.lossMap.data[i], r.confidence.data[i]]).toEqual([0, 0]);
    });
    // The loss is the mean of the map: sum = Σ map (exactly summed, rounded once), mean = sum / weightSum.
    const s = r.lossMap.data.reduce((a, b) => a + b, 0);
    expect(r.sum).toBeCloseTo(s, 10);
    expect(r.loss).toBeCloseTo(r.sum / r.weightSum, 14);
    r.lossMap.dispose();
    r.confidence.dispose();
    expect(x.memoryStats().liveTensors).toBe(before);
  });

  it('confidence is the softmax probability of the target class', () => {
    const p = problem(2, [1, 4, 2, 9], 0);
    const r = x.crossEntropy(
      { data: p.logits, shape: p.shape },
      { data: p.target, shape: p.tshape },
      { confidence: true, reduction: 'none' },
    );
    using sm = x.softmax({ data: p.logits, shape: p.shape });
    const S = 18;
    p.target.forEach((t, i) => {
      expect(r.confidence.data[i]).toBeCloseTo(sm.data[t * S + i]!, 6);
      // Without weight or smoothing, the loss is -log(confidence).
      expect(r.loss.data[i]).toBeCloseTo(-Math.log(r.confidence.data[i]!), 5);
    });
    r.loss.dispose();
    r.confidence.dispose();
  });

  it('given tensors are written whole and returned; false and undefined ask for nothing', () => {
    const p = problem(3, [2, 3, 17]);
    using lossMap = x.tensor('float32', p.tshape);
    using confidence = x.tensor('float32', p.tshape);
    lossMap.data.fill(NaN);
    confidence.data.fill(NaN);
    const r = x.crossEntropy(
      { data: p.logits, shape: p.shape },
      { data: p.target, shape: p.tshape },
      { ignoreIndex: 255, lossMap, confidence, reduction: 'sum' },
    );
    expect(r.lossMap).toBe(lossMap);
    expect(r.confidence).toBe(confidence);
    expect(lossMap.data.every(Number.isFinite) && confidence.data.every(Number.isFinite)).toBe(true);
    const none = x.crossEntropy(
      { data: p.logits, shape: p.shape },
      { data: p.target, shape: p.tshape },
      { ignoreIndex: 255, lossMap: false, confidence: undefined },
    );
    expect('lossMap' in none || 'confidence' in none).toBe(false);
  });

  it("with 'none' the loss map is the loss: true, a tensor, or the same tensor as out", () => {
    const p = problem(4, [2, 3, 5]);
    const L = { data: p.logits, shape: p.shape };
    const T = { data: p.target, shape: p.tshape };
    const a = x.crossEntropy(L, T, { ignoreIndex: 255, reduction: 'none', lossMap: true });
    expect(a.lossMap).toBe(a.loss);
    using out = x.tensor('float32', p.tshape);
    const b = x.crossEntropy(L, T, { ignoreIndex: 255, reduction: 'none', lossMap: out });
    expect(b.loss).toBe(out);
    expect(b.lossMap).toBe(out);
    const c = x.crossEntropy(L, T, { ignoreIndex: 255, reduction: 'none', out, lossMap: out });
    expect(c.loss).toBe(out);
    const d = x.crossEntropy(L, T, { ignoreIndex: 255, reduction: 'none', out, lossMap: true });
    expect(d.lossMap).toBe(out);
    expect(firstBitDifference(a.loss.data, out.data)).toBe(-1);
    a.loss.dispose();
  });

  it('nllLoss returns a loss map too', () => {
    const p = problem(5, [3, 4, 6]);
    using lp = x.logSoftmax({ data: p.logits, shape: p.shape });
    const r = x.nllLoss(lp, { data: p.target, shape: p.tshape }, { ignoreIndex: 255, lossMap: true });
    expect(r.lossMap.shape).toEqual(p.tshape);
    for (const [i, t] of p.target.entries()) {
      expect(r.lossMap.data[i]).toBe(t === 255 ? 0 : -lp.data[Math.floor(i / 6) * 24 + t * 6 + (i % 6)]!);
    }
    r.lossMap.dispose();
  });
});

describe('probability targets', () => {
  it('a one-hot probability target gives the class-index loss and gradient', () => {
    const p = problem(6, [2, 5, 4, 3], 0);
    const onehot = new Float32Array(p.logits.length);
    for (const [i, t] of p.target.entries()) onehot[Math.floor(i / 12) * 60 + t * 12 + (i % 12)] = 1;
    const weight = [0.5, 1, 2, 1.5, 1];
    for (const labelSmoothing of [0, 0.3]) {
      using g1 = x.tensor('float32', p.shape);
      using g2 = x.tensor('float32', p.shape);
      const a = x.crossEntropy(
        { data: p.logits, shape: p.shape },
        { data: p.target, shape: p.tshape },
        { labelSmoothing, grad: g1, reduction: 'sum', weight },
      );
      const b = x.crossEntropy(
        { data: p.logits, shape: p.shape },
        { data: onehot, shape: p.shape },
        { labelSmoothing, grad: g2, reduction: 'sum', weight },
      );
      expect(lossMismatch(b.loss, a.loss)).toBeUndefined();
      expect(arrayMismatch(g2.data, g1.data, 1e-5)).toBeUndefined();
    }
  });

  it("'mean' divides by the number of samples N × d1 × ... × dk, with or without weight", () => {
    const p = problem(7, [2, 3, 5], 0);
    const q = Float32Array.from({ length: p.logits.length }, (_, i) => (i % 3) / 2);
    for (const weight of [undefined, [0.5, 2, 0]]) {
      const m = x.crossEntropy({ data: p.logits, shape: p.shape }, { data: q, shape: p.shape }, { weight });
      expect(m.weightSum).toBe(10);
      expect(m.loss).toBeCloseTo(m.sum / 10, 14);
      const ref = referenceCrossEntropy({
        logits: p.logits,
        logitsShape: p.shape,
        target: q,
        targetKind: 'prob',
        weight,
      });
      expect(lossMismatch(m.loss, ref.loss)).toBeUndefined();
    }
  });

  it("'none' with gradOutput, lossMap, and every layout", () => {
    const p = problem(8, [2, 4, 3, 5], 0);
    const rng = new Rng(8);
    const q = Float32Array.from({ length: p.logits.length }, () => rng.next());
    const go = Float32Array.from({ length: 30 }, () => rng.normal());
    using grad = x.tensor('float32', p.shape);
    const r = x.crossEntropy(
      { data: p.logits, shape: p.shape },
      { data: q, shape: p.shape },
      { reduction: 'none', grad, gradOutput: { data: go, shape: p.tshape }, labelSmoothing: 0.2 },
    );
    const ref = referenceCrossEntropy({
      logits: p.logits,
      logitsShape: p.shape,
      target: q,
      targetKind: 'prob',
      reduction: 'none',
      gradOutput: go,
      labelSmoothing: 0.2,
    });
    expect(elementwiseMismatch(r.loss.data, ref.losses)).toBeUndefined();
    expect(gradMismatch(grad.data, ref.grad!, ref.gradTerms)).toBeUndefined();
    // NHWC on the transposed data: the same bits.
    const ns = nhwcShape(p.shape);
    using gradN = x.tensor('float32', ns);
    const n = x.crossEntropy(
      { data: toNHWC(p.logits, p.shape), shape: ns },
      { data: toNHWC(q, p.shape), shape: ns },
      {
        reduction: 'none',
        grad: gradN,
        gradOutput: { data: go, shape: p.tshape },
        labelSmoothing: 0.2,
        layout: 'NHWC',
      },
    );
    expect(firstBitDifference(n.loss.data, r.loss.data)).toBe(-1);
    expect(firstBitDifference(toNCHW(gradN.toArray(), p.shape), grad.data)).toBe(-1);
    r.loss.dispose();
    n.loss.dispose();
  });

  it('empty batches as PyTorch: mean NaN, sum 0, none empty', () => {
    for (const shape of [
      [0, 4],
      [2, 3, 0],
      [0, 5, 2, 2],
    ]) {
      const L = { data: new Float32Array(0), shape };
      using grad = x.tensor('float32', shape);
      const m = x.crossEntropy(L, L, { grad, labelSmoothing: 0.1 });
      expect(m.loss).toBeNaN();
      expect([m.sum, m.weightSum]).toEqual([0, 0]);
      expect(x.crossEntropy(L, L, { reduction: 'sum' }).loss).toBe(0);
      const none = x.crossEntropy(L, L, { reduction: 'none' });
      expect(none.loss.size).toBe(0);
      none.loss.dispose();
    }
  });
});

describe('layouts', () => {
  it('NHWC logits (N, H, W, C) give the bits of NCHW on the transposed data, with every output', () => {
    const p = problem(9, [2, 19, 5, 11]);
    const ns = nhwcShape(p.shape);
    const run = (layout: 'NCHW' | 'NHWC') => {
      const data = layout === 'NHWC' ? toNHWC(p.logits, p.shape) : p.logits;
      const shape = layout === 'NHWC' ? ns : p.shape;
      using grad = x.tensor('float32', shape);
      const r = x.crossEntropy(
        { data, shape },
        { data: p.target, shape: p.tshape },
        { ignoreIndex: 255, grad, layout, lossMap: true, confidence: true, labelSmoothing: 0.05 },
      );
      const out = {
        loss: r.loss,
        grad: layout === 'NHWC' ? toNCHW(grad.toArray(), p.shape) : grad.toArray(),
        lossMap: r.lossMap.toArray(),
        confidence: r.confidence.toArray(),
      };
      r.lossMap.dispose();
      r.confidence.dispose();
      return out;
    };
    const a = run('NCHW');
    const b = run('NHWC');
    expect(sameBits(a.loss, b.loss)).toBe(true);
    for (const k of ['grad', 'lossMap', 'confidence'] as const) expect(firstBitDifference(a[k], b[k]), k).toBe(-1);
  });

  it("(C) and (N, C) are the same in both layouts; 'NCHW' is the default", () => {
    const p = problem(10, [6, 4], 0);
    const r = (layout?: 'NCHW' | 'NHWC') =>
      x.crossEntropy({ data: p.logits, shape: p.shape }, { data: p.target, shape: p.tshape }, { layout }).loss;
    expect(r('NHWC')).toBe(r('NCHW'));
    expect(r()).toBe(r('NCHW'));
    const u = (layout?: 'NCHW' | 'NHWC') =>
      x.crossEntropy({ data: p.logits.subarray(0, 4), shape: [4] }, { data: Int32Array.of(2), shape: [] }, { layout })
        .loss;
    expect(u('NHWC')).toBe(u());
  });
});

describe('softmax ops', () => {
  const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.cos(i) * 3);
  const close = (got: Float32Array, want: Float64Array) =>
    expect(elementwiseMismatch(got, want, 2e-6, 'y')).toBeUndefined();

  it("default dim: 1 for rank >= 2 (the class dim, also for rank 3, unlike PyTorch's deprecated implicit 0), 0 for rank 1", () => {
    using y3 = x.softmax({ data, shape: [2, 3, 4] });
    close(y3.data, referenceSoftmax(data, [2, 3, 4], 1, false));
    using y2 = x.logSoftmax({ data, shape: [6, 4] });
    close(y2.data, referenceSoftmax(data, [6, 4], 1, true));
    using y1 = x.softmax({ data, shape: [24] });
    close(y1.data, referenceSoftmax(data, [24], 0, false));
  });

  it('any dim, negative dims counting from the end', () => {
    for (const [dim, neg] of [
      [0, -3],
      [1, -2],
      [2, -1],
    ] as const) {
      using a = x.logSoftmax({ data, shape: [2, 3, 4] }, { dim });
      using b = x.logSoftmax({ data, shape: [2, 3, 4] }, { dim: neg });
      close(a.data, referenceSoftmax(data, [2, 3, 4], dim, true));
      expect(firstBitDifference(a.data, b.data)).toBe(-1);
    }
  });

  it('a scalar: softmax 1, logSoftmax 0, backward 0', () => {
    const s = { data: Float32Array.of(7.5), shape: [] };
    using a = x.softmax(s);
    using b = x.logSoftmax(s, { dim: -1 });
    expect([a.shape, a.data[0], b.data[0]]).toEqual([[], 1, 0]);
    using g = x.softmaxBackward(a, { data: Float32Array.of(3), shape: [] });
    expect(g.data[0]).toBe(0);
  });

  it('out: written and returned; without it a new tensor the caller disposes', () => {
    using out = x.tensor('float32', [2, 3, 4]);
    const before = x.memoryStats();
    expect(x.softmax({ data, shape: [2, 3, 4] }, { out })).toBe(out);
    expect(x.memoryStats()).toEqual(before);
    const y = x.softmax({ data, shape: [2, 3, 4] });
    expect(x.memoryStats().liveTensors).toBe(before.liveTensors + 1);
    expect(firstBitDifference(y.data, out.data)).toBe(-1);
    y.dispose();
    expect(x.memoryStats()).toEqual(before);
  });

  it('empty tensors, including an empty softmax dim (as PyTorch)', () => {
    for (const [shape, dim] of [
      [[2, 0, 3], 1],
      [[0, 5], 1],
      [[3, 0], 0],
    ] as const) {
      using y = x.logSoftmax({ data: new Float32Array(0), shape: [...shape] }, { dim });
      expect(y.shape).toEqual(shape);
      using g = x.logSoftmaxBackward(y, y.toArray().length ? y : { data: new Float32Array(0), shape: [...shape] }, {
        dim,
      });
      expect(g.size).toBe(0);
    }
  });

  it('backward: the gradient of sum(gy · softmax(x)) by central differences', () => {
    const shape = [1, 5, 2];
    const gy = Float32Array.from({ length: 10 }, (_, i) => Math.sin(3 * i));
    for (const log of [false, true]) {
      using y = log
        ? x.logSoftmax({ data: data.subarray(0, 10), shape })
        : x.softmax({ data: data.subarray(0, 10), shape });
      using gx = log ? x.logSoftmaxBackward(y, { data: gy, shape }) : x.softmaxBackward(y, { data: gy, shape });
      const f = (z: ArrayLike<number>) => referenceSoftmax(z, shape, 1, log).reduce((a, v, i) => a + v * gy[i]!, 0);
      for (let i = 0; i < 10; i++) {
        const z = Float64Array.from(data.subarray(0, 10));
        const h = 1e-5;
        z[i] = z[i]! + h;
        const up = f(z);
        z[i] = z[i]! - 2 * h;
        const down = f(z);
        expect(gx.data[i]).toBeCloseTo((up - down) / (2 * h), 4);
      }
    }
  });
});

describe('one pixel per sample: (N, C) runs as NHWC [1, C, N] — the same bits as NCHW [N, C, 1] (raw ABI)', () => {
  // The TypeScript side hands (N, C)-like calls to the kernel as NHWC with one sample of N
  // pixels (much faster); this checks on the raw exports that it changes no bit.
  for (const file of ['xent-simd.wasm', 'xent.wasm']) {
    it(file, async () => {
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
      const { instance } = await WebAssembly.instantiate(readFileSync(`${DIST}${file}`), { env: { memory } });
      const e = instance.exports as unknown as lib.XentExports;
      const N = 37;
      const C = 11;
      memory.grow(4);
      let top = Math.ceil(Number(e.__heap_base.value) / 64) * 64;
      const alloc = (bytes: number) => {
        top += Math.ceil(bytes / 64) * 64 + 64;
        return top - Math.ceil(bytes / 64) * 64 - 64;
      };
      const rng = new Rng(11);
      const px = alloc(4 * N * C);
      const pt = alloc(4 * N);
      const pq = alloc(4 * N * C);
      const pw = alloc(4 * C);
      const pgo = alloc(4 * N);
      new Float32Array(memory.buffer, px, N * C).set(Float32Array.from({ length: N * C }, () => rng.normal() * 3));
      new Int32Array(memory.buffer, pt, N).set(
        Int32Array.from({ length: N }, () => (rng.chance(0.2) ? -100 : rng.int(0, C - 1))),
      );
      new Float32Array(memory.buffer, pq, N * C).set(Float32Array.from({ length: N * C }, () => rng.next()));
      new Float32Array(memory.buffer, pw, C).set(Float32Array.from({ length: C }, () => rng.next() * 2));
      new Float32Array(memory.buffer, pgo, N).set(Float32Array.from({ length: N }, () => rng.normal()));
      const outs = [alloc(4 * N * C), alloc(4 * N), alloc(4 * N), alloc(32)];
      const pargs = alloc(lib.LOSS_ARGS_BYTES);
      const noScoring = { pred: 0, predKind: 0, predConfidence: 0, confusion: 0 };
      const read = () => [
        new Float32Array(memory.buffer, outs[0]!, N * C).slice(),
        new Float32Array(memory.buffer, outs[1]!, N).slice(),
        new Float32Array(memory.buffer, outs[2]!, N).slice(),
        new Float32Array(new Float64Array(memory.buffer, outs[3]!, 3).slice().buffer),
      ];
      const same = (a: Float32Array[], b: Float32Array[]) =>
        a.forEach((v, i) => {
          expect(firstBitDifference(v, b[i]!), `output ${i}`).toBe(-1);
        });
      for (const [kind, target] of [
        [2, pt],
        [3, pq],
      ] as const) {
        for (const reduction of [0, 1, 2]) {
          const call = (n: number, s: number, layout: number) => {
            lib.writeLossArgs(memory.buffer, pargs, {
              ...noScoring,
              logits: px,
              target,
              targetKind: kind,
              n,
              c: C,
              s,
              layout,
              weight: pw,
              ignoreIndex: -100,
              reduction,
              labelSmoothing: 0.1,
              grad: outs[0]!,
              gradOutput: reduction === 0 ? pgo : 0,
              lossMap: outs[1]!,
              confidence: kind === 2 ? outs[2]! : 0,
            });
            expect(e.xent_cross_entropy(pargs, outs[3]!)).toBe(0);
            return read();
          };
          same(call(1, N, 1), call(N, 1, 0));
        }
      }
      const nll = (n: number, s: number, layout: number) => {
        lib.writeLossArgs(memory.buffer, pargs, {
          ...noScoring,
          logits: px,
          target: pt,
          targetKind: 2,
          n,
          c: C,
          s,
          layout,
          weight: pw,
          ignoreIndex: -100,
          reduction: 1,
          labelSmoothing: 0,
          grad: outs[0]!,
          gradOutput: 0,
          lossMap: outs[1]!,
          confidence: 0,
        });
        expect(e.xent_nll_loss(pargs, outs[3]!)).toBe(0);
        return read();
      };
      same(nll(1, N, 1), nll(N, 1, 0));
      for (const log of [0, 1]) {
        const sm = (n: number, s: number, layout: number) => {
          expect(e.xent_softmax(px, outs[0]!, n, C, s, layout, log)).toBe(0);
          return read();
        };
        same(sm(1, N, 1), sm(N, 1, 0));
        const bw = (n: number, s: number, layout: number) => {
          expect(e.xent_softmax_backward(pq, px, outs[0]!, n, C, s, layout, log)).toBe(0);
          return read();
        };
        same(bw(1, N, 1), bw(N, 1, 0));
      }
    });
  }
});

describe('types', () => {
  it('requested outputs are tensors in the result type, others undefined', () => {
    const l = { data: new Float32Array(3), shape: [3] };
    const t = { data: new Int32Array(1), shape: [] };
    const a = x.crossEntropy(l, t, { lossMap: true, confidence: true });
    expectTypeOf(a.lossMap).toEqualTypeOf<lib.Tensor<'float32'>>();
    expectTypeOf(a.confidence).toEqualTypeOf<lib.Tensor<'float32'>>();
    expectTypeOf(a.loss).toEqualTypeOf<number>();
    a.lossMap.dispose();
    a.confidence.dispose();
    const b = x.crossEntropy(l, t);
    expectTypeOf(b.lossMap).toEqualTypeOf<undefined>();
    expectTypeOf(b.confidence).toEqualTypeOf<undefined>();
    const opts: lib.CrossEntropyOptions = {};
    expectTypeOf(x.crossEntropy(l, t, opts).lossMap).toEqualTypeOf<lib.Tensor<'float32'> | undefined>();
    const n = x.nllLoss(l, t, { reduction: 'none', lossMap: true });
    expectTypeOf(n.loss).toEqualTypeOf<lib.Tensor<'float32'>>();
    expectTypeOf(n.lossMap).toEqualTypeOf<lib.Tensor<'float32'>>();
    n.loss.dispose();
    expectTypeOf(x.softmax(l)).toEqualTypeOf<lib.Tensor<'float32'>>();
    expectTypeOf<lib.Layout>().toEqualTypeOf<'NCHW' | 'NHWC'>();
    // @ts-expect-error -- layouts are spelled in upper case
    expect(() => x.crossEntropy(l, t, { layout: 'nhwc' })).toThrow(lib.XentOptionError);
    // @ts-expect-error -- nllLoss has no label smoothing
    expect(() => x.nllLoss(l, t, { labelSmoothing: 0.1 })).toThrow(lib.XentOptionError);
    // @ts-expect-error -- nllLoss takes class indices only
    expect(() => x.nllLoss(l, l)).toThrow(lib.XentDtypeError);
    x.softmax(l, { dim: 0 }).dispose();
  });
});
