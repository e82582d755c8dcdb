/**
 * options.resize (issue 18) through the public API: the option's forms and errors (typed, with
 * did-you-mean, nothing written), the shapes of every output, the values against the unfused
 * path (interpolate here in float64 with PyTorch's coordinate rules, then crossEntropy at the
 * full resolution, then the interpolation's adjoint), and the bits: NHWC = NCHW, threads = one
 * thread (sync and async), SIMD = portable, score = crossEntropy = Scorer.update.
 * (PyTorch's own outputs are checked by the resize fixtures.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstBitDifference } from '../../reference/compare.js';
import { lib, useBothBuilds, type Xent } from '../../reference/dist.js';
import { crossEntropyOutcome, difference, type Outcome } from '../../reference/outcome.js';
import { Rng } from '../../reference/rng.js';

type Mode = 'bilinear' | 'nearest';
interface Resize {
  mode: Mode;
  alignCorners?: boolean;
}

/** PyTorch's source taps of output coordinate `d` of an axis `inn -> out`, in float64. */
function taps(r: Resize, inn: number, out: number, d: number): Array<[number, number]> {
  if (r.mode === 'nearest') {
    const scale = Math.fround(inn / out);
    const i = out === inn ? d : Math.min(Math.floor(Math.fround(d * scale)), inn - 1);
    return [[i, 1]];
  }
  const src = r.alignCorners ? (out > 1 ? (d * (inn - 1)) / (out - 1) : 0) : Math.max(0, ((d + 0.5) * inn) / out - 0.5);
  const i0 = Math.min(Math.floor(src), inn - 1);
  const l = Math.min(Math.max(src - i0, 0), 1);
  return [
    [i0, 1 - l],
    [Math.min(i0 + 1, inn - 1), l],
  ];
}

/** `f(b, c, oy, ox, taps)` over every output element of NCHW `[n, c, H, W]`. */
function forEachOut(
  dims: { n: number; c: number; h: number; w: number; H: number; W: number },
  r: Resize,
  f: (b: number, ci: number, oy: number, ox: number, t: Array<[number, number, number]>) => void,
): void {
  const { n, c, h, w, H, W } = dims;
  for (let b = 0; b < n; b++)
    for (let ci = 0; ci < c; ci++)
      for (let oy = 0; oy < H; oy++)
        for (let ox = 0; ox < W; ox++) {
          const t: Array<[number, number, number]> = [];
          for (const [y, wy] of taps(r, h, H, oy)) for (const [x, wx] of taps(r, w, W, ox)) t.push([y, x, wy * wx]);
          f(b, ci, oy, ox, t);
        }
}

interface Case {
  n: number;
  c: number;
  h: number;
  w: number;
  H: number;
  W: number;
  resize: Resize;
  logits: Float32Array; // NCHW
  labels: Uint8Array;
  prob?: Float32Array; // NCHW, full resolution
  options: Record<string, unknown>;
  gradOutput?: Float32Array;
}

function makeCase(seed: number, resize: Resize, prob = false, reduction = 'mean'): Case {
  const r = new Rng(seed);
  const [n, c] = [r.int(1, 2), r.pick([1, 2, 3, 5, 19])];
  const dim = () => r.pick([1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 33]);
  const [h, w, H, W] = [dim(), dim(), dim(), dim() + r.int(0, 2) * 16];
  const logits = Float32Array.from({ length: n * c * h * w }, () => r.normal() * 3);
  const labels = Uint8Array.from({ length: n * H * W }, () => (r.chance(0.1) ? 255 : r.int(0, c - 1)));
  const options: Record<string, unknown> = { resize, reduction };
  if (!prob) options.ignoreIndex = 255;
  if (r.chance(0.5)) options.weight = Float32Array.from({ length: c }, () => 0.25 + r.next() * 2);
  if (r.chance(0.5)) options.labelSmoothing = 0.1;
  const k: Case = { n, c, h, w, H, W, resize, logits, labels, options };
  if (prob) k.prob = Float32Array.from({ length: n * c * H * W }, () => r.next());
  if (reduction === 'none') k.gradOutput = Float32Array.from({ length: n * H * W }, () => r.normal());
  return k;
}

/** Transposes `[n, c, s]` to `[n, s, c]`. */
function toNhwc(v: Float32Array, n: number, c: number, s: number): Float32Array {
  const o = new Float32Array(v.length);
  for (let b = 0; b < n; b++)
    for (let ci = 0; ci < c; ci++) for (let p = 0; p < s; p++) o[(b * s + p) * c + ci] = v[(b * c + ci) * s + p]!;
  return o;
}
function toNchw(v: Float32Array, n: number, c: number, s: number): Float32Array {
  const o = new Float32Array(v.length);
  for (let b = 0; b < n; b++)
    for (let ci = 0; ci < c; ci++) for (let p = 0; p < s; p++) o[(b * c + ci) * s + p] = v[(b * s + p) * c + ci]!;
  return o;
}

/** crossEntropy of a case with grad, lossMap and confidence, copied out (the gradient in NCHW order). */
async function run(
  x: Xent,
  k: Case,
  layout: 'NCHW' | 'NHWC' = 'NCHW',
  mode: 'sync' | 'async' = 'sync',
): Promise<Outcome> {
  const { n, c, h, w, H, W } = k;
  const nhwc = layout === 'NHWC';
  const shape = nhwc ? [n, h, w, c] : [n, c, h, w];
  const logits = x.tensorFrom(nhwc ? toNhwc(k.logits, n, c, h * w) : k.logits, shape);
  const target = k.prob
    ? x.tensorFrom(nhwc ? toNhwc(k.prob, n, c, H * W) : k.prob, nhwc ? [n, H, W, c] : [n, c, H, W])
    : x.tensorFrom(k.labels, [n, H, W]);
  const grad = x.tensor('float32', shape);
  const opts: Record<string, unknown> & { grad: typeof grad; lossMap: true } = {
    ...k.options,
    layout,
    grad,
    lossMap: true,
  };
  if (!k.prob) opts.confidence = true;
  if (k.gradOutput) opts.gradOutput = { data: k.gradOutput, shape: [n, H, W] };
  try {
    const out = await crossEntropyOutcome(x, logits, target, opts, mode, (r) => {
      expect(r.lossMap.shape).toEqual([n, H, W]);
      if (r.confidence) expect(r.confidence.shape).toEqual([n, H, W]);
    });
    if (nhwc) out.grad = toNchw(out.grad, n, c, h * w);
    return out;
  } finally {
    grad.dispose();
    logits.dispose();
    target.dispose();
  }
}

/** The unfused path: interpolate here (float64, rounded to float32), crossEntropy at full resolution, adjoint. */
function unfused(x: Xent, k: Case): { loss: number; lossMap: Float32Array; grad: Float64Array } {
  const { n, c, h, w, H, W } = k;
  const up = new Float32Array(n * c * H * W);
  forEachOut(k, k.resize, (b, ci, oy, ox, t) => {
    let v = 0;
    for (const [y, xx, wt] of t) v += wt * k.logits[((b * c + ci) * h + y) * w + xx]!;
    up[((b * c + ci) * H + oy) * W + ox] = v;
  });
  const { resize: _, ...opts } = k.options;
  const g = x.tensor('float32', [n, c, H, W]);
  const extra: Record<string, unknown> = { grad: g, lossMap: true };
  if (k.gradOutput) extra.gradOutput = { data: k.gradOutput, shape: [n, H, W] };
  const target = k.prob ? { data: k.prob, shape: [n, c, H, W] } : { data: k.labels, shape: [n, H, W] };
  const r = x.crossEntropy({ data: up, shape: [n, c, H, W] }, target, { ...opts, ...extra }) as unknown as {
    loss: number | lib.Tensor<'float32'>;
    lossMap: lib.Tensor<'float32'>;
  };
  const gFull = g.toArray();
  const lossMap = r.lossMap.toArray();
  r.lossMap.dispose();
  g.dispose();
  const grad = new Float64Array(n * c * h * w);
  forEachOut(k, k.resize, (b, ci, oy, ox, t) => {
    const go = gFull[((b * c + ci) * H + oy) * W + ox]!;
    for (const [y, xx, wt] of t) {
      const e = ((b * c + ci) * h + y) * w + xx;
      grad[e] = grad[e]! + wt * go;
    }
  });
  return { loss: typeof r.loss === 'number' ? r.loss : NaN, lossMap, grad };
}

const MODES: Resize[] = [{ mode: 'bilinear' }, { mode: 'bilinear', alignCorners: true }, { mode: 'nearest' }];

const builds = useBothBuilds();

describe('values: the unfused interpolate-then-crossEntropy, within float32 rounding of the interpolation', () => {
  let seed = 1;
  for (const resize of MODES) {
    for (const prob of [false, true]) {
      for (const reduction of ['mean', 'sum', 'none']) {
        const s = seed++;
        it(`${JSON.stringify(resize)}, ${prob ? 'probability' : 'index'} targets, ${reduction}`, async () => {
          const x = builds().simd;
          for (let i = 0; i < 6; i++) {
            const k = makeCase(s * 100 + i, resize, prob, reduction);
            const got = await run(x, k);
            const ref = unfused(x, k);
            if (reduction !== 'none')
              expect(Math.abs((got.loss as number) - ref.loss)).toBeLessThanOrEqual(
                2e-5 * Math.max(1, Math.abs(ref.loss)),
              );
            for (let p = 0; p < ref.lossMap.length; p++)
              expect(Math.abs(got.lossMap[p]! - ref.lossMap[p]!), `lossMap[${p}]`).toBeLessThanOrEqual(
                2e-5 * Math.max(1, Math.abs(ref.lossMap[p]!)),
              );
            const gmax = ref.grad.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-30);
            for (let e = 0; e < ref.grad.length; e++)
              expect(Math.abs(got.grad[e]! - ref.grad[e]!), `grad[${e}]`).toBeLessThanOrEqual(2e-5 * gmax);
          }
        });
      }
    }
  }
});

describe('bits', () => {
  it('NHWC gives the bits of NCHW; the portable build the bits of the SIMD one', async () => {
    const { simd, portable } = builds();
    let seed = 500;
    for (const resize of MODES) {
      for (const prob of [false, true]) {
        for (const reduction of ['mean', 'none']) {
          const k = makeCase(seed++, resize, prob, reduction);
          const ref = await run(simd, k);
          expect(difference(await run(simd, k, 'NHWC'), ref), `NHWC ${seed}`).toBeUndefined();
          expect(difference(await run(portable, k), ref), `portable ${seed}`).toBeUndefined();
          expect(difference(await run(portable, k, 'NHWC'), ref), `portable NHWC ${seed}`).toBeUndefined();
        }
      }
    }
  });

  describe('threads: the bits of one thread, sync and async', () => {
    const threaded: Array<[string, Xent]> = [];
    beforeAll(async () => {
      for (const t of [2, 3])
        threaded.push([`${t} threads`, await lib.Xent.create({ threads: t, minElementsPerThread: 1 })]);
    });
    afterAll(() => {
      for (const [, x] of threaded) x.dispose();
    });
    it('every mode, both target kinds, both layouts, every reduction', async () => {
      const single = builds().simd;
      let seed = 900;
      for (const resize of MODES) {
        for (const prob of [false, true]) {
          for (const reduction of ['mean', 'sum', 'none']) {
            const k = makeCase(seed++, resize, prob, reduction);
            // Enough source rows for every thread to own some.
            k.n = 2;
            k.h = 9;
            k.logits = Float32Array.from({ length: k.n * k.c * k.h * k.w }, (_, i) => Math.sin(i * 1.3) * 4);
            k.labels = Uint8Array.from({ length: k.n * k.H * k.W }, (_, i) => (i % 11 === 0 ? 255 : (i * 7) % k.c));
            if (k.prob) k.prob = Float32Array.from({ length: k.n * k.c * k.H * k.W }, (_, i) => (i % 5) / 5);
            if (k.gradOutput) k.gradOutput = Float32Array.from({ length: k.n * k.H * k.W }, (_, i) => Math.cos(i));
            for (const layout of ['NCHW', 'NHWC'] as const) {
              const ref = await run(single, k, layout);
              for (const [label, x] of threaded)
                for (const mode of ['sync', 'async'] as const)
                  expect(
                    difference(await run(x, k, layout, mode), ref),
                    `${label} ${mode} ${layout} seed ${seed}`,
                  ).toBeUndefined();
            }
          }
        }
      }
    });
  });
});

describe('scoring at the target resolution', () => {
  it('score: pred, maps and confusion at (N, H, W); loss = crossEntropy mean; Scorer.update the same', () => {
    const x = builds().simd;
    for (const resize of MODES) {
      const k = makeCase(77, resize);
      const { n, c, h, w, H, W } = k;
      const logits = { data: k.logits, shape: [n, c, h, w] };
      const target = { data: k.labels, shape: [n, H, W] };
      const weight = k.options.weight as Float32Array | undefined;
      const common = { resize, ignoreIndex: 255, ...(weight && { weight }) };
      const s = x.score(logits, target, { ...common, lossMap: true, confidence: true, predConfidence: true });
      expect(s.pred.shape).toEqual([n, H, W]);
      for (const m of [s.lossMap, s.confidence, s.predConfidence]) expect(m.shape).toEqual([n, H, W]);
      const live = k.labels.filter((v) => v !== 255).length;
      expect(s.confusion.length).toBe(c * c);
      expect(s.confusion.reduce((a, v) => a + v, 0)).toBe(live);
      const ce = x.crossEntropy(logits, target, { ...common, lossMap: true, confidence: true });
      expect(Object.is(ce.loss, s.loss)).toBe(true);
      expect(firstBitDifference(ce.lossMap.toArray(), s.lossMap.toArray())).toBe(-1);
      expect(firstBitDifference(ce.confidence.toArray(), s.confidence.toArray())).toBe(-1);
      // The prediction is the argmax of the interpolated logits: its probability is the largest.
      const pc = s.predConfidence.toArray();
      const conf = s.confidence.toArray();
      for (let p = 0; p < pc.length; p++) if (k.labels[p] !== 255) expect(pc[p]!).toBeGreaterThanOrEqual(conf[p]!);
      const scorer = x.scorer(c, common);
      const u = scorer.update(logits, target);
      expect(Object.is(u.loss, s.loss)).toBe(true);
      expect(Array.from(scorer.result().confusion)).toEqual(Array.from(s.confusion));
      const other = x.scorer(c, { ignoreIndex: 255, ...(weight && { weight }) });
      expect(Object.is(other.update(logits, target, { resize }).loss, s.loss)).toBe(true);
      // NHWC logits: the same bits.
      const nhwc = x.score({ data: toNhwc(k.logits, n, c, h * w), shape: [n, h, w, c] }, target, {
        ...common,
        layout: 'NHWC',
        lossMap: true,
      });
      expect(Object.is(nhwc.loss, s.loss)).toBe(true);
      expect(Array.from(nhwc.pred.toArray())).toEqual(Array.from(s.pred.toArray()));
      expect(firstBitDifference(nhwc.lossMap.toArray(), s.lossMap.toArray())).toBe(-1);
      expect(Array.from(nhwc.confusion)).toEqual(Array.from(s.confusion));
      for (const t of [nhwc.pred, nhwc.lossMap]) t.dispose();
      for (const t of [s.pred, s.lossMap, s.confidence, s.predConfidence, ce.lossMap, ce.confidence]) t.dispose();
      scorer.dispose();
      other.dispose();
    }
  });
});

describe('errors: typed, and nothing written', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['an unknown mode', 'bicubic', /mode must be 'bilinear' or 'nearest'.*'bicubic' is not supported/],
    ['a capitalised mode', 'Bilinear', /did you mean 'bilinear'/],
    ['nearest-exact', { mode: 'nearest-exact' }, /legacy nearest/],
    ['alignCorners with nearest', { mode: 'nearest', alignCorners: false }, /align_corners option can only be set/],
    ['alignCorners not a boolean', { mode: 'bilinear', alignCorners: 1 }, /alignCorners must be a boolean/],
    ['align_corners', { mode: 'bilinear', align_corners: true }, /did you mean "alignCorners"/],
    ['no mode', { alignCorners: true }, /mode is required/],
    ['a size', { mode: 'bilinear', size: [4, 4] }, /the output size is the target's/],
    ['a number', 2, /must be 'bilinear', 'nearest' or \{ mode/],
  ];
  for (const [what, resize, message] of bad) {
    it(`options.resize: ${what}`, () => {
      const x = builds().simd;
      const grad = x.tensorFrom(new Float32Array(2 * 3 * 4).fill(7), [1, 2, 3, 4]);
      expect(() =>
        x.crossEntropy(
          { data: new Float32Array(24), shape: [1, 2, 3, 4] },
          { data: new Uint8Array(70), shape: [1, 7, 10] },
          { resize, grad } as never,
        ),
      ).toThrow(message);
      expect(() =>
        x.crossEntropy(
          { data: new Float32Array(24), shape: [1, 2, 3, 4] },
          { data: new Uint8Array(70), shape: [1, 7, 10] },
          { resize, grad } as never,
        ),
      ).toThrow(lib.XentOptionError);
      expect(grad.toArray().every((v) => v === 7)).toBe(true);
      grad.dispose();
    });
  }

  it('shapes: 3-D and 5-D logits, a zero-size target or source, batch and class mismatches, the target rank', () => {
    const x = builds().simd;
    const ce = (shape: number[], tshape: number[], dtype: 'uint8' | 'float32' = 'uint8', layout = 'NCHW') => {
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const data = dtype === 'uint8' ? new Uint8Array(size(tshape)) : new Float32Array(size(tshape));
      const grad = x.tensorFrom(new Float32Array(size(shape)).fill(7), shape);
      try {
        return x.crossEntropy(
          { data: new Float32Array(size(shape)), shape },
          { data, shape: tshape } as never,
          { resize: 'bilinear', layout, grad } as never,
        );
      } finally {
        expect(grad.toArray().every((v) => v === 7)).toBe(true);
        grad.dispose();
      }
    };
    expect(() => ce([2, 3, 5], [2, 9])).toThrow(/options.resize needs 4-D logits \(N, C, h, w\), got \[2, 3, 5\]/);
    expect(() => ce([1, 3, 2, 2, 2], [1, 4, 4, 4])).toThrow(lib.XentShapeError);
    expect(() => ce([1, 3, 2, 2], [1, 0, 4])).toThrow(/Input and output sizes should be greater than 0/);
    expect(() => ce([1, 3, 0, 2], [1, 3, 4])).toThrow(/Input and output sizes should be greater than 0/);
    expect(() => ce([2, 3, 2, 2], [1, 4, 4])).toThrow(
      /Expected input batch_size \(2\) to match target batch_size \(1\)/,
    );
    expect(() => ce([1, 3, 2, 2], [1, 4, 4, 4], 'float32')).toThrow(/must have the logits' C = 3 classes, got 4/);
    expect(() => ce([1, 2, 2, 3], [1, 4, 4, 4], 'float32', 'NHWC')).toThrow(/C = 3 classes, got 4/);
    expect(() => ce([1, 3, 2, 2], [1, 4, 4], 'float32')).toThrow(lib.XentDtypeError);
    expect(() => ce([1, 3, 2, 2], [1, 3, 4, 4])).toThrow(/class probabilities \(N, C, H, W\) must be float32/);
    expect(() => ce([1, 3, 2, 2], [1, 4])).toThrow(/must have shape \(N, H, W\)/);
  });

  it('float16 logits with resize: a typed error for crossEntropy, score and Scorer.update; nothing written', () => {
    const x = builds().simd;
    const logits = { data: new Uint16Array(24).fill(0x3c00), shape: [1, 2, 3, 4], dtype: 'float16' } as const;
    const target = { data: new Uint8Array(70), shape: [1, 7, 10] };
    const grad = x.tensorFrom(new Float32Array(24).fill(7), [1, 2, 3, 4]);
    const message = /logits is a float16 tensor: options\.resize takes float32 logits/;
    expect(() => x.crossEntropy(logits, target, { resize: 'bilinear', grad })).toThrow(message);
    expect(() => x.crossEntropy(logits, target, { resize: 'bilinear', grad })).toThrow(lib.XentDtypeError);
    expect(grad.toArray().every((v) => v === 7)).toBe(true);
    expect(() => x.score(logits, target, { resize: 'nearest' })).toThrow(message);
    using scorer = x.scorer(2, { resize: 'bilinear' });
    expect(() => scorer.update(logits, target)).toThrow(lib.XentDtypeError);
    expect(scorer.result().pixels).toBe(0);
    // Without resize, the same float16 logits at the target's size are accepted.
    const same = { data: new Uint16Array(2 * 70).fill(0x3c00), shape: [1, 2, 7, 10], dtype: 'float16' } as const;
    expect(x.crossEntropy(same, target).loss).toBeCloseTo(Math.log(2), 6);
    grad.dispose();
  });

  it('a spatial mismatch without resize suggests it; nllLoss has no resize; a bad label writes nothing', () => {
    const x = builds().simd;
    const logits = { data: new Float32Array(24), shape: [1, 2, 3, 4] };
    expect(() => x.crossEntropy(logits, { data: new Uint8Array(70), shape: [1, 7, 10] })).toThrow(/options\.resize/);
    expect(() => x.crossEntropy(logits, { data: new Uint8Array(70), shape: [1, 7, 10] })).toThrow(lib.XentShapeError);
    expect(() =>
      x.nllLoss(logits, { data: new Uint8Array(70), shape: [1, 7, 10] }, { resize: 'bilinear' } as never),
    ).toThrow(/not supported by nllLoss/);
    expect(() =>
      x.crossEntropy(logits, { data: new Uint8Array(12), shape: [1, 3, 4] }, { interpolate: 'bilinear' } as never),
    ).toThrow(/did you mean "resize"/);
    const grad = x.tensorFrom(new Float32Array(24).fill(7), [1, 2, 3, 4]);
    const labels = new Uint8Array(70);
    labels[69] = 2;
    expect(() => x.crossEntropy(logits, { data: labels, shape: [1, 7, 10] }, { resize: 'nearest', grad })).toThrow(
      lib.XentTargetError,
    );
    expect(grad.toArray().every((v) => v === 7)).toBe(true);
    grad.dispose();
  });
});
