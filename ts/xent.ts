/**
 * The {@link Xent} class: one instance of the wasm module with its memory and tensors.
 * @module
 */

import { checkExports, heapBase } from './abi.js';
import { crossEntropy } from './cross-entropy.js';
import { DTYPES, describeValue, dtypeOfArray, isDType, type DType, type DTypeOf, type SupportedTypedArray } from './dtype.js';
import { XentDtypeError, XentShapeError } from './errors.js';
import { load, type LoadOptions } from './loader.js';
import type { CrossEntropyOptions, CrossEntropyResult, Float32Input, Reduction, TargetInput } from './options.js';
import { Runtime } from './runtime.js';
import { checkShape, formatShape, shapeSize } from './shape.js';
import { SYMBOL_DISPOSE, type Tensor } from './tensor.js';

/** Options of {@link Xent.create}. */
export interface XentOptions extends LoadOptions {
  /**
   * Free tensors that are garbage-collected without {@link Tensor.dispose} (via a
   * `FinalizationRegistry`). Default `false`: explicit `dispose()` is the contract, and a
   * typed array taken from `tensor.data` does not keep the tensor alive, so with this option a
   * forgotten tensor's memory may be reused while such a view is still in use.
   */
  autoFree?: boolean;
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
 * `nn.CrossEntropyLoss` (loss and gradient) on them.
 *
 * ```ts
 * using xent = await Xent.create();
 * using logits = xent.tensorFrom(new Float32Array([...]), [N, C, H, W]);
 * using target = xent.tensorFrom(new Uint8Array([...]), [N, H, W]);
 * using grad = xent.tensor('float32', logits.shape);
 * const { loss } = xent.crossEntropy(logits, target, { ignoreIndex: 255, grad });
 * ```
 *
 * Instances are independent: each has its own memory, and tensors cannot be shared between
 * them. Disposing the instance frees all its tensors.
 */
export class Xent {
  readonly #rt: Runtime;

  private constructor(rt: Runtime) {
    this.#rt = rt;
  }

  /**
   * Loads the wasm module (the SIMD build when supported, unless `options.simd` says otherwise)
   * and creates an instance.
   * @throws {@link XentLoadError} when the module cannot be loaded or is not compatible.
   */
  static async create(options: XentOptions = {}): Promise<Xent> {
    const loaded = await load(options);
    const exports = checkExports(loaded.instance.exports);
    const rt = new Runtime(exports, loaded.memory, {
      autoFree: options.autoFree ?? false,
      zeroFrom: loaded.createdMemory ? heapBase(exports) : undefined,
    });
    return new Xent(rt);
  }

  /** True when the loaded module is the simd128 build. */
  get simd(): boolean {
    return this.#rt.simd;
  }

  /** The wasm memory (`env.memory`) that holds every tensor of this instance. */
  get memory(): WebAssembly.Memory {
    return this.#rt.memory;
  }

  /** True once {@link Xent.dispose} was called. */
  get disposed(): boolean {
    return this.#rt.disposed;
  }

  /**
   * A new zero-filled tensor of `dtype` and `shape` in wasm memory. Dispose it when done.
   * @throws {@link XentShapeError} for an invalid shape, {@link XentDtypeError} for an unknown
   *   dtype, {@link XentOutOfMemoryError} when it does not fit.
   */
  tensor<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    this.#rt.check('tensor');
    if (!isDType(dtype)) {
      throw new XentDtypeError(`tensor: dtype must be one of ${Object.keys(DTYPES).join(', ')}; got ${describeValue(dtype)}`);
    }
    return this.#rt.allocTensor(dtype, shape, 'tensor');
  }

  /**
   * A new tensor holding a copy of `data` (a Float32Array, Uint8Array, Uint16Array or
   * Int32Array; the dtype follows). `shape` defaults to `[data.length]`.
   * @throws {@link XentDtypeError} for another kind of array, {@link XentShapeError} when the
   *   shape does not match the length.
   */
  tensorFrom<A extends SupportedTypedArray>(data: A, shape?: readonly number[]): Tensor<DTypeOf<A>> {
    this.#rt.check('tensorFrom');
    const dtype = dtypeOfArray(data);
    if (dtype === undefined) {
      throw new XentDtypeError(
        `tensorFrom: data must be a Float32Array, Uint8Array, Uint16Array or Int32Array; got ${describeValue(data)}`,
      );
    }
    const s = shape === undefined ? [data.length] : checkShape(shape, 'tensorFrom');
    if (shapeSize(s) !== data.length) {
      throw new XentShapeError(`tensorFrom: data has ${data.length} elements but shape ${formatShape(s)} has ${shapeSize(s)}`);
    }
    // If `data` views this instance's memory, growing it would detach `data`: copy it first.
    const src = data.buffer === this.#rt.memory.buffer ? data.slice() : data;
    const t = this.#rt.allocTensor(dtype, s, 'tensorFrom', false) as Tensor;
    (t.data as SupportedTypedArray).set(src);
    return t as Tensor<DTypeOf<A>>;
  }

  /**
   * Softmax cross-entropy between `logits` and class-index `target`, with PyTorch's
   * `nn.CrossEntropyLoss` semantics, and optionally its gradient.
   *
   * Shapes (as in PyTorch): logits `(C)` with target `()` (shape `[]`); `(N, C)` with `(N)`;
   * `(N, C, d1, ..., dk)` with `(N, d1, ..., dk)`. Targets are integers in `[0, C)` or
   * `ignoreIndex`.
   *
   * Tensors are used in place; plain `{ data, shape }` inputs are copied into scratch memory
   * for the call. Every argument is checked before the kernel runs, so a call that throws has
   * written nothing.
   *
   * @param logits - float32 scores (unnormalised log-probabilities).
   * @param target - uint8, uint16 or int32 class indices.
   * @param options - see {@link CrossEntropyOptions}.
   * @returns the loss (a number, or a tensor for `reduction: 'none'`), and the numerator
   *   `sum` and denominator `weightSum` of the mean.
   * @throws {@link XentShapeError}, {@link XentDtypeError}, {@link XentOptionError},
   *   {@link XentTargetError}, {@link XentAliasError}, {@link XentForeignTensorError},
   *   {@link XentDisposedError}, {@link XentOutOfMemoryError}.
   */
  crossEntropy<R extends Reduction = 'mean'>(
    logits: Float32Input,
    target: TargetInput,
    options?: CrossEntropyOptions<R>,
  ): CrossEntropyResult<R> {
    return crossEntropy(this.#rt, logits, target, options) as CrossEntropyResult<R>;
  }

  /** Memory use of this instance. */
  memoryStats(): MemoryStats {
    const rt = this.#rt;
    return {
      bytesInUse: rt.disposed ? 0 : rt.heap.bytesInUse,
      bytesReserved: rt.memory.buffer.byteLength,
      liveTensors: rt.liveTensors,
    };
  }

  /**
   * Frees every tensor of this instance (they all become disposed) and the instance itself.
   * Calling it again does nothing. The wasm memory itself cannot shrink; it is released when
   * the instance is garbage-collected.
   */
  dispose(): void {
    this.#rt.dispose();
  }

  /** Same as {@link Xent.dispose}, for `using xent = await Xent.create()`. */
  [SYMBOL_DISPOSE](): void {
    this.dispose();
  }
}
