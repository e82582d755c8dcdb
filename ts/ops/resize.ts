/**
 * The memory of a resized call (`options.resize`): its `ResizeArgs` and one block of kernel
 * scratch per thread that may run a part of it, allocated with the call's other scratch.
 * @module
 */

import { RESIZE_ARGS_BYTES, writeResizeArgs, type ResizeArgs } from '../kernel/abi.js';
import { roundUp } from '../memory/heap.js';
import type { Runtime } from '../runtime.js';
import type { Scratch } from './args.js';
import { XentDtypeError } from '../errors.js';

/**
 * @internal A resized call's memory: the `ResizeArgs` at `args`, and `participants` scratch
 * blocks of `scratchBytes` each from `scratch` (participant j's at `scratch + j * scratchBytes`).
 */
export interface ResizeCall {
  args: number;
  scratch: number;
  scratchBytes: number;
  participants: number;
  /** The source rows that the threads split: `n * inH`. */
  rows: number;
}

/**
 * @internal Allocates (in `scratch`) and writes the memory of a resized call of `c` classes and
 * `n` items: the kernel's scratch for each of `participants` threads (the calling thread and
 * the workers; the kernel's `xent_resize_scratch_size`, 128 KiB each unless the classes need
 * more).
 */
export function prepareResize(
  rt: Runtime,
  scratch: Scratch,
  r: ResizeArgs,
  n: number,
  c: number,
  participants: number,
): ResizeCall {
  const scratchBytes = roundUp(rt.exports.xent_resize_scratch_size(c) >>> 0, 16);
  const head = roundUp(RESIZE_ARGS_BYTES, 16);
  const block = scratch.block(head + participants * scratchBytes);
  writeResizeArgs(rt.memory.buffer, block, r);
  return { args: block, scratch: block + head, scratchBytes, participants, rows: n * r.inH };
}

/**
 * The error for float16 logits with `options.resize`: the fused resize reads float32 logits
 * (the low-resolution logits are small, so converting them first costs little).
 */
export function float16WithResize(what: string): XentDtypeError {
  return new XentDtypeError(
    `${what} is a float16 tensor: options.resize takes float32 logits (float16 logits are accepted without ` +
      `resize). Convert them first, e.g. Float32Array.from(data) when data is a Float16Array`,
  );
}
