/**
 * The cross-entropy call: argument resolution, validation, scratch memory and the kernel call.
 * @module
 */

import { LAYOUT_CODE, REDUCTION_CODE, Status } from './abi.js';
import { DTYPES, TARGET_DTYPE_CODE, describeValue, dtypeOfArray, type DType, type SupportedTypedArray, type TargetDType } from './dtype.js';
import {
  XentAliasError,
  XentDisposedError,
  XentDtypeError,
  XentError,
  XentForeignTensorError,
  XentOptionError,
  XentShapeError,
  XentTargetError,
} from './errors.js';
import { normalizeOptions, type CrossEntropyResult, type Reduction } from './options.js';
import type { Runtime } from './runtime.js';
import { checkByteLength, checkShape, formatShape, sameShape, shapeSize, unravel } from './shape.js';
import { Tensor, tensorInternals } from './tensor.js';

/** An argument after resolution: either a live tensor of this instance or plain data to copy. */
interface Arg {
  readonly what: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly size: number;
  readonly byteLength: number;
  /** Set for tensors. */
  readonly offset?: number;
  /** Set for plain data. */
  readonly data?: SupportedTypedArray;
}

/** @internal Checks that `t` is a live tensor of this instance and returns its address. */
export function ownTensorOffset(rt: Runtime, t: Tensor, what: string): number {
  const ti = tensorInternals(t);
  if (ti.host !== rt) {
    throw new XentForeignTensorError(
      `${what}: this ${t.dtype} tensor of shape ${formatShape(t.shape)} belongs to another Xent instance; ` +
        `tensors live in the wasm memory of the instance that created them (copy it with xent.tensorFrom(t.toArray(), t.shape))`,
    );
  }
  if (ti.disposed) {
    throw new XentDisposedError(`${what}: this ${t.dtype} tensor of shape ${formatShape(t.shape)} was disposed`);
  }
  return ti.offset;
}

function resolve(rt: Runtime, value: unknown, what: string, allowed: readonly DType[], hint: string): Arg {
  if (value instanceof Tensor) {
    const offset = ownTensorOffset(rt, value, what);
    if (!allowed.includes(value.dtype)) {
      throw new XentDtypeError(`${what} must be ${hint}, got a ${value.dtype} tensor`);
    }
    return { what, dtype: value.dtype, shape: value.shape, size: value.size, byteLength: value.byteLength, offset };
  }
  if (typeof value !== 'object' || value === null || !('data' in value) || !('shape' in value)) {
    throw new XentDtypeError(`${what} must be ${hint} (a Tensor or { data, shape }), got ${describeValue(value)}`);
  }
  const { data, shape: shapeIn } = value as { data: unknown; shape: unknown };
  const dtype = dtypeOfArray(data);
  if (dtype === undefined || !allowed.includes(dtype)) {
    const names = allowed.map((d) => DTYPES[d].ctor.name).join(' or ');
    throw new XentDtypeError(`${what}.data must be a ${names} (${hint}), got ${describeValue(data)}`);
  }
  const shape = checkShape(shapeIn, what);
  const size = shapeSize(shape);
  const arr = data as SupportedTypedArray;
  if (arr.length !== size) {
    throw new XentShapeError(`${what}: data has ${arr.length} elements but shape ${formatShape(shape)} has ${size}`);
  }
  const byteLength = checkByteLength(shape, size, DTYPES[dtype].bytes, dtype, what);
  // A view into this instance's memory (e.g. { data: tensor.data }) would be detached if the
  // scratch allocation grows the memory: copy it out first.
  const copy = arr.buffer === rt.memory.buffer ? arr.slice() : arr;
  return { what, dtype, shape, size, byteLength, data: copy };
}

function outputTensor(rt: Runtime, value: unknown, what: string, shape: readonly number[], shapeOf: string): Arg {
  if (!(value instanceof Tensor)) {
    throw new XentOptionError(
      `${what} must be a float32 Tensor of shape ${formatShape(shape)} (${shapeOf}) in this instance's memory, ` +
        `e.g. xent.tensor('float32', ${formatShape(shape)}); got ${describeValue(value)}`,
    );
  }
  const offset = ownTensorOffset(rt, value, what);
  if (value.dtype !== 'float32') throw new XentDtypeError(`${what} must be a float32 tensor, got ${value.dtype}`);
  if (!sameShape(value.shape, shape)) {
    throw new XentShapeError(`${what} must have shape ${formatShape(shape)} (${shapeOf}), got ${formatShape(value.shape)}`);
  }
  return { what, dtype: 'float32', shape: value.shape, size: value.size, byteLength: value.byteLength, offset };
}

function overlaps(a: Arg, b: Arg): boolean {
  if (a.offset === undefined || b.offset === undefined || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.offset < b.offset + b.byteLength && b.offset < a.offset + a.byteLength;
}

/** @internal Flattened geometry of a call. */
export interface Geometry {
  n: number;
  c: number;
  s: number;
  lossShape: readonly number[];
}

/** @internal PyTorch's shape rules: (C)+() or (N, C, d1..dk)+(N, d1..dk). */
export function geometry(logits: readonly number[], target: readonly number[]): Geometry {
  if (logits.length === 0) {
    throw new XentShapeError('logits must have shape (C), (N, C) or (N, C, d1, ..., dk); got a scalar shape []');
  }
  if (logits.length === 1) {
    const c = logits[0]!;
    if (target.length !== 0) {
      throw new XentShapeError(
        `logits of shape ${formatShape(logits)} (unbatched, C = ${c}) need a scalar target of shape [], got target shape ${formatShape(target)} ` +
          `(for a batch use logits (N, C) with target (N))`,
      );
    }
    if (c === 0) throw new XentShapeError(`logits have C = 0 classes (shape ${formatShape(logits)}); at least 1 class is needed`);
    return { n: 1, c, s: 1, lossShape: [] };
  }
  const [n, c] = logits as [number, number];
  const spatial = logits.slice(2);
  const expected = [n, ...spatial];
  if (target.length !== logits.length - 1) {
    throw new XentShapeError(
      `target must have shape ${formatShape(expected)} for logits of shape ${formatShape(logits)} (N, C${spatial.length ? ', d1..dk' : ''}); ` +
        `got ${formatShape(target)} (rank ${target.length}, expected rank ${logits.length - 1})`,
    );
  }
  if (target[0] !== n) {
    throw new XentShapeError(
      `Expected input batch_size (${n}) to match target batch_size (${target[0]}): logits ${formatShape(logits)}, target ${formatShape(target)}`,
    );
  }
  if (!sameShape(target, expected)) {
    throw new XentShapeError(
      `Expected target size ${formatShape(expected)}, got ${formatShape(target)}: the spatial dims of target must match logits ${formatShape(logits)}`,
    );
  }
  if (c === 0) throw new XentShapeError(`logits have C = 0 classes (shape ${formatShape(logits)}); at least 1 class is needed`);
  return { n, c, s: shapeSize(spatial), lossShape: target };
}

/** @internal The body of {@link Xent.crossEntropy}. */
export function crossEntropy(rt: Runtime, logitsIn: unknown, targetIn: unknown, optionsIn: unknown): CrossEntropyResult<Reduction> {
  rt.check('crossEntropy');
  // ---- validate everything (nothing is allocated or written before the kernel call) ----
  const opts = normalizeOptions(optionsIn);
  const logits = resolve(rt, logitsIn, 'logits', ['float32'], 'float32');
  const target = resolve(rt, targetIn, 'target', ['uint8', 'uint16', 'int32'], 'uint8, uint16 or int32 class indices');
  const { n, c, s, lossShape } = geometry(logits.shape, target.shape);
  const { reduction, ignoreIndex, labelSmoothing } = opts;

  let weight: Arg | undefined;
  if (opts.weight !== undefined) {
    const w = opts.weight;
    if (w instanceof Tensor) {
      weight = resolve(rt, w, 'options.weight', ['float32'], 'float32');
      if (weight.shape.length !== 1 || weight.size !== c) {
        throw new XentOptionError(
          `options.weight must have C = ${c} elements (shape [${c}]), got shape ${formatShape(weight.shape)} ` +
            `(PyTorch: weight tensor should be defined either for all ${c} classes or no classes)`,
        );
      }
      checkFinite((w as Tensor<'float32'>).data, 'options.weight');
    } else if (w instanceof Float32Array || Array.isArray(w)) {
      if (w.length !== c) {
        throw new XentOptionError(
          `options.weight must have C = ${c} elements, got ${w.length} ` +
            `(PyTorch: weight tensor should be defined either for all ${c} classes or no classes)`,
        );
      }
      const data = new Float32Array(c);
      for (let i = 0; i < c; i++) {
        const v: unknown = (w as ArrayLike<unknown>)[i];
        if (typeof v !== 'number') throw new XentOptionError(`options.weight[${i}] must be a number, got ${describeValue(v)}`);
        data[i] = v;
      }
      checkFinite(data, 'options.weight');
      weight = { what: 'options.weight', dtype: 'float32', shape: [c], size: c, byteLength: 4 * c, data };
    } else {
      throw new XentOptionError(
        `options.weight must be a Float32Array, an array of numbers or a float32 Tensor of length C = ${c}, got ${describeValue(w)}`,
      );
    }
  }

  let grad: Arg | undefined;
  if (opts.grad !== undefined) grad = outputTensor(rt, opts.grad, 'options.grad', logits.shape, 'the logits shape');

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
        `options.gradOutput must have the loss shape ${formatShape(lossShape)} (the target's shape), got ${formatShape(gradOutput.shape)}`,
      );
    }
  } else if (grad !== undefined && reduction === 'none') {
    throw new XentOptionError(
      `options.gradOutput (shape ${formatShape(lossShape)}) is required with options.grad when reduction is 'none'`,
    );
  }

  let out: Arg | undefined;
  if (opts.out !== undefined) {
    if (reduction !== 'none') {
      throw new XentOptionError(`options.out is only used with reduction 'none' (got '${reduction}'): mean and sum return a number`);
    }
    out = outputTensor(rt, opts.out, 'options.out', lossShape, "the loss shape, = the target's shape");
  }

  const inputs = [logits, target, weight, gradOutput].filter((a): a is Arg => a !== undefined);
  for (const o of [grad, out]) {
    if (!o) continue;
    for (const i of inputs) {
      if (overlaps(o, i)) {
        throw new XentAliasError(
          `${o.what} overlaps ${i.what} in wasm memory (bytes [${o.offset}, ${o.offset! + o.byteLength}) and ` +
            `[${i.offset}, ${i.offset! + i.byteLength})): outputs must not share memory with inputs; use separate tensors`,
        );
      }
    }
  }
  if (grad && out && overlaps(grad, out)) {
    throw new XentAliasError(`options.grad overlaps options.out in wasm memory: use separate tensors`);
  }

  // ---- scratch memory for plain inputs and the 'none' result ----
  const heap = rt.heap;
  const scratch: number[] = [];
  let result: Tensor<'float32'> | undefined;
  const place = (a: Arg | undefined): number => {
    if (a === undefined) return 0;
    if (a.offset !== undefined) return a.offset;
    const off = heap.alloc(a.byteLength);
    scratch.push(off);
    return off;
  };
  try {
    const pLogits = place(logits);
    const pTarget = place(target);
    const pWeight = place(weight);
    const pGradOutput = place(gradOutput);
    let pLoss = 0;
    if (reduction === 'none') {
      if (out) pLoss = out.offset!;
      else {
        result = rt.allocTensor('float32', lossShape, 'loss', false);
        pLoss = tensorInternals(result).offset;
      }
    }
    // All allocations are done: views made now stay valid until the call returns.
    const buffer = rt.memory.buffer;
    const ptrs = [pLogits, pTarget, pWeight, pGradOutput];
    [logits, target, weight, gradOutput].forEach((a, i) => {
      if (a?.data) new (DTYPES[a.dtype].ctor)(buffer, ptrs[i]!, a.size).set(a.data);
    });

    let status: number;
    try {
      status = rt.exports.xent_cross_entropy(
        pLogits,
        pTarget,
        TARGET_DTYPE_CODE[target.dtype as TargetDType],
        n,
        c,
        s,
        LAYOUT_CODE.nchw,
        pWeight,
        ignoreIndex,
        REDUCTION_CODE[reduction],
        labelSmoothing,
        grad ? grad.offset! : 0,
        pGradOutput,
        pLoss,
        0, // confidence: not exposed yet
        rt.outPtr,
      ) >>> 0;
    } catch (e) {
      throw new XentError(`xent_cross_entropy trapped (${e instanceof Error ? e.message : String(e)}): this is a bug in xent-wasm`, {
        cause: e,
      });
    }
    const o = new Float64Array(rt.memory.buffer, rt.outPtr, 4);
    if (status === Status.TargetOutOfBounds) {
      const index = o[3]!;
      throw new XentTargetError(o[0]!, index, unravel(index, target.shape), c, ignoreIndex);
    }
    if (status !== Status.Ok) {
      throw new XentError(
        `xent_cross_entropy returned status ${status}${status === Status.BadArgument ? ' (BadArgument)' : ''} for n=${n}, c=${c}, s=${s}: ` +
          `this is a bug in xent-wasm (the TypeScript side should have rejected the arguments)`,
      );
    }
    const loss = reduction === 'none' ? (result ?? (opts.out as Tensor<'float32'>)) : o[0]!;
    const res = { loss, sum: o[1]!, weightSum: o[2]! } as CrossEntropyResult<Reduction>;
    result = undefined;
    return res;
  } finally {
    for (const off of scratch) heap.free(off);
    if (result) result.dispose();
  }
}

function checkFinite(data: ArrayLike<number>, what: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new XentOptionError(`${what}[${i}] must be finite, got ${data[i]}`);
  }
}
