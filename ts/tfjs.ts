/**
 * `xent-wasm/tfjs`: xent-wasm's cross-entropy as a TF.js loss with a custom gradient.
 *
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { Xent } from 'xent-wasm';
 * import { crossEntropyLoss } from 'xent-wasm/tfjs';
 *
 * const xent = await Xent.create();
 * const loss = crossEntropyLoss(xent, { ignoreIndex: 255, weight: classWeights });
 * optimizer.minimize(() => loss(labels, model.apply(images) as tf.Tensor4D));
 * ```
 *
 * TF.js is a peer dependency of this entry point only (`@tensorflow/tfjs-core`, which
 * `@tensorflow/tfjs` and `@tensorflow/tfjs-node` bring); the main entry `xent-wasm` never
 * imports it.
 * @packageDocumentation
 */

import * as tf from '@tensorflow/tfjs-core';
import {
  XentDtypeError,
  XentOptionError,
  XentShapeError,
  type Layout,
  type Reduction,
  type ResizeOption,
  type Tensor,
  type Xent,
} from './index.js';

/** Options of {@link crossEntropyLoss}: {@link Xent.crossEntropy}'s loss options, and the layout. */
export interface TfCrossEntropyOptions<R extends Reduction = Reduction> {
  /**
   * Where the class axis of logits of rank ≥ 3 is: `'NHWC'` (**the default here**, TF.js's
   * channels-last `(N, H, W, C)`) or `'NCHW'` (`(N, C, H, W)`). Class-index labels are
   * `(N, H, W)` either way; probability labels and the gradient have the logits' layout.
   */
  layout?: Layout;
  /**
   * Per-class weights (PyTorch `weight`), length C: an array, a Float32Array or a 1-D TF.js
   * tensor (read once, now).
   */
  weight?: Float32Array | readonly number[] | tf.Tensor;
  /** Class index whose pixels are ignored (PyTorch `ignore_index`); default -100; masks often use 255. */
  ignoreIndex?: number;
  /** `'mean'` (default: a scalar), `'sum'` (a scalar) or `'none'` (a tensor of the labels' shape). */
  reduction?: R;
  /** Label smoothing ε in [0, 1] (PyTorch `label_smoothing`); default 0. */
  labelSmoothing?: number;
  /**
   * Resize 4-D logits (`(N, h, w, C)`, or `(N, C, h, w)` with NCHW) to the labels' size
   * `(H, W)` first, fused into the loss (see the core's `resize` option): labels are
   * `(N, H, W)` class indices or `(N, H, W, C)` (NCHW: `(N, C, H, W)`) probabilities at any
   * size, the gradient has the logits' shape and `'none'` returns `(N, H, W)`.
   */
  resize?: ResizeOption;
}

/** What the last call of a {@link TfCrossEntropyLoss} computed (for logging and distributed means). */
export interface TfCrossEntropyStats {
  /**
   * The loss as a float64 number (`'mean'`, `'sum'`; NaN for `'none'`); the returned scalar is
   * its float32 rounding.
   */
  loss: number;
  /** Σ of the per-pixel losses (exact, rounded once to float64). */
  sum: number;
  /** The mean's denominator: Σ weight[label] over non-ignored pixels (the pixel count for probability labels). */
  weightSum: number;
}

/**
 * The loss function made by {@link crossEntropyLoss}: `(labels, logits) => loss`, in the
 * argument order of `tf.losses.softmaxCrossEntropy(onehotLabels, logits)` and of a
 * `tf.LayersModel` loss `(yTrue, yPred)`.
 */
export interface TfCrossEntropyLoss<R extends Reduction = 'mean'> {
  (labels: tf.Tensor, logits: tf.Tensor): R extends 'none' ? tf.Tensor : tf.Scalar;
  /** The loss, `sum` and `weightSum` of the last call (undefined before the first). */
  readonly last: TfCrossEntropyStats | undefined;
  /** Frees the wasm tensors this function keeps between calls (staging buffers). */
  dispose(): void;
}

const OPTION_NAMES = ['layout', 'weight', 'ignoreIndex', 'reduction', 'labelSmoothing', 'resize'] as const;

/**
 * A TF.js loss function `(labels, logits) => loss` whose forward pass is xent-wasm's fused
 * softmax cross-entropy (PyTorch's `nn.CrossEntropyLoss`: every option, class-index or
 * probability labels, NHWC or NCHW) and whose gradient, built with `tf.customGrad`, is the
 * kernel's gradient (computed in the same pass) times the upstream gradient `dy`.
 *
 * - `logits`: a float32 tensor, `(N, H, W, C)` (NHWC, the default) or `(N, C, H, W)` (NCHW);
 *   also `(N, C)` or any `(N, d1..dk, C)`.
 * - `labels`: **int32 class indices** of the loss shape (`(N, H, W)`, `(N)`), with
 *   `ignoreIndex` for unlabelled pixels; or **float32 class probabilities of the logits'
 *   shape** (one-hot or soft labels); or float32 of the loss shape holding whole numbers
 *   (class indices as `tf.data` pipelines often give them), converted to int32.
 * - Returns a scalar for `'mean'` and `'sum'`, a float32 tensor of the loss shape for `'none'`.
 *   The labels get a zero gradient (they are data).
 *
 * **This adapter copies.** TF.js tensors do not live in xent-wasm's memory, so each call
 * reads the logits and labels with `dataSync()` (a GPU read-back on the WebGL backend) into
 * staging tensors in wasm memory, kept and reused between calls, and copies the gradient back
 * into a new TF.js tensor. The core API ({@link Xent.crossEntropy} on tensors you fill in
 * place) has none of these copies. The gradient is only computed while TF.js records
 * gradients (inside `optimizer.minimize`, `tf.grad`, `tf.variableGrads`); otherwise (e.g.
 * evaluation) the call is a forward pass only. With `'none'` the gradient is computed in the
 * backward pass, from `dy`.
 *
 * Options are checked now, with the core's errors ({@link XentOptionError} etc.).
 *
 * @param xent - the xent-wasm instance whose memory holds the staging tensors.
 * @param options - see {@link TfCrossEntropyOptions}.
 */
export function crossEntropyLoss<R extends Reduction = 'mean'>(
  xent: Xent,
  options: TfCrossEntropyOptions<R> = {},
): TfCrossEntropyLoss<R> {
  const x = xent as Partial<Record<'crossEntropy' | 'tensor', unknown>> | null | undefined;
  if (typeof x !== 'object' || x === null || typeof x.crossEntropy !== 'function' || typeof x.tensor !== 'function') {
    throw new XentOptionError(
      `crossEntropyLoss: the first argument must be an Xent instance (await Xent.create()), got ${describe(xent)}`,
    );
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new XentOptionError(`crossEntropyLoss: options must be an object, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      throw new XentOptionError(
        `crossEntropyLoss: unknown option ${JSON.stringify(key)}. Valid options: ${OPTION_NAMES.join(', ')}` +
          (key === 'ignore_index'
            ? ' (did you mean ignoreIndex?)'
            : key === 'label_smoothing'
              ? ' (did you mean labelSmoothing?)'
              : ''),
      );
    }
  }
  const layout: Layout = options.layout ?? 'NHWC';
  const reduction: Reduction = options.reduction ?? 'mean';
  let weight: Float32Array | readonly number[] | undefined;
  if (options.weight instanceof tf.Tensor) {
    if (options.weight.rank !== 1)
      throw new XentShapeError(
        `crossEntropyLoss: options.weight must be 1-D (length C), got shape [${options.weight.shape.join(', ')}]`,
      );
    weight = Float32Array.from(options.weight.dataSync());
  } else if (options.weight !== undefined) {
    weight = options.weight;
  }
  const core = {
    layout,
    ignoreIndex: options.ignoreIndex,
    labelSmoothing: options.labelSmoothing,
    weight,
    resize: options.resize,
  };
  const resized = options.resize !== undefined;
  // Every option checked now, by the core itself, on a one-pixel problem of the right C.
  const c = weight?.length ?? 1;
  const check = xent.crossEntropy(
    { data: new Float32Array(c), shape: resized ? (layout === 'NHWC' ? [1, 1, 1, c] : [1, c, 1, 1]) : [1, c] },
    { data: new Int32Array(1), shape: resized ? [1, 1, 1] : [1] },
    { ...core, reduction },
  );
  if (typeof check.loss === 'object') check.loss.dispose(); // 'none' returned a new tensor

  const staging = new Staging(xent);
  let last: TfCrossEntropyStats | undefined;
  let generation = 0; // bumped whenever the staging tensors get other data

  /** Copies logits and labels into the staging tensors; returns them. */
  const stage = (labels: tf.Tensor, logits: tf.Tensor) => {
    if (logits.dtype !== 'float32') {
      throw new XentDtypeError(
        `crossEntropyLoss: logits must be float32, got a ${logits.dtype} tensor of shape [${logits.shape.join(', ')}]`,
      );
    }
    let kind: 'index' | 'prob';
    if (labels.dtype === 'int32') kind = 'index';
    else if (labels.dtype === 'float32')
      kind = (resized ? labels.rank === 4 : sameShape(labels.shape, logits.shape)) ? 'prob' : 'index';
    else {
      throw new XentDtypeError(
        `crossEntropyLoss: labels must be int32 class indices, or float32 class probabilities of the logits' shape; ` +
          `got ${labels.dtype}`,
      );
    }
    // Allocate first (an allocation may grow the memory and detach older views), then copy.
    const x = staging.get('logits', 'float32', logits.shape);
    const t =
      kind === 'prob' ? staging.get('probs', 'float32', labels.shape) : staging.get('labels', 'int32', labels.shape);
    x.data.set(logits.dataSync() as Float32Array);
    const src = labels.dataSync();
    if (labels.dtype === 'float32' && kind === 'index') {
      const dst = t.data as Int32Array;
      for (let i = 0; i < src.length; i++) {
        const v = src[i]!;
        if (!Number.isInteger(v)) {
          throw new XentDtypeError(
            `crossEntropyLoss: float32 labels of shape [${labels.shape.join(', ')}] (not the logits' shape ` +
              `[${logits.shape.join(', ')}]) ` +
              `are read as class indices, but labels[${i}] = ${v} is not a whole number (use int32 labels, or ` +
              `probabilities of the logits' shape)`,
          );
        }
        dst[i] = v;
      }
    } else {
      t.data.set(src as Float32Array & Int32Array);
    }
    generation++;
    return { x, t };
  };

  const f = (labels: tf.Tensor, logits: tf.Tensor, save: tf.GradSaveFunc) => {
    const recording = isRecording();
    const { x, t } = stage(labels, logits);
    const zeroLabelsGrad = () => tf.zeros(labels.shape, 'float32');
    if (reduction !== 'none') {
      const grad = recording ? staging.get('grad', 'float32', logits.shape) : undefined;
      const r = xent.crossEntropy(x, t, { ...core, reduction, grad });
      last = { loss: r.loss, sum: r.sum, weightSum: r.weightSum };
      if (grad) save([tf.tensor(grad.data.slice(), logits.shape, 'float32')]);
      return {
        value: tf.scalar(r.loss, 'float32'),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const g = saved[0];
          if (g === undefined)
            throw new Error(
              'crossEntropyLoss: the gradient was asked but not recorded ' +
                '(TF.js was not recording gradients in the forward pass)',
            );
          const d = dy.dataSync();
          return [zeroLabelsGrad(), d.length === 1 && d[0] === 1 ? g.clone() : tf.mul(g, dy)];
        },
      };
    }
    // 'none': the loss now; the gradient in the backward pass, with dy as the kernel's gradOutput.
    // (Resized: the labels' resolution.)
    const lossShape = resized
      ? labels.rank === 4
        ? lossShapeOf(labels.shape, layout)
        : [...labels.shape]
      : lossShapeOf(logits.shape, layout);
    const out = staging.get('loss', 'float32', lossShape);
    const r = xent.crossEntropy(x, t, { ...core, reduction: 'none', out });
    last = { loss: NaN, sum: r.sum, weightSum: r.weightSum };
    const myGeneration = generation;
    const value = tf.tensor(out.data.slice(), lossShape, 'float32');
    if (recording) save([labels, logits]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedLabels, savedLogits] = saved as [tf.Tensor, tf.Tensor];
        let staged = { x, t };
        if (generation !== myGeneration || x.disposed || t.disposed) staged = stage(savedLabels, savedLogits);
        const gradOutput = staging.get('dy', 'float32', lossShape);
        const grad = staging.get('grad', 'float32', savedLogits.shape);
        gradOutput.data.set(dy.dataSync() as Float32Array);
        xent.crossEntropy(staged.x, staged.t, {
          ...core,
          reduction: 'none',
          out: staging.get('loss', 'float32', lossShape),
          grad,
          gradOutput,
        });
        return [zeroLabelsGrad(), tf.tensor(grad.data.slice(), savedLogits.shape, 'float32')];
      },
    };
  };
  const custom = tf.customGrad(
    f as unknown as (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      value: tf.Tensor;
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
    },
  );

  const loss = ((labels: tf.Tensor, logits: tf.Tensor) => {
    if (!(labels instanceof tf.Tensor) || !(logits instanceof tf.Tensor)) {
      throw new XentDtypeError(
        'crossEntropyLoss: labels and logits must be TF.js tensors ' +
          '(from the same @tensorflow/tfjs-core as this adapter)',
      );
    }
    return custom(labels, logits);
  }) as TfCrossEntropyLoss<R>;
  Object.defineProperty(loss, 'last', { get: () => last });
  Object.defineProperty(loss, 'dispose', { value: () => staging.dispose() });
  return loss;
}

/** True while TF.js records operations for a gradient (so the backward pass may come). */
/** What a value is, for a message (the core's describeValue is internal to the main entry). */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return typeof value;
}

function isRecording(): boolean {
  const state = (tf.engine() as unknown as { state?: { gradientDepth?: unknown } }).state;
  const depth = state?.gradientDepth;
  return typeof depth === 'number' ? depth > 0 : true; // unknown engine: always compute it
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The shape of the per-sample loss for logits of `shape`. */
function lossShapeOf(shape: readonly number[], layout: Layout): number[] {
  if (shape.length <= 1) return [];
  if (shape.length === 2) return [shape[0]!];
  return layout === 'NHWC' ? shape.slice(0, -1) : [shape[0]!, ...shape.slice(2)];
}

/** Named wasm tensors kept between calls, reallocated when the shape changes. */
class Staging {
  readonly #xent: Xent;
  readonly #slots = new Map<string, Tensor<'float32' | 'int32'>>();

  constructor(xent: Xent) {
    this.#xent = xent;
  }

  get<D extends 'float32' | 'int32'>(name: string, dtype: D, shape: readonly number[]): Tensor<D> {
    const t = this.#slots.get(name);
    if (t !== undefined && !t.disposed && t.dtype === dtype && sameShape(t.shape, shape)) return t as Tensor<D>;
    if (t !== undefined && !t.disposed) t.dispose();
    const n = this.#xent.tensor(dtype, shape);
    this.#slots.set(name, n);
    return n;
  }

  dispose(): void {
    for (const t of this.#slots.values()) if (!t.disposed) t.dispose();
    this.#slots.clear();
  }
}
