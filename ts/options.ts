/**
 * Options of {@link Xent.crossEntropy} and their validation.
 * @module
 */

import type { TargetDType } from './dtype.js';
import { describeValue } from './dtype.js';
import { XentOptionError } from './errors.js';
import type { Tensor } from './tensor.js';

/**
 * How per-sample losses are reduced, as in PyTorch:
 * - `'mean'`: Σ loss / Σ weight[target] over non-ignored samples (the sample count without
 *   `weight`); NaN when there is nothing to average.
 * - `'sum'`: Σ loss.
 * - `'none'`: one loss per sample, shaped like the target.
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
export type TargetInput = Tensor<TargetDType> | PlainTensor<Uint8Array | Uint16Array | Int32Array>;

/**
 * Options of {@link Xent.crossEntropy}, with PyTorch's names (camelCased) and defaults.
 *
 * @typeParam R - the reduction, which decides the type of the returned loss.
 */
export interface CrossEntropyOptions<R extends Reduction = Reduction> {
  /**
   * A manual rescaling weight per class, of length C (PyTorch `weight`). Values must be
   * finite. Default: all ones.
   */
  weight?: Float32Array | readonly number[] | Tensor<'float32'>;
  /**
   * Target value that is ignored: it contributes neither to the loss, nor to the mean's
   * denominator, nor to the gradient (PyTorch `ignore_index`). An integer; default -100.
   * Segmentation masks in uint8 usually use 255.
   */
  ignoreIndex?: number;
  /** `'mean'` (default), `'sum'` or `'none'` (PyTorch `reduction`). See {@link Reduction}. */
  reduction?: R;
  /**
   * Label smoothing ε in [0, 1] (PyTorch `label_smoothing`): the target becomes a mix of the
   * one-hot target (1 − ε) and the uniform distribution (ε / C). Default 0.
   */
  labelSmoothing?: number;
  /**
   * A float32 tensor shaped like the logits, filled with dLoss/dLogits (the whole tensor is
   * written; ignored samples get 0). For `'mean'` and `'sum'` the upstream gradient is 1; for
   * `'none'` it is {@link CrossEntropyOptions.gradOutput}, which is then required. Must not
   * overlap any input.
   */
  grad?: Tensor<'float32'>;
  /**
   * Upstream gradient dOut/dLoss for `reduction: 'none'`, shaped like the loss (= the target's
   * shape). Only with `grad` and `'none'`.
   */
  gradOutput?: Float32Input;
  /**
   * Destination of the per-sample losses for `reduction: 'none'`: a float32 tensor shaped
   * like the target. Without it a new tensor is returned, which the caller disposes.
   */
  out?: Tensor<'float32'>;
}

/** The result of {@link Xent.crossEntropy}. */
export interface CrossEntropyResult<R extends Reduction = Reduction> {
  /**
   * The loss: a number for `'mean'` and `'sum'`; for `'none'` a float32 tensor of the target's
   * shape (`options.out` if given, else a new tensor that the caller must dispose).
   */
  loss: R extends 'none' ? Tensor<'float32'> : number;
  /** Σ of the per-sample losses: the numerator of the mean. */
  sum: number;
  /**
   * Σ weight[target] over non-ignored samples (their count without `weight`): the
   * denominator of the mean. Sum `sum` and `weightSum` over workers and divide for an exact
   * distributed mean.
   */
  weightSum: number;
}

/** The option names, in documentation order. */
export const OPTION_NAMES = ['weight', 'ignoreIndex', 'reduction', 'labelSmoothing', 'grad', 'gradOutput', 'out'] as const;

/** Names people type from PyTorch or by habit, and what they mean here. */
const ALIASES: Readonly<Record<string, string>> = {
  ignore_index: 'ignoreIndex',
  label_smoothing: 'labelSmoothing',
  grad_output: 'gradOutput',
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
};

/** @internal Options after the shape-independent checks. */
export interface NormalizedOptions {
  weight: CrossEntropyOptions['weight'];
  ignoreIndex: number;
  reduction: Reduction;
  labelSmoothing: number;
  grad: unknown;
  gradOutput: unknown;
  out: unknown;
}

/**
 * @internal Checks option names and the scalar options (`ignoreIndex`, `reduction`,
 * `labelSmoothing`); the tensor options are checked against the shapes later.
 */
export function normalizeOptions(options: unknown): NormalizedOptions {
  if (options === undefined || options === null) {
    return { weight: undefined, ignoreIndex: -100, reduction: 'mean', labelSmoothing: 0, grad: undefined, gradOutput: undefined, out: undefined };
  }
  if (typeof options !== 'object' || Array.isArray(options) || ArrayBuffer.isView(options)) {
    throw new XentOptionError(`crossEntropy: options must be an object, got ${describeValue(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      const hint = suggestOption(key);
      throw new XentOptionError(
        `crossEntropy: unknown option ${JSON.stringify(key)}` +
          (hint ? `; did you mean ${JSON.stringify(hint)}?` : '') +
          ` Valid options: ${OPTION_NAMES.join(', ')}.` +
          (hint === 'reduction' && /size_?average|reduce/i.test(key) ? ` (PyTorch deprecated ${key}: use reduction: 'mean' | 'sum' | 'none'.)` : ''),
      );
    }
  }

  const reduction = o['reduction'] ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new XentOptionError(
      `crossEntropy: options.reduction must be 'mean', 'sum' or 'none', got ${describeValue(reduction)}` +
        (typeof reduction === 'string' ? ` (PyTorch: ${reduction} is not a valid value for reduction)` : ''),
    );
  }

  const ignoreIndex = o['ignoreIndex'] ?? -100;
  if (typeof ignoreIndex !== 'number' || !Number.isInteger(ignoreIndex)) {
    throw new XentOptionError(`crossEntropy: options.ignoreIndex must be an integer, got ${describeValue(ignoreIndex)}`);
  }
  if (ignoreIndex < -(2 ** 31) || ignoreIndex > 2 ** 31 - 1) {
    throw new XentOptionError(`crossEntropy: options.ignoreIndex must fit in 32 bits ([-2147483648, 2147483647]), got ${ignoreIndex}`);
  }

  const labelSmoothing = o['labelSmoothing'] ?? 0;
  if (typeof labelSmoothing !== 'number') {
    throw new XentOptionError(`crossEntropy: options.labelSmoothing must be a number in [0, 1], got ${describeValue(labelSmoothing)}`);
  }
  if (Number.isNaN(labelSmoothing) || labelSmoothing < 0 || labelSmoothing > 1) {
    throw new XentOptionError(
      `crossEntropy: options.labelSmoothing: label_smoothing must be between 0.0 and 1.0. Got: ${labelSmoothing}`,
    );
  }

  return {
    weight: o['weight'] as CrossEntropyOptions['weight'],
    ignoreIndex: ignoreIndex === 0 ? 0 : ignoreIndex, // -0 → 0
    reduction,
    labelSmoothing,
    grad: o['grad'],
    gradOutput: o['gradOutput'],
    out: o['out'],
  };
}

/** @internal The option a mistyped name most likely meant, if any. */
export function suggestOption(key: string): string | undefined {
  const alias = ALIASES[key];
  if (alias) return alias;
  const norm = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, '');
  const k = norm(key);
  for (const name of OPTION_NAMES) if (norm(name) === k) return name;
  for (const [a, name] of Object.entries(ALIASES)) if (norm(a) === k) return name;
  let best: string | undefined;
  let bestD = Infinity;
  for (const name of OPTION_NAMES) {
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
