/**
 * Scoring a segmentation model's output in one pass: the mean loss, the argmax prediction map,
 * optional per-pixel maps and the confusion matrix ({@link Xent.score}), and the checks and the
 * kernel call shared with the streaming {@link Scorer}.
 * @module
 */

import { lossArgs, REDUCTION_CODE, Status, TARGET_KIND_CODE, writeLossArgs } from '../../kernel/abi.js';
import { checkOutcome, invoke, meanOf, readOut, type KernelOutcome } from '../../kernel/call.js';
import { XentDtypeError, XentError, XentOptionError, XentShapeError } from '../../errors.js';
import { DTYPES, describeValue, INDEX_DTYPES, INDEX_DTYPES_TEXT, type TargetDType } from '../../memory/dtype.js';
import { checkByteLength, formatShape, sameShape, shapeSize } from '../../memory/shape.js';
import { isAnyXentTensor, type Tensor } from '../../memory/tensor.js';
import type { Runtime } from '../../runtime.js';
import {
  Scratch,
  checkAliases,
  checkExtent,
  ownTensor,
  ownTensorOffset,
  requestedOutput,
  resolve,
  resolveWeight,
  type Arg,
} from '../args.js';
import { kernelDims, lossGeometry } from '../geometry.js';
import { halfStripFloats } from '../../kernel/half.js';
import type { ResizeArgs } from '../../kernel/abi.js';
import type { NormalizedResize } from '../options/resize.js';
import { float16WithResize, prepareResize, type ResizeCall } from '../resize.js';
import type { Layout } from '../inputs.js';
import { normalizeScoreOptions, type PredDType, type ScoreResult } from './options.js';

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
  /** Float16 logits: the f32 floats of the scratch strip the kernel converts them into; else 0. */
  halfFloats: number;
  /** With `options.resize`: the logits' and the target's spatial sizes. */
  resize: ResizeArgs | undefined;
}

/** @internal Resolves the logits and target of `op` and applies PyTorch's shape rules in `layout`. */
export function resolveScoreInputs(
  rt: Runtime,
  op: string,
  logitsIn: unknown,
  targetIn: unknown,
  layout: Layout,
  resize?: NormalizedResize,
): ScoreInputs {
  const logits = resolve(rt, logitsIn, 'logits', ['float32', 'float16'], 'float32 or float16');
  const target = resolve(rt, targetIn, 'target', [...INDEX_DTYPES, 'float32'], `${INDEX_DTYPES_TEXT} class indices`);
  const g = lossGeometry(logits.shape, target, layout, 'logits', resize);
  if (g.kind === 'prob') {
    throw new XentDtypeError(
      `${op}: target is float32 class probabilities, but scoring needs class indices (${INDEX_DTYPES_TEXT}, shape ` +
        `${formatShape(g.lossShape)}): ` +
        `a confusion matrix counts pixels per target class (take the argmax of the probabilities, or use ` +
        `crossEntropy for their loss)`,
    );
  }
  if (g.c > 65536) {
    throw new XentShapeError(
      `${op}: logits ${formatShape(logits.shape)} have C = ${g.c} classes; scoring supports at most 65536 (a uint16 ` +
        `prediction map)`,
    );
  }
  if (logits.dtype === 'float16' && g.resize) throw float16WithResize('logits');
  const k = kernelDims(g.n, g.c, g.s, g.layout);
  const halfFloats =
    logits.dtype === 'float16' ? halfStripFloats(g.c, k.n * k.s, k.layout, false, false, logits.shape) : 0;
  const { n, c, s, lossShape: mapShape } = g;
  return { logits, target, n, c, s, mapShape, layout: g.layout, halfFloats, resize: g.resize };
}

function predOutput(rt: Runtime, value: unknown, shape: readonly number[], c: number): Arg | undefined {
  if (value === undefined) return undefined;
  const what = 'options.pred';
  const dtypes = c <= 256 ? 'uint8 or uint16' : 'uint16';
  if (!isAnyXentTensor(value)) {
    throw new XentOptionError(
      `${what} must be a ${dtypes} Tensor of shape ${formatShape(shape)} (the target's shape) in this instance's ` +
        `memory, e.g. xent.tensor('${c <= 256 ? 'uint8' : 'uint16'}', ${formatShape(shape)}); got ` +
        `${describeValue(value)}`,
    );
  }
  const ti = ownTensor(rt, value, what, 'output');
  if (ti.dtype !== 'uint8' && ti.dtype !== 'uint16')
    throw new XentDtypeError(`${what} must be a ${dtypes} tensor, got ${ti.dtype}`);
  if (ti.dtype === 'uint8' && c > 256) {
    throw new XentDtypeError(
      `${what} is a uint8 tensor but the logits have C = ${c} classes: class indices above 255 need a uint16 tensor`,
    );
  }
  if (!sameShape(ti.shape, shape)) {
    throw new XentShapeError(
      `${what} must have shape ${formatShape(shape)} (the target's shape), got ${formatShape(ti.shape)}`,
    );
  }
  const size = shapeSize(shape);
  return { what, dtype: ti.dtype, shape: ti.shape, size, byteLength: size * DTYPES[ti.dtype].bytes, offset: ti.offset };
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
  /** Float16 logits: the scratch strip of `inputs.halfFloats` f32 (see kernel/half.ts); else 0. */
  half: number;
  /** The memory of a resized call (`inputs.resize` set). */
  resizeMem?: ResizeMemory;
}

/** @internal A resized scoring call's `ResizeArgs` and scratch (see {@link prepareResize}). */
export type ResizeMemory = Pick<ResizeCall, 'args' | 'scratch' | 'scratchBytes'>;

/**
 * @internal One scoring call; throws the typed error for a bad status. Returns
 * `[loss, sum, weightSum]`. With `acc` (two ExactSums: `batch`, `total`), the call is split in
 * its two halves (validation and weight sum, then the samples into `batch`), and the batch's
 * exact sum is added to `total`, exactly.
 */
export function callScore(rt: Runtime, p: ScoreCall, acc?: { batch: number; total: number }): [number, number, number] {
  const { n, c, s, layout, target, resize } = p.inputs;
  const r = resize && p.resizeMem;
  if (resize && !r) throw new XentError('callScore: a resized call without its memory: this is a bug in xent-wasm');
  const k = r ? { n, c, s, layout } : kernelDims(n, c, s, layout);
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
  const half = p.half ? { ptr: p.half, floats: p.inputs.halfFloats } : undefined;
  const x = rt.exports;
  let outcome: KernelOutcome;
  if (acc) {
    outcome = r ? resizedInHalves(rt, r, n * resize!.inH, acc) : scoreInHalves(rt, k.n * k.s, acc, half);
  } else {
    const status = r
      ? invoke('xent_resize_cross_entropy', () =>
          x.xent_resize_cross_entropy(rt.argsPtr, r.args, r.scratch, r.scratchBytes, rt.outPtr),
        )
      : half
        ? invoke('xent_cross_entropy_f16', () => x.xent_cross_entropy_f16(rt.argsPtr, half.ptr, half.floats, rt.outPtr))
        : invoke('xent_cross_entropy', () => x.xent_cross_entropy(rt.argsPtr, rt.outPtr));
    outcome = { status, out: readOut(rt.memory.buffer, rt.outPtr) };
  }
  const labels = { shape: target.shape, classes: c, ignoreIndex: p.ignoreIndex };
  const detail = `n=${k.n}, c=${k.c}, s=${k.s}, layout=${k.layout}${resize ? `, resize ${JSON.stringify(resize)}` : ''}`;
  const name = r ? 'xent_resize_cross_entropy' : half ? 'xent_cross_entropy_f16' : 'xent_cross_entropy';
  checkOutcome(name, outcome, labels, detail);
  const o = outcome.out;
  return [o[0], o[1], o[2]];
}

/**
 * The call written at `rt.argsPtr` in its two halves: validation and weight sum, then the
 * `samples` samples into the ExactSum `acc.batch`, which is then added to `acc.total`.
 */
function scoreInHalves(
  rt: Runtime,
  samples: number,
  acc: { batch: number; total: number },
  half: { ptr: number; floats: number } | undefined,
): KernelOutcome {
  const x = rt.exports;
  const a = rt.argsPtr;
  let status = half
    ? invoke('xent_cross_entropy_f16_weight_sum', () => x.xent_cross_entropy_f16_weight_sum(a, rt.outPtr))
    : invoke('xent_cross_entropy_weight_sum', () => x.xent_cross_entropy_weight_sum(a, rt.outPtr));
  if (status !== Status.Ok) return { status, out: readOut(rt.memory.buffer, rt.outPtr) };
  const ws = readOut(rt.memory.buffer, rt.outPtr)[2];
  x.xent_exact_sum_clear(acc.batch);
  status = half
    ? invoke('xent_cross_entropy_f16_range', () =>
        x.xent_cross_entropy_f16_range(a, ws, 0, samples, acc.batch, half.ptr, half.floats, rt.outPtr),
      )
    : invoke('xent_cross_entropy_range', () => x.xent_cross_entropy_range(a, ws, 0, samples, acc.batch, rt.outPtr));
  if (status !== Status.Ok) return { status, out: readOut(rt.memory.buffer, rt.outPtr) };
  const sum = x.xent_exact_sum_value(acc.batch);
  x.xent_exact_sum_merge(acc.total, acc.batch);
  return { status, out: [meanOf(sum, ws), sum, ws, 0] };
}

/** As {@link scoreInHalves}, for a resized call over its `rows` source rows. */
function resizedInHalves(
  rt: Runtime,
  r: ResizeMemory,
  rows: number,
  acc: { batch: number; total: number },
): KernelOutcome {
  const x = rt.exports;
  let status = invoke('xent_resize_weight_sum', () => x.xent_resize_weight_sum(rt.argsPtr, r.args, rt.outPtr));
  if (status !== Status.Ok) return { status, out: readOut(rt.memory.buffer, rt.outPtr) };
  const ws = readOut(rt.memory.buffer, rt.outPtr)[2];
  x.xent_exact_sum_clear(acc.batch);
  status = invoke('xent_resize_cross_entropy_range', () =>
    x.xent_resize_cross_entropy_range(rt.argsPtr, ws, 0, rows, acc.batch, rt.outPtr, r.args, r.scratch, r.scratchBytes),
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
  const inputs = resolveScoreInputs(rt, 'score', logitsIn, targetIn, opts.layout, opts.resize);
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
    const pHalf = inputs.halfFloats ? scratch.block(inputs.halfFloats * 4) : 0;
    if (!pred) newPred = rt.allocTensor(predDtype, mapShape, 'pred', false);
    const pPred = pred ? pred.offset! : ownTensorOffset(rt, newPred!, 'pred', 'output');
    checkExtent(rt, pPred, shapeSize(mapShape) * DTYPES[predDtype].bytes, 'pred');
    checkExtent(rt, pConfusion, ccBytes, 'the confusion matrix');
    const resizeMem = inputs.resize && prepareResize(rt, scratch, inputs.resize, inputs.n, c, 1);
    const [loss, sum, weightSum] = callScore(rt, {
      ...(resizeMem && { resizeMem }),
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
      half: pHalf,
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
