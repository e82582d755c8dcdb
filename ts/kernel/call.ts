/**
 * One kernel call, however it runs: the export guarded against traps, its status turned into
 * the library's errors, and the 4-double `out` block read back. The single-thread path and the
 * worker pool both produce a {@link KernelOutcome}, so the ops read results one way.
 * @module
 */

import { Status, type LossArgs } from './abi.js';
import type { HalfScratch } from './half.js';
import { errorMessage } from '../error-message.js';
import { XentError, XentTargetError } from '../errors.js';
import { unravel } from '../memory/shape.js';
import type { ResizeCall } from '../ops/resize.js';

/**
 * @internal The kernel's `out` block: `[loss, sum, weightSum, 0]` on success;
 * `[value, , , index]` for TargetOutOfBounds (the bad value and its flat index).
 */
export type OutBlock = [number, number, number, number];

/** @internal The outcome of a loss call, on one thread or split between threads. */
export interface KernelOutcome {
  status: number;
  out: OutBlock;
}

/** @internal What the worker pool needs to know about a cross-entropy call besides its arguments. */
export interface SplitCall {
  /** The arguments of `xent_cross_entropy`. */
  args: LossArgs;
  /** Samples: `n * s` of the kernel's dims. */
  samples: number;
  /** Classes. */
  classes: number;
  /** ABI reduction code. */
  reduction: number;
  /** Probability targets. */
  prob: boolean;
  /** Float16 logits: the scratch strips, one per participant (this thread first). */
  half?: HalfScratch | undefined;
  /**
   * A resized call (`options.resize`): the threads split its source rows (`resize.rows`), each
   * with its own scratch block.
   */
  resize?: ResizeCall;
}

/** @internal Runs a kernel export, turning a trap into an {@link XentError}. */
export function invoke(name: string, f: () => number): number {
  try {
    return f() >>> 0;
  } catch (e) {
    throw new XentError(`${name} trapped (${errorMessage(e)}): this is a bug in xent-wasm`, { cause: e });
  }
}

/** @internal Throws for a status other than Ok (TargetOutOfBounds goes through {@link checkOutcome}). */
export function checkStatus(name: string, status: number, detail: string): void {
  if (status === Status.Ok) return;
  throw new XentError(
    `${name} returned status ${status}${status === Status.BadArgument ? ' (BadArgument)' : ''} for ${detail}: ` +
      `this is a bug in xent-wasm (the TypeScript side should have rejected the arguments)`,
  );
}

/** @internal Reads the kernel's `out` block at `ptr` (a copy: the memory may grow afterwards). */
export function readOut(buffer: ArrayBufferLike, ptr: number): OutBlock {
  const o = new Float64Array(buffer, ptr, 4);
  return [o[0]!, o[1]!, o[2]!, o[3]!];
}

/**
 * @internal The 'mean' reduction of sums merged outside the kernel, as the kernel's own
 * reduce(): nothing to average (a zero weight sum) gives NaN, as in PyTorch.
 */
export function meanOf(sum: number, weightSum: number): number {
  return weightSum === 0 ? NaN : sum / weightSum;
}

/** @internal The class-index target of a loss call, to describe a bad label. */
export interface TargetContext {
  shape: readonly number[];
  classes: number;
  ignoreIndex: number;
}

/**
 * @internal Throws {@link XentTargetError} for a label out of bounds, {@link XentError} for
 * any other status but Ok.
 */
export function checkOutcome(name: string, outcome: KernelOutcome, target: TargetContext, detail: string): void {
  const { status, out } = outcome;
  if (status === Status.TargetOutOfBounds) {
    const index = out[3];
    throw new XentTargetError(out[0], index, unravel(index, target.shape), target.classes, target.ignoreIndex);
  }
  checkStatus(name, status, detail);
}
