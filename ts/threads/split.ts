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
