/** Tolerances and comparisons shared by the kernel tests. */

/**
 * Loss: |Δ| ≤ 2e-6 · max(1, |expected|) (or `floor` if larger: see the fuzz tests); NaN and
 * ±inf must match exactly.
 */
export function lossMismatch(actual: number, expected: number, rel = 2e-6, floor = 0): string | undefined {
  if (!Number.isFinite(expected) || !Number.isFinite(actual)) {
    return Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected))
      ? undefined
      : `loss ${actual}, expected ${expected}`;
  }
  const tol = Math.max(rel * Math.max(1, Math.abs(expected)), floor);
  const d = Math.abs(actual - expected);
  return d <= tol
    ? undefined
    : `loss ${actual}, expected ${expected} (|Δ| ${d.toExponential(3)} > ${tol.toExponential(3)})`;
}

/**
 * Arrays (gradients, loss maps): max|Δ| ≤ max(rel · max(1e-30, max|expected|), absFloor) over
 * finite entries, and NaN / +inf / -inf in exactly the same positions.
 */
export function arrayMismatch(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel = 1e-5,
  what = 'grad',
  absFloor = 0,
): string | undefined {
  if (actual.length !== expected.length) return `${what}: length ${actual.length}, expected ${expected.length}`;
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (Number.isFinite(e)) maxAbs = Math.max(maxAbs, Math.abs(e));
  }
  const tol = Math.max(rel * Math.max(1e-30, maxAbs), absFloor);
  let worst = -1;
  let worstD = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      const same = Number.isNaN(e) ? Number.isNaN(a) : a === e;
      if (!same) return `${what}[${i}] = ${a}, expected ${e} (non-finite values must match in position)`;
      continue;
    }
    const d = Math.abs(a - e);
    if (d > worstD) {
      worstD = d;
      worst = i;
    }
  }
  if (worstD > tol) {
    return `${what}: max |Δ| ${worstD.toExponential(3)} at [${worst}] (${actual[worst]} vs ${expected[worst]}) > ${tol.toExponential(3)} = ${rel} · ${maxAbs.toExponential(3)}`;
  }
  return undefined;
}

/**
 * True when two float32 arrays are bit-identical (so +0 and -0 differ), except that any two
 * NaNs are equal: WebAssembly leaves the sign and payload of a NaN result nondeterministic, and
 * V8's SIMD and scalar paths do produce different NaN signs.
 */
export function bitIdentical(a: Float32Array, b: Float32Array): boolean {
  return firstBitDifference(a, b) === -1;
}

/** Index of the first element whose bits differ (NaNs all equal), or -1; length mismatch → -2. */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return -2;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  }
  return -1;
}

/** The same for two float64 numbers. */
export function sameBits(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

/** A 32-bit FNV-1a hash of bytes (to detect writes). */
export function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * Element-wise loss criterion for loss maps: |Δ| ≤ rel · max(1, |expected|) (or `floors[i]` if
 * larger), non-finite exact.
 */
export function elementwiseMismatch(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel = 2e-6,
  what = 'loss',
  floors?: ArrayLike<number>,
): string | undefined {
  if (actual.length !== expected.length) return `${what}: length ${actual.length}, expected ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const m = lossMismatch(actual[i]!, expected[i]!, rel, floors?.[i] ?? 0);
    if (m) return `${what}[${i}]: ${m}`;
  }
  return undefined;
}

/**
 * Gradient criterion: max|Δ| ≤ 1e-5 · scale, non-finite values in the same places. The scale
 * is max|expected| — except where every expected gradient is 0, where it is `terms`, the
 * largest term of the gradient (|dLoss/dlogp|, from the float64 reference), as
 * crates/xent-kernel/tests/common/mod.rs does: terms that cancel to an exact 0 (C = 1, or a
 * one-hot probability target equal to the softmax) leave float32 rounding of their own size,
 * and 1e-5 · 0 would demand an exact 0.
 */
export function gradMismatch(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  terms: number,
  what = 'grad',
  rel = 1e-5,
): string | undefined {
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (Number.isFinite(e)) maxAbs = Math.max(maxAbs, Math.abs(e));
  }
  return arrayMismatch(actual, expected, rel, what, maxAbs === 0 ? rel * terms : 0);
}
