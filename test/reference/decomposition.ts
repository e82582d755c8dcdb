/**
 * Float64 references of the decomposition ops, from PyTorch's definitions (not from the
 * kernel):
 *
 *   softmax(x)_k      = exp(x_k - m) / sum_c exp(x_c - m),      m = max_c x_c
 *   log_softmax(x)_k  = x_k - m - log(sum_c exp(x_c - m))
 *   softmax backward      gx_k = y_k * (gy_k - sum_c gy_c * y_c)   (y = softmax(x))
 *   log_softmax backward  gx_k = gy_k - exp(y_k) * sum_c gy_c      (y = log_softmax(x))
 *   nll_loss          loss_i = -w[t_i] * logp[i, t_i] (0 when ignored); mean = sum / sum w[t_i];
 *                     dloss/dlogp[i, t_i] = -w[t_i] * g_i (g_i = 1/W, 1 or gradOutput_i)
 *
 * A NaN anywhere in a softmax row makes the whole row NaN, as in PyTorch.
 */
import { ReferenceTargetError, classAxis, type Layout, type Reduction } from './cross-entropy.js';

/** `[outer, C, inner]` around `dim` (PyTorch's dim rules; a scalar is [1, 1, 1]). */
export function aroundDim(shape: readonly number[], dim: number): { outer: number; C: number; inner: number } {
  if (shape.length === 0) return { outer: 1, C: 1, inner: 1 };
  const d = dim < 0 ? dim + shape.length : dim;
  const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);
  return { outer: prod(shape.slice(0, d)), C: shape[d]!, inner: prod(shape.slice(d + 1)) };
}

function forEachRow(shape: readonly number[], dim: number, f: (at: (c: number) => number, C: number) => void): void {
  const { outer, C, inner } = aroundDim(shape, dim);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) f((c) => (o * C + c) * inner + i, C);
}

function rowMax(x: ArrayLike<number>, at: (c: number) => number, C: number): number {
  let m = -Infinity;
  for (let c = 0; c < C; c++) {
    const v = x[at(c)]!;
    m = Number.isNaN(v) || Number.isNaN(m) ? NaN : Math.max(m, v);
  }
  return m;
}

export function referenceSoftmax(
  x: ArrayLike<number>,
  shape: readonly number[],
  dim: number,
  log: boolean,
): Float64Array {
  const y = new Float64Array(x.length);
  forEachRow(shape, dim, (at, C) => {
    const m = rowMax(x, at, C);
    let se = 0;
    for (let c = 0; c < C; c++) se += Math.exp(x[at(c)]! - m);
    const lse = Math.log(se);
    for (let c = 0; c < C; c++) y[at(c)] = log ? x[at(c)]! - m - lse : Math.exp(x[at(c)]! - m) / se;
  });
  return y;
}

export function referenceSoftmaxBackward(
  y: ArrayLike<number>,
  gy: ArrayLike<number>,
  shape: readonly number[],
  dim: number,
  log: boolean,
): Float64Array {
  const gx = new Float64Array(y.length);
  forEachRow(shape, dim, (at, C) => {
    let s = 0;
    for (let c = 0; c < C; c++) s += log ? gy[at(c)]! : gy[at(c)]! * y[at(c)]!;
    for (let c = 0; c < C; c++) gx[at(c)] = log ? gy[at(c)]! - Math.exp(y[at(c)]!) * s : y[at(c)]! * (gy[at(c)]! - s);
  });
  return gx;
}

export interface NllInput {
  logp: ArrayLike<number>;
  shape: readonly number[];
  target: ArrayLike<number>;
  weight?: ArrayLike<number> | null;
  ignoreIndex?: number;
  reduction?: Reduction;
  gradOutput?: ArrayLike<number> | null;
  layout?: Layout;
}

export interface NllOutput {
  loss: number;
  losses: Float64Array;
  sum: number;
  weightSum: number;
  grad: Float64Array | undefined;
  /** The largest finite |dLoss/dlogp|. */
  gradTerms: number;
}

export function referenceNllLoss(input: NllInput): NllOutput {
  const { N, C, S, at } = classAxis(input.shape, input.layout);
  const ignore = input.ignoreIndex ?? -100;
  const reduction = input.reduction ?? 'mean';
  const w = (c: number) => (input.weight ? input.weight[c]! : 1);
  const samples = N * S;
  for (let i = 0; i < samples; i++) {
    const t = input.target[i]!;
    if (t !== ignore && (t < 0 || t >= C)) throw new ReferenceTargetError(t, i);
  }
  const losses = new Float64Array(samples);
  let W = 0;
  let sum = 0;
  for (let b = 0; b < N; b++) {
    for (let p = 0; p < S; p++) {
      const i = b * S + p;
      const t = input.target[i]!;
      if (t === ignore) continue;
      W += w(t);
      losses[i] = -w(t) * input.logp[at(b, t, p)]!;
      sum += losses[i]!;
    }
  }
  const loss = reduction === 'mean' ? sum / W : reduction === 'sum' ? sum : NaN;
  let grad: Float64Array | undefined;
  let gradTerms = 0;
  if (reduction !== 'none' || input.gradOutput) {
    grad = new Float64Array(N * C * S);
    for (let b = 0; b < N; b++) {
      for (let p = 0; p < S; p++) {
        const i = b * S + p;
        const t = input.target[i]!;
        if (t === ignore) continue;
        const g = reduction === 'mean' ? 1 / W : reduction === 'sum' ? 1 : input.gradOutput![i]!;
        grad[at(b, t, p)] = -w(t) * g;
        if (Number.isFinite(grad[at(b, t, p)]!)) gradTerms = Math.max(gradTerms, Math.abs(grad[at(b, t, p)]!));
      }
    }
  }
  return { loss, losses, sum, weightSum: W, grad, gradTerms };
}
