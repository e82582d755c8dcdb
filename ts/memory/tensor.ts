/**
 * Tensors: typed, shaped blocks of wasm memory.
 * @module
 */

import { DTYPES, type DType, type TypedArrayFor } from './dtype.js';
import { XentDisposedError, XentError } from '../errors.js';
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

/**
 * The brand of every xent-wasm tensor class, in every copy of the library (the main entry, its
 * CommonJS build, `xent-wasm/inline`): a registered symbol, so that a tensor of another copy,
 * which is not an `instanceof` this copy's {@link Tensor}, is still recognised as a tensor.
 */
const BRAND: unique symbol = Symbol.for('xent-wasm.Tensor') as typeof BRAND;

/**
 * @internal Private state of a tensor, for the other modules of xent-wasm: read from private
 * fields, never from the tensor's public properties (which a caller could shadow on the
 * prototype).
 */
export interface TensorInternals {
  readonly host: TensorHost;
  readonly offset: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly size: number;
  readonly byteLength: number;
  readonly disposed: boolean;
  /** In-flight async calls that read it. */
  readonly readers: number;
  /** In-flight async calls that write it. */
  readonly writers: number;
}

let getInternals: (t: Tensor) => TensorInternals;
let pinTensor: (t: Tensor, write: boolean) => void;
let unpinTensor: (t: Tensor, write: boolean) => void;

/**
 * A dense, row-major tensor stored in the wasm memory of one {@link Xent} instance. Create one
 * with {@link Xent.tensor} or {@link Xent.tensorFrom}; free it with {@link Tensor.dispose} (or a
 * `using` declaration, or let {@link Xent.scope} dispose it). Reading and writing
 * {@link Tensor.data} is zero-copy.
 *
 * A tensor's geometry is fixed at creation: `dtype`, `shape`, `size`, `byteLength` and
 * `byteOffset` are getters over private state, `shape` is a frozen array, and the tensor object
 * itself is frozen. Assigning to them throws a `TypeError` in strict-mode code (ES modules,
 * classes; TypeScript rejects it at compile time) and does nothing in sloppy-mode scripts;
 * either way the tensor is unchanged. The ops never read these public properties: they use the
 * tensor's private state and check every extent they read or write against the block the
 * allocator recorded for it.
 *
 * @typeParam D - the element type.
 */
export class Tensor<D extends DType = DType> {
  readonly #host: TensorHost;
  readonly #dtype: D;
  readonly #shape: Shape;
  readonly #size: number;
  readonly #byteLength: number;
  readonly #offset: number;
  #view: TypedArrayFor<D> | undefined;
  #disposed = false;
  /** In-flight async calls that use it (read or write), and those that write it. */
  #readers = 0;
  #writers = 0;
  /** dispose() was called while in flight: the block is freed when the last call settles. */
  #freeDeferred = false;

  static {
    getInternals = (t) => ({
      host: t.#host,
      offset: t.#offset,
      dtype: t.#dtype,
      shape: t.#shape,
      size: t.#size,
      byteLength: t.#byteLength,
      disposed: t.#disposed || t.#host.disposed,
      readers: t.#readers,
      writers: t.#writers,
    });
    pinTensor = (t, write) => {
      t.#readers++;
      if (write) t.#writers++;
    };
    unpinTensor = (t, write) => {
      t.#readers--;
      if (write) t.#writers--;
      if (t.#readers === 0 && t.#freeDeferred) {
        t.#freeDeferred = false;
        // A disposed instance has freed every block already.
        if (!t.#host.disposed) t.#host.release(t, t.#offset);
      }
    };
  }

  /** @internal Tensors are made by {@link Xent.tensor}; this constructor is not public. */
  constructor(token: typeof TOKEN, host: TensorHost, dtype: D, shape: Shape, size: number, offset: number) {
    if (token !== TOKEN) throw new XentError('Tensor is not constructible: use xent.tensor() or xent.tensorFrom()');
    this.#host = host;
    this.#dtype = dtype;
    this.#shape = Object.isFrozen(shape) ? shape : Object.freeze([...shape]);
    this.#size = size;
    this.#byteLength = size * DTYPES[dtype].bytes;
    this.#offset = offset;
    // No own properties can be added (to shadow the getters) and the prototype is fixed.
    Object.freeze(this);
  }

  /** Element type (fixed at creation). */
  get dtype(): D {
    return this.#dtype;
  }

  /** Dims, row-major (last dim fastest); `[]` is a scalar. A frozen array, fixed at creation. */
  get shape(): readonly number[] {
    return this.#shape;
  }

  /** Number of elements (the product of the dims). */
  get size(): number {
    return this.#size;
  }

  /** Size of the data in bytes (`size` × bytes per element). */
  get byteLength(): number {
    return this.#byteLength;
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
   *
   * Nothing can stop writes through a view: writing the tensors of a pending
   * {@link Xent.crossEntropyAsync} call (or through a view kept after `dispose()`) races with
   * the kernel, and gives that call wrong results.
   * @throws {@link XentDisposedError} after dispose.
   */
  get data(): TypedArrayFor<D> {
    this.#check('data');
    const buffer = this.#host.memory.buffer;
    let view = this.#view;
    if (view === undefined || view.buffer !== buffer) {
      view = new DTYPES[this.#dtype].ctor(buffer, this.#offset, this.#size) as TypedArrayFor<D>;
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
   *
   * If a pending {@link Xent.crossEntropyAsync} call uses the tensor (as an input or an
   * output), the tensor is disposed at once (`disposed` is true, `data` throws, no op accepts
   * it), but its block stays allocated until the call settles: no new tensor can be given the
   * same memory while the workers may still read or write it. `memoryStats()` counts it until
   * then.
   * @throws {@link XentDisposedError} if it was already disposed (or its {@link Xent} was).
   */
  dispose(): void {
    if (this.#disposed || this.#host.disposed) {
      throw new XentDisposedError(
        `Tensor.dispose(): this ${this.#dtype} tensor of shape ${formatShape(this.#shape)} was already disposed` +
          (this.#host.disposed && !this.#disposed ? ' (its Xent instance was disposed)' : ''),
      );
    }
    this.#disposed = true;
    this.#view = undefined;
    if (this.#readers > 0) this.#freeDeferred = true;
    else this.#host.release(this, this.#offset);
  }

  /** Same as {@link Tensor.dispose}, for `using t = xent.tensor(...)`. */
  [SYMBOL_DISPOSE](): void {
    this.dispose();
  }

  /** A short description, e.g. `Tensor(float32 [2, 19, 512, 1024] @ 1024)`. */
  toString(): string {
    return `Tensor(${this.#dtype} ${formatShape(this.#shape)}${this.disposed ? ', disposed' : ` @ ${this.#offset}`})`;
  }

  #check(what: string): void {
    if (this.#disposed || this.#host.disposed) {
      throw new XentDisposedError(
        `Tensor.${what}: this ${this.#dtype} tensor of shape ${formatShape(this.#shape)} was disposed` +
          (this.#host.disposed && !this.#disposed ? ' (its Xent instance was disposed)' : ''),
      );
    }
  }
}

Object.defineProperty(Tensor.prototype, BRAND, {
  value: true,
  enumerable: false,
  writable: false,
  configurable: false,
});

/**
 * @internal True for a tensor of any copy of xent-wasm (this one's or another's, e.g. the
 * `xent-wasm/inline` entry's), by its brand.
 */
export function isAnyXentTensor(value: unknown): boolean {
  return (
    value instanceof Tensor ||
    (typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true)
  );
}

/**
 * @internal Marks `t` as used by an in-flight async call (`write`: as an output) until
 * {@link unpin}: its block is not freed before then, even if it is disposed.
 */
export function pin(t: Tensor, write: boolean): void {
  pinTensor(t, write);
}

/** @internal Ends a {@link pin}; frees the block if the tensor was disposed meanwhile. */
export function unpin(t: Tensor, write: boolean): void {
  unpinTensor(t, write);
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
