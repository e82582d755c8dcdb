/**
 * xent-wasm: PyTorch-exact softmax cross-entropy (loss and gradient; class-index or
 * probability targets; NCHW or NHWC) in WebAssembly, with zero-copy tensors in wasm memory,
 * and its decomposition (softmax, log_softmax, nll_loss, forward and backward).
 *
 * ```ts
 * import { Xent } from 'xent-wasm';
 * const xent = await Xent.create();
 * try {
 *   const { loss } = xent.crossEntropy(
 *     { data: new Float32Array([0.1, 2.0, -1.0]), shape: [3] },
 *     { data: new Int32Array([1]), shape: [] },
 *   );
 * } finally {
 *   xent.dispose();
 * }
 * ```
 * @packageDocumentation
 */

export { Xent } from './xent.js';
export type { XentOptions, MemoryStats } from './xent.js';
export type { XentWarning, XentWarningCode } from './warnings.js';
export { Tensor } from './memory/tensor.js';
export type { DType, TargetDType, TypedArrayFor, SupportedTypedArray, DTypeOf } from './memory/dtype.js';
export type { Shape } from './memory/shape.js';
export type {
  CrossEntropyOptions,
  CrossEntropyResult,
  LossOptions,
  LossResult,
  NllLossOptions,
  Reduction,
} from './ops/loss/options.js';
export type { SoftmaxOptions } from './ops/softmax.js';
export type { ResizeOption, ResizeMode } from './ops/options/resize.js';
export type {
  Layout,
  OutputRequest,
  RequestedOutput,
  PlainTensor,
  RuntimeTensor,
  Float32Input,
  Float16Input,
  Float16ArrayLike,
  LogitsInput,
  TargetInput,
  IndexTargetInput,
  ProbTargetInput,
} from './ops/inputs.js';
export type { ScoreOptions, ScoreResult, ScoreCommonOptions, PredDType } from './ops/score/options.js';
export { Scorer } from './ops/score/scorer.js';
export type { ScorerOptions, ScorerUpdate, ScorerResult } from './ops/score/scorer.js';
export { segmentationMetrics } from './ops/score/metrics.js';
export type { SegmentationMetrics } from './ops/score/metrics.js';
export {
  simdSupported,
  relaxedSimdSupported,
  defaultWasmUrl,
  defaultThreadsWasmUrl,
  defaultRelaxedWasmUrl,
} from './loader.js';
export type { LoadOptions, WasmSource } from './loader.js';
export type { ThreadOptions } from './threads/start.js';
export { ABI_VERSION, LOSS_ARGS_BYTES, Status, writeLossArgs } from './kernel/abi.js';
export type { LossArgs, XentExports, StatusCode } from './kernel/abi.js';
export {
  XentError,
  XentLoadError,
  XentShapeError,
  XentDtypeError,
  XentTargetError,
  XentOptionError,
  XentDisposedError,
  XentOutOfMemoryError,
  XentForeignTensorError,
  XentAliasError,
  XentBusyError,
  XentMemoryInUseError,
} from './errors.js';
