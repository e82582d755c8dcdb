/**
 * The raw interface of the xent `.wasm` module (see `crates/xent-abi/src/lib.rs`).
 * @module
 */

import { XentLoadError } from './errors.js';

/** The ABI version this TypeScript code was written for. The loader refuses any other. */
export const ABI_VERSION = 1;

/** Status codes returned by the kernel exports (Rust `xent_kernel::Status`). */
export const Status = Object.freeze({
  /** Success; `out` holds `[loss, sum, weight_sum, 0]`. */
  Ok: 0,
  /** A target is out of range; `out[0]` is its value and `out[3]` its flat index. */
  TargetOutOfBounds: 1,
  /** An argument was rejected (null pointer, bad code, size overflow). */
  BadArgument: 2,
} as const);

/** A status code returned by the kernel. */
export type StatusCode = (typeof Status)[keyof typeof Status];

/** Layout codes of the ABI (`layout`). */
export const LAYOUT_CODE = Object.freeze({ nchw: 0, nhwc: 1 } as const);

/** Target kinds of the ABI (`target_kind`): class indices by dtype, or probabilities. */
export const TARGET_KIND_CODE = Object.freeze({ uint8: 0, uint16: 1, int32: 2, prob: 3 } as const);

/** Reduction codes of the ABI (`reduction`). */
export const REDUCTION_CODE = Object.freeze({ none: 0, mean: 1, sum: 2 } as const);

/**
 * The exports of the xent module, as JavaScript sees them. Pointers are byte offsets into the
 * module's (imported) memory; `0` means "absent". `u32` arguments may be passed as numbers up
 * to 2^32 - 1 (they wrap to i32 on the way in and back to u32 inside).
 */
export interface XentExports {
  /** The ABI version of the module. */
  xent_abi_version(): number;
  /** 2 for the relaxed-SIMD build, 1 for the simd128 build, 0 for the portable one. */
  xent_simd(): number;
  /**
   * Fused softmax cross-entropy (forward and optional backward) over logits `[n, c, s]`.
   * `targetKind`: 0 = u8, 1 = u16, 2 = i32 class indices `[n, s]`, 3 = f32 probabilities
   * (logits' shape). `layout`: 0 = NCHW, 1 = NHWC. `reduction`: see {@link REDUCTION_CODE}.
   * `grad` (`n*c*s` f32), `gradOutput` (`n*s` f32, reduction none with grad only), `lossMap`
   * (`n*s` f32, required for none), `confidence` (`n*s` f32, index targets) are 0 when absent;
   * `out` receives 4 f64 `[loss, sum, weightSum, 0]`. Returns a {@link StatusCode}; when it is
   * not Ok, no output buffer was written.
   */
  xent_cross_entropy(
    logits: number,
    target: number,
    targetKind: number,
    n: number,
    c: number,
    s: number,
    layout: number,
    weight: number,
    ignoreIndex: number,
    reduction: number,
    labelSmoothing: number,
    grad: number,
    gradOutput: number,
    lossMap: number,
    confidence: number,
    out: number,
  ): number;
  /**
   * `y = softmax(x)` (`log` = 0) or `log_softmax(x)` (`log` = 1) over the class axis of
   * `[n, c, s]` tensors in `layout`; `x` and `y` (`n*c*s` f32) must not overlap.
   */
  xent_softmax(x: number, y: number, n: number, c: number, s: number, layout: number, log: number): number;
  /**
   * The gradient `gx` w.r.t. the input of `xent_softmax`, from its output `y` and the upstream
   * gradient `gy` (all `n*c*s` f32; `gx` must not overlap the others).
   */
  xent_softmax_backward(y: number, gy: number, gx: number, n: number, c: number, s: number, layout: number, log: number): number;
  /**
   * `nll_loss` of log-probabilities `logp` (`[n, c, s]` in `layout`) against class indices
   * (`targetKind` 0..2); the other arguments as in `xent_cross_entropy` (no label smoothing,
   * no probability targets, no confidence map).
   */
  xent_nll_loss(
    logp: number,
    target: number,
    targetKind: number,
    n: number,
    c: number,
    s: number,
    layout: number,
    weight: number,
    ignoreIndex: number,
    reduction: number,
    grad: number,
    gradOutput: number,
    lossMap: number,
    out: number,
  ): number;
  /**
   * Scoring: the loss forward (mean, no label smoothing) of index targets (`targetKind` 0..2)
   * with the prediction outputs, in one pass. Arguments as in `xent_cross_entropy`, plus
   * `pred` (`n*s` argmax classes, u8 for `predKind` 0 with `c <= 256`, u16 for 1),
   * `predConfidence` (`n*s` f32, the probability of the predicted class) and `confusion`
   * (`c*c` f64, row = target, column = prediction) to which the call ADDS its non-ignored
   * pixels; each is 0 when absent. `out` as in `xent_cross_entropy` (`out[0]` is the mean).
   */
  xent_score(
    logits: number,
    target: number,
    targetKind: number,
    n: number,
    c: number,
    s: number,
    layout: number,
    weight: number,
    ignoreIndex: number,
    lossMap: number,
    confidence: number,
    pred: number,
    predKind: number,
    predConfidence: number,
    confusion: number,
    out: number,
  ): number;
  /** The first address past the module's static data and stack: the heap starts here. */
  __heap_base: WebAssembly.Global;
}

const FUNCTIONS: ReadonlyArray<[keyof XentExports, number]> = [
  ['xent_abi_version', 0],
  ['xent_simd', 0],
  ['xent_cross_entropy', 16],
  ['xent_softmax', 7],
  ['xent_softmax_backward', 8],
  ['xent_nll_loss', 14],
  ['xent_score', 16],
];

/** @internal Checks the exports of an instance and returns them typed. */
export function checkExports(exports: WebAssembly.Exports): XentExports {
  for (const [name, arity] of FUNCTIONS) {
    const f = exports[name];
    if (typeof f !== 'function') {
      throw new XentLoadError(`the wasm module does not export the function ${name}: is it an xent module?`);
    }
    if (f.length !== arity) {
      throw new XentLoadError(
        `the wasm export ${name} takes ${f.length} arguments, expected ${arity}: the module and this TypeScript code ` +
          `were built from different versions of the ABI`,
      );
    }
  }
  const hb = exports['__heap_base'];
  if (!(hb instanceof WebAssembly.Global)) {
    throw new XentLoadError('the wasm module does not export the global __heap_base (link with --export=__heap_base)');
  }
  const x = exports as unknown as XentExports;
  const version = x.xent_abi_version() >>> 0;
  if (version !== ABI_VERSION) {
    throw new XentLoadError(
      `the wasm module has ABI version ${version}, but this xent-wasm TypeScript code needs version ${ABI_VERSION}: ` +
        `rebuild the .wasm and the TypeScript from the same commit`,
    );
  }
  return x;
}

/** @internal The heap base as an unsigned byte offset. */
export function heapBase(exports: XentExports): number {
  const v = exports.__heap_base.value as number | bigint;
  return Number(v) >>> 0;
}
