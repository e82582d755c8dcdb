/**
 * The softmax ops ({@link Xent.softmax}, {@link Xent.logSoftmax} and their backward): the
 * first half of the decomposition `crossEntropy = nllLoss(logSoftmax(x))`.
 * @module
 */

import { LAYOUT_CODE } from '../kernel/abi.js';
import { Scratch, checkAliases, newOutput, outputTensor, resolve, type Arg } from './args.js';
import { XentOptionError, XentShapeError } from '../errors.js';
import { describeValue } from '../memory/dtype.js';
import { kernelDims, softmaxGeometry, type SoftmaxGeometry } from './geometry.js';
import { checkStatus, invoke } from '../kernel/call.js';
import { checkOptionNames, optionsObject } from './options/check.js';
import type { Runtime } from '../runtime.js';
import { formatShape, sameShape } from '../memory/shape.js';
import type { Tensor } from '../memory/tensor.js';

/** @internal The option names of the softmax ops. */
export const SOFTMAX_OPTION_NAMES = ['dim', 'out'] as const;

/** Options of the softmax ops ({@link Xent.softmax}, {@link Xent.logSoftmax} and their backward). */
export interface SoftmaxOptions {
  /**
   * The dim to normalise over, as in PyTorch: an integer in `[-rank, rank)` (negative counts
   * from the end; for a scalar, 0 or -1). Default: 1 for inputs of rank ≥ 2 (the class dim of
   * NCHW logits), 0 for rank 0 and 1. Pass `dim: -1` for channels-last (NHWC) logits.
   * (PyTorch's deprecated implicit choice differs for rank 3, where it picks 0.)
   */
  dim?: number;
  /**
   * Destination: a float32 tensor of the input's shape in this instance's memory, which must
   * not overlap the inputs. Default: a new tensor, which the caller disposes.
   */
  out?: Tensor<'float32'>;
}

/** @internal Softmax options after the shape-independent checks. */
export interface NormalizedSoftmaxOptions {
  dim: number | undefined;
  out: unknown;
}

/** @internal */
export function normalizeSoftmaxOptions(options: unknown, op: string): NormalizedSoftmaxOptions {
  const o = optionsObject(options, op);
  checkOptionNames(o, op, SOFTMAX_OPTION_NAMES);
  const dim = o.dim;
  if (dim !== undefined && (typeof dim !== 'number' || !Number.isInteger(dim))) {
    throw new XentOptionError(`${op}: options.dim must be an integer, got ${describeValue(dim)}`);
  }
  return { dim: dim as number | undefined, out: o.out };
}

/** @internal The softmax ops. */
export type SoftmaxOp = 'softmax' | 'logSoftmax' | 'softmaxBackward' | 'logSoftmaxBackward';

/**
 * @internal The body of the four softmax ops. `args` is `[x]` for the forward ops and
 * `[y, gradY]` for the backward ones.
 */
export function softmaxOp(rt: Runtime, op: SoftmaxOp, args: readonly unknown[], optionsIn: unknown): Tensor<'float32'> {
  rt.check(op);
  const backward = op === 'softmaxBackward' || op === 'logSoftmaxBackward';
  const log = op === 'logSoftmax' || op === 'logSoftmaxBackward' ? 1 : 0;
  const opts = normalizeSoftmaxOptions(optionsIn, op);
  const inputs: Arg[] = backward
    ? [resolve(rt, args[0], 'y', ['float32'], 'float32'), resolve(rt, args[1], 'gradY', ['float32'], 'float32')]
    : [resolve(rt, args[0], 'x', ['float32'], 'float32')];
  const shape = inputs[0]!.shape;
  if (backward && !sameShape(inputs[1]!.shape, shape)) {
    throw new XentShapeError(
      `${op}: gradY must have the shape of y ${formatShape(shape)}, got ${formatShape(inputs[1]!.shape)}`,
    );
  }
  const g: SoftmaxGeometry = softmaxGeometry(shape, opts.dim, op);
  const out =
    opts.out === undefined
      ? newOutput('out', shape)
      : outputTensor(rt, opts.out, 'options.out', shape, backward ? 'the shape of y' : 'the shape of x');
  checkAliases([out], inputs);

  const scratch = new Scratch(rt);
  try {
    const p = scratch.prepare(inputs, [out]);
    const pOut = p.outputs[0]!;
    const size = out.size;
    if (size > 0) {
      // [outer, C, inner] with the class axis at stride `inner` is the kernel's NCHW layout.
      const { n, c, s, layout } = kernelDims(g.outer, g.c, g.inner, LAYOUT_CODE.nchw);
      const x = rt.exports;
      const name = backward ? 'xent_softmax_backward' : 'xent_softmax';
      const status = invoke(name, () =>
        backward
          ? x.xent_softmax_backward(p.inputs[0]!, p.inputs[1]!, pOut, n, c, s, layout, log)
          : x.xent_softmax(p.inputs[0]!, pOut, n, c, s, layout, log),
      );
      checkStatus(name, status, `n=${n}, c=${c}, s=${s}`);
    }
    scratch.keep();
    return out.tensor!;
  } finally {
    scratch.release();
  }
}
