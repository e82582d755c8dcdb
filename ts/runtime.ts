/**
 * The per-instance state behind an {@link Xent}: the module's exports, its memory, the heap and
 * tensor bookkeeping.
 * @module
 */

import { heapBase, LOSS_ARGS_BYTES, type XentExports } from './kernel/abi.js';
import { DTYPES, type DType } from './memory/dtype.js';
import { XentDisposedError } from './errors.js';
import { Heap } from './memory/heap.js';
import type { MemoryClaim } from './memory/owners.js';
import { checkByteLength, checkShape, shapeSize } from './memory/shape.js';
import type { KernelOutcome, SplitCall } from './kernel/call.js';
import { makeTensor, type Tensor, type TensorHost } from './memory/tensor.js';
import { Scopes } from './memory/scope.js';

/**
 * @internal What an instance needs of its worker threads (`threads/pool.ts` implements it;
 * declared here so that the runtime does not depend on the pool).
 */
export interface ThreadPool {
  /** Number of workers. */
  readonly size: number;
  /**
   * Runs a call split between the calling thread and the workers, blocking until done; or
   * returns undefined when that is not possible or not worth it (the caller then runs it).
   */
  runSync(call: SplitCall): KernelOutcome | undefined;
  /** Runs a call on the workers, queued behind the earlier ones. */
  run(call: SplitCall): Promise<KernelOutcome>;
  /** Terminates the workers (calls in flight reject); settles when they have exited. */
  terminate(): Promise<void>;
}

/** @internal */
export interface RuntimeOptions {
  /** Free tensors that were garbage-collected without dispose(). */
  autoFree?: boolean;
  /** Memory above this address is known to be zero (a memory we created ourselves). */
  zeroFrom?: number;
  /** The instance's claim on its memory, released when it is disposed. */
  claim?: MemoryClaim;
}

/** @internal */
export class Runtime implements TensorHost {
  readonly memory: WebAssembly.Memory;
  readonly exports: XentExports;
  readonly heap: Heap;
  readonly simd: boolean;
  /** The relaxed-SIMD build (`xent_simd()` = 2; also `simd`). */
  readonly relaxed: boolean;
  /** 32-byte block for the kernel's `out` (4 doubles). */
  readonly outPtr: number;
  /** Block for the loss exports' `LossArgs`. */
  readonly argsPtr: number;
  disposed = false;
  liveTensors = 0;
  /** The worker threads of an instance created with `threads > 1` (undefined: one thread). */
  pool: ThreadPool | undefined = undefined;
  /** The open `xent.scope`s, which track the tensors created while they run. */
  readonly scopes = new Scopes();
  readonly #registry: FinalizationRegistry<number> | undefined;
  readonly #claim: MemoryClaim | undefined;

  constructor(exports: XentExports, memory: WebAssembly.Memory, options: RuntimeOptions = {}) {
    this.exports = exports;
    this.memory = memory;
    this.#claim = options.claim;
    const simd = exports.xent_simd();
    this.simd = simd === 1 || simd === 2;
    this.relaxed = simd === 2;
    this.heap = new Heap(memory, heapBase(exports), { zeroFrom: options.zeroFrom });
    this.outPtr = this.heap.alloc(32);
    this.argsPtr = this.heap.alloc(LOSS_ARGS_BYTES);
    if (options.autoFree && typeof FinalizationRegistry === 'function') {
      this.#registry = new FinalizationRegistry((offset) => {
        if (this.disposed) return;
        this.heap.free(offset);
        this.liveTensors--;
      });
    }
  }

  /** Throws if the instance was disposed. */
  check(what: string): void {
    if (this.disposed) throw new XentDisposedError(`${what}: this Xent instance was disposed`);
  }

  /** Allocates a tensor (zero-filled unless `zero` is false and the caller overwrites it all). */
  allocTensor<D extends DType>(dtype: D, shapeIn: readonly number[], what: string, zero = true): Tensor<D> {
    const shape = checkShape(shapeIn, what);
    const size = shapeSize(shape);
    const byteLength = checkByteLength(shape, size, DTYPES[dtype].bytes, dtype, what);
    const offset = this.heap.alloc(byteLength, zero);
    const t = makeTensor(this, dtype, shape, size, offset);
    this.liveTensors++;
    this.#registry?.register(t, offset, t);
    this.scopes.track(t);
    return t;
  }

  release(tensor: Tensor, offset: number): void {
    this.#registry?.unregister(tensor);
    this.scopes.forget(tensor);
    this.heap.free(offset);
    this.liveTensors--;
  }

  /** Frees everything; every tensor of this instance becomes disposed. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const gone = this.pool?.terminate();
    this.heap.reset();
    this.liveTensors = 0;
    // Another instance may take the memory once the workers (which may be mid-call) are gone.
    this.#claim?.release(gone);
  }
}
