/**
 * The exports of the threads build (`xent-simd-threads.wasm`) beyond the common ABI: the stack
 * pointer (see `crates/xent-abi/src/lib.rs` for the split call and the exact accumulator,
 * which every build exports).
 * @module
 */

import type { XentExports } from '../kernel/abi.js';
import { XentLoadError } from '../errors.js';

/** @internal The exports of the threads build: the common ones, and each instance's stack pointer. */
export interface ThreadExports extends XentExports {
  /** The stack pointer of this instance (each worker gets its own stack). */
  __stack_pointer: WebAssembly.Global;
}

/** @internal Checks the threads exports of an instance (after `checkExports`). */
export function checkThreadExports(exports: XentExports): ThreadExports {
  const e = exports as unknown as Record<string, unknown>;
  if (!(e.__stack_pointer instanceof WebAssembly.Global)) {
    throw new XentLoadError('the threads build does not export __stack_pointer (link with --export=__stack_pointer)');
  }
  return exports as ThreadExports;
}
