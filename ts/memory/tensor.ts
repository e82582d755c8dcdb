/**
 * Tensors: typed, shaped blocks of wasm memory.
 * @module
 */

import { DTYPES, type DType, type TypedArrayFor } from './dtype.js';
import { XentDisposedError } from '../errors.js';
import { formatShape, type Shape } from './shape.js';

/** `Symbol.dispose`, or the well-known fallback key used by polyfills and transpilers. */
export const SYMBOL_DISPOSE: typeof Symbol.dispose = ((Symbol as { dispose?: symbol }).dispose ??
  Symbol.for('Symbol.dispose')) as typeof Symbol.dispose;

/** @internal What a tensor needs from the {@link Xent} instance that owns it. */
export interface TensorHost {
  readonly memory: WebAssembly.Memory;
  /** True once the owning instance was disposed (all its tensors are then dead). */
  readonly disposed: boolean;
  /** Frees the tensor's block. */
  release(tensor: Tensor, offset: number): void;
}

const TOKEN: unique symbol = Symbol('xent.Tensor');

/** @internal Private state of a tensor, for the other modules of xent-wasm. */
export interface TensorInternals {
  readonly host: TensorHost;
  readonly offset: number;
  readonly disposed: boolean;
}

let getInternals: (t: Tensor) => TensorInternals;

/**
 * A dense, row-major tensor stored in the wasm memory of one {@link Xent} instance. Create one
 * with {@link Xent.tensor} or {@link Xent.tensorFrom}; free it with {@link Tensor.dispose} (or a
 * `using` declaration). Reading and writing {@link Tensor.data} is zero-copy.
 *
 * @typeParam D - the element type.
 */
export class Tensor<D extends DType = DType> {
  /** Element type. */
  readonly dtype: D;
  /** Dims, row-major (last dim fastest). `[]` is a scalar. */
  readonly shape: readonly number[];
  /** Number of elements (product of the dims). */
  readonly size: number;
  /** Size of the data in bytes (`size` × bytes per element). */
  readonly byteLength: number;
  readonly #host: TensorHost;
  readonly #offset: number;
  #view: TypedArrayFor<D> | undefined;
  #disposed = false;

  static {
    getInternals = (t) => ({ host: t.#host, offset: t.#offset, disposed: t.#disposed || t.#host.disposed });
  }

  /** @internal Tensors are made by {@link Xent.tensor}; this constructor is not public. */
  constructor(token: typeof TOKEN, host: TensorHost, dtype: D, shape: Shape, size: number, offset: number) {
    if (token !== TOKEN) throw new TypeError('Tensor is not constructible: use xent.tensor() or xent.tensorFrom()');
    this.#host = host;
    this.dtype = dtype;
    this.shape = shape;
    this.size = size;
    this.byteLength = size * DTYPES[dtype].bytes;
    this.#offset = offset;
  }

  /**
   * Address of the data in wasm memory (a multiple of 64; never 0, even for an empty tensor).
   * @throws {@link XentDisposedError} after dispose.
   */
  get byteOffset(): number {
    this.#check('byteOffset');
    return this.#offset;
  }

  /**
   * A typed-array view of the tensor's bytes in wasm memory: writes go straight to the tensor.
   *
   * The getter always returns a live view: when the wasm memory has grown (which detaches the
   * old `ArrayBuffer`), a new view on the current buffer is made. Do not keep the returned array
   * across calls that may allocate (creating tensors, {@link Xent.crossEntropy}); read `data`
   * again instead.
   * @throws {@link XentDisposedError} after dispose.
   */
  get data(): TypedArrayFor<D> {
    this.#check('data');
    const buffer = this.#host.memory.buffer;
    let view = this.#view;
    if (view === undefined || view.buffer !== buffer) {
      view = new DTYPES[this.dtype].ctor(buffer, this.#offset, this.size) as TypedArrayFor<D>;
      this.#view = view;
    }
    return view;
  }

  /** True once {@link Tensor.dispose} was called, or the owning {@link Xent} was disposed. */
  get disposed(): boolean {
    return this.#disposed || this.#host.disposed;
  }

  /** Copies the data out of wasm memory into a new JavaScript-owned typed array. */
  toArray(): TypedArrayFor<D> {
    return this.data.slice() as TypedArrayFor<D>;
  }

  /**
   * Frees the tensor's memory. The tensor cannot be used afterwards.
   * @throws {@link XentDisposedError} if it was already disposed (or its {@link Xent} was).
   */
  dispose(): void {
    if (this.#disposed || this.#host.disposed) {
      throw new XentDisposedError(
        `Tensor.dispose(): this ${this.dtype} tensor of shape ${formatShape(this.shape)} was already disposed` +
          (this.#host.disposed && !this.#disposed ? ' (its Xent instance was disposed)' : ''),
      );
    }
    this.#disposed = true;
    this.#view = undefined;
    this.#host.release(this, this.#offset);
  }

  /** Same as {@link Tensor.dispose}, for `using t = xent.tensor(...)`. */
  [SYMBOL_DISPOSE](): void {
    this.dispose();
  }

  /** A short description, e.g. `Tensor(float32 [2, 19, 512, 1024] @ 1024)`. */
  toString(): string {
    return `Tensor(${this.dtype} ${formatShape(this.shape)}${this.disposed ? ', disposed' : ` @ ${this.#offset}`})`;
  }

  #check(what: string): void {
    if (this.#disposed || this.#host.disposed) {
      throw new XentDisposedError(
        `Tensor.${what}: this ${this.dtype} tensor of shape ${formatShape(this.shape)} was disposed` +
          (this.#host.disposed && !this.#disposed ? ' (its Xent instance was disposed)' : ''),
      );
    }
  }
}

/** @internal */
export function tensorInternals(t: Tensor): TensorInternals {
  return getInternals(t);
}

/** @internal Makes a tensor object for a block the caller allocated. */
export function makeTensor<D extends DType>(
  host: TensorHost,
  dtype: D,
  shape: Shape,
  size: number,
  offset: number,
): Tensor<D> {
  return new Tensor(TOKEN, host, dtype, shape, size, offset);
}
