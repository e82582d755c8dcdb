/**
 * Problems with many classes for the accuracy tests (test/ops/loss/cross-entropy.classes.test.ts)
 * and scripts/class-accuracy.ts: logits that are equal, uniform, normal or confident (the target
 * far above the rest, whose small exponentials a float32 sum loses), class-index targets with
 * and without label smoothing, and probability targets, in every form.
 */
import { type Layout, type ReferenceOutput, referenceCrossEntropy } from './cross-entropy.js';
import { Rng } from './rng.js';

/** The forms of the logits. */
export const FORMS = ['(C)', '(N, C)', 'NCHW', 'NHWC'] as const;
export type Form = (typeof FORMS)[number];
/** The target kinds. */
export const KINDS = ['index', 'smooth', 'prob'] as const;
export type Kind = (typeof KINDS)[number];

/** The logit distributions: equal logits, uniform in [-2, 2], normal σ 3, and confident. */
export const DISTS = ['equal', 'uniform', 'normal', 'confident'] as const;
export type Dist = (typeof DISTS)[number];

export interface Problem {
  logits: Float32Array;
  shape: number[];
  target: Int32Array | Float32Array;
  targetShape: number[];
  layout: Layout;
  prob: boolean;
  labelSmoothing: number;
}

/**
 * A problem of `C` classes in `form` ('(C)', '(N, C)', 'NCHW' or 'NHWC'), with logits from
 * `dist` and targets of `kind` ('index', 'smooth': index with label smoothing 0.1, 'prob':
 * random probabilities). Few samples when C is large: the reference is O(N C) in JavaScript.
 */
export function problem(seed: number, C: number, form: Form, dist: Dist, kind: Kind): Problem {
  const r = new Rng(seed * 7919 + C);
  const N = form === '(N, C)' ? (C > 10000 ? 3 : 8) : 1;
  const S = form === '(N, C)' || form === '(C)' ? 1 : C > 10000 ? 2 : 20;
  const samples = N * S;
  const label = Int32Array.from({ length: samples }, () => r.int(0, C - 1));
  // NCHW order first, transposed below for NHWC.
  const nchw = new Float32Array(N * C * S);
  for (let b = 0; b < N; b++)
    for (let p = 0; p < S; p++)
      for (let c = 0; c < C; c++) {
        const i = (b * C + c) * S + p;
        const t = label[b * S + p]!;
        nchw[i] =
          dist === 'equal'
            ? 0.5
            : dist === 'uniform'
              ? r.next() * 4 - 2
              : dist === 'normal'
                ? r.normal() * 3
                : c === t
                  ? 12 + r.next() * 8
                  : r.normal();
      }
  const prob = kind === 'prob';
  let target: Int32Array | Float32Array = label;
  if (prob) {
    const q = new Float32Array(N * C * S);
    for (let b = 0; b < N; b++)
      for (let p = 0; p < S; p++) {
        let sum = 0;
        for (let c = 0; c < C; c++) sum += q[(b * C + c) * S + p] = r.next() ** 4;
        for (let c = 0; c < C; c++) q[(b * C + c) * S + p]! /= sum;
      }
    target = q;
  }
  const nhwc = form === 'NHWC';
  const toNhwc = (a: Float32Array) => {
    const o = new Float32Array(a.length);
    for (let b = 0; b < N; b++)
      for (let c = 0; c < C; c++) for (let p = 0; p < S; p++) o[(b * S + p) * C + c] = a[(b * C + c) * S + p]!;
    return o;
  };
  const [h, w] = S % 4 === 0 ? [4, S / 4] : [1, S];
  const shape = form === '(C)' ? [C] : form === '(N, C)' ? [N, C] : nhwc ? [N, h, w, C] : [N, C, h, w];
  const lossShape = form === '(C)' ? [] : form === '(N, C)' ? [N] : [N, h, w];
  return {
    logits: nhwc ? toNhwc(nchw) : nchw,
    shape,
    target: prob && nhwc ? toNhwc(target as Float32Array) : target,
    targetShape: prob ? shape : lossShape,
    layout: nhwc ? 'NHWC' : 'NCHW',
    prob,
    labelSmoothing: kind === 'smooth' ? 0.1 : 0,
  };
}

/** The float64 reference of `p` with reduction 'sum' (its per-sample losses and gradient). */
export function referenceOf(p: Problem): ReferenceOutput {
  return referenceCrossEntropy({
    logits: p.logits,
    logitsShape: p.shape,
    target: p.target,
    targetKind: p.prob ? 'prob' : 'index',
    layout: p.layout,
    labelSmoothing: p.labelSmoothing,
    reduction: 'sum',
  });
}

/**
 * The target of `p` as an op input: one array type per object (a union of two array types in
 * one object is not one of the ops' input types).
 */
export function targetOf(p: Problem): { data: Float32Array; shape: number[] } | { data: Int32Array; shape: number[] } {
  return p.target instanceof Float32Array
    ? { data: p.target, shape: p.targetShape }
    : { data: p.target, shape: p.targetShape };
}
