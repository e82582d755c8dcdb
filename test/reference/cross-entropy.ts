/**
 * An independent float64 reference of PyTorch's `F.cross_entropy`, written from PyTorch's
 * definition (not from the kernel), for class-index and class-probability targets, in the
 * NCHW and the NHWC layout:
 *
 *   logp = log_softmax(z) over the class dim, via the max-subtracted log-sum-exp in float64
 *
 * Class indices t (PyTorch: nll_loss of log_softmax, plus the smoothing term):
 *   nll_i    = -w[t_i] * logp[i, t_i]                 (0 for ignored samples)
 *   smooth_i = -sum_c w[c] * logp[i, c]               (0 for ignored samples)
 *   loss_i   = (1 - eps) * nll_i + (eps / C) * smooth_i   (the smooth term only when eps > 0)
 *   W        = sum over non-ignored i of w[t_i]        (their count without weight)
 *   mean     = (1 - eps) * (sum nll / W) + (sum smooth / W) * (eps / C)
 *
 * Class probabilities q (PyTorch 1.13's `_cross_entropy_with_prob_targets`):
 *   q'       = q * (1 - eps) + eps / C                 (only when eps > 0)
 *   loss_i   = -sum_c logp[i, c] * q'[i, c] * w[c]
 *   mean     = sum loss / (number of samples N * d1 * ... * dk)
 *
 * The gradient follows PyTorch's autograd graph: the upstream gradient of each term (1/W for
 * mean, 1 for sum, gradOutput for none) gives dLoss/dlogp, and log_softmax's backward gives
 * dz_k = dlogp_k - softmax_k * sum_c dlogp_c. The order of operations mirrors PyTorch's closely
 * enough that NaN and infinity land in the same places (e.g. 0/0, 0 * inf and -inf * 0).
 *
 * Also returned: the per-sample losses (the loss map), the softmax probability of the target
 * class (the confidence map; index targets), and the largest |dLoss/dlogp| term (the scale of
 * the terms that cancel in the gradient, for tolerances where the exact gradient is 0).
 */

export type Reduction = 'mean' | 'sum' | 'none';
export type Layout = 'NCHW' | 'NHWC';

export interface ReferenceInput {
  /**
   * Flat row-major logits of shape `logitsShape`: (C), (N, C), or (N, C, d1..dk) for NCHW and
   * (N, d1..dk, C) for NHWC.
   */
  logits: ArrayLike<number>;
  logitsShape: readonly number[];
  /** Flat class indices, (), (N) or (N, d1..dk); or probabilities in the logits' shape. */
  target: ArrayLike<number>;
  /** Default 'index'. */
  targetKind?: 'index' | 'prob';
  weight?: ArrayLike<number> | null;
  ignoreIndex?: number;
  reduction?: Reduction;
  labelSmoothing?: number;
  /** The upstream gradient for reduction 'none' (loss shape). Default: no gradient for 'none'. */
  gradOutput?: ArrayLike<number> | null;
  /** Default 'NCHW'. */
  layout?: Layout;
}

export interface ReferenceOutput {
  /** The reduced loss (mean/sum), or NaN for 'none' (see `losses`). */
  loss: number;
  /** Per-sample losses (the 'none' output, and the loss map of every reduction). */
  losses: Float64Array;
  /** Σ loss_i and W, the numerator and denominator of the mean. */
  sum: number;
  weightSum: number;
  /** dLoss/dLogits (in the logits' layout), or undefined for 'none' without gradOutput. */
  grad: Float64Array | undefined;
  /** Softmax probability of the target class per sample (0 where ignored); index targets only. */
  confidence: Float64Array | undefined;
  /** The largest finite |dLoss/dlogp| of any sample: the size of the terms that cancel in the gradient. */
  gradTerms: number;
}

export class ReferenceTargetError extends Error {
  constructor(
    readonly value: number,
    readonly index: number,
  ) {
    super(`Target ${value} is out of bounds.`);
  }
}

/** N, C, S and the flat index of (sample b, class c, pixel p) for logits in `layout`. */
export function classAxis(shape: readonly number[], layout: Layout = 'NCHW') {
  const rank = shape.length;
  const nhwc = layout === 'NHWC' && rank >= 3;
  const N = rank === 1 ? 1 : shape[0]!;
  const C = rank === 1 ? shape[0]! : nhwc ? shape[rank - 1]! : shape[1]!;
  let S = 1;
  for (let i = 2; i < rank; i++) S *= nhwc ? shape[i - 1]! : shape[i]!;
  const at = nhwc
    ? (b: number, c: number, p: number) => (b * S + p) * C + c
    : (b: number, c: number, p: number) => (b * C + c) * S + p;
  return { N, C, S, at };
}

/** log_softmax of one sample in float64 (NaN anywhere → NaN everywhere, as PyTorch). */
function logSoftmaxRow(z: (c: number) => number, C: number, logp: Float64Array): void {
  let m = -Infinity;
  for (let c = 0; c < C; c++) {
    const v = z(c);
    m = Number.isNaN(v) || Number.isNaN(m) ? NaN : Math.max(m, v);
  }
  let se = 0;
  for (let c = 0; c < C; c++) se += Math.exp(z(c) - m);
  const lse = m + Math.log(se);
  for (let c = 0; c < C; c++) logp[c] = z(c) - lse;
}

export function referenceCrossEntropy(input: ReferenceInput): ReferenceOutput {
  const { N, C, S, at } = classAxis(input.logitsShape, input.layout);
  const prob = input.targetKind === 'prob';
  const eps = input.labelSmoothing ?? 0;
  const ignore = input.ignoreIndex ?? -100;
  const reduction = input.reduction ?? 'mean';
  const w = (c: number) => (input.weight ? input.weight[c]! : 1);
  const z = input.logits;
  const samples = N * S;

  // Targets are checked first (PyTorch raises before computing anything).
  if (!prob) {
    for (let i = 0; i < samples; i++) {
      const t = input.target[i]!;
      if (t !== ignore && (t < 0 || t >= C)) throw new ReferenceTargetError(t, i);
    }
  }
  // q'[b, c, p] for probability targets.
  const q = (b: number, c: number, p: number) => {
    const v = input.target[at(b, c, p)]!;
    return eps > 0 ? v * (1 - eps) + eps / C : v;
  };

  const logp = new Float64Array(N * C * S);
  const row = new Float64Array(C);
  const nll = new Float64Array(samples);
  const smooth = new Float64Array(samples);
  const losses = new Float64Array(samples);
  const live = new Uint8Array(samples);
  const confidence = prob ? undefined : new Float64Array(samples);
  let W = 0;
  for (let b = 0; b < N; b++) {
    for (let p = 0; p < S; p++) {
      logSoftmaxRow((c) => z[at(b, c, p)]!, C, row);
      for (let c = 0; c < C; c++) logp[at(b, c, p)] = row[c]!;
      const i = b * S + p;
      if (prob) {
        live[i] = 1;
        let s = 0;
        for (let c = 0; c < C; c++) s += row[c]! * q(b, c, p) * w(c);
        losses[i] = -s;
        continue;
      }
      const t = input.target[i]!;
      if (t === ignore) continue;
      live[i] = 1;
      W += w(t);
      confidence![i] = Math.exp(row[t]!);
      nll[i] = -w(t) * row[t]!;
      if (eps > 0) {
        let s = 0;
        for (let c = 0; c < C; c++) s += row[c]! * w(c);
        smooth[i] = -s;
      }
      losses[i] = eps > 0 ? (1 - eps) * nll[i]! + smooth[i]! * (eps / C) : nll[i]!;
    }
  }
  if (prob) W = samples;

  let nllSum = 0;
  let smoothSum = 0;
  let sum = 0;
  for (let i = 0; i < samples; i++) {
    nllSum += nll[i]!;
    smoothSum += smooth[i]!;
    sum += losses[i]!;
  }
  let loss: number;
  if (reduction === 'none') loss = NaN;
  else if (prob) loss = reduction === 'mean' ? sum / W : sum;
  else if (reduction === 'mean') loss = eps > 0 ? (1 - eps) * (nllSum / W) + (smoothSum / W) * (eps / C) : nllSum / W;
  else loss = eps > 0 ? (1 - eps) * nllSum + smoothSum * (eps / C) : nllSum;

  let grad: Float64Array | undefined;
  let gradTerms = 0;
  if (reduction !== 'none' || input.gradOutput) {
    grad = new Float64Array(N * C * S);
    const glogp = new Float64Array(C);
    for (let b = 0; b < N; b++) {
      for (let p = 0; p < S; p++) {
        const i = b * S + p;
        glogp.fill(0);
        if (live[i]) {
          const go = reduction === 'none' ? input.gradOutput![i]! : 1;
          if (prob) {
            const g = reduction === 'mean' ? go / W : go;
            for (let c = 0; c < C; c++) glogp[c] = -(g * w(c)) * q(b, c, p);
          } else {
            const t = input.target[i]!;
            // d loss / d nll_i and d loss / d smooth_i
            const keep = eps > 0 ? 1 - eps : 1;
            const a = reduction === 'mean' ? (go * keep) / W : go * keep;
            glogp[t] = w(t) * -a;
            if (eps > 0) {
              const bs = reduction === 'mean' ? (go / W) * (eps / C) : go * (eps / C);
              for (let c = 0; c < C; c++) glogp[c] = glogp[c]! - w(c) * bs;
            }
          }
          for (let c = 0; c < C; c++)
            if (Number.isFinite(glogp[c]!)) gradTerms = Math.max(gradTerms, Math.abs(glogp[c]!));
        }
        let gsum = 0;
        for (let c = 0; c < C; c++) gsum += glogp[c]!;
        for (let c = 0; c < C; c++) grad[at(b, c, p)] = glogp[c]! - Math.exp(logp[at(b, c, p)]!) * gsum;
      }
    }
  }
  return { loss, losses, sum, weightSum: W, grad, confidence, gradTerms };
}
