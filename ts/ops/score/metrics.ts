/**
 * Segmentation metrics from a confusion matrix, with mmsegmentation's definitions.
 * @module
 */

import { describeValue } from '../../memory/dtype.js';
import { XentOptionError, XentShapeError } from '../../errors.js';

/**
 * Accuracy and IoU metrics of a semantic segmentation, computed in float64 from a C×C
 * confusion matrix (row = target class, column = predicted class, ignored pixels not counted).
 *
 * The definitions are mmsegmentation's (`intersect_and_union` and `total_area_to_metrics` with
 * `metrics=['mIoU']`, then `np.nanmean` for the means), and so are the edge cases:
 *
 * - per class `i`: `areaIntersect[i]` = confusion[i][i], `areaLabel[i]` = row sum (pixels of
 *   target class i), `areaPredLabel[i]` = column sum (pixels predicted as i), `areaUnion[i]` =
 *   `areaPredLabel[i] + areaLabel[i] - areaIntersect[i]`;
 * - `iou[i] = areaIntersect[i] / areaUnion[i]`: **NaN** when the class is in neither the
 *   prediction nor the target (0/0), and 0 when it is predicted but absent from the target;
 * - `classAccuracy[i] = areaIntersect[i] / areaLabel[i]`: NaN when the class is absent from the
 *   target;
 * - `meanIoU` and `meanClassAccuracy`: the mean over the non-NaN classes (`nanmean`); NaN when
 *   every class is NaN (e.g. every pixel ignored);
 * - `pixelAccuracy = Σ areaIntersect / Σ areaLabel` (mmseg's `aAcc`): NaN with no pixels.
 *
 * `frequencyWeightedIoU` is not in mmsegmentation; it is the FCN paper's (Long et al. 2015)
 * `Σ_i (areaLabel[i] / Σ areaLabel) · iou[i]` over the classes present in the target (NaN with
 * no pixels).
 *
 * Counts are float64 here, exact up to 2^53 pixels; mmsegmentation sums `torch.histc` areas in
 * float32, so on very large validation sets its last digits may differ.
 *
 * **torchmetrics** (`multiclass_jaccard_index`, `average='macro'`) differs: a class absent
 * from both prediction and target gets `zero_division` (default 0) instead of NaN in its
 * per-class output (`average='none'`); in releases before the fix of torchmetrics issue #1693
 * that 0 was also averaged into the macro mean (lowering it), later releases give such classes
 * weight 0 in the mean, as here. And an `ignore_index` inside `[0, C)` drops that class from
 * torchmetrics' macro mean altogether, whereas here (as in mmsegmentation) pixels predicted as
 * that class still count against it (its IoU is 0 when it is predicted anywhere, else NaN).
 * torchmetrics also computes in float32.
 */
export interface SegmentationMetrics {
  /** The number of classes C. */
  classes: number;
  /** The number of pixels counted (non-ignored): Σ of the confusion matrix. */
  pixels: number;
  /** Σ areaIntersect / Σ areaLabel: the fraction of counted pixels predicted right (mmseg `aAcc`). */
  pixelAccuracy: number;
  /** Per class: areaIntersect / areaLabel (recall; mmseg `Acc`), NaN for a class absent from the target. */
  classAccuracy: Float64Array;
  /** The mean of the non-NaN {@link SegmentationMetrics.classAccuracy} (mmseg `mAcc`). */
  meanClassAccuracy: number;
  /** Per class: areaIntersect / areaUnion (mmseg `IoU`), NaN for a class in neither prediction nor target. */
  iou: Float64Array;
  /** The mean of the non-NaN {@link SegmentationMetrics.iou} (mmseg `mIoU`). */
  meanIoU: number;
  /** Σ over classes present in the target of (areaLabel / pixels) · iou (FCN's `fwavacc`). */
  frequencyWeightedIoU: number;
  /** Per class: correctly predicted pixels (the diagonal). */
  areaIntersect: Float64Array;
  /** Per class: pixels predicted as or labelled as the class. */
  areaUnion: Float64Array;
  /** Per class: pixels predicted as the class (column sums). */
  areaPredLabel: Float64Array;
  /** Per class: pixels labelled as the class (row sums). */
  areaLabel: Float64Array;
  /** A copy of the C×C confusion matrix, row-major (`confusion[target * C + pred]`). */
  confusion: Float64Array;
}

/**
 * Computes {@link SegmentationMetrics} from a row-major C×C confusion matrix of pixel counts
 * (row = target, column = prediction), such as {@link ScoreResult.confusion} or the sum of
 * several of them. Pure JavaScript; needs no {@link Xent} instance.
 * @throws {@link XentShapeError} when `confusion` does not have `classes²` entries, and
 *   {@link XentOptionError} when an entry is negative or not finite.
 */
export function segmentationMetrics(confusion: ArrayLike<number>, classes: number): SegmentationMetrics {
  if (!Number.isSafeInteger(classes) || classes < 1) {
    throw new XentShapeError(`segmentationMetrics: classes must be a positive integer, got ${describeValue(classes)}`);
  }
  if (confusion === null || typeof confusion !== 'object' || typeof confusion.length !== 'number') {
    throw new XentShapeError(
      `segmentationMetrics: confusion must be an array of ${classes}² numbers, got ${describeValue(confusion)}`,
    );
  }
  const c = classes;
  if (confusion.length !== c * c) {
    throw new XentShapeError(
      `segmentationMetrics: confusion must have classes² = ${c * c} entries (C = ${c}), got ${confusion.length}`,
    );
  }
  const m = Float64Array.from(confusion);
  for (let i = 0; i < m.length; i++) {
    const v = m[i]!;
    if (!(v >= 0) || v === Infinity) {
      throw new XentOptionError(
        `segmentationMetrics: confusion[${Math.floor(i / c)} * C + ${i % c}] = ${confusion[i]}; counts must be ` +
          `finite and non-negative`,
      );
    }
  }
  const areaIntersect = new Float64Array(c);
  const areaLabel = new Float64Array(c);
  const areaPredLabel = new Float64Array(c);
  for (let t = 0; t < c; t++) {
    areaIntersect[t] = m[t * c + t]!;
    for (let p = 0; p < c; p++) {
      const v = m[t * c + p]!;
      areaLabel[t] = areaLabel[t]! + v;
      areaPredLabel[p] = areaPredLabel[p]! + v;
    }
  }
  const areaUnion = new Float64Array(c);
  const iou = new Float64Array(c);
  const classAccuracy = new Float64Array(c);
  let pixels = 0;
  let correct = 0;
  for (let i = 0; i < c; i++) {
    areaUnion[i] = areaPredLabel[i]! + areaLabel[i]! - areaIntersect[i]!;
    iou[i] = areaIntersect[i]! / areaUnion[i]!; // 0/0 = NaN: absent from both
    classAccuracy[i] = areaIntersect[i]! / areaLabel[i]!; // 0/0 = NaN: absent from the target
    pixels += areaLabel[i]!;
    correct += areaIntersect[i]!;
  }
  let fw = 0;
  for (let i = 0; i < c; i++) if (areaLabel[i]! > 0) fw += (areaLabel[i]! / pixels) * iou[i]!;
  return {
    classes: c,
    pixels,
    pixelAccuracy: correct / pixels,
    classAccuracy,
    meanClassAccuracy: nanmean(classAccuracy),
    iou,
    meanIoU: nanmean(iou),
    frequencyWeightedIoU: pixels > 0 ? fw : NaN,
    areaIntersect,
    areaUnion,
    areaPredLabel,
    areaLabel,
    confusion: m,
  };
}

/** The mean of the non-NaN values (NaN when there are none), as `np.nanmean`. */
function nanmean(xs: Float64Array): number {
  let sum = 0;
  let count = 0;
  for (const x of xs) {
    if (!Number.isNaN(x)) {
      sum += x;
      count++;
    }
  }
  return count > 0 ? sum / count : NaN;
}
