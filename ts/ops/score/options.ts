/**
 * Options and result of {@link Xent.score} (and the options {@link Xent.scorer} shares), and
 * their shape-independent checks.
 * @module
 */

import type { Tensor } from '../../memory/tensor.js';
import type { Layout, OutputRequest, RequestedOutput } from '../inputs.js';
import { checkOptionNames, ignoreIndexOption, layoutOption, optionsObject, outputOption } from '../options/check.js';
import { resizeOption, type NormalizedResize, type ResizeOption } from '../options/resize.js';

/** The dtype of a prediction map: `uint8` for up to 256 classes, else `uint16`. */
export type PredDType = 'uint8' | 'uint16';

/** Options shared by {@link Xent.score} and {@link Xent.scorer}. */
export interface ScoreCommonOptions {
  /**
   * Target value that is ignored (PyTorch's and mmsegmentation's `ignore_index`): such pixels
   * have loss 0, are left out of the mean loss and are not counted in the confusion matrix.
   * An integer; default -100 (segmentation masks usually use 255).
   */
  ignoreIndex?: number;
  /**
   * A rescaling weight per class for the loss (PyTorch `weight`), of length C, finite. It
   * changes the loss and `weightSum` only: the confusion matrix and every metric count pixels.
   */
  weight?: Float32Array | readonly number[] | Tensor<'float32'>;
  /**
   * Where the class axis of logits of rank ≥ 3 is: `'NCHW'` (default, `(N, C, d1, ..., dk)`)
   * or `'NHWC'` (`(N, d1, ..., dk, C)`). The target, the prediction and every map are
   * `(N, d1, ..., dk)` either way; results are bit-identical to NCHW on the transposed logits.
   */
  layout?: Layout;
  /**
   * Score 4-D logits `(N, C, h, w)` (NHWC: `(N, h, w, C)`) against a class-index target
   * `(N, H, W)` of any size: the logits are resized to `(H, W)` on the fly, as PyTorch's
   * `F.interpolate(logits, size=(H, W), mode, align_corners)`, and the prediction, every map, the
   * confusion matrix and the loss are at the target's resolution (the full-resolution logits are
   * never built). For a scorer, the default of each {@link Scorer.update}. See {@link ResizeOption}.
   */
  resize?: ResizeOption;
}

/**
 * Options of {@link Xent.score}. Each optional map is a float32 tensor of the target's shape
 * to write into, `true` for a new tensor that the caller disposes, or `false`/absent.
 * @typeParam M - the type of `lossMap` (decides `result.lossMap`), likewise `K` for
 *   `confidence` and `Q` for `predConfidence`.
 */
export interface ScoreOptions<
  M extends OutputRequest | undefined = OutputRequest | undefined,
  K extends OutputRequest | undefined = OutputRequest | undefined,
  Q extends OutputRequest | undefined = OutputRequest | undefined,
> extends ScoreCommonOptions {
  /** Also return the per-pixel loss (0 where ignored). */
  lossMap?: M;
  /** Also return the softmax probability of each pixel's target class (0 where ignored). */
  confidence?: K;
  /** Also return the softmax probability of each pixel's predicted class (every pixel). */
  predConfidence?: Q;
  /**
   * Where to write the prediction map: a `uint8` (C ≤ 256) or `uint16` tensor of the target's
   * shape. Default: a new tensor (uint8 when C ≤ 256, else uint16) that the caller disposes.
   */
  pred?: Tensor<PredDType>;
}

/** The result of {@link Xent.score}. */
export interface ScoreResult<
  M extends OutputRequest | undefined = OutputRequest | undefined,
  K extends OutputRequest | undefined = OutputRequest | undefined,
  Q extends OutputRequest | undefined = OutputRequest | undefined,
> {
  /** The mean loss, `sum / weightSum` (PyTorch's `reduction='mean'`; NaN when `weightSum` is 0). */
  loss: number;
  /** Σ of the per-pixel losses (summed exactly, rounded once). */
  sum: number;
  /** Σ weight[target] over non-ignored pixels (their count without `weight`). */
  weightSum: number;
  /**
   * The predicted class of every pixel (ignored ones too): the argmax over the class axis, the
   * first maximum on ties, NaN counting as the largest value (as `torch.argmax`). Shaped like
   * the target; `options.pred` if given, else a new tensor the caller must dispose.
   */
  pred: Tensor<PredDType>;
  /** The per-pixel loss, when requested. */
  lossMap: RequestedOutput<M>;
  /** The probability of the target class, when requested. */
  confidence: RequestedOutput<K>;
  /** The probability of the predicted class, when requested. */
  predConfidence: RequestedOutput<Q>;
  /**
   * The C×C confusion matrix of this call, row-major: `confusion[t * C + p]` counts the
   * non-ignored pixels of target class `t` predicted as `p`. A JavaScript array (a copy): add
   * these up over batches (or use {@link Xent.scorer}) and turn them into metrics with
   * {@link segmentationMetrics}.
   */
  confusion: Float64Array;
}

/** @internal The option names of {@link Xent.score}. */
export const SCORE_OPTION_NAMES = [
  'ignoreIndex',
  'weight',
  'layout',
  'lossMap',
  'confidence',
  'predConfidence',
  'pred',
  'resize',
] as const;
/** @internal The option names of {@link Xent.scorer}. */
export const SCORER_OPTION_NAMES = ['ignoreIndex', 'weight', 'layout', 'resize'] as const;

/** @internal Options after the shape-independent checks. */
export interface NormalizedScoreOptions {
  ignoreIndex: number;
  weight: unknown;
  layout: Layout;
  lossMap: unknown;
  confidence: unknown;
  predConfidence: unknown;
  pred: unknown;
  resize: NormalizedResize | undefined;
}

/** @internal Checks option names and the scalar options of `op`. */
export function normalizeScoreOptions(options: unknown, op: 'score' | 'scorer'): NormalizedScoreOptions {
  const o = optionsObject(options, op);
  checkOptionNames(o, op, op === 'score' ? SCORE_OPTION_NAMES : SCORER_OPTION_NAMES, {
    misplaced: (key) =>
      op === 'scorer' && (SCORE_OPTION_NAMES as readonly string[]).includes(key)
        ? `option ${JSON.stringify(key)} is a per-call output of xent.score, not an option of a scorer`
        : undefined,
    hint: (key) => (/^pred_?conf/i.test(key) ? 'predConfidence' : undefined),
  });
  const ignoreIndex = ignoreIndexOption(o.ignoreIndex, op);
  return {
    ignoreIndex,
    weight: o.weight,
    layout: layoutOption(o.layout, op),
    lossMap: outputOption(o.lossMap),
    confidence: outputOption(o.confidence),
    predConfidence: outputOption(o.predConfidence),
    pred: o.pred,
    resize: resizeOption(o.resize, op),
  };
}
