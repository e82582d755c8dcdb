/**
 * The scratch of the float16 kernel calls (`xent_cross_entropy_f16` and its split halves):
 * the kernel converts the half-precision logits a strip of pixels at a time into f32 scratch
 * that the TypeScript side allocates for the call, one strip per thread that runs a part of it
 * (the calling thread and each worker), and frees when the call settles.
 * @module
 */

import { f16ScratchFloatsPerPixel } from './abi.js';
import { XentDtypeError } from '../errors.js';
import { formatShape } from '../memory/shape.js';

/** Bytes of a strip, per thread, when the call has that many pixels (the L2-sized default). */
const STRIP_BYTES = 256 * 1024;

/** The most scratch a thread may get: one pixel's worth must fit in it. */
export const MAX_HALF_SCRATCH_BYTES = 1024 * 1024;

/** @internal The scratch of a float16 call: `participants` strips of `floats` f32 from `ptr`. */
export interface HalfScratch {
  ptr: number;
  floats: number;
  participants: number;
}

/** @internal The address of participant `j`'s strip (0 = the calling thread, j = worker j - 1). */
export function stripOf(h: HalfScratch, j: number): number {
  return h.ptr + j * h.floats * 4;
}

/**
 * @internal The f32 floats of one thread's strip for a float16 call of `samples` samples
 * (`n * s` of the kernel's dims) in ABI `layout`: as many pixels as fit in 256 KiB, at least
 * one, at most the call's. Throws {@link XentDtypeError} when one pixel needs more than
 * {@link MAX_HALF_SCRATCH_BYTES} (hundreds of thousands of classes).
 */
export function halfStripFloats(
  c: number,
  samples: number,
  layout: number,
  grad: boolean,
  prob: boolean,
  shape: readonly number[],
): number {
  const perPixel = f16ScratchFloatsPerPixel(c, layout, grad, prob);
  if (perPixel * 4 > MAX_HALF_SCRATCH_BYTES) {
    throw new XentDtypeError(
      `logits ${formatShape(shape)} are float16 with C = ${c} classes: the kernel converts them a strip of pixels ` +
        `at a time into float32 scratch, and one pixel would need ${perPixel * 4} bytes, more than the ` +
        `${MAX_HALF_SCRATCH_BYTES} per thread it may use: convert the logits to float32`,
    );
  }
  const pixels = Math.max(1, Math.min(samples, Math.floor(STRIP_BYTES / 4 / perPixel)));
  return perPixel * pixels;
}
