/**
 * The streaming {@link Scorer}: loss, accuracy and IoU over a validation set, batch by batch.
 * @module
 */

import { checkExtent, resolveWeight, type Arg } from '../args.js';
import { DTYPES, describeValue } from '../../memory/dtype.js';
import { XentDisposedError, XentOptionError, XentShapeError } from '../../errors.js';
import { roundUp } from '../../memory/heap.js';
import { meanOf } from '../../kernel/call.js';
import { segmentationMetrics, type SegmentationMetrics } from './metrics.js';
import type { IndexTargetInput, Layout, LogitsInput } from '../inputs.js';
import type { Runtime } from '../../runtime.js';
import { normalizeScoreOptions, type ScoreCommonOptions } from './options.js';
import { callScore, resolveScoreInputs, type ResizeMemory, type ScoreInputs } from './score.js';
import { RESIZE_ARGS_BYTES, writeResizeArgs } from '../../kernel/abi.js';
import { checkOptionNames, optionsObject } from '../options/check.js';
import { resizeOption, type NormalizedResize, type ResizeOption } from '../options/resize.js';
import { checkByteLength, formatShape } from '../../memory/shape.js';
import { SYMBOL_DISPOSE } from '../../memory/tensor.js';

/** Options of {@link Xent.scorer}: those of {@link ScoreCommonOptions}. */
export type ScorerOptions = ScoreCommonOptions;

/** What {@link Scorer.update} returns: the loss of that batch alone. */
export interface ScorerUpdate {
  /** The batch's mean loss, `sum / weightSum`. */
  loss: number;
  /** Σ of the batch's per-pixel losses. */
  sum: number;
  /** Σ weight[target] over the batch's non-ignored pixels. */
  weightSum: number;
  /** The number of pixels of the batch counted in the confusion matrix (not ignored). */
  pixels: number;
}

/**
 * What {@link Scorer.result} returns: the {@link SegmentationMetrics} of every pixel seen since
 * the scorer was created or reset, and the mean loss over them.
 */
export interface ScorerResult extends SegmentationMetrics {
  /**
   * The mean loss over every update: `sum / weightSum` of the totals (not a mean of the
   * batches' means), NaN when `weightSum` is 0.
   */
  loss: number;
  /**
   * The exact sum of every per-pixel loss (float32, as in a loss map) of every update, rounded
   * once: the same bits however the set is batched or ordered, and as one `crossEntropy` call
   * with reduction 'sum' over the whole set.
   */
  sum: number;
  /** Σ of every batch's `weightSum`, correctly rounded. */
  weightSum: number;
  /** The number of {@link Scorer.update} calls counted. */
  updates: number;
}

/** Bytes of wasm memory held by a scratch buffer (0 when absent). */
interface Buffer {
  offset: number;
  bytes: number;
}

/**
 * Accumulates the confusion matrix and the loss of a segmentation model over many batches (a
 * validation set), and turns them into metrics: pixel accuracy, per-class accuracy and IoU,
 * mIoU, frequency-weighted IoU and the mean loss, with mmsegmentation's definitions (see
 * {@link SegmentationMetrics}, which also says how torchmetrics differs).
 *
 * ```ts
 * using scorer = xent.scorer(19, { ignoreIndex: 255 });
 * for (const { logits, mask } of batches) scorer.update(logits, mask);
 * const { meanIoU, iou, pixelAccuracy, loss } = scorer.result();
 * ```
 *
 * Each {@link Scorer.update} is one pass of the kernel over the logits (no prediction map is
 * stored). In steady state it allocates no wasm memory: the scorer keeps a C×C scratch matrix
 * and, for plain `{ data, shape }` inputs, staging buffers that grow only when a batch is
 * larger than every earlier one. The totals live in JavaScript (float64: counts are exact up
 * to 2^53).
 *
 * Create it with {@link Xent.scorer}; {@link Scorer.dispose} frees its wasm memory.
 */
export class Scorer {
  /** The number of classes C. */
  readonly classes: number;
  /** The ignored target value. */
  readonly ignoreIndex: number;
  /** Where the class axis of the logits is. */
  readonly layout: Layout;
  /** The default resize of {@link Scorer.update} (`options.resize`), if any. */
  readonly resize: NormalizedResize | undefined;
  readonly #rt: Runtime;
  readonly #confusion: Float64Array;
  #scratch: Buffer;
  /** Two ExactSums in wasm memory: the batch's, then the total. */
  #acc: Buffer;
  #weight: Buffer | undefined;
  #logits: Buffer = { offset: 0, bytes: 0 };
  #target: Buffer = { offset: 0, bytes: 0 };
  /** A resized update's `ResizeArgs` and kernel scratch (made at the first one, then kept). */
  #resizeMem: Buffer = { offset: 0, bytes: 0 };
  #weightSum = new ExactSum();
  #updates = 0;
  #disposed = false;

  /** @internal Use {@link Xent.scorer}. */
  constructor(rt: Runtime, classes: unknown, options?: unknown) {
    rt.check('scorer');
    if (typeof classes !== 'number' || !Number.isSafeInteger(classes) || classes < 1 || classes > 65536) {
      throw new XentOptionError(
        `scorer: the number of classes must be an integer in [1, 65536], got ${describeValue(classes)}`,
      );
    }
    const opts = normalizeScoreOptions(options, 'scorer');
    const weight = resolveWeight(rt, opts.weight, classes);
    const cc = classes * classes;
    const ccBytes = checkByteLength([classes, classes], cc, 8, 'float64', 'scorer: the confusion matrix');
    this.#rt = rt;
    this.classes = classes;
    this.ignoreIndex = opts.ignoreIndex;
    this.layout = opts.layout;
    this.resize = opts.resize;
    this.#confusion = new Float64Array(cc);
    this.#scratch = { offset: rt.heap.alloc(ccBytes), bytes: ccBytes };
    const accBytes = 2 * roundUp(rt.exports.xent_exact_sum_size(), 8);
    try {
      this.#acc = { offset: rt.heap.alloc(accBytes), bytes: accBytes };
    } catch (e) {
      rt.heap.free(this.#scratch.offset);
      throw e;
    }
    rt.exports.xent_exact_sum_clear(this.#totalAcc());
    if (weight) {
      // A snapshot: later changes to the caller's weight do not affect this scorer.
      try {
        this.#weight = { offset: rt.heap.alloc(4 * classes), bytes: 4 * classes };
      } catch (e) {
        rt.heap.free(this.#scratch.offset);
        rt.heap.free(this.#acc.offset);
        throw e;
      }
      const src = weight.data ?? new Float32Array(rt.memory.buffer, weight.offset!, classes);
      new Float32Array(rt.memory.buffer, this.#weight.offset, classes).set(src);
    }
  }

  /** The number of {@link Scorer.update} calls since creation or the last {@link Scorer.reset}. */
  get updates(): number {
    return this.#updates;
  }

  /** Bytes of wasm memory this scorer holds (its scratch matrix, weight and staging buffers). */
  get bytesHeld(): number {
    if (this.disposed) return 0;
    return (
      this.#scratch.bytes +
      this.#acc.bytes +
      (this.#weight?.bytes ?? 0) +
      this.#logits.bytes +
      this.#target.bytes +
      this.#resizeMem.bytes
    );
  }

  /** True once {@link Scorer.dispose} was called, or its {@link Xent} was disposed. */
  get disposed(): boolean {
    return this.#disposed || this.#rt.disposed;
  }

  /**
   * Adds a batch: `logits` `(N, C, d1..dk)` (or `(N, d1..dk, C)` with layout NHWC, or `(N, C)`
   * or `(C)`) and its class-index `target` `(N, d1..dk)`; C must be the scorer's. The same
   * checks and errors as {@link Xent.score}; a call that throws has counted nothing.
   * @param options - `resize`: resize 4-D logits to the target's size first (see
   *   {@link ScoreCommonOptions.resize}); default: the scorer's `options.resize`.
   * @returns the loss of this batch alone.
   */
  update(logits: LogitsInput, target: IndexTargetInput, options?: { resize?: ResizeOption }): ScorerUpdate {
    this.#check('update');
    const rt = this.#rt;
    const o = optionsObject(options, 'Scorer.update');
    checkOptionNames(o, 'Scorer.update', ['resize'], {
      misplaced: (key) =>
        ['ignoreIndex', 'weight', 'layout'].includes(key)
          ? `option ${JSON.stringify(key)} is an option of the scorer (xent.scorer(C, options)), not of an update`
          : undefined,
    });
    const resize = o.resize === undefined ? this.resize : resizeOption(o.resize, 'Scorer.update');
    const inputs = resolveScoreInputs(rt, 'Scorer.update', logits, target, this.layout, resize);
    const c = inputs.c;
    if (c !== this.classes) {
      throw new XentShapeError(
        `Scorer.update: logits of shape ${formatShape(inputs.logits.shape)} have C = ${c} classes (layout ` +
          `${this.layout}), but this scorer was made for C = ${this.classes}`,
      );
    }
    const pLogits = this.#stage(inputs.logits, this.#logits);
    const pTarget = this.#stage(inputs.target, this.#target);
    // Float16 logits: the strip the kernel converts them into, for this update only.
    const pHalf = inputs.halfFloats ? rt.heap.alloc(inputs.halfFloats * 4) : 0;
    try {
      return this.#update(inputs, pLogits, pTarget, pHalf);
    } finally {
      if (pHalf) rt.heap.free(pHalf);
    }
  }

  /** {@link Scorer.update} once its inputs are staged. */
  #update(inputs: ScoreInputs, pLogits: number, pTarget: number, pHalf: number): ScorerUpdate {
    const rt = this.#rt;
    const c = inputs.c;
    const resizeMem = inputs.resize && this.#resizeMemory();
    if (resizeMem) writeResizeArgs(rt.memory.buffer, resizeMem.args, inputs.resize!);
    // Every allocation is done: views made now stay valid until the call returns.
    const buffer = rt.memory.buffer;
    for (const [a, p] of [
      [inputs.logits, pLogits],
      [inputs.target, pTarget],
    ] as const) {
      if (a.data) new DTYPES[a.dtype].ctor(buffer, p, a.size).set(a.data);
    }
    const cc = c * c;
    const scratch = new Float64Array(buffer, this.#scratch.offset, cc);
    scratch.fill(0);
    const [loss, sum, weightSum] = callScore(
      rt,
      {
        ...(resizeMem && { resizeMem }),
        inputs,
        logits: pLogits,
        target: pTarget,
        weight: this.#weight?.offset ?? 0,
        ignoreIndex: this.ignoreIndex,
        lossMap: 0,
        confidence: 0,
        pred: 0,
        predDtype: 'uint16',
        predConfidence: 0,
        confusion: this.#scratch.offset,
        half: pHalf,
      },
      { batch: this.#acc.offset, total: this.#totalAcc() },
    );
    let pixels = 0;
    const acc = this.#confusion;
    for (let i = 0; i < cc; i++) {
      const v = scratch[i]!;
      if (v !== 0) {
        acc[i] = acc[i]! + v;
        pixels += v;
      }
    }
    this.#weightSum.add(weightSum);
    this.#updates++;
    return { loss, sum, weightSum, pixels };
  }

  /** The metrics of everything added since creation or the last {@link Scorer.reset}. */
  result(): ScorerResult {
    this.#check('result');
    const sum = this.#rt.exports.xent_exact_sum_value(this.#totalAcc());
    const weightSum = this.#weightSum.value();
    return {
      ...segmentationMetrics(this.#confusion, this.classes),
      loss: meanOf(sum, weightSum),
      sum,
      weightSum,
      updates: this.#updates,
    };
  }

  /** Forgets every batch (keeps its wasm buffers for the next ones). */
  reset(): void {
    this.#check('reset');
    this.#confusion.fill(0);
    this.#rt.exports.xent_exact_sum_clear(this.#totalAcc());
    this.#weightSum = new ExactSum();
    this.#updates = 0;
  }

  /**
   * Frees the scorer's wasm memory. Calling it again does nothing; any other use afterwards
   * throws {@link XentDisposedError}.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#rt.disposed) return; // its memory went with the instance
    for (const b of [this.#scratch, this.#acc, this.#weight, this.#logits, this.#target, this.#resizeMem])
      if (b && b.bytes > 0) this.#rt.heap.free(b.offset);
  }

  /** Same as {@link Scorer.dispose}, for `using scorer = xent.scorer(C)`. */
  [SYMBOL_DISPOSE](): void {
    this.dispose();
  }

  #check(what: string): void {
    if (this.#disposed) throw new XentDisposedError(`Scorer.${what}: this scorer was disposed`);
    if (this.#rt.disposed) throw new XentDisposedError(`Scorer.${what}: the Xent instance of this scorer was disposed`);
  }

  /** The address of the ExactSum of the totals (after the batch's). */
  #totalAcc(): number {
    return this.#acc.offset + this.#acc.bytes / 2;
  }

  /** The memory of a resized update: allocated at the first one, then kept (its size depends only on C). */
  #resizeMemory(): ResizeMemory {
    const rt = this.#rt;
    const head = roundUp(RESIZE_ARGS_BYTES, 16);
    const scratchBytes = roundUp(rt.exports.xent_resize_scratch_size(this.classes) >>> 0, 16);
    if (this.#resizeMem.bytes === 0) {
      const bytes = head + scratchBytes;
      this.#resizeMem = { offset: rt.heap.alloc(bytes), bytes };
    }
    checkExtent(rt, this.#resizeMem.offset, head + scratchBytes, 'scratch');
    const args = this.#resizeMem.offset;
    return { args, scratch: args + head, scratchBytes };
  }

  /** The address of an input: the tensor's, or the staging buffer (grown if too small). */
  #stage(a: Arg, buf: Buffer): number {
    if (a.offset !== undefined) {
      checkExtent(this.#rt, a.offset, a.byteLength, a.what);
      return a.offset;
    }
    if (buf.bytes === 0 || buf.bytes < a.byteLength) {
      const bytes = Math.max(a.byteLength, 1);
      const offset = this.#rt.heap.alloc(bytes);
      if (buf.bytes > 0) this.#rt.heap.free(buf.offset);
      buf.offset = offset;
      buf.bytes = bytes;
    }
    return buf.offset;
  }
}

/**
 * A correctly rounded sum of float64 values, independent of their order (Shewchuk's exact
 * partials, as Python's `math.fsum`), with IEEE semantics for NaN and infinities.
 */
class ExactSum {
  #partials: number[] = [];
  #special = 0; // NaN or ±Infinity seen (their IEEE sum)

  add(x: number): void {
    if (!Number.isFinite(x)) {
      this.#special += x;
      return;
    }
    const partials = this.#partials;
    let i = 0;
    for (let j = 0; j < partials.length; j++) {
      let y = partials[j]!;
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[i++] = lo;
      x = hi;
      if (!Number.isFinite(x)) {
        // Overflow of finite values: the exact sum is beyond float64.
        this.#special += x;
        this.#partials = [];
        return;
      }
    }
    partials.length = i;
    partials.push(x);
  }

  value(): number {
    if (this.#special !== 0 || Number.isNaN(this.#special)) return this.#special;
    const p = this.#partials;
    let n = p.length;
    if (n === 0) return 0;
    let hi = p[--n]!;
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n]!;
      hi = x + y;
      const yr = hi - x;
      lo = y - yr;
      if (lo !== 0) break;
    }
    // Round half to even across the remaining partials (as math.fsum).
    if (n > 0 && ((lo < 0 && p[n - 1]! < 0) || (lo > 0 && p[n - 1]! > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }
}
