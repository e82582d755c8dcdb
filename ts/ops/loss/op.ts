/**
 * The loss ops, {@link Xent.crossEntropy} and {@link Xent.nllLoss}: argument resolution,
 * validation, scratch memory and the kernel call.
 * @module
 */

import { lossArgs, REDUCTION_CODE, Status, TARGET_KIND_CODE, writeLossArgs, type LossArgs } from '../../kernel/abi.js';
import {
  Scratch,
  checkAliases,
  newOutput,
  outputTensor,
  requestedOutput,
  resolve,
  resolveWeight,
  type Arg,
  type OutArg,
} from '../args.js';
import { INDEX_DTYPES, INDEX_DTYPES_TEXT, type TargetDType } from '../../memory/dtype.js';
import { XentOptionError, XentShapeError } from '../../errors.js';
import { float16WithResize } from '../resize.js';
import { kernelDims, lossGeometry, type LossGeometry } from '../geometry.js';
import { checkOutcome, invoke, readOut, type KernelOutcome, type SplitCall } from '../../kernel/call.js';
import { halfStripFloats, type HalfScratch } from '../../kernel/half.js';
import { normalizeOptions, type CrossEntropyResult, type NormalizedOptions, type OpName } from './options.js';
import type { Runtime } from '../../runtime.js';
import { formatShape, sameShape } from '../../memory/shape.js';
import { prepareResize, type ResizeCall } from '../resize.js';

/** A validated loss call: its resolved arguments, before any allocation. */
interface LossPlan {
  nll: boolean;
  prob: boolean;
  /** Float16 logits: the f32 floats of each thread's strip of scratch; 0 for float32 logits. */
  halfFloats: number;
  opts: NormalizedOptions;
  g: LossGeometry;
  input: Arg;
  target: Arg;
  weight: Arg | undefined;
  gradOutput: Arg | undefined;
  grad: OutArg | undefined;
  lossOut: OutArg | undefined;
  confidence: OutArg | undefined;
}

/**
 * @internal The body of {@link Xent.crossEntropy} (`op` = 'crossEntropy') and
 * {@link Xent.nllLoss} (`op` = 'nllLoss', whose input is log-probabilities). With worker
 * threads (and where the calling thread may block), crossEntropy is split between the calling
 * thread and the workers; otherwise it runs here.
 */
export function lossOp(
  rt: Runtime,
  op: OpName,
  inputIn: unknown,
  targetIn: unknown,
  optionsIn: unknown,
): CrossEntropyResult {
  const plan = planLoss(rt, op, inputIn, targetIn, optionsIn);
  const scratch = new Scratch(rt);
  try {
    const args = kernelArgs(rt, plan, scratch);
    const half = halfScratch(rt, plan, scratch);
    const split = plan.nll || noSamples(plan) ? undefined : rt.pool?.runSync(splitCall(plan, args, half));
    const res = lossResult(plan, split ?? runKernel(rt, plan, args, half));
    scratch.keep();
    return res;
  } finally {
    scratch.release();
  }
}

/**
 * @internal The body of {@link Xent.crossEntropyAsync}: validated and prepared now, run on the
 * worker threads (queued behind earlier async calls), or here at once without threads.
 */
export async function crossEntropyAsyncOp(
  rt: Runtime,
  inputIn: unknown,
  targetIn: unknown,
  optionsIn: unknown,
): Promise<CrossEntropyResult> {
  const plan = planLoss(rt, 'crossEntropy', inputIn, targetIn, optionsIn);
  const scratch = new Scratch(rt);
  try {
    const args = kernelArgs(rt, plan, scratch);
    const half = halfScratch(rt, plan, scratch);
    // Until the call settles, the caller's tensors keep their blocks (dispose() defers the
    // free) and cannot be written (or, the outputs, read) by another call.
    const { input, target, weight, gradOutput, grad, lossOut, confidence } = plan;
    scratch.pin([input, target, weight, gradOutput], [grad, lossOut, confidence]);
    const pool = rt.pool;
    const outcome =
      pool && !noSamples(plan) ? await pool.run(splitCall(plan, args, half)) : runKernel(rt, plan, args, half);
    rt.check('crossEntropyAsync');
    const res = lossResult(plan, outcome);
    scratch.keep();
    return res;
  } finally {
    scratch.release();
  }
}

/** Resolves and validates every argument of a loss call (nothing is allocated or written). */
function planLoss(rt: Runtime, op: OpName, inputIn: unknown, targetIn: unknown, optionsIn: unknown): LossPlan {
  rt.check(op);
  const nll = op === 'nllLoss';
  const what = nll ? 'logProbs' : 'logits';
  // ---- validate everything (nothing is allocated or written before the kernel call) ----
  const opts = normalizeOptions(optionsIn, op);
  const input = nll
    ? resolve(rt, inputIn, what, ['float32'], 'float32')
    : resolve(rt, inputIn, what, ['float32', 'float16'], 'float32 or float16');
  const target = nll
    ? resolve(
        rt,
        targetIn,
        'target',
        INDEX_DTYPES,
        `${INDEX_DTYPES_TEXT} class indices (nllLoss has no probability targets)`,
      )
    : resolve(
        rt,
        targetIn,
        'target',
        [...INDEX_DTYPES, 'float32'],
        `${INDEX_DTYPES_TEXT} class indices, or float32 class probabilities`,
      );
  const g = lossGeometry(input.shape, target, opts.layout, what, opts.resize);
  if (input.dtype === 'float16' && g.resize) throw float16WithResize(what);
  const { c, lossShape } = g;
  const { reduction, ignoreIndex } = opts;
  const prob = g.kind === 'prob';
  if (prob && ignoreIndex >= 0) {
    throw new XentOptionError(
      `${op}: options.ignoreIndex = ${ignoreIndex}: ignore_index is not supported for floating point target ` +
        `(a float32 target holds class probabilities; give a sample zero probabilities, or a zero weight per class, ` +
        `to leave it out)`,
    );
  }
  if (prob && opts.confidence !== undefined) {
    throw new XentOptionError(
      `${op}: options.confidence is only defined for class-index targets (the probability of the target class), ` +
        `but the target is float32 class probabilities; use xent.softmax(logits) for the whole distribution`,
    );
  }

  const weight = resolveWeight(rt, opts.weight, c);
  const grad =
    opts.grad === undefined ? undefined : outputTensor(rt, opts.grad, 'options.grad', input.shape, `the ${what} shape`);

  let gradOutput: Arg | undefined;
  if (opts.gradOutput !== undefined) {
    if (reduction !== 'none') {
      throw new XentOptionError(
        `options.gradOutput is only used with reduction 'none' (got '${reduction}'): for 'mean' and 'sum' the ` +
          `upstream gradient is 1; scale grad yourself for another value`,
      );
    }
    if (grad === undefined)
      throw new XentOptionError(`options.gradOutput was given without options.grad: there is no gradient to compute`);
    gradOutput = resolve(rt, opts.gradOutput, 'options.gradOutput', ['float32'], 'float32');
    if (!sameShape(gradOutput.shape, lossShape)) {
      throw new XentShapeError(
        `options.gradOutput must have the loss shape ${formatShape(lossShape)} (the shape of class-index targets), ` +
          `got ${formatShape(gradOutput.shape)}`,
      );
    }
  } else if (grad !== undefined && reduction === 'none') {
    throw new XentOptionError(
      `options.gradOutput (shape ${formatShape(lossShape)}) is required with options.grad when reduction is 'none'`,
    );
  }

  const lossOf = 'the loss shape, = the shape of class-index targets';
  let lossOut: OutArg | undefined;
  if (reduction === 'none') {
    const lm = opts.lossMap;
    if (opts.out !== undefined && lm !== undefined && lm !== true && lm !== opts.out) {
      throw new XentOptionError(
        `options.out and options.lossMap are both the destination of the per-sample losses with reduction 'none': ` +
          `give one of them (or the same tensor twice)`,
      );
    }
    if (opts.out !== undefined) lossOut = outputTensor(rt, opts.out, 'options.out', lossShape, lossOf);
    else if (lm !== undefined && lm !== true)
      lossOut = outputTensor(rt, lm, 'options.lossMap', lossShape, lossOf, true);
    else lossOut = newOutput('loss', lossShape);
  } else {
    if (opts.out !== undefined) {
      throw new XentOptionError(
        `options.out is only used with reduction 'none' (got '${reduction}'): mean and sum return a number; use ` +
          `options.lossMap for the per-sample losses`,
      );
    }
    lossOut = requestedOutput(rt, opts.lossMap, 'options.lossMap', lossShape, lossOf);
  }
  const confidence = requestedOutput(rt, opts.confidence, 'options.confidence', lossShape, lossOf);

  checkAliases([grad, lossOut, confidence], [input, target, weight, gradOutput]);
  const k = kernelDims(g.n, g.c, g.s, g.layout);
  const halfFloats =
    input.dtype === 'float16' ? halfStripFloats(c, k.n * k.s, k.layout, grad !== undefined, prob, input.shape) : 0;
  return { nll, prob, halfFloats, opts, g, input, target, weight, gradOutput, grad, lossOut, confidence };
}

/** The kernel's arguments of a loss call, and the memory of its resize (with `options.resize`). */
interface CallArgs {
  loss: LossArgs;
  resize: ResizeCall | undefined;
}

/** Allocates the call's scratch memory and new outputs and returns the kernel's arguments. */
function kernelArgs(rt: Runtime, plan: LossPlan, scratch: Scratch): CallArgs {
  const { nll, prob, opts, g, input, target, weight, gradOutput, grad, lossOut, confidence } = plan;
  const p = scratch.prepare([input, target, weight, gradOutput], [grad, lossOut, confidence]);
  const [pInput, pTarget, pWeight, pGradOutput] = p.inputs as [number, number, number, number];
  const [pGrad, pLoss, pConfidence] = p.outputs as [number, number, number];
  // A resized call keeps its dims: its logits are not [n, c, s].
  const k = g.resize ? { n: g.n, c: g.c, s: g.s, layout: g.layout } : kernelDims(g.n, g.c, g.s, g.layout);
  const resize = g.resize && prepareResize(rt, scratch, g.resize, g.n, g.c, 1 + (rt.pool?.size ?? 0));
  const loss = lossArgs({
    logits: pInput,
    target: pTarget,
    targetKind: prob ? TARGET_KIND_CODE.prob : TARGET_KIND_CODE[target.dtype as TargetDType],
    ...k,
    weight: pWeight,
    ignoreIndex: opts.ignoreIndex,
    reduction: REDUCTION_CODE[opts.reduction],
    labelSmoothing: nll ? 0 : opts.labelSmoothing,
    grad: pGrad,
    gradOutput: pGradOutput,
    lossMap: pLoss,
    confidence: nll ? 0 : pConfidence,
  });
  return { loss, resize };
}

/**
 * The float16 call's scratch (see kernel/half.ts): a strip for this thread and one for each
 * worker; undefined for float32 logits.
 */
function halfScratch(rt: Runtime, plan: LossPlan, scratch: Scratch): HalfScratch | undefined {
  if (plan.halfFloats === 0 || noSamples(plan)) return undefined;
  const participants = 1 + (rt.pool?.size ?? 0);
  return { ptr: scratch.block(participants * plan.halfFloats * 4), floats: plan.halfFloats, participants };
}

/**
 * Whether the call has no samples and a dim beyond the kernel's u32 arguments: an empty tensor
 * with C ≥ 2^32 classes, say (`[1, 2 ** 32, 0]`; any non-empty one that large cannot be in a
 * wasm32 memory). Then nothing is computed, as in PyTorch: the sum and the weight sum are 0 and
 * the mean is NaN.
 */
function noSamples(plan: LossPlan): boolean {
  const { n, c, s } = plan.g;
  return n * s === 0 && Math.max(n, c, s) > U32_MAX;
}

/** The largest value of a u32 argument of the kernel. */
const U32_MAX = 2 ** 32 - 1;

/** The kernel call on this thread (the whole call). */
function runKernel(
  rt: Runtime,
  plan: LossPlan,
  { loss, resize: r }: CallArgs,
  half: HalfScratch | undefined,
): KernelOutcome {
  if (noSamples(plan)) {
    return { status: Status.Ok, out: [plan.opts.reduction === 'mean' ? NaN : 0, 0, 0, 0] };
  }
  writeLossArgs(rt.memory.buffer, rt.argsPtr, loss);
  const x = rt.exports;
  const status = r
    ? invoke('xent_resize_cross_entropy', () =>
        x.xent_resize_cross_entropy(rt.argsPtr, r.args, r.scratch, r.scratchBytes, rt.outPtr),
      )
    : half
      ? invoke('xent_cross_entropy_f16', () => x.xent_cross_entropy_f16(rt.argsPtr, half.ptr, half.floats, rt.outPtr))
      : plan.nll
        ? invoke('xent_nll_loss', () => x.xent_nll_loss(rt.argsPtr, rt.outPtr))
        : invoke('xent_cross_entropy', () => x.xent_cross_entropy(rt.argsPtr, rt.outPtr));
  return { status, out: readOut(rt.memory.buffer, rt.outPtr) };
}

/** What the worker pool needs to split a crossEntropy call. */
function splitCall(plan: LossPlan, { loss, resize }: CallArgs, half: HalfScratch | undefined): SplitCall {
  const split: SplitCall = {
    args: loss,
    samples: loss.n * loss.s,
    classes: loss.c,
    reduction: loss.reduction,
    prob: plan.prob,
    half,
  };
  if (resize) split.resize = resize;
  return split;
}

/** The op's result from the kernel's status and `out`; throws for a bad target. */
function lossResult(plan: LossPlan, outcome: KernelOutcome): CrossEntropyResult {
  const { nll, opts, g, target, lossOut, confidence } = plan;
  const name = nll
    ? 'xent_nll_loss'
    : g.resize
      ? 'xent_resize_cross_entropy'
      : plan.halfFloats
        ? 'xent_cross_entropy_f16'
        : 'xent_cross_entropy';
  const k = g.resize ? g : kernelDims(g.n, g.c, g.s, g.layout);
  const labels = { shape: target.shape, classes: g.c, ignoreIndex: opts.ignoreIndex };
  const r = g.resize ? `, resize ${JSON.stringify(g.resize)}` : '';
  checkOutcome(name, outcome, labels, `n=${k.n}, c=${k.c}, s=${k.s}, layout=${k.layout}, target ${g.kind}${r}`);
  const o = outcome.out;
  const res: Record<string, unknown> = {
    loss: opts.reduction === 'none' ? lossOut!.tensor : o[0],
    sum: o[1],
    weightSum: o[2],
  };
  if (opts.lossMap !== undefined) res.lossMap = lossOut!.tensor;
  if (confidence) res.confidence = confidence.tensor;
  return res as unknown as CrossEntropyResult;
}
