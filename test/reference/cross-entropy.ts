/**
 * An independent float64 reference of PyTorch's `F.cross_entropy` with class-index targets,
 * written from PyTorch's definition (not from the kernel):
 *
 *   logp = log_softmax(z) over the class dim, via the max-subtracted log-sum-exp in float64
 *   nll_i    = -w[t_i] * logp[i, t_i]                 (0 for ignored samples)
 *   smooth_i = -sum_c w[c] * logp[i, c]               (0 for ignored samples)
 *   loss_i   = (1 - eps) * nll_i + (eps / C) * smooth_i   (the smooth term only when eps > 0)
 *   W        = sum over non-ignored i of w[t_i]        (their count without weight)
 *   mean     = (1 - eps) * (sum nll / W) + (sum smooth / W) * (eps / C)
 *
 * The gradient follows PyTorch's autograd graph: the upstream gradient of each term (1/W for
 * mean, 1 for sum, gradOutput for none) gives dLoss/dlogp, and log_softmax's backward gives
 * dz_k = dlogp_k - softmax_k * sum_c dlogp_c. The order of operations mirrors PyTorch's closely
 * enough that NaN and infinity land in the same places (e.g. 0/0 and 0 * inf).
 */

export type Reduction = 'mean' | 'sum' | 'none';

export interface ReferenceInput {
  /** Flat row-major logits of shape `logitsShape`: (C), (N, C) or (N, C, d1..dk). */
  logits: ArrayLike<number>;
  logitsShape: readonly number[];
  /** Flat class indices, (), (N) or (N, d1..dk). */
  target: ArrayLike<number>;
  weight?: ArrayLike<number> | null;
  ignoreIndex?: number;
  reduction?: Reduction;
  labelSmoothing?: number;
  /** The upstream gradient for reduction 'none' (loss shape). Default: no gradient for 'none'. */
  gradOutput?: ArrayLike<number> | null;
}

export interface ReferenceOutput {
  /** The reduced loss (mean/sum), or NaN for 'none' (see `losses`). */
  loss: number;
  /** Per-sample losses (the 'none' output). */
  losses: Float64Array;
  /** Σ loss_i and W, the numerator and denominator of the mean. */
  sum: number;
  weightSum: number;
  /** dLoss/dLogits, or undefined for 'none' without gradOutput. */
  grad: Float64Array | undefined;
}

export class ReferenceTargetError extends Error {
  constructor(
    readonly value: number,
    readonly index: number,
  ) {
    super(`Target ${value} is out of bounds.`);
  }
}

export function referenceCrossEntropy(input: ReferenceInput): ReferenceOutput {
  const shape = input.logitsShape;
  const unbatched = shape.length === 1;
  const N = unbatched ? 1 : shape[0]!;
  const C = unbatched ? shape[0]! : shape[1]!;
  let S = 1;
  for (let i = 2; i < shape.length; i++) S *= shape[i]!;
  const eps = input.labelSmoothing ?? 0;
  const ignore = input.ignoreIndex ?? -100;
  const reduction = input.reduction ?? 'mean';
  const w = (c: number) => (input.weight ? input.weight[c]! : 1);
  const z = input.logits;
  const samples = N * S;

  // Targets are checked first (PyTorch raises before computing anything).
  for (let i = 0; i < samples; i++) {
    const t = input.target[i]!;
    if (t !== ignore && (t < 0 || t >= C)) throw new ReferenceTargetError(t, i);
  }

  const logp = new Float64Array(N * C * S);
  const nll = new Float64Array(samples);
  const smooth = new Float64Array(samples);
  const live = new Uint8Array(samples);
  let W = 0;
  for (let b = 0; b < N; b++) {
    for (let p = 0; p < S; p++) {
      const at = (c: number) => (b * C + c) * S + p;
      let m = -Infinity;
      for (let c = 0; c < C; c++) {
        const v = z[at(c)]!;
        m = Number.isNaN(v) || Number.isNaN(m) ? NaN : Math.max(m, v);
      }
      let se = 0;
      for (let c = 0; c < C; c++) se += Math.exp(z[at(c)]! - m);
      const lse = m + Math.log(se);
      for (let c = 0; c < C; c++) logp[at(c)] = z[at(c)]! - lse;
      const i = b * S + p;
      const t = input.target[i]!;
      if (t === ignore) continue;
      live[i] = 1;
      W += w(t);
      nll[i] = -w(t) * logp[at(t)]!;
      if (eps > 0) {
        let s = 0;
        for (let c = 0; c < C; c++) s += logp[at(c)]! * w(c);
        smooth[i] = -s;
      }
    }
  }

  const losses = new Float64Array(samples);
  let nllSum = 0;
  let smoothSum = 0;
  let sum = 0;
  for (let i = 0; i < samples; i++) {
    losses[i] = eps > 0 ? (1 - eps) * nll[i]! + smooth[i]! * (eps / C) : nll[i]!;
    nllSum += nll[i]!;
    smoothSum += smooth[i]!;
    sum += losses[i]!;
  }
  let loss: number;
  if (reduction === 'mean') loss = eps > 0 ? (1 - eps) * (nllSum / W) + (smoothSum / W) * (eps / C) : nllSum / W;
  else if (reduction === 'sum') loss = eps > 0 ? (1 - eps) * nllSum + smoothSum * (eps / C) : nllSum;
  else loss = NaN;

  let grad: Float64Array | undefined;
  if (reduction !== 'none' || input.gradOutput) {
    grad = new Float64Array(N * C * S);
    const glogp = new Float64Array(C);
    for (let b = 0; b < N; b++) {
      for (let p = 0; p < S; p++) {
        const at = (c: number) => (b * C + c) * S + p;
        const i = b * S + p;
        glogp.fill(0);
        if (live[i]) {
          const t = input.target[i]!;
          const go = reduction === 'none' ? input.gradOutput![i]! : 1;
          // d loss / d nll_i and d loss / d smooth_i
          const keep = eps > 0 ? 1 - eps : 1;
          const a = reduction === 'mean' ? (go * keep) / W : go * keep;
          glogp[t] = w(t) * -a;
          if (eps > 0) {
            const bs = reduction === 'mean' ? (go / W) * (eps / C) : go * (eps / C);
            for (let c = 0; c < C; c++) glogp[c] = glogp[c]! - w(c) * bs;
          }
        }
        let gsum = 0;
        for (let c = 0; c < C; c++) gsum += glogp[c]!;
        for (let c = 0; c < C; c++) grad[at(c)] = glogp[c]! - Math.exp(logp[at(c)]!) * gsum;
      }
    }
  }
  return { loss, losses, sum, weightSum: W, grad };
}
