/**
 * Typed errors thrown by xent-wasm. Every error is an instance of {@link XentError}; catch a
 * subclass to handle one kind of problem. Errors are thrown before the kernel runs, so a call
 * that throws has not written to any tensor.
 * @module
 */

/** Base class of every error thrown by xent-wasm. */
export class XentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The wasm module could not be found, fetched, compiled or instantiated, or it is not a
 * compatible xent module (missing export, other ABI version).
 */
export class XentLoadError extends XentError {}

/**
 * A shape is wrong: a bad rank, mismatched batch or spatial dims between logits and target
 * (in the chosen layout), a probability target that is not shaped like the logits, zero
 * classes, a `grad`/`gradOutput`/`out`/`lossMap`/`confidence` tensor of the wrong shape,
 * `gradY` not shaped like `y`, a data length that does not match its shape, or an invalid
 * shape array.
 */
export class XentShapeError extends XentError {}

/**
 * A tensor or array has the wrong element type: e.g. float64 logits, a Uint8ClampedArray
 * target, a float32 output tensor expected but an int32 one given, or a target whose dtype
 * contradicts its shape (an integer target shaped like the logits, which would be class
 * probabilities, or a float32 target shaped like class indices). For an ONNX Runtime or
 * transformers.js tensor (a {@link RuntimeTensor}): a `type` not supported where it is given
 * (float64, bool, …; float16 anywhere but the logits of the loss and scoring ops), data that
 * does not match its `type`
 * or is not in JavaScript memory (e.g. on the GPU), or an int64 class index outside the int32
 * range. Also float16 logits with so many classes that one pixel's float32 scratch would pass
 * 1 MiB (see {@link Float16Input}).
 */
export class XentDtypeError extends XentError {}

/**
 * A target class index is out of range (not in `[0, C)` and not `ignoreIndex`). The message
 * starts with PyTorch's wording, `Target 7 is out of bounds.`, and says where.
 */
export class XentTargetError extends XentError {
  /** The offending target value. */
  readonly target: number;
  /** Flat (row-major) index of the first offending element in the target tensor. */
  readonly index: number;
  /** The same position as a multi-index into the target's shape. */
  readonly position: readonly number[];
  /** The number of classes C. */
  readonly classes: number;

  /** @internal */
  constructor(target: number, index: number, position: readonly number[], classes: number, ignoreIndex: number) {
    const where =
      position.length > 0
        ? `target[${position.join(', ')}] (flat index ${index})`
        : `the scalar target (flat index ${index})`;
    super(
      `Target ${target} is out of bounds. ${where} is ${target}, but the logits have C = ${classes} ` +
        `classes (valid targets are 0..${classes - 1}, or ignoreIndex = ${ignoreIndex}).`,
    );
    this.target = target;
    this.index = index;
    this.position = Object.freeze([...position]);
    this.classes = classes;
  }
}

/**
 * An option is invalid: an unknown option name (the message suggests the right one, e.g.
 * `ignore_index` → `ignoreIndex`), a bad `reduction`, `labelSmoothing` outside `[0, 1]`, a
 * non-integer `ignoreIndex`, a `layout` other than exactly `'NCHW'` or `'NHWC'`, a `dim` out
 * of range, a `weight` of the wrong length or with non-finite values, or an option that does
 * not go with the others (e.g. `gradOutput` without `grad`, `ignoreIndex` ≥ 0 or `confidence`
 * with probability targets, `out` and `lossMap` naming different tensors), or a confusion
 * matrix given to `segmentationMetrics` with a negative or non-finite count.
 */
export class XentOptionError extends XentError {}

/** A tensor (or an {@link Xent} instance) was used after `dispose()`, or disposed twice. */
export class XentDisposedError extends XentError {}

/**
 * The wasm memory cannot hold the requested allocation: the memory could not grow enough, or
 * the tensor is larger than the 4 GiB a wasm32 memory can address at all.
 */
export class XentOutOfMemoryError extends XentError {
  /** Bytes asked for. */
  readonly requestedBytes: number;
  /** Bytes held by live allocations when the request failed. */
  readonly bytesInUse: number;
  /** Size of the wasm memory when the request failed. */
  readonly bytesReserved: number;

  /**
   * @internal With `tooLarge`, the message is about a size that can never fit (and says why);
   * otherwise it reports the memory in use.
   */
  constructor(requestedBytes: number, bytesInUse: number, bytesReserved: number, detail?: string, tooLarge = false) {
    super(
      tooLarge
        ? `tensor too large: ${detail ?? ''}; a wasm32 memory holds at most 4 GiB`
        : `out of wasm memory: asked for ${requestedBytes} bytes (${formatBytes(requestedBytes)}) with ` +
            `${bytesInUse} bytes (${formatBytes(bytesInUse)}) in use and ${bytesReserved} bytes ` +
            `(${formatBytes(bytesReserved)}) reserved` +
            (detail ? ` (${detail})` : '') +
            `; a wasm32 memory holds at most 4 GiB. Dispose tensors you no longer need.`,
    );
    this.requestedBytes = requestedBytes;
    this.bytesInUse = bytesInUse;
    this.bytesReserved = bytesReserved;
  }
}

/**
 * A tensor that belongs to another {@link Xent} instance was passed in: another instance of
 * this entry, or an instance of another copy of xent-wasm (e.g. the `xent-wasm/inline` entry,
 * or the CommonJS build beside the ES module one), whose tensors live in another memory.
 */
export class XentForeignTensorError extends XentError {}

/**
 * A tensor is in use by a pending {@link Xent.crossEntropyAsync} call: it was passed as an
 * output of another call while the pending call uses it, or as an input while the pending call
 * writes it. Wait for the pending call's promise to settle first. (Disposing such a tensor is
 * allowed: its memory is freed when the call settles.)
 */
export class XentBusyError extends XentError {}

/**
 * A `WebAssembly.Memory` given as `options.memory` to {@link Xent.create} is the memory of
 * another live `Xent` instance (of this or any other copy of xent-wasm in this JavaScript
 * realm). Two allocators on one memory would hand out the same addresses: dispose the other
 * instance first, or give each instance its own memory.
 */
export class XentMemoryInUseError extends XentOptionError {}

/**
 * An output (`grad`, `out`, `lossMap`, `confidence`) overlaps an input (`logits`, `target`,
 * `weight`, `gradOutput`, `x`, `y`, `gradY`) or another output. The kernels read their inputs
 * while writing their outputs, so in-place use is not supported.
 */
export class XentAliasError extends XentError {}

/** @internal */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

// Each class's `name`, set explicitly on its prototype: minifiers rename classes, so
// `new.target.name` would give `'C'` in a bundled build.
for (const [cls, name] of [
  [XentError, 'XentError'],
  [XentLoadError, 'XentLoadError'],
  [XentShapeError, 'XentShapeError'],
  [XentDtypeError, 'XentDtypeError'],
  [XentTargetError, 'XentTargetError'],
  [XentOptionError, 'XentOptionError'],
  [XentDisposedError, 'XentDisposedError'],
  [XentOutOfMemoryError, 'XentOutOfMemoryError'],
  [XentForeignTensorError, 'XentForeignTensorError'],
  [XentAliasError, 'XentAliasError'],
  [XentBusyError, 'XentBusyError'],
  [XentMemoryInUseError, 'XentMemoryInUseError'],
] as const) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true, enumerable: false });
}
