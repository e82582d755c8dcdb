/**
 * Scoring a segmentation model's output in one pass: the mean loss, the argmax prediction map,
 * optional per-pixel maps and the confusion matrix ({@link Xent.score}), and the checks and the
 * kernel call shared with the streaming {@link Scorer}.
 * @module
 */

import { lossArgs, REDUCTION_CODE, Status, TARGET_KIND_CODE, writeLossArgs } from '../../kernel/abi.js';
import { Scratch, checkAliases, ownTensorOffset, requestedOutput, resolve, resolveWeight, type Arg } from '../args.js';
import { describeValue, INDEX_DTYPES, INDEX_DTYPES_TEXT, type TargetDType } from '../../memory/dtype.js';
import { XentDtypeError, XentOptionError, XentShapeError } from '../../errors.js';
import { kernelDims, lossGeometry } from '../geometry.js';
import { checkOutcome, invoke, meanOf, readOut, type KernelOutcome } from '../../kernel/call.js';
import { parseLayout, suggestOption, type Layout, type OutputRequest, type RequestedOutput } from '../loss/options.js';
import type { Runtime } from '../../runtime.js';
import { checkByteLength, formatShape, sameShape } from '../../memory/shape.js';
import { Tensor } from '../../memory/tensor.js';

/** The dtype of a prediction map: `uint8` for up to 256 classes, else `uint16`. */
export type PredDType = 'uint8' | 'uint16';

/** Options shared by {@link Xent.score} and {@link Xent.scorer}. */
export interface ScoreCommonOptions {
  /**
   * Target value that is ignored (PyTorch's and mmsegmentation's `ignore_index`): such pixels
   * have loss 0, are left out of the mean loss and are not counted in the confusion matrix.
   * An integer; default -100 (segmentation masks usually use 255).
   */
  ignoreIndex?: number;
  /**
   * A rescaling weight per class for the loss (PyTorch `weight`), of length C, finite. It
   * changes the loss and `weightSum` only: the confusion matrix and every metric count pixels.
   */
  weight?: Float32Array | readonly number[] | Tensor<'float32'>;
  /**
   * Where the class axis of logits of rank ≥ 3 is: `'NCHW'` (default, `(N, C, d1, ..., dk)`)
   * or `'NHWC'` (`(N, d1, ..., dk, C)`). The target, the prediction and every map are
   * `(N, d1, ..., dk)` either way; results are bit-identical to NCHW on the transposed logits.
   */
  layout?: Layout;
}

/**
 * Options of {@link Xent.score}. Each optional map is a float32 tensor of the target's shape
 * to write into, `true` for a new tensor that the caller disposes, or `false`/absent.
 * @typeParam M - the type of `lossMap` (decides `result.lossMap`), likewise `K` for
 *   `confidence` and `Q` for `predConfidence`.
 */
export interface ScoreOptions<
  M extends OutputRequest | undefined = OutputRequest | undefined,
  K extends OutputRequest | undefined = OutputRequest | undefined,
  Q extends OutputRequest | undefined = OutputRequest | undefined,
> extends ScoreCommonOptions {
  /** Also return the per-pixel loss (0 where ignored). */
  lossMap?: M;
  /** Also return the softmax probability of each pixel's target class (0 where ignored). */
  confidence?: K;
  /** Also return the softmax probability of each pixel's predicted class (every pixel). */
  predConfidence?: Q;
  /**
   * Where to write the prediction map: a `uint8` (C ≤ 256) or `uint16` tensor of the target's
   * shape. Default: a new tensor (uint8 when C ≤ 256, else uint16) that the caller disposes.
   */
  pred?: Tensor<PredDType>;
}

/** The result of {@link Xent.score}. */
export interface ScoreResult<
  M extends OutputRequest | undefined = OutputRequest | undefined,
  K extends OutputRequest | undefined = OutputRequest | undefined,
  Q extends OutputRequest | undefined = OutputRequest | undefined,
> {
  /** The mean loss, `sum / weightSum` (PyTorch's `reduction='mean'`; NaN when `weightSum` is 0). */
  loss: number;
  /** Σ of the per-pixel losses (summed exactly, rounded once). */
  sum: number;
  /** Σ weight[target] over non-ignored pixels (their count without `weight`). */
  weightSum: number;
  /**
   * The predicted class of every pixel (ignored ones too): the argmax over the class axis, the
   * first maximum on ties, NaN counting as the largest value (as `torch.argmax`). Shaped like
   * the target; `options.pred` if given, else a new tensor the caller must dispose.
   */
  pred: Tensor<PredDType>;
  /** The per-pixel loss, when requested. */
  lossMap: RequestedOutput<M>;
  /** The probability of the target class, when requested. */
  confidence: RequestedOutput<K>;
  /** The probability of the predicted class, when requested. */
  predConfidence: RequestedOutput<Q>;
  /**
   * The C×C confusion matrix of this call, row-major: `confusion[t * C + p]` counts the
   * non-ignored pixels of target class `t` predicted as `p`. A JavaScript array (a copy): add
   * these up over batches (or use {@link Xent.scorer}) and turn them into metrics with
   * {@link segmentationMetrics}.
   */
  confusion: Float64Array;
}

/** @internal The option names of {@link Xent.score}. */
export const SCORE_OPTION_NAMES = [
  'ignoreIndex',
  'weight',
  'layout',
  'lossMap',
  'confidence',
  'predConfidence',
  'pred',
] as const;
/** @internal The option names of {@link Xent.scorer}. */
export const SCORER_OPTION_NAMES = ['ignoreIndex', 'weight', 'layout'] as const;

/** @internal Options after the shape-independent checks. */
export interface NormalizedScoreOptions {
  ignoreIndex: number;
  weight: unknown;
  layout: Layout;
  lossMap: unknown;
  confidence: unknown;
  predConfidence: unknown;
  pred: unknown;
}

/** @internal Checks option names and the scalar options of `op`. */
export function normalizeScoreOptions(options: unknown, op: 'score' | 'scorer'): NormalizedScoreOptions {
  const names: readonly string[] = op === 'score' ? SCORE_OPTION_NAMES : SCORER_OPTION_NAMES;
  if (options === undefined || options === null) options = {};
  if (
    typeof options !== 'object' ||
    Array.isArray(options) ||
    ArrayBuffer.isView(options) ||
    options instanceof Tensor
  ) {
    throw new XentOptionError(`${op}: options must be an object, got ${describeValue(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (names.includes(key)) continue;
    const perCall = op === 'scorer' && (SCORE_OPTION_NAMES as readonly string[]).includes(key);
    const hint = perCall
      ? undefined
      : (suggestOption(key, names) ?? (/^pred_?conf/i.test(key) ? 'predConfidence' : undefined));
    throw new XentOptionError(
      `${op}: ${perCall ? `option ${JSON.stringify(key)} is a per-call output of xent.score, not an option of a scorer` : `unknown option ${JSON.stringify(key)}`}` +
        (hint ? `; did you mean ${JSON.stringify(hint)}?` : '') +
        ` Valid options: ${names.join(', ')}.`,
    );
  }
  const ignoreIndex = o.ignoreIndex ?? -100;
  if (typeof ignoreIndex !== 'number' || !Number.isInteger(ignoreIndex)) {
    throw new XentOptionError(`${op}: options.ignoreIndex must be an integer, got ${describeValue(ignoreIndex)}`);
  }
  if (ignoreIndex < -(2 ** 31) || ignoreIndex > 2 ** 31 - 1) {
    throw new XentOptionError(
      `${op}: options.ignoreIndex must fit in 32 bits ([-2147483648, 2147483647]), got ${ignoreIndex}`,
    );
  }
  const off = (v: unknown) => (v === false ? undefined : v);
  return {
    ignoreIndex: ignoreIndex === 0 ? 0 : ignoreIndex, // -0 → 0
    weight: o.weight,
    layout: parseLayout(o.layout, op),
    lossMap: off(o.lossMap),
    confidence: off(o.confidence),
    predConfidence: off(o.predConfidence),
    pred: o.pred,
  };
}

/** @internal Logits and class-index target of a scoring call, resolved and checked against each other. */
export interface ScoreInputs {
  logits: Arg;
  target: Arg;
  n: number;
  c: number;
  s: number;
  /** The target's shape: that of the prediction and of every map. */
  mapShape: readonly number[];
  /** ABI layout code. */
  layout: number;
}

/** @internal Resolves the logits and target of `op` and applies PyTorch's shape rules in `layout`. */
export function resolveScoreInputs(
  rt: Runtime,
  op: string,
  logitsIn: unknown,
  targetIn: unknown,
  layout: Layout,
): ScoreInputs {
  const logits = resolve(rt, logitsIn, 'logits', ['float32'], 'float32');
  const target = resolve(rt, targetIn, 'target', [...INDEX_DTYPES, 'float32'], `${INDEX_DTYPES_TEXT} class indices`);
  const g = lossGeometry(logits.shape, target, layout);
  if (g.kind === 'prob') {
    throw new XentDtypeError(
      `${op}: target is float32 class probabilities, but scoring needs class indices (${INDEX_DTYPES_TEXT}, shape ${formatShape(g.lossShape)}): ` +
        `a confusion matrix counts pixels per target class (take the argmax of the probabilities, or use crossEntropy for their loss)`,
    );
  }
  if (g.c > 65536) {
    throw new XentShapeError(
      `${op}: logits ${formatShape(logits.shape)} have C = ${g.c} classes; scoring supports at most 65536 (a uint16 prediction map)`,
    );
  }
  return { logits, target, n: g.n, c: g.c, s: g.s, mapShape: g.lossShape, layout: g.layout };
}

function predOutput(rt: Runtime, value: unknown, shape: readonly number[], c: number): Arg | undefined {
  if (value === undefined) return undefined;
  const what = 'options.pred';
  const dtypes = c <= 256 ? 'uint8 or uint16' : 'uint16';
  if (!(value instanceof Tensor)) {
    throw new XentOptionError(
      `${what} must be a ${dtypes} Tensor of shape ${formatShape(shape)} (the target's shape) in this instance's memory, ` +
        `e.g. xent.tensor('${c <= 256 ? 'uint8' : 'uint16'}', ${formatShape(shape)}); got ${describeValue(value)}`,
    );
  }
  const offset = ownTensorOffset(rt, value, what);
  if (value.dtype !== 'uint8' && value.dtype !== 'uint16')
    throw new XentDtypeError(`${what} must be a ${dtypes} tensor, got ${value.dtype}`);
  if (value.dtype === 'uint8' && c > 256) {
    throw new XentDtypeError(
      `${what} is a uint8 tensor but the logits have C = ${c} classes: class indices above 255 need a uint16 tensor`,
    );
  }
  if (!sameShape(value.shape, shape)) {
    throw new XentShapeError(
      `${what} must have shape ${formatShape(shape)} (the target's shape), got ${formatShape(value.shape)}`,
    );
  }
  return { what, dtype: value.dtype, shape: value.shape, size: value.size, byteLength: value.byteLength, offset };
}

/** @internal The addresses and scalars of one scoring call (`xent_cross_entropy` with the prediction outputs). */
export interface ScoreCall {
  inputs: ScoreInputs;
  logits: number;
  target: number;
  weight: number;
  ignoreIndex: number;
  lossMap: number;
  confidence: number;
  pred: number;
  predDtype: PredDType;
  predConfidence: number;
  confusion: number;
}

/**
 * @internal One scoring call; throws the typed error for a bad status. Returns
 * `[loss, sum, weightSum]`. With `acc` (two ExactSums: `batch`, `total`), the call is split in
 * its two halves (validation and weight sum, then the samples into `batch`), and the batch's
 * exact sum is added to `total`, exactly.
 */
export function callScore(rt: Runtime, p: ScoreCall, acc?: { batch: number; total: number }): [number, number, number] {
  const { n, c, s, layout, target } = p.inputs;
  const k = kernelDims(n, c, s, layout);
  const args = lossArgs({
    logits: p.logits,
    target: p.target,
    targetKind: TARGET_KIND_CODE[target.dtype as TargetDType],
    ...k,
    weight: p.weight,
    ignoreIndex: p.ignoreIndex,
    reduction: REDUCTION_CODE.mean,
    labelSmoothing: 0,
    lossMap: p.lossMap,
    confidence: p.confidence,
    pred: p.pred,
    predKind: p.predDtype === 'uint8' ? 0 : 1,
    predConfidence: p.predConfidence,
    confusion: p.confusion,
  });
  writeLossArgs(rt.memory.buffer, rt.argsPtr, args);
  let outcome: KernelOutcome;
  if (acc) {
    outcome = scoreInHalves(rt, k.n * k.s, acc);
  } else {
    const status = invoke('xent_cross_entropy', () => rt.exports.xent_cross_entropy(rt.argsPtr, rt.outPtr));
    outcome = { status, out: readOut(rt.memory.buffer, rt.outPtr) };
  }
  const labels = { shape: target.shape, classes: c, ignoreIndex: p.ignoreIndex };
  checkOutcome('xent_cross_entropy', outcome, labels, `n=${k.n}, c=${k.c}, s=${k.s}, layout=${k.layout}`);
  const o = outcome.out;
  return [o[0], o[1], o[2]];
}

/**
 * The call written at `rt.argsPtr` in its two halves: validation and weight sum, then the
 * `samples` samples into the ExactSum `acc.batch`, which is then added to `acc.total`.
 */
function scoreInHalves(rt: Runtime, samples: number, acc: { batch: number; total: number }): KernelOutcome {
  const x = rt.exports;
  let status = invoke('xent_cross_entropy_weight_sum', () => x.xent_cross_entropy_weight_sum(rt.argsPtr, rt.outPtr));
  if (status !== Status.Ok) return { status, out: readOut(rt.memory.buffer, rt.outPtr) };
  const ws = readOut(rt.memory.buffer, rt.outPtr)[2];
  x.xent_exact_sum_clear(acc.batch);
  status = invoke('xent_cross_entropy_range', () =>
    x.xent_cross_entropy_range(rt.argsPtr, ws, 0, samples, acc.batch, rt.outPtr),
  );
  if (status !== Status.Ok) return { status, out: readOut(rt.memory.buffer, rt.outPtr) };
  const sum = x.xent_exact_sum_value(acc.batch);
  x.xent_exact_sum_merge(acc.total, acc.batch);
  return { status, out: [meanOf(sum, ws), sum, ws, 0] };
}

/** @internal The body of {@link Xent.score}. */
export function score(rt: Runtime, logitsIn: unknown, targetIn: unknown, optionsIn: unknown): ScoreResult {
  rt.check('score');
  // ---- validate everything (nothing is allocated or written before the kernel call) ----
  const opts = normalizeScoreOptions(optionsIn, 'score');
  const inputs = resolveScoreInputs(rt, 'score', logitsIn, targetIn, opts.layout);
  const { logits, target, c, mapShape } = inputs;
  const weight = resolveWeight(rt, opts.weight, c);
  const shapeOf = "the target's shape";
  const lossMap = requestedOutput(rt, opts.lossMap, 'options.lossMap', mapShape, shapeOf);
  const confidence = requestedOutput(rt, opts.confidence, 'options.confidence', mapShape, shapeOf);
  const predConfidence = requestedOutput(rt, opts.predConfidence, 'options.predConfidence', mapShape, shapeOf);
  const pred = predOutput(rt, opts.pred, mapShape, c);
  checkAliases([lossMap, confidence, predConfidence, pred], [logits, target, weight]);
  const ccBytes = checkByteLength([c, c], c * c, 8, 'float64', 'the confusion matrix');
  const predDtype: PredDType = pred ? (pred.dtype as PredDType) : c <= 256 ? 'uint8' : 'uint16';

  // ---- scratch memory, new outputs and the call ----
  const scratch = new Scratch(rt);
  let pConfusion = 0;
  let newPred: Tensor<PredDType> | undefined;
  try {
    const p = scratch.prepare([logits, target, weight], [lossMap, confidence, predConfidence]);
    const [pLogits, pTarget, pWeight] = p.inputs as [number, number, number];
    const [pLossMap, pConfidence, pPredConfidence] = p.outputs as [number, number, number];
    // Plain inputs are already copied in: allocating more (which may grow the memory) is fine.
    pConfusion = rt.heap.alloc(ccBytes, true);
    if (!pred) newPred = rt.allocTensor(predDtype, mapShape, 'pred', false);
    const pPred = pred ? pred.offset! : ownTensorOffset(rt, newPred!, 'pred');
    const [loss, sum, weightSum] = callScore(rt, {
      inputs,
      logits: pLogits,
      target: pTarget,
      weight: pWeight,
      ignoreIndex: opts.ignoreIndex,
      lossMap: pLossMap,
      confidence: pConfidence,
      pred: pPred,
      predDtype,
      predConfidence: pPredConfidence,
      confusion: pConfusion,
    });
    const res: Record<string, unknown> = {
      loss,
      sum,
      weightSum,
      pred: newPred ?? opts.pred,
      confusion: new Float64Array(rt.memory.buffer, pConfusion, c * c).slice(),
    };
    if (lossMap) res.lossMap = lossMap.tensor;
    if (confidence) res.confidence = confidence.tensor;
    if (predConfidence) res.predConfidence = predConfidence.tensor;
    scratch.keep();
    newPred = undefined;
    return res as unknown as ScoreResult;
  } finally {
    scratch.release();
    if (pConfusion) rt.heap.free(pConfusion);
    newPred?.dispose();
  }
}
