/**
 * Argument resolution shared by every op: tensors vs plain data, output tensors, aliasing
 * checks and scratch memory (the kernel call itself is in kernel/call.ts).
 * @module
 */

import { DTYPES, describeValue, dtypeOfArray, type DType, type SupportedTypedArray } from '../memory/dtype.js';
import {
  XentAliasError,
  XentDisposedError,
  XentDtypeError,
  XentForeignTensorError,
  XentOptionError,
  XentShapeError,
} from '../errors.js';
import type { Runtime } from '../runtime.js';
import { checkByteLength, checkShape, formatShape, sameShape, shapeSize } from '../memory/shape.js';
import { Tensor, tensorInternals } from '../memory/tensor.js';

/** @internal An argument after resolution: either a live tensor of this instance or plain data to copy. */
export interface Arg {
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

/** @internal An output: an existing tensor (`offset` set) or one to allocate (`alloc`). */
export interface OutArg extends Arg {
  /** The tensor written to (undefined until allocated when `alloc`). */
  tensor?: Tensor<'float32'>;
  /** True when a new tensor is allocated for the call. */
  readonly alloc: boolean;
}

/** @internal Checks that `t` is a live tensor of this instance and returns its address. */
export function ownTensorOffset(rt: Runtime, t: Tensor, what: string): number {
  const ti = tensorInternals(t);
  if (ti.host !== rt) {
    throw new XentForeignTensorError(
      `${what}: this ${t.dtype} tensor of shape ${formatShape(t.shape)} belongs to another Xent instance; ` +
        `tensors live in the wasm memory of the instance that created them (copy it with ` +
        `xent.tensorFrom(t.toArray(), t.shape))`,
    );
  }
  if (ti.disposed) {
    throw new XentDisposedError(`${what}: this ${t.dtype} tensor of shape ${formatShape(t.shape)} was disposed`);
  }
  return ti.offset;
}

/** @internal Resolves an input: a tensor of this instance, or `{ data, shape }` plain data. */
export function resolve(rt: Runtime, value: unknown, what: string, allowed: readonly DType[], hint: string): Arg {
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

/** @internal Checks an output tensor given by the caller (float32, of `shape`, of this instance). */
export function outputTensor(
  rt: Runtime,
  value: unknown,
  what: string,
  shape: readonly number[],
  shapeOf: string,
  orTrue = false,
): OutArg {
  if (!(value instanceof Tensor)) {
    throw new XentOptionError(
      `${what} must be a float32 Tensor of shape ${formatShape(shape)} (${shapeOf}) in this instance's memory, ` +
        `e.g. xent.tensor('float32', ${formatShape(shape)})${orTrue ? ', or true for a new tensor' : ''}; got ` +
        `${describeValue(value)}`,
    );
  }
  const offset = ownTensorOffset(rt, value, what);
  if (value.dtype !== 'float32') throw new XentDtypeError(`${what} must be a float32 tensor, got ${value.dtype}`);
  if (!sameShape(value.shape, shape)) {
    throw new XentShapeError(
      `${what} must have shape ${formatShape(shape)} (${shapeOf}), got ${formatShape(value.shape)}`,
    );
  }
  return {
    what,
    dtype: 'float32',
    shape: value.shape,
    size: value.size,
    byteLength: value.byteLength,
    offset,
    tensor: value as Tensor<'float32'>,
    alloc: false,
  };
}

/** @internal An output to allocate for the call (returned to the caller on success). */
export function newOutput(what: string, shape: readonly number[]): OutArg {
  const size = shapeSize(shape);
  return { what, dtype: 'float32', shape, size, byteLength: size * 4, alloc: true };
}

/**
 * @internal An optional output option: `undefined` (not requested), `true` (a new tensor) or a
 * float32 tensor of `shape`.
 */
export function requestedOutput(
  rt: Runtime,
  value: unknown,
  what: string,
  shape: readonly number[],
  shapeOf: string,
): OutArg | undefined {
  if (value === undefined) return undefined;
  if (value === true) return newOutput(what, shape);
  return outputTensor(rt, value, what, shape, shapeOf, true);
}

function overlaps(a: Arg, b: Arg): boolean {
  if (a.offset === undefined || b.offset === undefined || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.offset < b.offset + b.byteLength && b.offset < a.offset + a.byteLength;
}

/**
 * @internal Throws {@link XentAliasError} when an output shares memory with an input or with
 * another output (the kernels read their inputs while writing their outputs).
 */
export function checkAliases(outputs: ReadonlyArray<Arg | undefined>, inputs: ReadonlyArray<Arg | undefined>): void {
  const outs = outputs.filter((a): a is Arg => a !== undefined);
  const ins = inputs.filter((a): a is Arg => a !== undefined);
  for (const o of outs) {
    for (const i of ins) {
      if (overlaps(o, i)) {
        throw new XentAliasError(
          `${o.what} overlaps ${i.what} in wasm memory (bytes [${o.offset}, ${o.offset! + o.byteLength}) and ` +
            `[${i.offset}, ${i.offset! + i.byteLength})): outputs must not share memory with inputs; use separate ` +
            `tensors`,
        );
      }
    }
  }
  for (let a = 0; a < outs.length; a++) {
    for (let b = a + 1; b < outs.length; b++) {
      if (overlaps(outs[a]!, outs[b]!)) {
        throw new XentAliasError(
          `${outs[a]!.what} overlaps ${outs[b]!.what} in wasm memory: outputs must not share memory; use separate ` +
            `tensors`,
        );
      }
    }
  }
}

/** @internal Resolves `options.weight` (C finite floats). */
export function resolveWeight(rt: Runtime, w: unknown, c: number): Arg | undefined {
  if (w === undefined) return undefined;
  if (w instanceof Tensor) {
    const weight = resolve(rt, w, 'options.weight', ['float32'], 'float32');
    if (weight.shape.length !== 1 || weight.size !== c) {
      throw new XentOptionError(
        `options.weight must have C = ${c} elements (shape [${c}]), got shape ${formatShape(weight.shape)} ` +
          `(PyTorch: weight tensor should be defined either for all ${c} classes or no classes)`,
      );
    }
    checkFinite((w as Tensor<'float32'>).data, 'options.weight');
    return weight;
  }
  if (w instanceof Float32Array || Array.isArray(w)) {
    if (w.length !== c) {
      throw new XentOptionError(
        `options.weight must have C = ${c} elements, got ${w.length} ` +
          `(PyTorch: weight tensor should be defined either for all ${c} classes or no classes)`,
      );
    }
    const data = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      const v: unknown = (w as ArrayLike<unknown>)[i];
      if (typeof v !== 'number')
        throw new XentOptionError(`options.weight[${i}] must be a number, got ${describeValue(v)}`);
      data[i] = v;
    }
    checkFinite(data, 'options.weight');
    return { what: 'options.weight', dtype: 'float32', shape: [c], size: c, byteLength: 4 * c, data };
  }
  throw new XentOptionError(
    `options.weight must be a Float32Array, an array of numbers or a float32 Tensor of length C = ${c}, got ` +
      `${describeValue(w)}`,
  );
}

function checkFinite(data: ArrayLike<number>, what: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new XentOptionError(`${what}[${i}] must be finite, got ${data[i]}`);
  }
}

/**
 * @internal The memory of one kernel call: scratch copies of plain inputs and newly allocated
 * outputs. Every allocation happens in {@link Scratch.prepare}, before any view is made; on
 * failure everything is freed (new outputs included), on success the new outputs survive.
 */
export class Scratch {
  readonly #rt: Runtime;
  readonly #blocks: number[] = [];
  readonly #fresh: Tensor[] = [];
  #kept = false;

  constructor(rt: Runtime) {
    this.#rt = rt;
  }

  /**
   * Allocates scratch for the plain inputs and tensors for the new outputs, copies the plain
   * data in, and returns the address of every argument (0 for `undefined`), inputs first.
   */
  prepare(
    inputs: ReadonlyArray<Arg | undefined>,
    outputs: ReadonlyArray<OutArg | undefined>,
  ): { inputs: number[]; outputs: number[] } {
    const rt = this.#rt;
    const pin = inputs.map((a) => {
      if (a === undefined) return 0;
      if (a.offset !== undefined) return a.offset;
      const off = rt.heap.alloc(a.byteLength);
      this.#blocks.push(off);
      return off;
    });
    const pout = outputs.map((o) => {
      if (o === undefined) return 0;
      if (!o.alloc) return o.offset!;
      const t = rt.allocTensor('float32', o.shape, o.what, false);
      this.#fresh.push(t);
      o.tensor = t;
      return tensorInternals(t).offset;
    });
    // All allocations are done: views made now stay valid until the call returns.
    const buffer = rt.memory.buffer;
    inputs.forEach((a, i) => {
      if (a?.data) new DTYPES[a.dtype].ctor(buffer, pin[i]!, a.size).set(a.data);
    });
    return { inputs: pin, outputs: pout };
  }

  /** Keeps the new outputs (the call succeeded). */
  keep(): void {
    this.#kept = true;
  }

  /** Frees the scratch blocks, and the new outputs unless {@link Scratch.keep} was called. */
  release(): void {
    for (const off of this.#blocks) this.#rt.heap.free(off);
    this.#blocks.length = 0;
    if (!this.#kept) for (const t of this.#fresh) t.dispose();
    this.#fresh.length = 0;
  }
}
