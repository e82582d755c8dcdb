/**
 * The softmax ops ({@link Xent.softmax}, {@link Xent.logSoftmax} and their backward): the
 * first half of the decomposition `crossEntropy = nllLoss(logSoftmax(x))`.
 * @module
 */

import { LAYOUT_CODE } from '../kernel/abi.js';
import { Scratch, checkAliases, newOutput, outputTensor, resolve, type Arg } from './args.js';
import { XentShapeError } from '../errors.js';
import { kernelDims, softmaxGeometry, type SoftmaxGeometry } from './geometry.js';
import { checkStatus, invoke } from '../kernel/call.js';
import { normalizeSoftmaxOptions } from './loss/options.js';
import type { Runtime } from '../runtime.js';
import { formatShape, sameShape } from '../memory/shape.js';
import type { Tensor } from '../memory/tensor.js';

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
