/**
 * Options and results of the ops of {@link Xent}, and their validation.
 * @module
 */

import type { TargetDType } from '../../memory/dtype.js';
import { describeValue } from '../../memory/dtype.js';
import { XentOptionError } from '../../errors.js';
import { Tensor } from '../../memory/tensor.js';

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

/** A tensor given as plain JavaScript data; it is copied into wasm memory for the call. */
export interface PlainTensor<A> {
  /** Row-major data; its length must be the product of `shape`. */
  readonly data: A;
  /** Dims; `[]` for a scalar. */
  readonly shape: readonly number[];
}

/** A float32 input: a {@link Tensor} (zero-copy) or plain data (copied). */
export type Float32Input = Tensor<'float32'> | PlainTensor<Float32Array>;

/** A class-index target: a uint8/uint16/int32 {@link Tensor} (zero-copy) or plain data (copied). */
export type IndexTargetInput = Tensor<TargetDType> | PlainTensor<Uint8Array | Uint16Array | Int32Array>;

/**
 * A class-probability ("soft") target: a float32 {@link Tensor} (zero-copy) or plain data
 * (copied), shaped like the logits (in the same layout).
 */
export type ProbTargetInput = Float32Input;

/**
 * The target of {@link Xent.crossEntropy}. Its dtype says what it is, with no other switch:
 *
 * - **uint8, uint16 or int32: class indices**, shaped like the loss: `()` for logits `(C)`,
 *   `(N)` for `(N, C)`, `(N, d1, ..., dk)` for `(N, C, d1, ..., dk)` (NCHW) or
 *   `(N, d1, ..., dk, C)` (NHWC).
 * - **float32: class probabilities**, shaped exactly like the logits (and in their layout).
 *   Rows need not sum to 1 and are not checked (as in PyTorch).
 *
 * A target that fits neither (e.g. an int32 target of the logits' shape, or a float32 target
 * of the class-index shape) is an error that names both readings.
 */
export type TargetInput = IndexTargetInput | ProbTargetInput | Tensor<TargetDType | 'float32'>;

/**
 * Where the class axis is, for logits of rank ≥ 3 (and their gradient and probability targets):
 *
 * - `'NCHW'` (default, PyTorch's): `(N, C, d1, ..., dk)`, the class axis second.
 * - `'NHWC'` (channels-last, TensorFlow's and most image decoders'): `(N, d1, ..., dk, C)`, the
 *   class axis last. Class-index targets, loss maps and confidence maps are `(N, d1, ..., dk)`
 *   either way.
 *
 * For `(C)` and `(N, C)` logits both layouts are the same. Results are bit-identical to NCHW
 * on the transposed data; NHWC takes 1.0–1.5× the time of NCHW (the kernel transposes 16
 * pixels at a time in registers; up to 256 classes, beyond which it is slower). Spelled
 * exactly `'NCHW'` or `'NHWC'` (upper case).
 */
export type Layout = 'NCHW' | 'NHWC';

/**
 * An optional per-sample output: a float32 {@link Tensor} to write into (shaped like the loss
 * of `reduction: 'none'`, i.e. `(N, d1, ..., dk)`, `(N)` or `()`), `true` for a new tensor
 * that the caller must dispose, or `false` (same as leaving it out).
 */
export type OutputRequest = Tensor<'float32'> | boolean;

/**
 * The type of an optional output in a result: `undefined` when it was not requested
 * (`undefined` or `false`), a tensor when it was (a tensor or `true`).
 */
export type RequestedOutput<M> = [M] extends [undefined | false]
  ? undefined
  : undefined extends M
    ? Tensor<'float32'> | undefined
    : false extends M
      ? Tensor<'float32'> | undefined
      : Tensor<'float32'>;

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

/** @internal The option names of the softmax ops. */
export const SOFTMAX_OPTION_NAMES = ['dim', 'out'] as const;

/** Names people type from PyTorch or by habit, and what they mean here. */
const ALIASES: Readonly<Record<string, string>> = {
  ignore_index: 'ignoreIndex',
  label_smoothing: 'labelSmoothing',
  grad_output: 'gradOutput',
  loss_map: 'lossMap',
  weights: 'weight',
  class_weight: 'weight',
  classWeight: 'weight',
  classWeights: 'weight',
  size_average: 'reduction',
  sizeAverage: 'reduction',
  reduce: 'reduction',
  smoothing: 'labelSmoothing',
  ignore: 'ignoreIndex',
  gradient: 'grad',
  output: 'out',
  data_format: 'layout',
  dataFormat: 'layout',
  format: 'layout',
  memory_format: 'layout',
  memoryFormat: 'layout',
  losses: 'lossMap',
  probability: 'confidence',
  probabilities: 'confidence',
  axis: 'dim',
};

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
}

/** @internal Checks that `options` is undefined, null or a plain options object. */
function optionsObject(options: unknown, op: string): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (
    typeof options !== 'object' ||
    Array.isArray(options) ||
    ArrayBuffer.isView(options) ||
    options instanceof Tensor
  ) {
    throw new XentOptionError(`${op}: options must be an object, got ${describeValue(options)}`);
  }
  return options as Record<string, unknown>;
}

/** @internal Rejects unknown option names, with a suggestion. */
function checkNames(o: Record<string, unknown>, op: string, names: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (names.includes(key)) continue;
    if ((OPTION_NAMES as readonly string[]).includes(key) && op === 'nllLoss') {
      throw new XentOptionError(
        `nllLoss: option ${JSON.stringify(key)} is not supported by nllLoss (as in PyTorch's F.nll_loss)` +
          (key === 'labelSmoothing' ? '; label smoothing is part of crossEntropy' : '') +
          (key === 'confidence' ? '; the confidence of log-probabilities logp is exp(logp) at the target' : '') +
          `. Valid options: ${names.join(', ')}.`,
      );
    }
    const hint = suggestOption(key, names);
    throw new XentOptionError(
      `${op}: unknown option ${JSON.stringify(key)}` +
        (hint ? `; did you mean ${JSON.stringify(hint)}?` : '') +
        ` Valid options: ${names.join(', ')}.` +
        (hint === 'reduction' && /size_?average|reduce/i.test(key)
          ? ` (PyTorch deprecated ${key}: use reduction: 'mean' | 'sum' | 'none'.)`
          : ''),
    );
  }
}

/** @internal Parses `options.layout`. */
export function parseLayout(value: unknown, op: string): Layout {
  if (value === undefined) return 'NCHW';
  if (value === 'NCHW' || value === 'NHWC') return value;
  const hint =
    typeof value === 'string' && /^(nchw|nhwc)$/i.test(value)
      ? `; did you mean '${value.toUpperCase()}'? (layouts are spelled in upper case)`
      : typeof value === 'string' && /^(channels_?last|nlc|ndhwc)$/i.test(value)
        ? "; did you mean 'NHWC'? (any channels-last shape (N, d1, ..., dk, C) is 'NHWC')"
        : typeof value === 'string' && /^(channels_?first|ncl|ncdhw)$/i.test(value)
          ? "; did you mean 'NCHW'? (any channels-first shape (N, C, d1, ..., dk) is 'NCHW')"
          : '';
  throw new XentOptionError(
    `${op}: options.layout must be exactly 'NCHW' or 'NHWC', got ${describeValue(value)}${hint}`,
  );
}

/**
 * @internal Checks option names and the scalar options (`ignoreIndex`, `reduction`,
 * `labelSmoothing`, `layout`); the tensor options are checked against the shapes later.
 */
export function normalizeOptions(options: unknown, op: OpName = 'crossEntropy'): NormalizedOptions {
  const o = optionsObject(options, op);
  checkNames(o, op, op === 'nllLoss' ? NLL_OPTION_NAMES : OPTION_NAMES);

  const reduction = o.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new XentOptionError(
      `${op}: options.reduction must be 'mean', 'sum' or 'none', got ${describeValue(reduction)}` +
        (typeof reduction === 'string' ? ` (PyTorch: ${reduction} is not a valid value for reduction)` : ''),
    );
  }

  const ignoreIndex = o.ignoreIndex ?? -100;
  if (typeof ignoreIndex !== 'number' || !Number.isInteger(ignoreIndex)) {
    throw new XentOptionError(`${op}: options.ignoreIndex must be an integer, got ${describeValue(ignoreIndex)}`);
  }
  if (ignoreIndex < -(2 ** 31) || ignoreIndex > 2 ** 31 - 1) {
    throw new XentOptionError(
      `${op}: options.ignoreIndex must fit in 32 bits ([-2147483648, 2147483647]), got ${ignoreIndex}`,
    );
  }

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
    ignoreIndex: ignoreIndex === 0 ? 0 : ignoreIndex, // -0 → 0
    reduction,
    labelSmoothing,
    grad: o.grad,
    gradOutput: o.gradOutput,
    out: o.out,
    layout: parseLayout(o.layout, op),
    lossMap: o.lossMap === false ? undefined : o.lossMap,
    confidence: o.confidence === false ? undefined : o.confidence,
  };
}

/** Options of the softmax ops ({@link Xent.softmax}, {@link Xent.logSoftmax} and their backward). */
export interface SoftmaxOptions {
  /**
   * The dim to normalise over, as in PyTorch: an integer in `[-rank, rank)` (negative counts
   * from the end; for a scalar, 0 or -1). Default: 1 for inputs of rank ≥ 2 (the class dim of
   * NCHW logits), 0 for rank 0 and 1. Pass `dim: -1` for channels-last (NHWC) logits.
   * (PyTorch's deprecated implicit choice differs for rank 3, where it picks 0.)
   */
  dim?: number;
  /**
   * Destination: a float32 tensor of the input's shape in this instance's memory, which must
   * not overlap the inputs. Default: a new tensor, which the caller disposes.
   */
  out?: Tensor<'float32'>;
}

/** @internal Softmax options after the shape-independent checks. */
export interface NormalizedSoftmaxOptions {
  dim: number | undefined;
  out: unknown;
}

/** @internal */
export function normalizeSoftmaxOptions(options: unknown, op: string): NormalizedSoftmaxOptions {
  const o = optionsObject(options, op);
  checkNames(o, op, SOFTMAX_OPTION_NAMES);
  const dim = o.dim;
  if (dim !== undefined && (typeof dim !== 'number' || !Number.isInteger(dim))) {
    throw new XentOptionError(`${op}: options.dim must be an integer, got ${describeValue(dim)}`);
  }
  return { dim: dim as number | undefined, out: o.out };
}

/** @internal The option a mistyped name most likely meant, if any. */
export function suggestOption(key: string, names: readonly string[] = OPTION_NAMES): string | undefined {
  const alias = ALIASES[key];
  if (alias && names.includes(alias)) return alias;
  const norm = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, '');
  const k = norm(key);
  for (const name of names) if (norm(name) === k) return name;
  for (const [a, name] of Object.entries(ALIASES)) if (norm(a) === k && names.includes(name)) return name;
  let best: string | undefined;
  let bestD = Infinity;
  for (const name of names) {
    const d = levenshtein(k, norm(name));
    if (d < bestD) {
      bestD = d;
      best = name;
    }
  }
  return bestD <= Math.max(1, Math.min(3, Math.floor(k.length / 3))) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
