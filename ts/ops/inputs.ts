/**
 * The input and output types the ops share: tensors or plain data, the layout, and optional
 * per-sample outputs.
 * @module
 */

import type { TargetDType } from '../memory/dtype.js';
import type { Tensor } from '../memory/tensor.js';

/** A tensor given as plain JavaScript data; it is copied into wasm memory for the call. */
export interface PlainTensor<A> {
  /** Row-major data; its length must be the product of `shape`. */
  readonly data: A;
  /** Dims; `[]` for a scalar. */
  readonly shape: readonly number[];
}

/**
 * A tensor of a runtime that produces logits, read by duck typing (xent-wasm does not depend on
 * any of them): ONNX Runtime Web/Node's `ort.Tensor` (e.g. a session's output) and
 * transformers.js's Tensor, which have these three fields. It is copied into wasm memory for
 * the call, like a {@link PlainTensor}.
 *
 * The `type` decides what it may be (any other is an {@link XentDtypeError} that names the
 * supported ones):
 *
 * - `'float32'` (`data` a `Float32Array`): wherever float32 data is accepted: logits, log-probs,
 *   class-probability targets, `gradOutput`, the inputs of `softmax`/`logSoftmax` and their
 *   backward passes.
 * - `'uint8'`, `'uint16'`, `'int32'`: class-index targets.
 * - `'int64'` (`data` a `BigInt64Array`, what ONNX `ArgMax` and most ONNX label tensors are):
 *   class-index targets, converted to int32 for the call; a value outside the int32 range is an
 *   {@link XentDtypeError} (it could not be a class index anyway), and one inside it but not in
 *   `[0, C)` nor `ignoreIndex` is the usual {@link XentTargetError}.
 * - `'float16'` (`data` a `Float16Array`, or, where the engine has none, as in Node 20, a
 *   `Uint16Array` of the half-precision bits, which is what ONNX Runtime gives there): logits of
 *   {@link Xent.crossEntropy}, {@link Xent.crossEntropyAsync}, {@link Xent.score} and
 *   {@link Scorer.update} (see {@link Float16Input}); anywhere else an {@link XentDtypeError}.
 *
 * Its data must be in JavaScript memory: an ONNX Runtime tensor whose `location` is not `'cpu'`
 * (or `'cpu-pinned'`), e.g. one left on the GPU, is an {@link XentDtypeError}; download it first
 * (`await t.getData()`).
 */
export interface RuntimeTensor {
  /** The element type, e.g. `'float32'` or `'int64'`. */
  readonly type: string;
  /** Row-major data, a typed array of `type`. */
  readonly data: unknown;
  /** Dims; `[]` for a scalar. */
  readonly dims: readonly number[];
}

/**
 * A float32 input: a {@link Tensor} (zero-copy), plain data (copied), or a float32
 * {@link RuntimeTensor} such as an ONNX Runtime output (copied).
 */
export type Float32Input = Tensor<'float32'> | PlainTensor<Float32Array> | RuntimeTensor;

/**
 * A `Float16Array`, in the engines that have one (not Node 20), typed by its shape: TypeScript
 * declares `Float16Array` only in its `esnext` library.
 */
export interface Float16ArrayLike extends ArrayBufferView {
  readonly length: number;
  readonly [Symbol.toStringTag]: 'Float16Array';
}

/**
 * Float16 (IEEE half-precision) logits, converted to float32 by the kernel as it reads them:
 * the results (loss, gradient, maps, scores) have the bits of float32 logits holding the same
 * values. Copied in like plain data unless a {@link Tensor}:
 *
 * - a `'float16'` {@link Tensor} (zero-copy; its `data` is a `Uint16Array` of the bits);
 * - `{ data, shape }` with `data` a `Float16Array`, where the engine has one;
 * - `{ data, shape, dtype: 'float16' }` with `data` a `Uint16Array` of the half-precision bits
 *   (without `dtype`, a `Uint16Array` is uint16 class indices);
 * - a `'float16'` {@link RuntimeTensor} (an ONNX Runtime output, say).
 *
 * The gradient is float32, in the logits' shape. Float16 class-probability targets are not
 * accepted (give them as float32). The kernel converts the logits a strip of pixels at a time
 * into float32 scratch (up to 256 KiB per thread); one pixel takes `4 k C` bytes of it (`k` = 1,
 * in NCHW plus 1 with a gradient and plus 1 with probability targets), and logits for which
 * that passes 1 MiB (C > 262,144, or 131,072 or 87,381 in those NCHW cases) are an
 * {@link XentDtypeError}.
 */
export type Float16Input =
  | Tensor<'float16'>
  | PlainTensor<Float16ArrayLike>
  | (PlainTensor<Uint16Array> & { readonly dtype: 'float16' })
  | RuntimeTensor;

/** The logits of the loss and scoring ops: float32 ({@link Float32Input}) or float16 ({@link Float16Input}). */
export type LogitsInput = Float32Input | Float16Input;

/**
 * A class-index target: a uint8/uint16/int32 {@link Tensor} (zero-copy), plain data (copied),
 * or a uint8/uint16/int32/int64 {@link RuntimeTensor} (copied; int64 converted to int32).
 */
export type IndexTargetInput = Tensor<TargetDType> | PlainTensor<Uint8Array | Uint16Array | Int32Array> | RuntimeTensor;

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
 * on the transposed data; NHWC costs somewhat more than NCHW (the kernel transposes 16 pixels
 * at a time in registers, up to 256 classes; beyond that it is slower; docs/performance.md has
 * figures). Spelled exactly `'NCHW'` or `'NHWC'` (upper case).
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
