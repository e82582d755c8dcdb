/**
 * Independent plain-JS float64 references for the scoring tests, written from the published
 * definitions, not from ts/ops/score/metrics.ts or the kernel:
 *
 * - `referenceArgmax`: `torch.argmax` over the class axis — the first maximum; a NaN is larger
 *   than anything (the first NaN wins) — and the softmax probability of that class,
 *   `exp(z_p - m) / Σ_c exp(z_c - m)` with m the maximum (NaN whenever the row holds a NaN;
 *   with +inf the row is inf - inf = NaN too, as PyTorch's softmax).
 *
 * - `referenceMmseg`: mmsegmentation's IoU metric, step by step as its Python reads
 *   (`mmseg/evaluation/metrics/iou_metric.py`, `intersect_and_union` and
 *   `total_area_to_metrics`), on flat per-image prediction and label arrays:
 *
 *       mask = label != ignore_index;  pred = pred[mask];  label = label[mask]
 *       intersect = pred[pred == label]
 *       area_intersect = histc(intersect), area_pred_label = histc(pred), area_label = histc(label)
 *       area_union = area_pred_label + area_label - area_intersect
 *     summed over images, then
 *       aAcc = Σ area_intersect / Σ area_label
 *       IoU  = area_intersect / area_union,  Acc = area_intersect / area_label
 *       mIoU = nanmean(IoU), mAcc = nanmean(Acc)
 *
 *   plus FCN's frequency-weighted IoU (`score.py`: freq = hist.sum(1) / hist.sum();
 *   (freq[freq > 0] * iu[freq > 0]).sum()), NaN with no pixels.
 */
import { classAxis, type Layout } from '../../reference/cross-entropy.js';

/** argmax (torch rules) and its softmax probability, per sample, for logits in `layout`. */
export function referenceArgmax(
  logits: ArrayLike<number>,
  shape: readonly number[],
  layout: Layout = 'NCHW',
): { pred: Int32Array; predConfidence: Float64Array } {
  const { N, C, S, at } = classAxis(shape, layout);
  const pred = new Int32Array(N * S);
  const predConfidence = new Float64Array(N * S);
  for (let b = 0; b < N; b++) {
    for (let p = 0; p < S; p++) {
      let best = 0;
      let bestV = logits[at(b, 0, p)]!;
      for (let c = 1; c < C; c++) {
        const v = logits[at(b, c, p)]!;
        if (Number.isNaN(bestV)) break; // the first NaN is the maximum
        if (Number.isNaN(v) || v > bestV) {
          best = c;
          bestV = v;
        }
      }
      let denom = 0;
      for (let c = 0; c < C; c++) denom += Math.exp(logits[at(b, c, p)]! - bestV);
      pred[b * S + p] = best;
      predConfidence[b * S + p] = Math.exp(logits[at(b, best, p)]! - bestV) / denom;
    }
  }
  return { pred, predConfidence };
}

/** One image (or batch) for {@link referenceMmseg}: flat predictions and labels. */
export interface MmsegSample {
  pred: ArrayLike<number>;
  label: ArrayLike<number>;
}

export interface MmsegMetrics {
  aAcc: number;
  IoU: number[];
  Acc: number[];
  mIoU: number;
  mAcc: number;
  fwIoU: number;
  totalAreaIntersect: number[];
  totalAreaUnion: number[];
  totalAreaPredLabel: number[];
  totalAreaLabel: number[];
  /** hist[t][p], FCN's fast_hist, for cross-checking confusion matrices. */
  hist: number[][];
}

/** torch.histc(x, bins=C, min=0, max=C-1) of integer class values in [0, C). */
function histc(xs: readonly number[], C: number): number[] {
  const h = new Array<number>(C).fill(0);
  for (const x of xs) {
    // histc maps [min, max] onto C equal bins; for integers 0..C-1 bin k holds exactly value k.
    const bin = C === 1 ? 0 : Math.min(C - 1, Math.floor(((x - 0) * C) / (C - 1 - 0)));
    h[bin]! += 1;
  }
  return h;
}

function nanmean(xs: readonly number[]): number {
  const ok = xs.filter((x) => !Number.isNaN(x));
  return ok.length === 0 ? NaN : ok.reduce((a, b) => a + b, 0) / ok.length;
}

export function referenceMmseg(samples: readonly MmsegSample[], C: number, ignoreIndex: number): MmsegMetrics {
  const tI = new Array<number>(C).fill(0);
  const tU = new Array<number>(C).fill(0);
  const tP = new Array<number>(C).fill(0);
  const tL = new Array<number>(C).fill(0);
  const hist = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  for (const { pred: predAll, label: labelAll } of samples) {
    const pred: number[] = [];
    const label: number[] = [];
    for (let i = 0; i < labelAll.length; i++) {
      if (labelAll[i] !== ignoreIndex) {
        pred.push(predAll[i]!);
        label.push(labelAll[i]!);
      }
    }
    const intersect = pred.filter((p, i) => p === label[i]);
    const aI = histc(intersect, C);
    const aP = histc(pred, C);
    const aL = histc(label, C);
    for (let c = 0; c < C; c++) {
      tI[c]! += aI[c]!;
      tP[c]! += aP[c]!;
      tL[c]! += aL[c]!;
      tU[c]! += aP[c]! + aL[c]! - aI[c]!;
    }
    for (let i = 0; i < label.length; i++) hist[label[i]!]![pred[i]!]! += 1;
  }
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  const IoU = tI.map((v, c) => v / tU[c]!);
  const Acc = tI.map((v, c) => v / tL[c]!);
  const total = sum(hist.map((r) => sum(r)));
  const freq = hist.map((r) => sum(r) / total);
  // FCN's iu from the histogram: diag / (rowsum + colsum - diag).
  const iu = hist.map((r, c) => r[c]! / (sum(r) + sum(hist.map((q) => q[c]!)) - r[c]!));
  let fw = 0;
  for (let c = 0; c < C; c++) if (freq[c]! > 0) fw += freq[c]! * iu[c]!;
  return {
    aAcc: sum(tI) / sum(tL),
    IoU,
    Acc,
    mIoU: nanmean(IoU),
    mAcc: nanmean(Acc),
    fwIoU: total > 0 ? fw : NaN,
    totalAreaIntersect: tI,
    totalAreaUnion: tU,
    totalAreaPredLabel: tP,
    totalAreaLabel: tL,
    hist,
  };
}

/** |a - b| ≤ tol · max(1, |b|), NaN only with NaN. */
export function close(a: number, b: number, tol = 1e-12): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}
