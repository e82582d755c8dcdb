/**
 * How a call is split between threads: balanced sample ranges, aligned to 16 samples.
 * @module
 */

/** Samples per alignment unit: 16 float32 = one 64-byte cache line of an NCHW class plane. */
export const RANGE_ALIGN = 16;

/** Default smallest share of a call worth a thread, in logits elements (see `minElementsPerThread`). */
export const DEFAULT_MIN_ELEMENTS_PER_THREAD = 65536;

/** @internal A range of samples `[lo, hi)` (flat index into `[n, s]`). */
export interface SampleRange {
  lo: number;
  hi: number;
}

/**
 * @internal How many threads a call of `samples` samples of `classes` classes each is worth:
 * at most `threads`, at least 1, with at least `minElements` logits elements per thread and at
 * least {@link RANGE_ALIGN} samples per thread.
 */
export function usefulThreads(samples: number, classes: number, threads: number, minElements: number): number {
  if (samples <= 0) return 1;
  const byWork = Math.floor((samples * Math.max(1, classes)) / Math.max(1, minElements));
  const byAlign = Math.ceil(samples / RANGE_ALIGN);
  return Math.max(1, Math.min(threads, byWork, byAlign));
}

/**
 * @internal Splits `[0, total)` into `parts` contiguous, non-empty ranges of nearly equal
 * size whose inner bounds are multiples of `align` (only the last range ends off the grid).
 * Fewer ranges come back when `total` is too small for `parts` aligned ones.
 */
export function splitRanges(total: number, parts: number, align = RANGE_ALIGN): SampleRange[] {
  if (total <= 0) return [];
  const units = Math.ceil(total / align);
  const k = Math.max(1, Math.min(parts, units));
  const ranges: SampleRange[] = [];
  let lo = 0;
  for (let i = 1; i <= k; i++) {
    const hi = i === k ? total : Math.min(total, Math.round((units * i) / k) * align);
    if (hi > lo) ranges.push({ lo, hi });
    lo = Math.max(lo, hi);
  }
  return ranges;
}

/**
 * @internal Whether the weight sums of any split of `samples` labels are exact in float64, so
 * that adding the parts' sums gives the bits of the whole one: every sum of up to `samples`
 * weights is a multiple of the smallest weight's ulp and below `samples` × the largest
 * weight's binade, which float64 holds exactly when that spans at most 53 bits. (True for
 * every usual class weighting; otherwise the weight sum is not split.)
 */
export function exactWeightSums(weights: Float32Array, samples: number): boolean {
  const bits = new Uint32Array(weights.buffer, weights.byteOffset, weights.length);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    if ((b & 0x7fffffff) === 0) continue;
    const e = (b >>> 23) & 0xff;
    // Normal: |w| in [2^(e-127), 2^(e-126)), ulp 2^(e-150); subnormal: |w| < 2^-126, ulp 2^-149.
    lo = Math.min(lo, (e === 0 ? 1 : e) - 150);
    hi = Math.max(hi, e === 0 ? -126 : e - 126);
  }
  if (lo === Infinity) return true;
  return hi + Math.ceil(Math.log2(samples + 1)) - lo <= 53;
}
