/**
 * segmentationMetrics and the streaming Scorer against an independent float64 reference of
 * mmsegmentation's IoU metric (test/ops/score/score-reference.ts), on seeded random validation sets and
 * on hand-made confusion patterns: absent classes, classes predicted but absent from the
 * target, every pixel ignored, one class, perfect prediction, an ignore index inside [0, C).
 */
import { describe, expect, it } from 'vitest';
import { referenceCrossEntropy } from '../../reference/cross-entropy.js';
import { useBothBuilds, lib } from '../../reference/dist.js';
import { Rng } from '../../reference/rng.js';
import { close, referenceArgmax, referenceMmseg, type MmsegMetrics, type MmsegSample } from './score-reference.js';

const { segmentationMetrics } = lib;

const getBuilds = useBothBuilds();

/** Every metric of `m` equals the reference's (same NaNs; |Δ| ≤ 1e-12 relative). */
function expectMmseg(m: lib.SegmentationMetrics, ref: MmsegMetrics, where = ''): void {
  const scalar = (a: number, b: number, what: string) =>
    expect(close(a, b), `${where}${what}: ${a} vs reference ${b}`).toBe(true);
  const array = (a: Float64Array, b: readonly number[], what: string) => {
    expect(a.length, `${where}${what} length`).toBe(b.length);
    for (let i = 0; i < b.length; i++) scalar(a[i]!, b[i]!, `${what}[${i}]`);
  };
  scalar(m.pixelAccuracy, ref.aAcc, 'pixelAccuracy (aAcc)');
  scalar(m.meanIoU, ref.mIoU, 'meanIoU (mIoU)');
  scalar(m.meanClassAccuracy, ref.mAcc, 'meanClassAccuracy (mAcc)');
  scalar(m.frequencyWeightedIoU, ref.fwIoU, 'frequencyWeightedIoU');
  array(m.iou, ref.IoU, 'iou');
  array(m.classAccuracy, ref.Acc, 'classAccuracy');
  array(m.areaIntersect, ref.totalAreaIntersect, 'areaIntersect');
  array(m.areaUnion, ref.totalAreaUnion, 'areaUnion');
  array(m.areaPredLabel, ref.totalAreaPredLabel, 'areaPredLabel');
  array(m.areaLabel, ref.totalAreaLabel, 'areaLabel');
  array(m.confusion, ref.hist.flat(), 'confusion');
  expect(m.pixels, `${where}pixels`).toBe(ref.totalAreaLabel.reduce((a, b) => a + b, 0));
}

/** A confusion matrix from (pred, label) pairs, counted the obvious way. */
function countConfusion(samples: readonly MmsegSample[], C: number, ignore: number): Float64Array {
  const m = new Float64Array(C * C);
  for (const { pred, label } of samples)
    for (let i = 0; i < label.length; i++) if (label[i] !== ignore) m[label[i]! * C + pred[i]!]! += 1;
  return m;
}

describe('segmentationMetrics = mmsegmentation (random predictions)', () => {
  it('300 random sets of images, some classes rare or absent', () => {
    const rng = new Rng(0x10);
    for (let t = 0; t < 300; t++) {
      const C = rng.pick([1, 2, 3, 7, 19, 40]);
      const ignore = rng.pick([255, -1, 0]);
      // Some classes never appear in the labels, some never in the predictions.
      const labelClasses = Array.from({ length: C }, (_, c) => c).filter(() => rng.chance(0.7));
      const predClasses = Array.from({ length: C }, (_, c) => c).filter(() => rng.chance(0.7));
      const draw = (xs: number[]) => (xs.length ? rng.pick(xs) : ignore);
      const samples: MmsegSample[] = Array.from({ length: rng.int(1, 4) }, () => {
        const n = rng.int(0, 300);
        const label = Array.from({ length: n }, () => (rng.chance(0.1) ? ignore : draw(labelClasses)));
        const pred = label.map((l) =>
          rng.chance(0.6) && l >= 0 && l < C ? l : predClasses.length ? rng.pick(predClasses) : rng.int(0, C - 1),
        );
        return { pred, label };
      });
      // A label equal to the ignore index is ignored even when it is a class (ignore = 0).
      const ref = referenceMmseg(samples, C, ignore);
      expectMmseg(
        segmentationMetrics(countConfusion(samples, C, ignore), C),
        ref,
        `case ${t} (C=${C}, ignore ${ignore}): `,
      );
    }
  });
});

describe('segmentationMetrics: hand-made patterns (mmsegmentation edge cases)', () => {
  const cm = (rows: number[][]) => Float64Array.from(rows.flat());

  it('a class in neither prediction nor target: IoU and accuracy NaN, left out of the means', () => {
    const m = segmentationMetrics(
      cm([
        [3, 1, 0],
        [0, 4, 0],
        [0, 0, 0],
      ]),
      3,
    );
    expect(m.iou[0]).toBeCloseTo(3 / 4, 15);
    expect(m.iou[1]).toBeCloseTo(4 / 5, 15);
    expect(m.iou[2]).toBeNaN();
    expect(m.classAccuracy[2]).toBeNaN();
    expect(m.meanIoU).toBeCloseTo((3 / 4 + 4 / 5) / 2, 15);
    expect(m.meanClassAccuracy).toBeCloseTo((3 / 4 + 1) / 2, 15);
    expect(m.pixelAccuracy).toBeCloseTo(7 / 8, 15);
    // torchmetrics' older macro average counted the absent class as 0: (0.75 + 0.8 + 0) / 3.
    expect(m.meanIoU).not.toBeCloseTo((3 / 4 + 4 / 5) / 3, 3);
  });

  it('a class predicted but absent from the target: IoU 0 (counted), accuracy NaN', () => {
    const m = segmentationMetrics(
      cm([
        [2, 2],
        [0, 0],
      ]),
      2,
    );
    expect(Array.from(m.iou)).toEqual([0.5, 0]);
    expect(m.classAccuracy[0]).toBe(0.5);
    expect(m.classAccuracy[1]).toBeNaN();
    expect(m.meanIoU).toBe(0.25);
    expect(m.meanClassAccuracy).toBe(0.5);
    expect(m.frequencyWeightedIoU).toBe(0.5);
  });

  it('every pixel ignored (an all-zero matrix): everything NaN, zero pixels', () => {
    const m = segmentationMetrics(new Float64Array(9), 3);
    expect(m.pixels).toBe(0);
    for (const v of [
      m.pixelAccuracy,
      m.meanIoU,
      m.meanClassAccuracy,
      m.frequencyWeightedIoU,
      ...m.iou,
      ...m.classAccuracy,
    ])
      expect(v).toBeNaN();
  });

  it('one class: everything is 1', () => {
    const m = segmentationMetrics([42], 1);
    expect([
      m.pixelAccuracy,
      m.meanIoU,
      m.meanClassAccuracy,
      m.frequencyWeightedIoU,
      m.iou[0],
      m.classAccuracy[0],
    ]).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('perfect prediction: 1 for the present classes, NaN for the absent one', () => {
    const m = segmentationMetrics(
      cm([
        [5, 0, 0],
        [0, 0, 0],
        [0, 0, 9],
      ]),
      3,
    );
    expect(m.iou[0]).toBe(1);
    expect(m.iou[1]).toBeNaN();
    expect(m.iou[2]).toBe(1);
    expect([m.pixelAccuracy, m.meanIoU, m.meanClassAccuracy, m.frequencyWeightedIoU]).toEqual([1, 1, 1, 1]);
  });

  it('frequency-weighted IoU weights each present class by its pixel share', () => {
    const m = segmentationMetrics(
      cm([
        [6, 2],
        [1, 1],
      ]),
      2,
    );
    const iou0 = 6 / (6 + 2 + 1);
    const iou1 = 1 / (1 + 1 + 2);
    expect(m.frequencyWeightedIoU).toBeCloseTo(0.8 * iou0 + 0.2 * iou1, 15);
  });

  it('rejects a matrix of the wrong size or with bad counts', () => {
    expect(() => segmentationMetrics(new Float64Array(8), 3)).toThrow(lib.XentShapeError);
    expect(() => segmentationMetrics(new Float64Array(4), 0)).toThrow(/positive integer/);
    expect(() => segmentationMetrics([1, -1, 0, 0], 2)).toThrow(/finite and non-negative/);
    expect(() => segmentationMetrics([1, NaN, 0, 0], 2)).toThrow(lib.XentError);
    expect(() => segmentationMetrics([1, Infinity, 0, 0], 2)).toThrow(lib.XentOptionError);
  });
});

/** A validation set: batches of logits (mostly right: target class boosted) and masks. */
function validationSet(seed: number) {
  const rng = new Rng(seed);
  const C = rng.pick([2, 5, 19, 21]);
  const H = rng.int(1, 12);
  const W = rng.int(1, 20);
  const ignore = 255;
  const absent = rng.int(0, C - 1); // never in the masks
  const batches = Array.from({ length: rng.int(1, 6) }, () => {
    const N = rng.int(1, 3);
    const target = new Uint8Array(N * H * W);
    for (let i = 0; i < target.length; i++) {
      let t = rng.int(0, C - 1);
      if (t === absent) t = (t + 1) % C;
      target[i] = rng.chance(0.08) ? ignore : t;
    }
    const logits = new Float32Array(N * C * H * W);
    for (let b = 0; b < N; b++) {
      for (let p = 0; p < H * W; p++) {
        const t = target[b * H * W + p]!;
        for (let c = 0; c < C; c++)
          logits[(b * C + c) * H * W + p] = rng.normal() + (c === t && rng.chance(0.7) ? 3 : 0);
      }
    }
    return { logits, target, shape: [N, C, H, W] };
  });
  return {
    C,
    ignore,
    batches,
    weight: rng.chance(0.5) ? Float32Array.from({ length: C }, () => 0.5 + rng.next()) : undefined,
  };
}

describe('Scorer = mmsegmentation over a validation set', () => {
  it('60 random validation sets, both builds: metrics, loss = Σ sums / Σ weight sums', () => {
    for (let v = 0; v < 60; v++) {
      const seed = 0xa11 + v * 31;
      const { C, ignore, batches, weight } = validationSet(seed);
      const samples: MmsegSample[] = [];
      let refSum = 0;
      let refW = 0;
      for (const b of batches) {
        samples.push({ pred: referenceArgmax(b.logits, b.shape).pred, label: b.target });
        const ce = referenceCrossEntropy({
          logits: b.logits,
          logitsShape: b.shape,
          target: b.target,
          ignoreIndex: ignore,
          weight: weight ?? null,
        });
        refSum += ce.sum;
        refW += ce.weightSum;
      }
      const ref = referenceMmseg(samples, C, ignore);
      const results = (['simd', 'portable'] as const).map((which) => {
        const x = getBuilds()[which];
        using scorer = x.scorer(C, { ignoreIndex: ignore, ...(weight ? { weight } : {}) });
        for (const b of batches)
          scorer.update(
            { data: b.logits, shape: b.shape },
            { data: b.target, shape: [b.shape[0]!, ...b.shape.slice(2)] },
          );
        return scorer.result();
      });
      const [r, p] = results as [lib.ScorerResult, lib.ScorerResult];
      expectMmseg(r, ref, `set ${seed} (C=${C}): `);
      expect(r.updates).toBe(batches.length);
      expect(
        Math.abs(r.loss - refSum / refW) <= 1e-5 * Math.abs(refSum / refW),
        `loss ${r.loss} vs ${refSum / refW}`,
      ).toBe(true);
      expect(r.loss).toBe(r.sum / r.weightSum);
      // Both builds: the same numbers, bit for bit.
      expect(p.loss).toBe(r.loss);
      expect(p.confusion).toEqual(r.confusion);
    }
  });

  it('the totals do not depend on how the set is batched or ordered', () => {
    const x = getBuilds().simd;
    const { C, ignore, batches } = validationSet(77);
    using a = x.scorer(C, { ignoreIndex: ignore });
    using b = x.scorer(C, { ignoreIndex: ignore });
    for (const t of batches)
      a.update({ data: t.logits, shape: t.shape }, { data: t.target, shape: [t.shape[0]!, ...t.shape.slice(2)] });
    for (const t of [...batches].reverse())
      b.update({ data: t.logits, shape: t.shape }, { data: t.target, shape: [t.shape[0]!, ...t.shape.slice(2)] });
    const ra = a.result();
    const rb = b.result();
    expect(rb.sum).toBe(ra.sum);
    expect(rb.weightSum).toBe(ra.weightSum);
    expect(rb.meanIoU).toBe(ra.meanIoU);
    expect(rb.confusion).toEqual(ra.confusion);
    // One score() call per batch, summed by hand: the same confusion matrix.
    const sum = new Float64Array(C * C);
    for (const t of batches) {
      const r = x.score(
        { data: t.logits, shape: t.shape },
        { data: t.target, shape: [t.shape[0]!, ...t.shape.slice(2)] },
        { ignoreIndex: ignore },
      );
      for (const [i, v] of r.confusion.entries()) sum[i]! += v;
      r.pred.dispose();
    }
    expect(ra.confusion).toEqual(sum);
  });

  it('the total is the exact sum of every pixel: the bits of one crossEntropy over the whole set, however it is batched', () => {
    // Class weights [1, -1]: item b has one pixel of loss +1e6 (b even) or -1e6 (b odd) and 15
    // of 1e-4 .. 7e-3. Rounding each batch's sum to float64 would lose the small ones' low bits
    // (the ulp of 1e6 is 1.2e-10) before the big ones cancel; the exact total keeps them.
    const rng = new Rng(0x5c0e);
    const [N, C, H, W] = [6, 2, 4, 4];
    const per = C * H * W;
    const logits = new Float32Array(N * per);
    const target = new Uint8Array(N * H * W);
    for (let b = 0; b < N; b++) {
      for (let p = 0; p < H * W; p++) {
        const at = (k: number) => b * per + k * H * W + p;
        if (p === 0) {
          const t = b % 2; // weight +1 or -1
          target[b * H * W] = t;
          logits[at(t)] = -1e6;
        } else {
          logits[at(0)] = 5 + 4 * rng.next(); // target 0: loss log(1 + e^-x)
        }
      }
    }
    const weight = new Float32Array([1, -1]);
    for (const which of ['simd', 'portable'] as const) {
      const x = getBuilds()[which];
      const whole = x.crossEntropy(
        { data: logits, shape: [N, C, H, W] },
        { data: target, shape: [N, H, W] },
        { weight, reduction: 'sum' },
      );
      expect(whole.sum).toBeGreaterThan(0.05); // the big losses cancel, the small ones add up
      expect(whole.sum).toBeLessThan(1);
      for (const sizes of [[6], [1, 5], [2, 2, 2], [3, 1, 2], [1, 1, 1, 1, 1, 1]]) {
        using scorer = x.scorer(C, { weight });
        let b0 = 0;
        for (const n of sizes) {
          scorer.update(
            { data: logits.subarray(b0 * per, (b0 + n) * per), shape: [n, C, H, W] },
            { data: target.subarray(b0 * H * W, (b0 + n) * H * W), shape: [n, H, W] },
          );
          b0 += n;
        }
        const r = scorer.result();
        expect(r.sum, `${which}, batches ${sizes}`).toBe(whole.sum);
        expect(r.weightSum).toBe(whole.weightSum);
      }
    }
  });

  it('update returns the batch loss; reset forgets everything', () => {
    const x = getBuilds().simd;
    const { C, ignore, batches } = validationSet(5);
    using s = x.scorer(C, { ignoreIndex: ignore });
    const t = batches[0]!;
    const target = { data: t.target, shape: [t.shape[0]!, ...t.shape.slice(2)] };
    const u = s.update({ data: t.logits, shape: t.shape }, target);
    const r = x.crossEntropy({ data: t.logits, shape: t.shape }, target, { ignoreIndex: ignore });
    expect(u.loss).toBe(r.loss);
    expect(u.sum).toBe(r.sum);
    expect(u.pixels).toBe(Array.from(t.target).filter((v) => v !== ignore).length);
    s.reset();
    const e = s.result();
    expect(e.updates).toBe(0);
    expect(e.pixels).toBe(0);
    expect(e.loss).toBeNaN();
    expect(e.meanIoU).toBeNaN();
    s.update({ data: t.logits, shape: t.shape }, target);
    expect(s.result().sum).toBe(u.sum);
  });

  it('all ignored, one class, perfect prediction, through the kernel', () => {
    const x = getBuilds().portable;
    using all = x.scorer(3, { ignoreIndex: 255 });
    all.update(
      { data: new Float32Array(3 * 4), shape: [1, 3, 2, 2] },
      { data: new Uint8Array(4).fill(255), shape: [1, 2, 2] },
    );
    const ra = all.result();
    expect([ra.pixels, ra.weightSum]).toEqual([0, 0]);
    expect(ra.loss).toBeNaN();
    expect(ra.meanIoU).toBeNaN();
    expect(ra.pixelAccuracy).toBeNaN();

    using one = x.scorer(1);
    one.update({ data: Float32Array.from([0.3, -2, 7]), shape: [1, 1, 3] }, { data: new Int32Array(3), shape: [1, 3] });
    const r1 = one.result();
    expect([r1.meanIoU, r1.pixelAccuracy, r1.loss]).toEqual([1, 1, 0]);

    using perfect = x.scorer(4, { layout: 'NHWC' });
    const target = Uint16Array.from([0, 3, 3, 1, 0, 1]);
    const logits = new Float32Array(6 * 4);
    for (const [p, t] of target.entries()) logits[p * 4 + t] = 10; // NHWC: class axis last
    perfect.update({ data: logits, shape: [1, 2, 3, 4] }, { data: target, shape: [1, 2, 3] });
    const rp = perfect.result();
    expect(rp.meanIoU).toBe(1);
    expect(rp.iou[2]).toBeNaN();
    expect(rp.pixelAccuracy).toBe(1);
  });
});
