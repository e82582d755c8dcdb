/**
 * The messages between the main thread and the workers (`worker.ts`).
 * @module
 */

/** @internal Main → worker: instantiate the module on the shared memory with this stack. */
export interface InitMessage {
  type: 'init';
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Top of this worker's stack (16-byte aligned; stacks grow down). */
  stackTop: number;
}

/**
 * @internal Main → worker: run one kernel export on the shared memory. `fn` = 'range':
 * `xent_cross_entropy_range(...args)` (`[lossArgs, weightSum, lo, hi, acc, out]`) after
 * clearing the ExactSum at `args[RANGE_ACC_ARG]`; 'weightSum':
 * `xent_cross_entropy_weight_sum(...args)` (`[lossArgs, out]`); 'range16' and 'weightSum16':
 * their float16 versions, `xent_cross_entropy_f16_range` (`[lossArgs, weightSum, lo, hi, acc,
 * scratch, scratchFloats, out]`, the ExactSum cleared first too) and
 * `xent_cross_entropy_f16_weight_sum`; 'resizeRange' and 'resizeWeightSum':
 * `xent_resize_cross_entropy_range(...args)` (as 'range', then `[resizeArgs, scratch,
 * scratchBytes]`; the ExactSum at the same place) and `xent_resize_weight_sum(...args)`
 * (`[lossArgs, resizeArgs, out]`). The status is stored (atomically) at
 * `ctl + 4 * (1 + slot)`. With `sync`, the worker then decrements the counter at `ctl` and
 * wakes its waiter (the main thread blocked in `Atomics.wait`); otherwise it replies with a
 * {@link DoneMessage}.
 */
/** @internal Where the ExactSum is among the arguments of `xent_cross_entropy_range`. */
export const RANGE_ACC_ARG = 4;

export interface CallMessage {
  type: 'call';
  id: number;
  fn: 'range' | 'weightSum' | 'range16' | 'weightSum16' | 'resizeRange' | 'resizeWeightSum';
  args: number[];
  ctl: number;
  slot: number;
  sync: boolean;
}

/** @internal Worker → main. */
export interface ReadyMessage {
  type: 'ready';
}

/** @internal Worker → main: an async call is done (its status is in the control block). */
export interface DoneMessage {
  type: 'done';
  id: number;
}

/** @internal Worker → main: initialisation failed, or a call trapped (`id` set). */
export interface FailMessage {
  type: 'fail';
  id?: number;
  message: string;
}

/** @internal */
export type ToWorker = InitMessage | CallMessage;
/** @internal */
export type FromWorker = ReadyMessage | DoneMessage | FailMessage;

/** @internal Status stored by a worker whose call trapped (not a kernel status code). */
export const STATUS_TRAPPED = -1;
