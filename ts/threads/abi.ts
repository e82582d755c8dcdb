/**
 * The exports of the threads build (`xent-simd-threads.wasm`) beyond the common ABI: the split
 * cross-entropy call and the exact accumulator (see `crates/xent-abi/src/lib.rs`).
 * @module
 */

import type { XentExports } from '../abi.js';
import { XentLoadError } from '../errors.js';

/** @internal The split-call exports of the threads build. Pointers are byte offsets; 0 = absent. */
export interface ThreadExports extends XentExports {
  /**
   * The first half of a split `xent_cross_entropy` (the same `LossArgs` and `out`): validates
   * everything, every label included, and writes the denominator of 'mean' to `out[2]`.
   */
  xent_cross_entropy_weight_sum(...args: number[]): number;
  /**
   * Samples `lo .. hi` (flat index into `[n, s]`) of a split call: `LossArgs`, `weightSum`,
   * `lo`, `hi`, `acc` (an ExactSum), `out`.
   */
  xent_cross_entropy_range(...args: number[]): number;
  /** Bytes of an ExactSum. */
  xent_exact_sum_size(): number;
  /** Sets the ExactSum at `p` to zero. */
  xent_exact_sum_clear(p: number): void;
  /** Adds the ExactSum at `src` into the one at `dst`, exactly. */
  xent_exact_sum_merge(dst: number, src: number): void;
  /** The value of the ExactSum at `p`, correctly rounded. */
  xent_exact_sum_value(p: number): number;
  /** The stack pointer of this instance (each worker gets its own stack). */
  __stack_pointer: WebAssembly.Global;
}

const FUNCTIONS: ReadonlyArray<[keyof ThreadExports, number]> = [
  ['xent_cross_entropy_weight_sum', 2],
  ['xent_cross_entropy_range', 6],
  ['xent_exact_sum_size', 0],
  ['xent_exact_sum_clear', 1],
  ['xent_exact_sum_merge', 2],
  ['xent_exact_sum_value', 1],
];

/** @internal Checks the threads exports of an instance (after `checkExports`). */
export function checkThreadExports(exports: XentExports): ThreadExports {
  const e = exports as unknown as Record<string, unknown>;
  for (const [name, arity] of FUNCTIONS) {
    const f = e[name];
    if (typeof f !== 'function') throw new XentLoadError(`the wasm module does not export ${name}: it is not the xent threads build`);
    if (f.length !== arity) {
      throw new XentLoadError(`the wasm export ${name} takes ${f.length} arguments, expected ${arity}: rebuild the .wasm and the TypeScript from the same commit`);
    }
  }
  if (!(e['__stack_pointer'] instanceof WebAssembly.Global)) {
    throw new XentLoadError('the threads build does not export __stack_pointer (link with --export=__stack_pointer)');
  }
  return exports as ThreadExports;
}
