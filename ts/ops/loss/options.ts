/**
 * Options and results of the loss ops, {@link Xent.crossEntropy} and {@link Xent.nllLoss},
 * and their shape-independent checks.
 * @module
 */

import { XentOptionError } from '../../errors.js';
import { describeValue } from '../../memory/dtype.js';
import type { Tensor } from '../../memory/tensor.js';
import type { Float32Input, Layout, OutputRequest, RequestedOutput } from '../inputs.js';
import { checkOptionNames, ignoreIndexOption, layoutOption, optionsObject, outputOption } from '../options/check.js';
import { resizeOption, type NormalizedResize, type ResizeOption } from '../options/resize.js';

/**
 * How per-sample losses are reduced, as in PyTorch:
 * - `'mean'`: Σ loss / Σ weight[target] over non-ignored samples (the sample count without
 *   `weight`) for class-index targets; Σ loss / (N × d1 × ... × dk) for probability targets;
 *   NaN when there is nothing to average.
 * - `'sum'`: Σ loss.
 * - `'none'`: one loss per sample, shaped `(N, d1, ..., dk)` (`(N)`, or `()` for unbatched
 *   logits): the shape of class-index targets.
 */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options shared by {@link Xent.crossEntropy} and {@link Xent.nllLoss}. */
export interface LossOptions<
  R extends Reduction = Reduction,
  M extends OutputRequest | undefined = OutputRequest | undefined,
> {
  /**
   * A manual rescaling weight per class, of length C (PyTorch `weight`). Values must be
   * finite. Default: all ones.
   */
  weight?: Float32Array | readonly number[] | Tensor<'float32'>;
  /**
   * Class-index target value that is ignored: it contributes neither to the loss, nor to the
   * mean's denominator, nor to the gradient (PyTorch `ignore_index`). An integer; default
   * -100. Segmentation masks in uint8 usually use 255. With probability targets only a
   * negative value is accepted (and has no effect), as in PyTorch.
   */
  ignoreIndex?: number;
  /** `'mean'` (default), `'sum'` or `'none'` (PyTorch `reduction`). See {@link Reduction}. */
  reduction?: R;
  /**
   * A float32 tensor shaped like the input (logits or log-probabilities, in their layout),
   * filled with the gradient of the loss w.r.t. that input (the whole tensor is written;
   * ignored samples get 0). For `'mean'` and `'sum'` the upstream gradient is 1; for `'none'`
   * it is {@link LossOptions.gradOutput}, which is then required. Must not overlap any input
   * or other output.
   */
  grad?: Tensor<'float32'>;
  /**
   * Upstream gradient dOut/dLoss for `reduction: 'none'`, shaped like the loss (`(N, d1..dk)`).
   * Only with `grad` and `'none'`.
   */
  gradOutput?: Float32Input;
  /**
   * Destination of the per-sample losses for `reduction: 'none'`: a float32 tensor shaped
   * like the loss. Without it a new tensor is returned, which the caller disposes.
   * (Same as giving a tensor as {@link LossOptions.lossMap}; if both are given they must be
   * the same tensor.)
   */
  out?: Tensor<'float32'>;
  /** Where the class axis is for inputs of rank ≥ 3: `'NCHW'` (default) or `'NHWC'`. See {@link Layout}. */
  layout?: Layout;
  /**
   * Also return the per-sample losses (float32, shaped like the loss of `'none'`: `(N, d1..dk)`,
   * `(N)` or `()`; 0 for ignored samples), computed in the same pass, whatever the reduction:
   * a tensor to write into, or `true` for a new tensor that the caller disposes. With
   * `reduction: 'none'` this is the loss itself (`result.lossMap === result.loss`; a tensor
   * given here is used as {@link LossOptions.out}).
   */
  lossMap?: M;
}

/**
 * Options of {@link Xent.crossEntropy}, with PyTorch's names (camelCased) and defaults, plus
 * the layout and the optional per-sample outputs.
 *
 * @typeParam R - the reduction, which decides the type of the returned loss.
 * @typeParam M - the type of {@link LossOptions.lossMap} (decides `result.lossMap`).
 * @typeParam K - the type of {@link CrossEntropyOptions.confidence} (decides `result.confidence`).
 */
export interface CrossEntropyOptions<
  R extends Reduction = Reduction,
  M extends OutputRequest | undefined = OutputRequest | undefined,
  K extends OutputRequest | undefined = OutputRequest | undefined,
> extends LossOptions<R, M> {
  /**
   * Label smoothing ε in [0, 1] (PyTorch `label_smoothing`): the target becomes a mix of the
   * target (1 − ε) and the uniform distribution (ε / C). Default 0.
   */
  labelSmoothing?: number;
  /**
   * Also return, per sample, the softmax probability of its target class (float32, shaped
   * like the loss of `'none'`; 0 for ignored samples), computed in the same pass: a tensor to
   * write into, or `true` for a new tensor that the caller disposes. Class-index targets only.
   */
  confidence?: K;
  /**
   * Resize 4-D logits `(N, C, h, w)` (NHWC: `(N, h, w, C)`) to the target's size `(H, W)` first,
   * fused into the loss: PyTorch's `F.interpolate(logits, size=(H, W), mode, align_corners)`
   * then `F.cross_entropy`, without building the full-resolution logits. The target is
   * `(N, H, W)` class indices or `(N, C, H, W)` probabilities (in the logits' layout), at any
   * size; `grad` has the logits' shape (the gradient w.r.t. the low-resolution logits);
   * `gradOutput`, `lossMap`, `confidence` and `'none'`'s loss have the target's resolution
   * `(N, H, W)`. See {@link ResizeOption}.
   */
  resize?: ResizeOption;
}

/** Options of {@link Xent.nllLoss}: those of {@link LossOptions} (no label smoothing, no confidence). */
export type NllLossOptions<
  R extends Reduction = Reduction,
  M extends OutputRequest | undefined = OutputRequest | undefined,
> = LossOptions<R, M>;

/** The result of {@link Xent.nllLoss} (and the common part of {@link CrossEntropyResult}). */
export interface LossResult<
  R extends Reduction = Reduction,
  M extends OutputRequest | undefined = OutputRequest | undefined,
> {
  /**
   * The loss: a number for `'mean'` and `'sum'`; for `'none'` a float32 tensor of the loss
   * shape (`options.out` or `options.lossMap` if given, else a new tensor that the caller must
   * dispose).
   */
  loss: R extends 'none' ? Tensor<'float32'> : number;
  /** Σ of the per-sample losses: the numerator of the mean. */
  sum: number;
  /**
   * The denominator of the mean: Σ weight[target] over non-ignored samples (their count
   * without `weight`) for class-index targets; the number of samples N × d1 × ... × dk for
   * probability targets (as PyTorch). Sum `sum` and `weightSum` over workers and divide for
   * an exact distributed mean.
   */
  weightSum: number;
  /**
   * The per-sample losses, when {@link LossOptions.lossMap} was given: that tensor, or a new
   * one the caller must dispose (for `'none'`, the same tensor as `loss`).
   */
  lossMap: RequestedOutput<M>;
}

/** The result of {@link Xent.crossEntropy}. */
export interface CrossEntropyResult<
  R extends Reduction = Reduction,
  M extends OutputRequest | undefined = OutputRequest | undefined,
  K extends OutputRequest | undefined = OutputRequest | undefined,
> extends LossResult<R, M> {
  /**
   * The softmax probability of each sample's target class, when
   * {@link CrossEntropyOptions.confidence} was given: that tensor, or a new one the caller
   * must dispose.
   */
  confidence: RequestedOutput<K>;
}

/** The option names of each op, in documentation order. */
export const OPTION_NAMES = [
  'weight',
  'ignoreIndex',
  'reduction',
  'labelSmoothing',
  'grad',
  'gradOutput',
  'out',
  'layout',
  'lossMap',
  'confidence',
  'resize',
] as const;

/** @internal The option names of {@link Xent.nllLoss}. */
export const NLL_OPTION_NAMES = [
  'weight',
  'ignoreIndex',
  'reduction',
  'grad',
  'gradOutput',
  'out',
  'layout',
  'lossMap',
] as const;

/** @internal Which op's options are checked. */
export type OpName = 'crossEntropy' | 'nllLoss';

/** @internal Options after the shape-independent checks. */
export interface NormalizedOptions {
  weight: CrossEntropyOptions['weight'];
  ignoreIndex: number;
  reduction: Reduction;
  labelSmoothing: number;
  grad: unknown;
  gradOutput: unknown;
  out: unknown;
  layout: Layout;
  lossMap: unknown;
  confidence: unknown;
  resize: NormalizedResize | undefined;
}

/**
 * @internal Checks option names and the scalar options (`ignoreIndex`, `reduction`,
 * `labelSmoothing`, `layout`); the tensor options are checked against the shapes later.
 */
export function normalizeOptions(options: unknown, op: OpName = 'crossEntropy'): NormalizedOptions {
  const o = optionsObject(options, op);
  if (op === 'nllLoss') checkOptionNames(o, op, NLL_OPTION_NAMES, { misplaced: notForNllLoss });
  else checkOptionNames(o, op, OPTION_NAMES);

  const reduction = o.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new XentOptionError(
      `${op}: options.reduction must be 'mean', 'sum' or 'none', got ${describeValue(reduction)}` +
        (typeof reduction === 'string' ? ` (PyTorch: ${reduction} is not a valid value for reduction)` : ''),
    );
  }

  const ignoreIndex = ignoreIndexOption(o.ignoreIndex, op);

  const labelSmoothing = o.labelSmoothing ?? 0;
  if (typeof labelSmoothing !== 'number') {
    throw new XentOptionError(
      `${op}: options.labelSmoothing must be a number in [0, 1], got ${describeValue(labelSmoothing)}`,
    );
  }
  if (Number.isNaN(labelSmoothing) || labelSmoothing < 0 || labelSmoothing > 1) {
    throw new XentOptionError(
      `${op}: options.labelSmoothing: label_smoothing must be between 0.0 and 1.0. Got: ${labelSmoothing}`,
    );
  }

  return {
    weight: o.weight as CrossEntropyOptions['weight'],
    ignoreIndex,
    reduction,
    labelSmoothing,
    grad: o.grad,
    gradOutput: o.gradOutput,
    out: o.out,
    layout: layoutOption(o.layout, op),
    lossMap: outputOption(o.lossMap),
    confidence: outputOption(o.confidence),
    resize: resizeOption(o.resize, op),
  };
}

/** crossEntropy's options that nllLoss does not take, and why (as PyTorch's F.nll_loss). */
function notForNllLoss(key: string): string | undefined {
  if (!(OPTION_NAMES as readonly string[]).includes(key)) return undefined;
  return (
    `option ${JSON.stringify(key)} is not supported by nllLoss (as in PyTorch's F.nll_loss)` +
    (key === 'labelSmoothing' ? '; label smoothing is part of crossEntropy' : '') +
    (key === 'confidence' ? '; the confidence of log-probabilities logp is exp(logp) at the target' : '') +
    '.'
  );
}
