/**
 * Argument resolution shared by every op: tensors vs plain data, output tensors, aliasing
 * checks and scratch memory (the kernel call itself is in kernel/call.ts).
 * @module
 */

import {
  DTYPES,
  describeValue,
  dtypeOfArray,
  halfBits,
  isFloat16Array,
  type DType,
  type SupportedTypedArray,
} from '../memory/dtype.js';
import {
  XentAliasError,
  XentBusyError,
  XentDisposedError,
  XentDtypeError,
  XentError,
  XentForeignTensorError,
  XentOptionError,
  XentShapeError,
} from '../errors.js';
import type { Runtime } from '../runtime.js';
import { checkByteLength, checkShape, formatShape, sameShape, shapeSize } from '../memory/shape.js';
import { isAnyXentTensor, pin, Tensor, tensorInternals, unpin, type TensorInternals } from '../memory/tensor.js';

/** @internal An argument after resolution: either a live tensor of this instance or plain data to copy. */
export interface Arg {
  readonly what: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly size: number;
  /** The bytes the op reads (inputs) or writes (outputs), from its geometry. */
  readonly byteLength: number;
  /** Set for tensors. */
  readonly offset?: number;
  /** The tensor, for tensor inputs. */
  readonly source?: Tensor;
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

/** What a tensor argument is to the op: read (`'input'`) or written (`'output'`). */
export type Role = 'input' | 'output';

/** @internal The error for a tensor of another copy of xent-wasm (not an `instanceof` this copy's Tensor). */
export function otherCopyError(what: string, value: unknown): XentForeignTensorError {
  const v = value as { dtype?: unknown; shape?: unknown };
  const desc =
    typeof v.dtype === 'string' && Array.isArray(v.shape)
      ? `${v.dtype} tensor of shape ${formatShape(v.shape)}`
      : 'tensor';
  return new XentForeignTensorError(
    `${what}: this ${desc} belongs to an Xent instance of another copy of xent-wasm (another entry, e.g. ` +
      `'xent-wasm/inline', or the CommonJS build beside the ES module one), whose tensors live in that instance's ` +
      `wasm memory: create every instance from one entry, or copy it with xent.tensorFrom(t.toArray(), t.shape)`,
  );
}

/**
 * @internal Checks that `t` is a live tensor of this instance that the op may use in `role`,
 * and returns its private state (never its public properties, which a caller could shadow).
 */
export function ownTensor(rt: Runtime, t: unknown, what: string, role: Role): TensorInternals {
  if (!(t instanceof Tensor)) throw otherCopyError(what, t);
  const ti = tensorInternals(t);
  const desc = `${ti.dtype} tensor of shape ${formatShape(ti.shape)}`;
  if (ti.host !== rt) {
    throw new XentForeignTensorError(
      `${what}: this ${desc} belongs to another Xent instance; tensors live in the wasm memory of the instance ` +
        `that created them (copy it with xent.tensorFrom(t.toArray(), t.shape))`,
    );
  }
  if (ti.disposed) throw new XentDisposedError(`${what}: this ${desc} was disposed`);
  if (role === 'output' && ti.readers > 0) {
    throw new XentBusyError(
      `${what}: this ${desc} is used by a pending crossEntropyAsync call, which ${ti.writers > 0 ? 'writes' : 'reads'} ` +
        `it: it cannot be written before that call settles (await its promise first)`,
    );
  }
  if (role === 'input' && ti.writers > 0) {
    throw new XentBusyError(
      `${what}: this ${desc} is an output of a pending crossEntropyAsync call, which is still writing it: await ` +
        `that call's promise before reading it`,
    );
  }
  return ti;
}

/** @internal Checks that `t` is a live tensor of this instance and returns its address. */
export function ownTensorOffset(rt: Runtime, t: Tensor, what: string, role: Role = 'input'): number {
  return ownTensor(rt, t, what, role).offset;
}

/**
 * @internal The bounds check before a kernel call: the `bytes` an op reads or writes at
 * `offset` must lie in the block the allocator recorded there (its own record, never a
 * tensor's properties). Throws an {@link XentError} otherwise: xent-wasm would have a bug.
 */
export function checkExtent(rt: Runtime, offset: number, bytes: number, what: string): void {
  const block = rt.heap.sizeOf(offset);
  if (block === undefined || bytes > block) {
    throw new XentError(
      `${what}: the op would ${block === undefined ? 'use' : `access ${bytes} bytes of`} the block at ${offset}, ` +
        `${block === undefined ? 'which is not allocated' : `which has ${block}`}: refused before the kernel ran ` +
        `(this is a bug in xent-wasm)`,
    );
  }
}

/**
 * @internal Resolves an input: a tensor of this instance, `{ data, shape }` plain data, or a
 * runtime tensor (`{ type, data, dims }`: ONNX Runtime's `ort.Tensor`, transformers.js's
 * Tensor), copied in like plain data.
 */
export function resolve(rt: Runtime, value: unknown, what: string, allowed: readonly DType[], hint: string): Arg {
  if (isAnyXentTensor(value)) {
    const ti = ownTensor(rt, value, what, 'input');
    if (!allowed.includes(ti.dtype)) {
      throw new XentDtypeError(`${what} must be ${hint}, got a ${ti.dtype} tensor${float16Note(ti.dtype)}`);
    }
    return {
      what,
      dtype: ti.dtype,
      shape: ti.shape,
      size: ti.size,
      byteLength: ti.byteLength,
      offset: ti.offset,
      source: value as Tensor,
    };
  }
  if (isRuntimeTensor(value)) {
    const { data, shape, dtype } = fromRuntimeTensor(value, what, allowed, hint);
    return resolvePlain(rt, data, shape, what, allowed, hint, dtype);
  }
  if (typeof value !== 'object' || value === null || !('data' in value) || !('shape' in value)) {
    throw new XentDtypeError(`${what} must be ${hint} (a Tensor or { data, shape }), got ${describeValue(value)}`);
  }
  const { data, shape, dtype } = value as { data: unknown; shape: unknown; dtype?: unknown };
  return resolvePlain(rt, data, shape, what, allowed, hint, dtype);
}

/** Where float16 is accepted: said when a float16 input is refused elsewhere. */
const FLOAT16_USES = 'float16 is accepted only for the logits of crossEntropy, crossEntropyAsync, score and Scorer';

/** For a refused float16 input, what float16 is accepted for; nothing for another dtype. */
function float16Note(dtype: DType | undefined): string {
  return dtype === 'float16' ? ` (${FLOAT16_USES}: convert it to float32)` : '';
}

/**
 * The dtype of plain data: its typed array's (a `Float16Array` is float16), or the `dtype` it
 * declares, which must agree, except that a `Uint16Array` may declare `'float16'` (half bits).
 */
function plainDtype(data: unknown, declared: unknown, what: string): DType | undefined {
  const own = dtypeOfArray(data);
  if (declared === undefined || declared === own) return own;
  if (declared === 'float16' && data instanceof Uint16Array) return 'float16';
  throw new XentDtypeError(
    `${what}.dtype is ${describeValue(declared)} but its data is ${describeValue(data)}` +
      (declared === 'float16'
        ? ": float16 data is a Float16Array, or a Uint16Array of the half-precision bits with dtype: 'float16'"
        : own === undefined
          ? ''
          : ` (a ${own} array): leave dtype out, or give it as '${own}'`),
  );
}

/** Plain data and its shape, checked and (when it views this instance's memory) copied. */
function resolvePlain(
  rt: Runtime,
  data: unknown,
  shapeIn: unknown,
  what: string,
  allowed: readonly DType[],
  hint: string,
  declared?: unknown,
): Arg {
  const dtype = plainDtype(data, declared, what);
  if (dtype === undefined || !allowed.includes(dtype)) {
    const names = allowed.filter((d) => d !== 'float16').map((d) => DTYPES[d].ctor.name);
    if (allowed.includes('float16')) names.push("(float16) a Float16Array or a Uint16Array with dtype: 'float16'");
    throw new XentDtypeError(
      `${what}.data must be a ${names.join(' or ')} (${hint}), got ${describeValue(data)}` +
        (dtype === 'float16' ? ` as float16${float16Note(dtype)}` : '') +
        (dtype === 'uint16' && allowed.includes('float16')
          ? " (a Uint16Array is uint16 class indices; add dtype: 'float16' if it holds half-precision bits)"
          : ''),
    );
  }
  const shape = checkShape(shapeIn, what);
  const size = shapeSize(shape);
  const arr = dtype === 'float16' ? halfBits(data as Uint16Array) : (data as SupportedTypedArray);
  if (arr.length !== size) {
    throw new XentShapeError(`${what}: data has ${arr.length} elements but shape ${formatShape(shape)} has ${size}`);
  }
  const byteLength = checkByteLength(shape, size, DTYPES[dtype].bytes, dtype, what);
  // A view into this instance's memory (e.g. { data: tensor.data }) would be detached if the
  // scratch allocation grows the memory: copy it out first.
  const copy = arr.buffer === rt.memory.buffer ? arr.slice() : arr;
  return { what, dtype, shape, size, byteLength, data: copy };
}

/**
 * @internal True for a tensor of another runtime given by duck typing: an object with a string
 * `type`, an array `dims` and a `data` property, as ONNX Runtime's `ort.Tensor` (web and node)
 * and transformers.js's Tensor are. No dependency on either.
 */
export function isRuntimeTensor(value: unknown): value is { readonly type: string; readonly dims: unknown } {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { type?: unknown; dims?: unknown };
  return typeof v.type === 'string' && Array.isArray(v.dims) && 'data' in value;
}

/** The `type`s of runtime tensors read as they are, by the dtype they are read as. */
const RUNTIME_TYPES: Readonly<Record<string, DType>> = Object.freeze({
  float32: 'float32',
  float16: 'float16',
  uint8: 'uint8',
  uint16: 'uint16',
  int32: 'int32',
});

/** Locations of ONNX Runtime tensors whose `data` is a typed array in JavaScript memory. */
const CPU_LOCATIONS: readonly unknown[] = Object.freeze([undefined, 'cpu', 'cpu-pinned']);

/**
 * @internal The data and shape of a runtime tensor (see {@link isRuntimeTensor}), checked
 * against the dtypes `allowed`: `type` must name one of them (`'int64'` is also accepted where
 * int32 is, converted to int32 with a range check), and `data` must be its typed array (for
 * `'float16'` a `Float16Array` or a `Uint16Array` of half bits: `dtype` is then set).
 * Anything else is an {@link XentDtypeError} naming what is supported.
 */
export function fromRuntimeTensor(
  value: { readonly type: string; readonly dims: unknown },
  what: string,
  allowed: readonly DType[],
  hint: string,
): { data: unknown; shape: unknown; dtype?: DType } {
  const type = value.type;
  const shape = value.dims;
  const location = (value as { location?: unknown }).location;
  if (!CPU_LOCATIONS.includes(location)) {
    throw new XentDtypeError(
      `${what}: this ${type} tensor's data is not in JavaScript memory (location ${describeValue(location)}): ` +
        `download it first (in ONNX Runtime, \`await t.getData()\`, or keep the session's outputs on the CPU)`,
    );
  }
  const supported = runtimeTypesText(allowed);
  if (type === 'int64' && allowed.includes('int32')) {
    return { data: int64ToInt32(readData(value), shape, what), shape };
  }
  const dtype = Object.hasOwn(RUNTIME_TYPES, type) ? RUNTIME_TYPES[type] : undefined;
  if (dtype === undefined || !allowed.includes(dtype)) {
    throw new XentDtypeError(
      `${what} must be ${hint}, got a ${type} tensor (supported here: ${supported})${float16Note(dtype)}`,
    );
  }
  const data = readData(value);
  if (dtype === 'float16' && (data instanceof Uint16Array || isFloat16Array(data))) {
    // ONNX Runtime gives the half-precision bits as a Uint16Array where the engine has no
    // Float16Array.
    return { data: halfBits(data), shape, dtype };
  }
  if (dtypeOfArray(data) !== dtype) {
    throw new XentDtypeError(
      `${what}: this tensor's type is '${type}' but its data is ${describeValue(data)}, not a ` +
        `${dtype === 'float16' ? 'Float16Array or Uint16Array' : DTYPES[dtype].ctor.name}`,
    );
  }
  return { data, shape };
}

function readData(value: object): unknown {
  return (value as { data: unknown }).data;
}

function runtimeTypesText(allowed: readonly DType[]): string {
  const types = allowed.map((d) => `'${d}'`);
  if (allowed.includes('int32')) types.push("'int64'");
  return types.join(', ');
}

/** An int64 class-index target as int32, every value checked to fit (else an XentDtypeError). */
function int64ToInt32(data: unknown, shape: unknown, what: string): Int32Array {
  if (!(data instanceof BigInt64Array)) {
    throw new XentDtypeError(
      `${what}: this tensor's type is 'int64' but its data is ${describeValue(data)}, not a BigInt64Array`,
    );
  }
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < -2147483648n || v > 2147483647n) {
      const dims = Array.isArray(shape) ? ` (target shape ${formatShape(shape as number[])})` : '';
      throw new XentDtypeError(
        `${what}: int64 value ${v} at flat index ${i}${dims} does not fit int32, the widest class-index type, ` +
          `so it cannot be a class index: int64 targets are converted to int32, and every value must lie in ` +
          `[-2147483648, 2147483647]`,
      );
    }
    out[i] = Number(v);
  }
  return out;
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
  if (!isAnyXentTensor(value)) {
    throw new XentOptionError(
      `${what} must be a float32 Tensor of shape ${formatShape(shape)} (${shapeOf}) in this instance's memory, ` +
        `e.g. xent.tensor('float32', ${formatShape(shape)})${orTrue ? ', or true for a new tensor' : ''}; got ` +
        `${describeValue(value)}`,
    );
  }
  const ti = ownTensor(rt, value, what, 'output');
  if (ti.dtype !== 'float32') throw new XentDtypeError(`${what} must be a float32 tensor, got ${ti.dtype}`);
  if (!sameShape(ti.shape, shape)) {
    throw new XentShapeError(
      `${what} must have shape ${formatShape(shape)} (${shapeOf}), got ${formatShape(ti.shape)}`,
    );
  }
  const size = shapeSize(shape);
  return {
    what,
    dtype: 'float32',
    shape: ti.shape,
    size,
    // What the kernel writes: the op's shape, not the tensor's (checked equal above, and
    // against the allocator's block before the call).
    byteLength: size * 4,
    offset: ti.offset,
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
  if (isAnyXentTensor(w)) {
    const weight = resolve(rt, w, 'options.weight', ['float32'], 'float32');
    if (weight.shape.length !== 1 || weight.size !== c) {
      throw new XentOptionError(
        `options.weight must have C = ${c} elements (shape [${c}]), got shape ${formatShape(weight.shape)} ` +
          `(PyTorch: weight tensor should be defined either for all ${c} classes or no classes)`,
      );
    }
    checkFinite(new Float32Array(rt.memory.buffer, weight.offset!, c), 'options.weight');
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
  readonly #pinned: Array<[Tensor, boolean]> = [];
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
    // Every extent the kernel will read or write must lie in its block, as the allocator has it.
    inputs.forEach((a, i) => {
      if (a) checkExtent(rt, pin[i]!, a.byteLength, a.what);
    });
    outputs.forEach((o, i) => {
      if (o) checkExtent(rt, pout[i]!, o.byteLength, o.what);
    });
    // All allocations are done: views made now stay valid until the call returns.
    const buffer = rt.memory.buffer;
    inputs.forEach((a, i) => {
      if (a?.data) new DTYPES[a.dtype].ctor(buffer, pin[i]!, a.size).set(a.data);
    });
    return { inputs: pin, outputs: pout };
  }

  /**
   * Pins the tensors among `inputs` and `outputs` (the caller's, and the new outputs, which an
   * enclosing {@link Xent.scope} may dispose before the call settles) until
   * {@link Scratch.release}, for a call that runs after this returns (see {@link pin}).
   */
  pin(inputs: ReadonlyArray<Arg | undefined>, outputs: ReadonlyArray<OutArg | undefined>): void {
    for (const a of inputs) if (a?.source) this.#pinned.push([a.source, false]);
    for (const o of outputs) if (o?.tensor) this.#pinned.push([o.tensor, true]);
    for (const [t, write] of this.#pinned) pin(t, write);
  }

  /**
   * A scratch block of `bytes` bytes (16-byte aligned) for the kernel (a float16 call's strips,
   * a resized call's), freed by {@link Scratch.release}. After {@link Scratch.prepare}: the plain
   * inputs are already copied in, so growing the memory now detaches no view that the call
   * still needs.
   */
  block(bytes: number): number {
    const off = this.#rt.heap.alloc(bytes, false, true);
    this.#blocks.push(off);
    checkExtent(this.#rt, off, bytes, 'scratch');
    return off;
  }

  /** Keeps the new outputs (the call succeeded). */
  keep(): void {
    this.#kept = true;
  }

  /** Frees the scratch blocks, and the new outputs unless {@link Scratch.keep} was called. */
  release(): void {
    for (const [t, write] of this.#pinned) unpin(t, write);
    this.#pinned.length = 0;
    // A disposed instance has freed everything already.
    if (this.#rt.disposed) return;
    for (const off of this.#blocks) this.#rt.heap.free(off);
    this.#blocks.length = 0;
    // (A scope may have disposed a new output already: its block was freed by unpin above.)
    if (!this.#kept) for (const t of this.#fresh) if (!tensorInternals(t).disposed) t.dispose();
    this.#fresh.length = 0;
  }
}
