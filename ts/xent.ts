/**
 * The {@link Xent} class: one instance of the wasm module with its memory and tensors.
 *
 * Longer than 400 lines because it is the public API's documentation: each method is a thin
 * call into ops/ under the doc comment users read.
 * @module
 */

import { checkExports, heapBase } from './kernel/abi.js';
import { crossEntropyAsyncOp, lossOp } from './ops/loss/op.js';
import {
  DTYPES,
  describeValue,
  dtypeOfArray,
  halfBits,
  isDType,
  type DType,
  type DTypeOf,
  type SupportedTypedArray,
} from './memory/dtype.js';
import { XentDtypeError, XentError, XentForeignTensorError, XentOptionError, XentShapeError } from './errors.js';
import { claimMemory } from './memory/owners.js';
import { load, type LoadOptions } from './loader.js';
import { loadRelaxedBuild, relaxedOption } from './relaxed.js';
import { checkCreateOptions } from './ops/options/create.js';
import type {
  Float16ArrayLike,
  Float32Input,
  IndexTargetInput,
  LogitsInput,
  OutputRequest,
  TargetInput,
} from './ops/inputs.js';
import type {
  CrossEntropyOptions,
  CrossEntropyResult,
  LossResult,
  NllLossOptions,
  Reduction,
} from './ops/loss/options.js';
import type { ScoreOptions, ScoreResult } from './ops/score/options.js';
import { score } from './ops/score/score.js';
import { Scorer, type ScorerOptions } from './ops/score/scorer.js';
import { softmaxOp, type SoftmaxOptions } from './ops/softmax.js';
import { Runtime } from './runtime.js';
import { checkShape, formatShape, shapeSize } from './memory/shape.js';
import {
  isAnyXentTensor,
  SYMBOL_DISPOSE,
  Tensor as TensorClass,
  tensorInternals,
  type Tensor,
} from './memory/tensor.js';
import { otherCopyError } from './ops/args.js';
import { loadThreadsBuild, startThreads, threadsOption, type ThreadOptions } from './threads/start.js';
import { warningSink, type XentWarning } from './warnings.js';

/** Options of {@link Xent.create}. */
export interface XentOptions extends LoadOptions, ThreadOptions {
  /**
   * Also free the memory of tensors that are garbage-collected without {@link Tensor.dispose},
   * with a `FinalizationRegistry`: a safety net for forgotten tensors, not a replacement for
   * `dispose()` or {@link Xent.scope}. Default `false`: explicit disposal is the contract.
   *
   * - **When:** a forgotten tensor is freed at some point after it becomes unreachable, when
   *   the engine collects it, which may be late or never (the garbage collector reacts to the
   *   JavaScript heap, and a tensor object is small however much wasm memory it holds). Until
   *   then {@link Xent.memoryStats} counts it; a loop that forgets large tensors can still grow
   *   the wasm memory (which never shrinks) or run out of it.
   * - **Views:** a typed array taken from `tensor.data` does not keep the tensor alive. Keep a
   *   reference to the tensor for as long as you use its `data`: once the tensor is collected,
   *   its memory may be given to a new tensor, and an old view would then read and write that
   *   one.
   * - Disposed tensors (by `dispose()`, a scope, or {@link Xent.dispose}) are never freed a
   *   second time; a tensor that a pending {@link Xent.crossEntropyAsync} call uses is
   *   referenced by that call, and one that an open {@link Xent.scope} tracks by that scope.
   * - Where `FinalizationRegistry` does not exist, the option does nothing.
   */
  autoFree?: boolean;
  /**
   * Where warnings go: the fallbacks of {@link Xent.create} (`threads` or `relaxed` asked for
   * but not available here) and a worker thread that fails later (see {@link XentWarning.code}).
   *
   * - `undefined` (the default): `console.warn`, once per process (or page) for each code,
   *   prefixed `xent-wasm: `.
   * - A function: called with each warning of this instance, once per occurrence (including
   *   those `create` emits before it resolves), and nothing is printed. It should not throw:
   *   an exception it throws is reported as an uncaught error (as an event listener's, with
   *   `reportError` or a microtask) and changes nothing else.
   * - `null` (or a function that does nothing): no warnings. {@link Xent.threads} and
   *   {@link Xent.relaxed} still say what the instance got.
   *
   * ```ts
   * const xent = await Xent.create({ threads: 4, onWarning: (w) => log.info(w.code, w.message) });
   * ```
   */
  onWarning?: ((warning: XentWarning) => void) | null;
}

/** What {@link Xent.memoryStats} reports. */
export interface MemoryStats {
  /** Bytes held by live allocations (tensors and a small internal block), rounded up to 64. */
  bytesInUse: number;
  /** Size of the wasm memory (`memory.buffer.byteLength`). */
  bytesReserved: number;
  /** Number of tensors not yet disposed. */
  liveTensors: number;
}

/**
 * An instance of the xent wasm module: creates tensors in its memory and computes PyTorch's
 * `nn.CrossEntropyLoss` (loss and gradient) on them, in one fused pass
 * ({@link Xent.crossEntropy}) or decomposed ({@link Xent.logSoftmax}, {@link Xent.nllLoss},
 * {@link Xent.softmax} and their backward ops).
 *
 * ```ts
 * const xent = await Xent.create();
 * try {
 *   // N = 1, C = 2 classes, 2x2 pixels: PyTorch's F.cross_entropy gives 1.0066.
 *   const logits = xent.tensorFrom(new Float32Array([0.12, 0.36, 0.22, 0.66, 0.13, 0.34, 0.52, -0.96]), [1, 2, 2, 2]);
 *   const target = xent.tensorFrom(new Uint8Array([1, 0, 0, 1]), [1, 2, 2]);
 *   const grad = xent.tensor('float32', logits.shape);
 *   const { loss } = xent.crossEntropy(logits, target, { ignoreIndex: 255, grad });
 * } finally {
 *   xent.dispose(); // frees the instance and every tensor it made
 * }
 * ```
 *
 * Instances are independent: each has its own memory (two live instances cannot share one,
 * see {@link Xent.create}), and tensors cannot be shared between them: a tensor of another
 * instance, or of another copy of the library such as `xent-wasm/inline`, is refused with
 * {@link XentForeignTensorError}. Disposing the instance frees all its tensors.
 */
export class Xent {
  readonly #rt: Runtime;

  private constructor(rt: Runtime) {
    this.#rt = rt;
  }

  /**
   * The runtime of `x`, which must be an instance: a method called on anything else (e.g.
   * taken off its instance, `const { crossEntropy } = xent`) is an {@link XentError}, not the
   * engine's TypeError about private fields.
   */
  static #of(x: unknown, what: string): Runtime {
    if (typeof x === 'object' && x !== null && #rt in x) return (x as Xent).#rt;
    throw new XentError(
      `Xent.${what} was called on ${describeValue(x)}, not on an Xent instance: call it as xent.${what}(...) ` +
        `(a method taken off its instance needs .bind(xent))`,
    );
  }

  /**
   * Loads the wasm module (the SIMD build when supported, unless `options.simd` says otherwise)
   * and creates an instance. With `options.threads` > 1, loads the threads build on a shared
   * memory and starts that many worker threads (see {@link ThreadOptions.threads}); where that
   * is not possible it warns (see {@link XentOptions.onWarning}) and runs on one thread
   * ({@link Xent.threads} says which).
   * With `options.relaxed`, loads the relaxed-SIMD build where the engine supports it (faster,
   * not bit-identical to the other builds; see {@link LoadOptions.relaxed}), else warns and
   * loads the normal build ({@link Xent.relaxed} says which).
   *
   * An instance owns its memory: `options.memory` may not be the memory of another live
   * instance (of any copy of xent-wasm in this realm, e.g. `xent-wasm/inline`), whose allocator
   * would hand out the same addresses. It is free again once that instance is disposed (with
   * worker threads, once they have exited: `create` waits for that) or garbage-collected.
   * @throws {@link XentLoadError} when the module cannot be loaded or is not compatible,
   *   {@link XentOptionError} for options that are not an object, an unknown option name, a
   *   non-boolean `simd` or `autoFree`, an `onWarning` that is not a function or null, a bad `threads` or
   *   `minElementsPerThread`, a non-boolean `relaxed`, or `relaxed: true` with `simd: false`;
   *   {@link XentMemoryInUseError} (an XentOptionError) when `options.memory` belongs to another
   *   live instance.
   */
  static async create(options: XentOptions = {}): Promise<Xent> {
    checkCreateOptions(options);
    const warn = warningSink(options.onWarning);
    const { threads, minElements } = threadsOption(options);
    const relaxed = relaxedOption(options);
    // Claimed now, before anything is loaded (instantiating the module writes its data into
    // the memory): a memory another live instance owns is refused.
    const given = options.memory instanceof WebAssembly.Memory ? options.memory : undefined;
    let claim = given ? await claimMemory(given) : undefined;
    try {
      const shared = threads > 1 ? await loadThreadsBuild(options, threads, warn) : undefined;
      // (With threads > 1 this only warns: there is no relaxed threads build.)
      const relaxedBuild =
        relaxed && options.wasm === undefined ? await loadRelaxedBuild(options, threads, warn) : undefined;
      const loaded = shared ?? relaxedBuild ?? (await load(options));
      claim ??= await claimMemory(loaded.memory);
      const exports = checkExports(loaded.instance.exports);
      const rt = new Runtime(exports, loaded.memory, {
        autoFree: options.autoFree ?? false,
        zeroFrom: loaded.createdMemory ? heapBase(exports) : undefined,
        claim,
      });
      claim = undefined; // the runtime releases it when disposed
      if (shared) await startThreads(rt, shared.module, threads, minElements, warn);
      return new Xent(rt);
    } finally {
      claim?.release();
    }
  }

  /**
   * The number of threads that run {@link Xent.crossEntropyAsync} (the worker threads), and
   * {@link Xent.crossEntropy} in Node: 1 without `threads` or when they were not available.
   */
  get threads(): number {
    return Xent.#of(this, 'threads').pool?.size ?? 1;
  }

  /** True when the loaded module is a simd128 build (the SIMD, threads or relaxed-SIMD build). */
  get simd(): boolean {
    return Xent.#of(this, 'simd').simd;
  }

  /**
   * True when the loaded module is the relaxed-SIMD build (`xent-simd-relaxed.wasm`, see
   * {@link LoadOptions.relaxed}): faster, and not bit-identical to the other builds. False when
   * `relaxed` was not asked for, or fell back.
   */
  get relaxed(): boolean {
    return Xent.#of(this, 'relaxed').relaxed;
  }

  /**
   * The wasm memory (`env.memory`) that holds every tensor of this instance (a shared memory,
   * whose `buffer` is a `SharedArrayBuffer`, with threads).
   */
  get memory(): WebAssembly.Memory {
    return Xent.#of(this, 'memory').memory;
  }

  /** True once {@link Xent.dispose} was called. */
  get disposed(): boolean {
    return Xent.#of(this, 'disposed').disposed;
  }

  /**
   * A new zero-filled tensor of `dtype` and `shape` in wasm memory. Dispose it when done.
   * @throws {@link XentShapeError} for an invalid shape, {@link XentDtypeError} for an unknown
   *   dtype, {@link XentOutOfMemoryError} when it does not fit.
   */
  tensor<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    const rt = Xent.#of(this, 'tensor');
    rt.check('tensor');
    if (!isDType(dtype)) {
      throw new XentDtypeError(
        `tensor: dtype must be one of ${Object.keys(DTYPES).join(', ')}; got ${describeValue(dtype)}`,
      );
    }
    return rt.allocTensor(dtype, shape, 'tensor');
  }

  /**
   * A new tensor holding a copy of `data` (a Float32Array, Uint8Array, Uint16Array or
   * Int32Array; the dtype follows; a `Float16Array`, where the engine has one, gives a float16
   * tensor holding its bits). `shape` defaults to `[data.length]`. For float16 data in a
   * `Uint16Array` of half bits, use `xent.tensor('float16', shape)` and set its `data`.
   * @throws {@link XentDtypeError} for another kind of array, {@link XentShapeError} when the
   *   shape does not match the length.
   */
  tensorFrom(data: Float16ArrayLike, shape?: readonly number[]): Tensor<'float16'>;
  tensorFrom<A extends SupportedTypedArray>(data: A, shape?: readonly number[]): Tensor<DTypeOf<A>>;
  tensorFrom(data: SupportedTypedArray | Float16ArrayLike, shape?: readonly number[]): Tensor {
    const rt = Xent.#of(this, 'tensorFrom');
    rt.check('tensorFrom');
    const dtype = dtypeOfArray(data);
    if (dtype === undefined) {
      throw new XentDtypeError(
        `tensorFrom: data must be a Float32Array, Uint8Array, Uint16Array or Int32Array (or a Float16Array); got ` +
          describeValue(data),
      );
    }
    const s = shape === undefined ? [data.length] : checkShape(shape, 'tensorFrom');
    if (shapeSize(s) !== data.length) {
      throw new XentShapeError(
        `tensorFrom: data has ${data.length} elements but shape ${formatShape(s)} has ${shapeSize(s)}`,
      );
    }
    // If `data` views this instance's memory, growing it would detach `data`: copy it first.
    const arr = dtype === 'float16' ? halfBits(data) : (data as SupportedTypedArray);
    const src = arr.buffer === rt.memory.buffer ? arr.slice() : arr;
    const t = rt.allocTensor(dtype, s, 'tensorFrom', false) as Tensor;
    (t.data as SupportedTypedArray).set(src);
    return t;
  }

  /**
   * Softmax cross-entropy between `logits` and `target`, with PyTorch's `nn.CrossEntropyLoss`
   * semantics, and optionally its gradient and per-sample outputs, all in one pass.
   *
   * The target's dtype says what it is (see {@link TargetInput}):
   *
   * - **Class indices** (uint8, uint16 or int32), shaped like the loss: logits `(C)` with a
   *   target `()` (shape `[]`); `(N, C)` with `(N)`; `(N, C, d1, ..., dk)` with
   *   `(N, d1, ..., dk)`. Targets are integers in `[0, C)` or `ignoreIndex`.
   * - **Class probabilities** (float32), shaped exactly like the logits. 'mean' divides by
   *   the number of samples N × d1 × ... × dk (as PyTorch); `ignoreIndex` must then be
   *   negative (it has no effect) and `confidence` is not available.
   *
   * With `layout: 'NHWC'` the class axis of logits of rank ≥ 3 is the last one:
   * `(N, d1, ..., dk, C)` (and so for probability targets and the gradient); results are
   * bit-identical to NCHW on the transposed data.
   *
   * With `resize` ({@link CrossEntropyOptions.resize}), 4-D logits `(N, C, h, w)` are resized
   * to the target's `(H, W)` first, fused (PyTorch's `F.interpolate` then `F.cross_entropy`):
   * the target and every per-sample output are at `(H, W)`, the gradient at the logits' shape.
   *
   * Tensors are used in place; plain `{ data, shape }` inputs are copied into scratch memory
   * for the call, and so are the output tensors of ONNX Runtime (`ort.Tensor`) and
   * transformers.js, passed as they are (see {@link RuntimeTensor}: float32 or float16 logits,
   * float32 probabilities, integer class ids including int64). Every argument is checked before
   * the kernel runs, so a call that throws has written nothing (and allocated nothing).
   *
   * With worker threads ({@link XentOptions.threads}), in Node, the call is split into sample
   * ranges run by this thread and the workers at once, this thread blocking (`Atomics.wait`)
   * until they are done; in browsers (whose main thread cannot block), and while an
   * {@link Xent.crossEntropyAsync} call is queued or running, it runs on this thread alone.
   * The results are bit-identical in every case.
   *
   * ```ts
   * using grad = xent.tensor('float32', logits.shape);
   * const { loss, lossMap, confidence } = xent.crossEntropy(logits, labels, {
   *   ignoreIndex: 255, grad, lossMap: true, confidence: true,
   * });
   * // ... lossMap.dispose(); confidence.dispose();
   * ```
   *
   * @param logits - float32 or float16 scores (unnormalised log-probabilities): a Tensor,
   *   `{ data, shape }`, or a {@link RuntimeTensor} such as an ONNX Runtime session's output.
   *   Float16 logits ({@link Float16Input}) are converted by the kernel as it reads them: the
   *   results are bit-identical to float32 logits of the same values.
   * @param target - uint8, uint16 or int32 class indices (or an int64 {@link RuntimeTensor}),
   *   or float32 class probabilities.
   * @param options - see {@link CrossEntropyOptions}.
   * @returns the loss (a number, or a tensor for `reduction: 'none'`), the numerator `sum`
   *   and denominator `weightSum` of the mean, and the requested `lossMap` and `confidence`.
   * @throws {@link XentShapeError}, {@link XentDtypeError}, {@link XentOptionError},
   *   {@link XentTargetError}, {@link XentAliasError}, {@link XentForeignTensorError},
   *   {@link XentDisposedError}, {@link XentOutOfMemoryError}; {@link XentBusyError} for a
   *   tensor a pending {@link Xent.crossEntropyAsync} call uses (see there).
   */
  crossEntropy<
    R extends Reduction = 'mean',
    M extends OutputRequest | undefined = undefined,
    K extends OutputRequest | undefined = undefined,
  >(logits: LogitsInput, target: TargetInput, options?: CrossEntropyOptions<R, M, K>): CrossEntropyResult<R, M, K> {
    return lossOp(
      Xent.#of(this, 'crossEntropy'),
      'crossEntropy',
      logits,
      target,
      options,
    ) as unknown as CrossEntropyResult<R, M, K>;
  }

  /**
   * {@link Xent.crossEntropy} on the worker threads: the same arguments, options and result,
   * as a promise. The call is split into balanced sample ranges, one per thread; their partial
   * sums are exact and merged exactly, so the loss, `sum`, `weightSum` and every gradient, loss
   * map and confidence bit are the same as on one thread, for any number of threads.
   *
   * The arguments are checked, plain inputs copied in, new outputs allocated and the labels
   * validated (with the 'mean' denominator) on the calling thread before this returns; the
   * kernel then runs on the workers while the calling thread is free. Calls are queued: one
   * runs at a time. Disposing the instance rejects the calls in flight with
   * {@link XentDisposedError}. Without threads it runs on the calling thread and resolves at
   * once.
   *
   * Until the promise settles, the call's tensors (inputs and outputs) are protected:
   *
   * - `dispose()` on one of them (e.g. at the end of a `using` block) is allowed: the tensor is
   *   disposed at once, but its memory is freed only when the call settles, so no new tensor
   *   can be given memory the workers still read or write.
   * - Another call may not write them (pass them as `grad`, `out`, a map...), nor read the
   *   outputs this call writes: it throws {@link XentBusyError}. Reading its inputs is fine.
   * - Writes through `tensor.data` (or a view kept from it) cannot be stopped: writing the
   *   call's tensors that way before it settles races with the workers and gives the call
   *   wrong results (it cannot reach any other tensor).
   *
   * ```ts
   * using xent = await Xent.create({ threads: 2 });
   * const { loss } = await xent.crossEntropyAsync(logits, labels, { ignoreIndex: 255, grad });
   * ```
   *
   * @returns a promise of what {@link Xent.crossEntropy} returns; it rejects with the errors
   *   that {@link Xent.crossEntropy} throws, and {@link XentBusyError} for a tensor a pending
   *   call uses.
   */
  crossEntropyAsync<
    R extends Reduction = 'mean',
    M extends OutputRequest | undefined = undefined,
    K extends OutputRequest | undefined = undefined,
  >(
    logits: LogitsInput,
    target: TargetInput,
    options?: CrossEntropyOptions<R, M, K>,
  ): Promise<CrossEntropyResult<R, M, K>> {
    let rt: Runtime;
    try {
      rt = Xent.#of(this, 'crossEntropyAsync');
    } catch (e) {
      return Promise.reject(e);
    }
    return crossEntropyAsyncOp(rt, logits, target, options) as unknown as Promise<CrossEntropyResult<R, M, K>>;
  }

  /**
   * The negative log-likelihood loss of log-probabilities against class indices, with
   * PyTorch's `F.nll_loss` semantics, and optionally its gradient (w.r.t. `logProbs`) and the
   * per-sample losses: `loss_i = -weight[t_i] · logProbs[i, t_i]` (0 when ignored); 'mean'
   * divides by Σ weight[t_i] over the non-ignored samples.
   *
   * With {@link Xent.logSoftmax} it is the decomposition of {@link Xent.crossEntropy} (without
   * label smoothing): `nllLoss(logSoftmax(x), t)` equals `crossEntropy(x, t)`, and chaining
   * `logSoftmaxBackward(logProbs, grad)` gives its gradient (up to float32 rounding; the fused
   * op is faster and rounds less).
   *
   * Shapes, targets, layouts and options as in {@link Xent.crossEntropy}, except that targets
   * are class indices only and there is no `labelSmoothing` or `confidence`. It runs on the
   * calling thread, with or without worker threads.
   *
   * @param logProbs - float32 log-probabilities (e.g. the output of {@link Xent.logSoftmax}).
   * @param target - uint8, uint16 or int32 class indices.
   * @param options - see {@link NllLossOptions}.
   * @throws as {@link Xent.crossEntropy}.
   */
  nllLoss<R extends Reduction = 'mean', M extends OutputRequest | undefined = undefined>(
    logProbs: Float32Input,
    target: IndexTargetInput,
    options?: NllLossOptions<R, M>,
  ): LossResult<R, M> {
    return lossOp(Xent.#of(this, 'nllLoss'), 'nllLoss', logProbs, target, options) as unknown as LossResult<R, M>;
  }

  /**
   * `softmax(x)` along `options.dim`, as PyTorch's `F.softmax(x, dim)`:
   * `exp(x - max) / Σ exp(x - max)`, with NaN in a row giving NaN for the row.
   *
   * Any dim: the input is viewed as `[outer, C, inner]` around it. The default dim is 1 for
   * rank ≥ 2 (the class dim of NCHW logits) and 0 for rank 0 or 1; use `dim: -1` for
   * channels-last data. The softmax ops run on the calling thread, with or without worker
   * threads.
   *
   * @param x - float32 input (a Tensor, or plain data that is copied).
   * @returns `options.out`, or a new float32 tensor of x's shape that the caller disposes.
   * @throws {@link XentOptionError} for a bad `dim`, {@link XentShapeError} /
   *   {@link XentDtypeError} for a bad `out`, {@link XentAliasError} when `out` overlaps `x`,
   *   and the errors of every op for bad tensors.
   */
  softmax(x: Float32Input, options?: SoftmaxOptions): Tensor<'float32'> {
    return softmaxOp(Xent.#of(this, 'softmax'), 'softmax', [x], options);
  }

  /**
   * `log_softmax(x)` along `options.dim`, as PyTorch's `F.log_softmax(x, dim)`:
   * `x - max - log Σ exp(x - max)`. Dims, defaults and errors as {@link Xent.softmax}.
   *
   * @returns `options.out`, or a new float32 tensor of x's shape that the caller disposes.
   */
  logSoftmax(x: Float32Input, options?: SoftmaxOptions): Tensor<'float32'> {
    return softmaxOp(Xent.#of(this, 'logSoftmax'), 'logSoftmax', [x], options);
  }

  /**
   * The backward of {@link Xent.softmax}: from its output `y` and the gradient `gradY` of
   * some loss w.r.t. `y`, the gradient w.r.t. its input, `y · (gradY - Σ gradY · y)` along
   * `dim` (PyTorch's `_softmax_backward_data`). `dim` must be the forward's.
   *
   * @param y - the forward's output (float32).
   * @param gradY - dLoss/dy, of y's shape.
   * @returns `options.out`, or a new float32 tensor of y's shape that the caller disposes.
   * @throws as {@link Xent.softmax}; {@link XentShapeError} when the shapes differ.
   */
  softmaxBackward(y: Float32Input, gradY: Float32Input, options?: SoftmaxOptions): Tensor<'float32'> {
    return softmaxOp(Xent.#of(this, 'softmaxBackward'), 'softmaxBackward', [y, gradY], options);
  }

  /**
   * The backward of {@link Xent.logSoftmax}: from its output `y` (log-probabilities) and the
   * gradient `gradY` w.r.t. `y`, the gradient w.r.t. its input, `gradY - exp(y) · Σ gradY`
   * along `dim` (PyTorch's `_log_softmax_backward_data`). `dim` must be the forward's.
   *
   * @param y - the forward's output: float32 log-probabilities (≤ 0).
   * @param gradY - dLoss/dy, of y's shape (e.g. the `grad` of {@link Xent.nllLoss}).
   * @returns `options.out`, or a new float32 tensor of y's shape that the caller disposes.
   * @throws as {@link Xent.softmaxBackward}.
   */
  logSoftmaxBackward(y: Float32Input, gradY: Float32Input, options?: SoftmaxOptions): Tensor<'float32'> {
    return softmaxOp(Xent.#of(this, 'logSoftmaxBackward'), 'logSoftmaxBackward', [y, gradY], options);
  }

  /**
   * Scores a segmentation model's output against ground-truth class indices in one pass over
   * the logits: the mean cross-entropy loss (as {@link Xent.crossEntropy} with
   * `reduction: 'mean'`), the argmax prediction map, optionally the per-pixel loss, the
   * probability of the target class and of the predicted class, and the C×C confusion matrix
   * of the non-ignored pixels (turn it into accuracy and IoU with {@link segmentationMetrics};
   * for a whole validation set use {@link Xent.scorer}).
   *
   * Shapes and layouts as {@link Xent.crossEntropy}; the target must be class indices (uint8,
   * uint16 or int32). The prediction is `argmax` over the classes (the first maximum on ties,
   * NaN counting as the largest, as `torch.argmax`), uint8 when C ≤ 256, else uint16. Every
   * argument is checked before the kernel runs: a call that throws has written nothing. It
   * runs on the calling thread, with or without worker threads.
   *
   * ```ts
   * const { loss, pred, lossMap, confusion } = xent.score(logits, mask, { ignoreIndex: 255, lossMap: true });
   * const { meanIoU } = segmentationMetrics(confusion, C);
   * pred.dispose(); lossMap.dispose();
   * ```
   *
   * @param logits - float32 or float16 ({@link Float16Input}) scores, `(N, C, d1..dk)` (or
   *   `(N, d1..dk, C)` with layout NHWC).
   * @param target - uint8, uint16 or int32 class indices `(N, d1..dk)`.
   * @param options - see {@link ScoreOptions}.
   * @returns see {@link ScoreResult}: new tensors in it (`pred` unless given, maps asked with
   *   `true`) belong to the caller, who disposes them.
   * @throws as {@link Xent.crossEntropy}; {@link XentDtypeError} for a float32 (probability) target.
   */
  score<
    M extends OutputRequest | undefined = undefined,
    K extends OutputRequest | undefined = undefined,
    Q extends OutputRequest | undefined = undefined,
  >(logits: LogitsInput, target: IndexTargetInput, options?: ScoreOptions<M, K, Q>): ScoreResult<M, K, Q> {
    return score(Xent.#of(this, 'score'), logits, target, options) as unknown as ScoreResult<M, K, Q>;
  }

  /**
   * A streaming scorer for `classes` classes: {@link Scorer.update} it batch by batch, then
   * {@link Scorer.result} gives pixel accuracy, per-class accuracy and IoU, mIoU,
   * frequency-weighted IoU, the mean loss and the confusion matrix (mmsegmentation's
   * definitions). Dispose it when done (it holds a little wasm memory).
   *
   * @param classes - the number of classes C (1 to 65536).
   * @param options - `ignoreIndex`, `weight` (copied now) and `layout`, for every update.
   * @throws {@link XentOptionError} for bad options, {@link XentOutOfMemoryError} when the
   *   C×C scratch matrix does not fit.
   */
  scorer(classes: number, options?: ScorerOptions): Scorer {
    return new Scorer(Xent.#of(this, 'scorer'), classes, options);
  }

  /**
   * Runs `fn` and then disposes every tensor of this instance created while it ran (by
   * {@link Xent.tensor}, {@link Xent.tensorFrom}, or as an op's new output: a `lossMap`, a
   * `reduction: 'none'` loss, `pred`, a softmax result...) that it does not return or
   * {@link Xent.keep}, as TF.js's `tf.tidy`. Returns what `fn` returns. It also disposes them
   * when `fn` throws (then nothing is kept but what `keep` kept).
   *
   * - **Returned** means: the value `fn` returns if it is a tensor, and, recursively, the
   *   tensors in the arrays and plain objects (`{ ... }` literals, as the ops' results) it
   *   returns, as elements or own enumerable data properties (getters are not called).
   *   Tensors inside anything else (a Map, a class instance, a closure) are not returned: keep
   *   them, or return them in an array or a plain object.
   * - **Nested scopes:** a tensor returned by an inner scope belongs to the enclosing one,
   *   which disposes it in turn unless it returns or keeps it too.
   * - **Already disposed** tensors (by `dispose()`, or `using`) are skipped; disposing inside a
   *   scope is fine. Tensors created before the scope, of other instances, and a
   *   {@link Scorer}'s memory are not touched. A tensor that a pending
   *   {@link Xent.crossEntropyAsync} call uses is disposed as by `dispose()`: its memory is
   *   freed when the call settles.
   * - **Synchronous only:** `fn` must not return a promise (an `async` function): the scope
   *   ends when `fn` returns, before the rest of an async function runs. A promise is refused
   *   with {@link XentOptionError}, after disposing what was created so far. Await outside
   *   the scope, or use `try/finally` with `dispose()` around an `await`.
   * - With {@link XentOptions.autoFree}, a tensor is not collected while a scope tracks it.
   *
   * ```ts
   * const before = xent.memoryStats().liveTensors;
   * const loss = xent.scope(() => {
   *   const logits = xent.tensorFrom(data, [N, C]); // disposed at the end of the scope
   *   const logProbs = xent.logSoftmax(logits);      // disposed too
   *   return xent.nllLoss(logProbs, labels).loss;    // a number
   * });
   * console.log(loss, xent.memoryStats().liveTensors === before); // ... true
   * ```
   *
   * @param fn - a synchronous function, called with no arguments.
   * @returns what `fn` returns.
   * @throws what `fn` throws; {@link XentOptionError} when `fn` is not a function or returns a
   *   promise; {@link XentDisposedError} when this instance was disposed.
   */
  scope<T>(fn: () => T): T {
    const rt = Xent.#of(this, 'scope');
    rt.check('scope');
    return rt.scopes.run(fn);
  }

  /**
   * Keeps `tensor` past every open {@link Xent.scope}: no scope disposes it; the caller
   * disposes it (as `tf.keep`). Outside a scope, and for a tensor created before the open
   * scopes, it does nothing. Returns `tensor`.
   *
   * ```ts
   * let lossMap: Tensor<'float32'> | undefined;
   * const loss = xent.scope(() => {
   *   const r = xent.crossEntropy(logits, labels, { lossMap: true });
   *   lossMap = xent.keep(r.lossMap); // outlives the scope: dispose it yourself
   *   return r.loss;
   * });
   * ```
   * @throws {@link XentForeignTensorError} for a tensor of another instance or copy of
   *   xent-wasm, {@link XentDtypeError} for anything that is not a tensor.
   */
  keep<D extends DType>(tensor: Tensor<D>): Tensor<D> {
    const rt = Xent.#of(this, 'keep');
    if (!(tensor instanceof TensorClass)) {
      if (isAnyXentTensor(tensor)) throw otherCopyError('keep', tensor);
      throw new XentDtypeError(`keep: expected a Tensor, got ${describeValue(tensor)}`);
    }
    if (tensorInternals(tensor).host !== rt) {
      throw new XentForeignTensorError(
        'keep: this tensor belongs to another Xent instance, whose scopes are its own (keep it with that instance)',
      );
    }
    rt.scopes.forget(tensor);
    return tensor;
  }

  /** Memory use of this instance. */
  memoryStats(): MemoryStats {
    const rt = Xent.#of(this, 'memoryStats');
    return {
      bytesInUse: rt.disposed ? 0 : rt.heap.bytesInUse,
      bytesReserved: rt.memory.buffer.byteLength,
      liveTensors: rt.liveTensors,
    };
  }

  /**
   * Frees every tensor of this instance (they all become disposed) and the instance itself,
   * and terminates its worker threads (pending {@link Xent.crossEntropyAsync} calls reject).
   * Calling it again does nothing. The wasm memory itself cannot shrink; it is released when
   * the instance is garbage-collected.
   */
  dispose(): void {
    Xent.#of(this, 'dispose').dispose();
  }

  /** Same as {@link Xent.dispose}, for `using xent = await Xent.create()`. */
  [SYMBOL_DISPOSE](): void {
    this.dispose();
  }
}
