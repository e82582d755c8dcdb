/**
 * The raw interface of the xent `.wasm` module (see `crates/xent-abi/src/lib.rs`).
 * @module
 */

import { XentLoadError } from '../errors.js';

/** The ABI version this TypeScript code was written for. The loader refuses any other. */
export const ABI_VERSION = 2;

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

/**
 * The f32 scratch floats per pixel of a strip of a float16 call (`xent_cross_entropy_f16`):
 * `c` for NHWC; for NCHW `c` for the logits, `c` more with a gradient, `c` more with
 * probability targets.
 */
export function f16ScratchFloatsPerPixel(c: number, layout: number, grad: boolean, prob: boolean): number {
  return layout === LAYOUT_CODE.nhwc ? c : c * (1 + Number(grad) + Number(prob));
}

/** Reduction codes of the ABI (`reduction`). */
export const REDUCTION_CODE = Object.freeze({ none: 0, mean: 1, sum: 2 } as const);

/**
 * The arguments of the loss exports (Rust `xent_abi::LossArgs`): written into the module's
 * memory with {@link writeLossArgs} and passed by address. Pointers are byte offsets into the
 * memory, `0` for "absent"; see `crates/xent-abi/src/lib.rs` for each field.
 */
export interface LossArgs {
  logits: number;
  target: number;
  /** 0 = u8, 1 = u16, 2 = i32 class indices `[n, s]`; 3 = f32 probabilities (logits' shape). */
  targetKind: number;
  n: number;
  c: number;
  s: number;
  /** 0 = NCHW, 1 = NHWC. */
  layout: number;
  weight: number;
  ignoreIndex: number;
  /** See {@link REDUCTION_CODE}. */
  reduction: number;
  labelSmoothing: number;
  grad: number;
  gradOutput: number;
  lossMap: number;
  confidence: number;
  /** Scoring: the predicted classes, u8 (`predKind` 0, `c <= 256`) or u16 (1). */
  pred: number;
  predKind: number;
  predConfidence: number;
  confusion: number;
}

/** The fields of {@link LossArgs} in memory order, 4 bytes each. */
const LOSS_ARGS_FIELDS = [
  'logits',
  'target',
  'targetKind',
  'n',
  'c',
  's',
  'layout',
  'weight',
  'ignoreIndex',
  'reduction',
  'labelSmoothing',
  'grad',
  'gradOutput',
  'lossMap',
  'confidence',
  'pred',
  'predKind',
  'predConfidence',
  'confusion',
] as const satisfies ReadonlyArray<keyof LossArgs>;

/** Bytes of a {@link LossArgs} in memory (the module's `xent_loss_args_size()`). */
export const LOSS_ARGS_BYTES = 4 * LOSS_ARGS_FIELDS.length;

/** Resize modes of the ABI (`ResizeArgs.mode`). */
export const RESIZE_MODE_CODE = Object.freeze({ nearest: 0, bilinear: 1, bilinearAlignCorners: 2 } as const);

/**
 * The resize of the resized loss exports (Rust `xent_abi::ResizeArgs`): the logits' spatial
 * size `inH x inW` and the target's `outH x outW`. With it, a {@link LossArgs} describes the
 * full-resolution problem (`s = outH * outW`) except `logits` and `grad`, which are
 * `[n, c, inH, inW]` in its layout.
 */
export interface ResizeArgs {
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  /** See {@link RESIZE_MODE_CODE}. */
  mode: number;
}

/** Bytes of a {@link ResizeArgs} in memory (the module's `xent_resize_args_size()`). */
export const RESIZE_ARGS_BYTES = 20;

/** Writes `a` at byte offset `ptr` (4-byte aligned, {@link RESIZE_ARGS_BYTES} bytes) of `buffer`. */
export function writeResizeArgs(buffer: ArrayBufferLike, ptr: number, a: ResizeArgs): void {
  new Uint32Array(buffer, ptr, 5).set([a.inH, a.inW, a.outH, a.outW, a.mode]);
}

/** @internal A {@link LossArgs} with every optional buffer absent and no scoring outputs. */
export function lossArgs(
  a: Omit<
    LossArgs,
    'grad' | 'gradOutput' | 'lossMap' | 'confidence' | 'pred' | 'predKind' | 'predConfidence' | 'confusion'
  > &
    Partial<LossArgs>,
): LossArgs {
  return {
    grad: 0,
    gradOutput: 0,
    lossMap: 0,
    confidence: 0,
    pred: 0,
    predKind: 0,
    predConfidence: 0,
    confusion: 0,
    ...a,
  };
}

/**
 * Writes `a` at byte offset `ptr` (4-byte aligned, {@link LOSS_ARGS_BYTES} bytes) of `buffer`
 * (the module's `memory.buffer`), for the raw loss exports of {@link XentExports}.
 */
export function writeLossArgs(buffer: ArrayBufferLike, ptr: number, a: LossArgs): void {
  const u32 = new Uint32Array(buffer, ptr, LOSS_ARGS_FIELDS.length);
  for (const [i, k] of LOSS_ARGS_FIELDS.entries()) u32[i] = a[k] >>> 0;
  new Int32Array(buffer, ptr, LOSS_ARGS_FIELDS.length)[LOSS_ARGS_FIELDS.indexOf('ignoreIndex')] = a.ignoreIndex;
  new Float32Array(buffer, ptr, LOSS_ARGS_FIELDS.length)[LOSS_ARGS_FIELDS.indexOf('labelSmoothing')] = a.labelSmoothing;
}

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
  /** Bytes of the module's `LossArgs` ({@link LOSS_ARGS_BYTES}). */
  xent_loss_args_size(): number;
  /**
   * Fused softmax cross-entropy (forward and optional backward) over logits `[n, c, s]`, and
   * the scoring outputs (prediction, its probability, confusion counts) when asked for without
   * a gradient, with the {@link LossArgs} at `args`. `out` receives 4 f64
   * `[loss, sum, weightSum, 0]` (`[value, , , index]` for a bad target). Returns a
   * {@link StatusCode}; when it is not Ok, no output buffer was written.
   */
  xent_cross_entropy(args: number, out: number): number;
  /**
   * `y = softmax(x)` (`log` = 0) or `log_softmax(x)` (`log` = 1) over the class axis of
   * `[n, c, s]` tensors in `layout`; `x` and `y` (`n*c*s` f32) must not overlap.
   */
  xent_softmax(x: number, y: number, n: number, c: number, s: number, layout: number, log: number): number;
  /**
   * The gradient `gx` w.r.t. the input of `xent_softmax`, from its output `y` and the upstream
   * gradient `gy` (all `n*c*s` f32; `gx` must not overlap the others).
   */
  xent_softmax_backward(
    y: number,
    gy: number,
    gx: number,
    n: number,
    c: number,
    s: number,
    layout: number,
    log: number,
  ): number;
  /**
   * `nll_loss` of log-probabilities (`args.logits`, `[n, c, s]` in `layout`) against class
   * indices; as `xent_cross_entropy`, without label smoothing, probability targets, confidence
   * map or scoring outputs.
   */
  xent_nll_loss(args: number, out: number): number;
  /**
   * The first half of a split `xent_cross_entropy` (the same `LossArgs` and `out`): validates
   * everything, every label included, and writes the denominator of 'mean' to `out[2]`.
   */
  xent_cross_entropy_weight_sum(args: number, out: number): number;
  /**
   * Samples `lo .. hi` (flat index into `[n, s]`) of a split call, with `weightSum` from
   * `xent_cross_entropy_weight_sum`: writes their outputs and adds their losses to the
   * ExactSum at `acc`; `out` holds only the status fields.
   */
  xent_cross_entropy_range(args: number, weightSum: number, lo: number, hi: number, acc: number, out: number): number;
  /** Bytes of an ExactSum (an exact, order-independent accumulator; 8-byte aligned). */
  xent_exact_sum_size(): number;
  /** Sets the ExactSum at `p` to zero. */
  xent_exact_sum_clear(p: number): void;
  /** Adds the ExactSum at `src` into the one at `dst`, exactly. */
  xent_exact_sum_merge(dst: number, src: number): void;
  /** The value of the ExactSum at `p`, correctly rounded. */
  xent_exact_sum_value(p: number): number;
  /**
   * `xent_cross_entropy` on float16 logits: `args.logits` points to `n*c*s` IEEE half bits,
   * converted to f32 a strip of pixels at a time into the scratch (`scratchFloats` f32 at
   * `scratch`, overlapping nothing): the bits of `xent_cross_entropy` on the f32 logits of the
   * same values. A strip of `p` pixels needs `k*c*p` floats (see {@link f16ScratchFloatsPerPixel}).
   */
  xent_cross_entropy_f16(args: number, scratch: number, scratchFloats: number, out: number): number;
  /** `xent_cross_entropy_weight_sum` for float16 logits (no scratch: nothing is converted). */
  xent_cross_entropy_f16_weight_sum(args: number, out: number): number;
  /** `xent_cross_entropy_range` for float16 logits, with its own scratch (one per thread). */
  xent_cross_entropy_f16_range(
    args: number,
    weightSum: number,
    lo: number,
    hi: number,
    acc: number,
    scratch: number,
    scratchFloats: number,
    out: number,
  ): number;
  /** Converts `len` IEEE half bits at `src` to f32 at `dst`, exactly. Returns a {@link StatusCode}. */
  xent_f16_to_f32(src: number, dst: number, len: number): number;
  /** Bytes of the module's `ResizeArgs` ({@link RESIZE_ARGS_BYTES}). */
  xent_resize_args_size(): number;
  /** Bytes of scratch one caller (thread) of the resized exports needs for `c` classes. */
  xent_resize_scratch_size(c: number): number;
  /**
   * `xent_cross_entropy` of the logits (`[n, c, inH, inW]`) resized to the target's size
   * (`ResizeArgs` at `resize`), fused: the gradient is w.r.t. the low-resolution logits, every
   * other output at the target's resolution. `scratch`: `scratchBytes` bytes of scratch.
   */
  xent_resize_cross_entropy(args: number, resize: number, scratch: number, scratchBytes: number, out: number): number;
  /** The first half of a split `xent_resize_cross_entropy`: validation and the 'mean' denominator. */
  xent_resize_weight_sum(args: number, resize: number, out: number): number;
  /**
   * Source rows `lo .. hi` (of the `n * inH`) of a split `xent_resize_cross_entropy`, adding
   * the losses of the output rows it owns to the ExactSum at `acc`; each caller its own scratch.
   */
  xent_resize_cross_entropy_range(
    args: number,
    weightSum: number,
    lo: number,
    hi: number,
    acc: number,
    out: number,
    resize: number,
    scratch: number,
    scratchBytes: number,
  ): number;
  /** The first address past the module's static data and stack: the heap starts here. */
  __heap_base: WebAssembly.Global;
}

const FUNCTIONS: ReadonlyArray<[keyof XentExports, number]> = [
  ['xent_abi_version', 0],
  ['xent_simd', 0],
  ['xent_loss_args_size', 0],
  ['xent_cross_entropy', 2],
  ['xent_softmax', 7],
  ['xent_softmax_backward', 8],
  ['xent_nll_loss', 2],
  ['xent_cross_entropy_weight_sum', 2],
  ['xent_cross_entropy_range', 6],
  ['xent_exact_sum_size', 0],
  ['xent_exact_sum_clear', 1],
  ['xent_exact_sum_merge', 2],
  ['xent_exact_sum_value', 1],
  ['xent_cross_entropy_f16', 4],
  ['xent_cross_entropy_f16_weight_sum', 2],
  ['xent_cross_entropy_f16_range', 8],
  ['xent_f16_to_f32', 3],
  ['xent_resize_args_size', 0],
  ['xent_resize_scratch_size', 1],
  ['xent_resize_cross_entropy', 5],
  ['xent_resize_weight_sum', 3],
  ['xent_resize_cross_entropy_range', 9],
];

/** @internal Checks the exports of an instance and returns them typed. */
export function checkExports(exports: WebAssembly.Exports): XentExports {
  // The version first: a module of another ABI version gets that message, not a mismatch below.
  const v = exports.xent_abi_version;
  const version = typeof v === 'function' && v.length === 0 ? (v as () => number)() >>> 0 : undefined;
  if (version !== undefined && version !== ABI_VERSION) {
    throw new XentLoadError(
      `the wasm module has ABI version ${version}, but this xent-wasm TypeScript code needs version ${ABI_VERSION}: ` +
        `rebuild the .wasm and the TypeScript from the same commit`,
    );
  }
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
  const hb = exports.__heap_base;
  if (!(hb instanceof WebAssembly.Global)) {
    throw new XentLoadError('the wasm module does not export the global __heap_base (link with --export=__heap_base)');
  }
  const x = exports as unknown as XentExports;
  const argsBytes = x.xent_loss_args_size() >>> 0;
  if (argsBytes !== LOSS_ARGS_BYTES) {
    throw new XentLoadError(
      `the wasm module's LossArgs has ${argsBytes} bytes, this TypeScript code writes ${LOSS_ARGS_BYTES}: ` +
        `rebuild the .wasm and the TypeScript from the same commit`,
    );
  }
  const resizeBytes = x.xent_resize_args_size() >>> 0;
  if (resizeBytes !== RESIZE_ARGS_BYTES) {
    throw new XentLoadError(
      `the wasm module's ResizeArgs has ${resizeBytes} bytes, this TypeScript code writes ${RESIZE_ARGS_BYTES}: ` +
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
