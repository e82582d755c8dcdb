/**
 * The loss ops, {@link Xent.crossEntropy} and {@link Xent.nllLoss}: argument resolution,
 * validation, scratch memory and the kernel call.
 * @module
 */

import { REDUCTION_CODE, Status, TARGET_KIND_CODE } from './abi.js';
import { Scratch, checkAliases, checkStatus, invoke, newOutput, outputTensor, requestedOutput, resolve, resolveWeight, type Arg, type OutArg } from './args.js';
import type { DType, TargetDType } from './dtype.js';
import { XentOptionError, XentShapeError, XentTargetError } from './errors.js';
import { kernelDims, lossGeometry } from './geometry.js';
import { normalizeOptions, type CrossEntropyResult, type OpName } from './options.js';
import type { Runtime } from './runtime.js';
import { formatShape, sameShape, unravel } from './shape.js';

const INDEX_DTYPES: readonly DType[] = ['uint8', 'uint16', 'int32'];

/**
 * @internal The body of {@link Xent.crossEntropy} (`op` = 'crossEntropy') and
 * {@link Xent.nllLoss} (`op` = 'nllLoss', whose input is log-probabilities).
 */
export function lossOp(rt: Runtime, op: OpName, inputIn: unknown, targetIn: unknown, optionsIn: unknown): CrossEntropyResult {
  rt.check(op);
  const nll = op === 'nllLoss';
  const what = nll ? 'logProbs' : 'logits';
  // ---- validate everything (nothing is allocated or written before the kernel call) ----
  const opts = normalizeOptions(optionsIn, op);
  const input = resolve(rt, inputIn, what, ['float32'], 'float32');
  const target = nll
    ? resolve(rt, targetIn, 'target', INDEX_DTYPES, 'uint8, uint16 or int32 class indices (nllLoss has no probability targets)')
    : resolve(rt, targetIn, 'target', [...INDEX_DTYPES, 'float32'], 'uint8, uint16 or int32 class indices, or float32 class probabilities');
  const g = lossGeometry(input.shape, target, opts.layout, what);
  const { n, c, s, lossShape } = g;
  const { reduction, ignoreIndex, labelSmoothing } = opts;
  const prob = g.kind === 'prob';
  if (prob && ignoreIndex >= 0) {
    throw new XentOptionError(
      `${op}: options.ignoreIndex = ${ignoreIndex}: ignore_index is not supported for floating point target ` +
        `(a float32 target holds class probabilities; give a sample zero probabilities, or a zero weight per class, to leave it out)`,
    );
  }
  if (prob && opts.confidence !== undefined) {
    throw new XentOptionError(
      `${op}: options.confidence is only defined for class-index targets (the probability of the target class), ` +
        `but the target is float32 class probabilities; use xent.softmax(logits) for the whole distribution`,
    );
  }

  const weight = resolveWeight(rt, opts.weight, c);
  const grad = opts.grad === undefined ? undefined : outputTensor(rt, opts.grad, 'options.grad', input.shape, `the ${what} shape`);

  let gradOutput: Arg | undefined;
  if (opts.gradOutput !== undefined) {
    if (reduction !== 'none') {
      throw new XentOptionError(
        `options.gradOutput is only used with reduction 'none' (got '${reduction}'): for 'mean' and 'sum' the upstream gradient is 1; ` +
          `scale grad yourself for another value`,
      );
    }
    if (grad === undefined) throw new XentOptionError(`options.gradOutput was given without options.grad: there is no gradient to compute`);
    gradOutput = resolve(rt, opts.gradOutput, 'options.gradOutput', ['float32'], 'float32');
    if (!sameShape(gradOutput.shape, lossShape)) {
      throw new XentShapeError(
        `options.gradOutput must have the loss shape ${formatShape(lossShape)} (the shape of class-index targets), got ${formatShape(gradOutput.shape)}`,
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
    else if (lm !== undefined && lm !== true) lossOut = outputTensor(rt, lm, 'options.lossMap', lossShape, lossOf, true);
    else lossOut = newOutput('loss', lossShape);
  } else {
    if (opts.out !== undefined) {
      throw new XentOptionError(
        `options.out is only used with reduction 'none' (got '${reduction}'): mean and sum return a number; use options.lossMap for the per-sample losses`,
      );
    }
    lossOut = requestedOutput(rt, opts.lossMap, 'options.lossMap', lossShape, lossOf);
  }
  const confidence = requestedOutput(rt, opts.confidence, 'options.confidence', lossShape, lossOf);

  checkAliases([grad, lossOut, confidence], [input, target, weight, gradOutput]);

  // ---- scratch memory, new outputs and the call ----
  const scratch = new Scratch(rt);
  try {
    const p = scratch.prepare([input, target, weight, gradOutput], [grad, lossOut, confidence]);
    const [pInput, pTarget, pWeight, pGradOutput] = p.inputs as [number, number, number, number];
    const [pGrad, pLoss, pConfidence] = p.outputs as [number, number, number];
    const kind = prob ? TARGET_KIND_CODE.prob : TARGET_KIND_CODE[target.dtype as TargetDType];
    const x = rt.exports;
    const name = nll ? 'xent_nll_loss' : 'xent_cross_entropy';
    const k = kernelDims(n, c, s, g.layout);
    const status = invoke(name, () =>
      nll
        ? x.xent_nll_loss(pInput, pTarget, kind, k.n, k.c, k.s, k.layout, pWeight, ignoreIndex, REDUCTION_CODE[reduction], pGrad, pGradOutput, pLoss, rt.outPtr)
        : x.xent_cross_entropy(
            pInput,
            pTarget,
            kind,
            k.n,
            k.c,
            k.s,
            k.layout,
            pWeight,
            ignoreIndex,
            REDUCTION_CODE[reduction],
            labelSmoothing,
            pGrad,
            pGradOutput,
            pLoss,
            pConfidence,
            rt.outPtr,
          ),
    );
    const o = new Float64Array(rt.memory.buffer, rt.outPtr, 4);
    if (status === Status.TargetOutOfBounds) {
      const index = o[3]!;
      throw new XentTargetError(o[0]!, index, unravel(index, target.shape), c, ignoreIndex);
    }
    checkStatus(name, status, `n=${k.n}, c=${k.c}, s=${k.s}, layout=${k.layout}, target ${g.kind}`);
    const res: Record<string, unknown> = {
      loss: reduction === 'none' ? lossOut!.tensor : o[0]!,
      sum: o[1]!,
      weightSum: o[2]!,
    };
    if (opts.lossMap !== undefined) res['lossMap'] = lossOut!.tensor;
    if (confidence) res['confidence'] = confidence.tensor;
    scratch.keep();
    return res as unknown as CrossEntropyResult;
  } finally {
    scratch.release();
  }
}
