/**
 * xent.score on the published package: the prediction (argmax with torch's tie and NaN rules),
 * the probability of the predicted class, the loss, loss and confidence maps and the confusion
 * matrix against independent float64 references, on seeded random cases in both builds (which
 * must agree bit for bit), NHWC against NCHW on transposed data, and the output options.
 */
import { describe, expect, it } from 'vitest';
import {
  arrayMismatch,
  elementwiseMismatch,
  firstBitDifference,
  lossMismatch,
  sameBits,
} from '../../reference/compare.js';
import { referenceCrossEntropy, type Layout } from '../../reference/cross-entropy.js';
import { useBothBuilds, type lib, type Xent } from '../../reference/dist.js';
import { nhwcShape, toNHWC } from '../../reference/layout.js';
import { Rng } from '../../reference/rng.js';
import { referenceArgmax, referenceMmseg } from './score-reference.js';

const getBuilds = useBothBuilds();

type TargetCtor = Uint8ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor;

interface Case {
  seed: number;
  shape: number[]; // NCHW logits shape
  logits: Float32Array;
  target: number[];
  ctor: TargetCtor;
  ignoreIndex: number;
  weight: Float32Array | null;
}

/** Logits with many exact ties (small integers), NaN and ±inf now and then. */
function makeCase(seed: number): Case {
  const rng = new Rng(seed);
  const C = rng.pick([1, 2, 3, 5, 8, 19, 33, 150, 257, 300]);
  const rank = rng.pick([1, 2, 3, 4, 4]);
  const N = rng.int(1, 3);
  const spatial = rank >= 3 ? Array.from({ length: rank - 2 }, () => rng.int(1, rank === 3 ? 37 : 9)) : [];
  const shape = rank === 1 ? [C] : [N, C, ...spatial];
  const size = shape.reduce((a, b) => a * b, 1);
  const mode = rng.pick(['normal', 'ties', 'ties', 'special']);
  const logits = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    if (mode === 'ties') logits[i] = rng.int(-2, 2);
    else if (mode === 'special' && rng.chance(0.05)) logits[i] = rng.pick([NaN, Infinity, -Infinity]);
    else logits[i] = rng.normal() * 3;
  }
  const ctor =
    C > 256
      ? rng.pick([Uint16Array, Int32Array] as TargetCtor[])
      : rng.pick([Uint8Array, Uint16Array, Int32Array] as TargetCtor[]);
  const ignoreIndex =
    ctor === Int32Array ? rng.pick([-100, -1, 0, 255]) : ctor === Uint8Array ? 255 : rng.pick([255, 65535, 0]);
  const pixels = size / C;
  const target = Array.from({ length: pixels }, () => (rng.chance(0.1) ? ignoreIndex : rng.int(0, C - 1)));
  const weight = rng.chance(0.3) ? Float32Array.from({ length: C }, () => rng.next() * 2) : null;
  return { seed, shape, logits, target, ctor, ignoreIndex, weight };
}

/** Index of the first differing element (Object.is, so NaN equals NaN), -1 if none, -2 for lengths. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function targetShape(shape: readonly number[]): number[] {
  return shape.length === 1 ? [] : [shape[0]!, ...shape.slice(2)];
}

function run(x: Xent, k: Case, layout: Layout) {
  const shape = layout === 'NHWC' ? nhwcShape(k.shape) : k.shape;
  const data = layout === 'NHWC' ? toNHWC(k.logits, k.shape) : k.logits;
  return x.score(
    { data, shape },
    { data: k.ctor.from(k.target), shape: targetShape(k.shape) },
    {
      ignoreIndex: k.ignoreIndex,
      layout,
      ...(k.weight ? { weight: k.weight } : {}),
      lossMap: true,
      confidence: true,
      predConfidence: true,
    },
  );
}

function snapshot(r: lib.ScoreResult<true, true, true>) {
  const out = {
    loss: r.loss,
    sum: r.sum,
    weightSum: r.weightSum,
    predDtype: r.pred.dtype,
    predShape: r.pred.shape,
    pred: r.pred.toArray(),
    lossMap: r.lossMap.toArray(),
    confidence: r.confidence.toArray(),
    predConfidence: r.predConfidence.toArray(),
    confusion: r.confusion,
  };
  r.pred.dispose();
  r.lossMap.dispose();
  r.confidence.dispose();
  r.predConfidence.dispose();
  return out;
}

describe('score against the float64 references (seeded random cases, both builds)', () => {
  const CASES = Number(process.env.XENT_SCORE_CASES ?? 400);
  it(`${CASES} cases: pred, predConfidence, loss, maps, confusion; SIMD = portable bit for bit; NHWC = NCHW`, () => {
    for (let i = 0; i < CASES; i++) {
      const seed = 0x5c0e + i * 7919;
      const k = makeCase(seed);
      const where = `seed ${seed} (shape [${k.shape}], ${k.ctor.name}, ignoreIndex ${k.ignoreIndex}${k.weight ? ', weight' : ''})`;
      const C = k.shape.length === 1 ? k.shape[0]! : k.shape[1]!;
      const simd = snapshot(run(getBuilds().simd, k, 'NCHW'));
      // Σ exp over C classes in float32: the probabilities' rounding grows with C.
      const probTol = 1e-6 * (2 + C / 16);

      // The prediction and its probability.
      const ref = referenceArgmax(k.logits, k.shape);
      expect(simd.predDtype, where).toBe(C <= 256 ? 'uint8' : 'uint16');
      expect(simd.predShape, where).toEqual(targetShape(k.shape));
      expect(firstDifference(simd.pred, ref.pred), `${where}: pred`).toBe(-1);
      expect(arrayMismatch(simd.predConfidence, ref.predConfidence, probTol, 'predConfidence'), where).toBeUndefined();

      // The loss and the maps.
      const ce = referenceCrossEntropy({
        logits: k.logits,
        logitsShape: k.shape,
        target: k.target,
        ignoreIndex: k.ignoreIndex,
        weight: k.weight,
        reduction: 'mean',
      });
      expect(lossMismatch(simd.loss, ce.loss, 1e-5), where).toBeUndefined();
      expect(lossMismatch(simd.weightSum, ce.weightSum, 1e-6), where).toBeUndefined();
      expect(elementwiseMismatch(simd.lossMap, ce.losses, 1e-5, 'lossMap'), where).toBeUndefined();
      expect(arrayMismatch(simd.confidence, ce.confidence!, probTol, 'confidence'), where).toBeUndefined();

      // The confusion matrix: FCN's histogram of (target, pred) over non-ignored pixels.
      const mm = referenceMmseg([{ pred: ref.pred, label: k.target }], C, k.ignoreIndex);
      expect(firstDifference(simd.confusion, mm.hist.flat()), `${where}: confusion`).toBe(-1);

      // The portable build: the same bits.
      const portable = snapshot(run(getBuilds().portable, k, 'NCHW'));
      for (const key of ['loss', 'sum', 'weightSum'] as const)
        expect(sameBits(portable[key], simd[key]), `${where}: ${key}`).toBe(true);
      expect(firstDifference(portable.pred, simd.pred), `${where}: pred`).toBe(-1);
      for (const key of ['lossMap', 'confidence', 'predConfidence'] as const) {
        expect(firstBitDifference(portable[key], simd[key]), `${where}: ${key} (portable vs SIMD)`).toBe(-1);
      }
      expect(firstDifference(portable.confusion, simd.confusion), `${where}: confusion`).toBe(-1);

      // NHWC on the transposed logits: the same bits.
      if (k.shape.length >= 3) {
        const nhwc = snapshot(run(getBuilds().simd, k, 'NHWC'));
        for (const key of ['loss', 'sum', 'weightSum'] as const)
          expect(sameBits(nhwc[key], simd[key]), `${where}: NHWC ${key}`).toBe(true);
        expect(firstDifference(nhwc.pred, simd.pred), `${where}: pred`).toBe(-1);
        for (const key of ['lossMap', 'confidence', 'predConfidence'] as const) {
          expect(firstBitDifference(nhwc[key], simd[key]), `${where}: ${key} (NHWC vs NCHW)`).toBe(-1);
        }
        expect(firstDifference(nhwc.confusion, simd.confusion), `${where}: confusion`).toBe(-1);
      }

      // Same kernel pass as crossEntropy: the loss and the maps are crossEntropy's bits.
      const x = getBuilds().simd;
      const r = x.crossEntropy(
        { data: k.logits, shape: k.shape },
        { data: k.ctor.from(k.target), shape: targetShape(k.shape) },
        { ignoreIndex: k.ignoreIndex, ...(k.weight ? { weight: k.weight } : {}), lossMap: true, confidence: true },
      );
      expect(sameBits(r.loss, simd.loss), `${where}: crossEntropy loss ${r.loss} vs score ${simd.loss}`).toBe(true);
      expect(firstBitDifference(r.lossMap.toArray(), simd.lossMap), where).toBe(-1);
      expect(firstBitDifference(r.confidence.toArray(), simd.confidence), where).toBe(-1);
      r.lossMap.dispose();
      r.confidence.dispose();
    }
    expect(getBuilds().simd.memoryStats().liveTensors).toBe(0);
    expect(getBuilds().portable.memoryStats().liveTensors).toBe(0);
  });
});

describe('score: torch.argmax rules, by hand', () => {
  const x = () => getBuilds().simd;
  const one = (row: number[]) => {
    const r = x().score(
      { data: Float32Array.from(row), shape: [1, row.length] },
      { data: new Int32Array([0]), shape: [1] },
      { predConfidence: true },
    );
    const out = { pred: r.pred.data[0]!, p: r.predConfidence.data[0]! };
    r.pred.dispose();
    r.predConfidence.dispose();
    return out;
  };
  it('ties go to the first maximum', () => {
    expect(one([1, 3, 3, 2]).pred).toBe(1);
    expect(one([0, 0, 0, 0]).pred).toBe(0);
    expect(one([0, 0, 0, 0]).p).toBeCloseTo(0.25, 6);
    expect(one([-Infinity, -Infinity, 5, 5]).pred).toBe(2);
  });
  it('NaN is the largest; the first NaN wins; its probability is NaN', () => {
    expect(one([1, NaN, 3, NaN]).pred).toBe(1);
    expect(one([NaN, 9]).pred).toBe(0);
    expect(one([1, NaN, 3]).p).toBeNaN();
  });
  it('+inf is the largest finite-or-not number', () => {
    expect(one([1, Infinity, 3]).pred).toBe(1);
    expect(one([-Infinity, -1]).pred).toBe(1);
  });
  it('also the argmax of ignored pixels (the prediction covers every pixel)', () => {
    const r = x().score(
      { data: Float32Array.from([0, 1, 1, 0]), shape: [1, 2, 2] },
      { data: Uint8Array.from([255, 255]), shape: [1, 2] },
      { ignoreIndex: 255 },
    );
    expect(Array.from(r.pred.data)).toEqual([1, 0]);
    expect(Array.from(r.confusion)).toEqual([0, 0, 0, 0]);
    expect(r.loss).toBeNaN(); // 0 / 0, as PyTorch's mean over no sample
    expect(r.weightSum).toBe(0);
    r.pred.dispose();
  });
});

describe('score: outputs and shapes', () => {
  it('writes into given tensors (uint8 or uint16 pred, float32 maps) and returns them', () => {
    const x = getBuilds().simd;
    using logits = x.tensorFrom(
      Float32Array.from({ length: 2 * 4 * 6 }, (_, i) => Math.sin(i * 1.7)),
      [2, 4, 6],
    );
    using target = x.tensorFrom(
      Uint8Array.from({ length: 12 }, (_, i) => i % 4),
      [2, 6],
    );
    using pred16 = x.tensor('uint16', [2, 6]);
    using lossMap = x.tensor('float32', [2, 6]);
    const r = x.score(logits, target, { pred: pred16, lossMap, confidence: false });
    expect(r.pred).toBe(pred16);
    expect(r.lossMap).toBe(lossMap);
    expect(r.confidence).toBeUndefined();
    expect('predConfidence' in r).toBe(false);
    const ref = referenceArgmax(logits.toArray(), [2, 4, 6]);
    expect(Array.from(pred16.data)).toEqual(Array.from(ref.pred));
    using pred8 = x.tensor('uint8', [2, 6]);
    x.score(logits, target, { pred: pred8 });
    expect(Array.from(pred8.data)).toEqual(Array.from(ref.pred));
    expect(x.memoryStats().liveTensors).toBe(5);
  });

  it('(C) logits with a () target, and (N, C) with (N)', () => {
    const x = getBuilds().portable;
    const r = x.score({ data: Float32Array.from([0, 2, 1]), shape: [3] }, { data: Int32Array.from([1]), shape: [] });
    expect(r.pred.shape).toEqual([]);
    expect(r.pred.data[0]).toBe(1);
    expect(Array.from(r.confusion)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0]);
    r.pred.dispose();
    const r2 = x.score(
      { data: Float32Array.from([0, 2, 1, 5, 0, 0]), shape: [2, 3] },
      { data: Int32Array.from([2, 0]), shape: [2] },
    );
    expect(Array.from(r2.pred.data)).toEqual([1, 0]);
    expect(Array.from(r2.confusion)).toEqual([1, 0, 0, 0, 0, 0, 0, 1, 0]);
    r2.pred.dispose();
  });

  it('a class weight changes the loss, not the confusion matrix', () => {
    const x = getBuilds().simd;
    const logits = { data: Float32Array.from([1, 0, 0, 1, 2, 0]), shape: [1, 3, 2] };
    const target = { data: Uint8Array.from([2, 1]), shape: [1, 2] };
    const a = x.score(logits, target);
    const b = x.score(logits, target, { weight: [1, 1, 3] });
    expect(b.confusion).toEqual(a.confusion);
    expect(b.weightSum).toBe(4);
    expect(b.loss).not.toBe(a.loss);
    a.pred.dispose();
    b.pred.dispose();
  });
});
