/** NCHW ↔ NHWC transposition of flat row-major data, for layout tests. */

/** `(N, C, d1..dk)` → `(N, d1..dk, C)`; shapes of rank ≤ 2 are unchanged. */
export function nhwcShape(shape: readonly number[]): number[] {
  return shape.length <= 2 ? [...shape] : [shape[0]!, ...shape.slice(2), shape[1]!];
}

function dims(shape: readonly number[]) {
  const N = shape[0]!;
  const C = shape[1]!;
  let S = 1;
  for (let i = 2; i < shape.length; i++) S *= shape[i]!;
  return { N, C, S };
}

/** Data of NCHW `shape` → the same tensor in NHWC. */
export function toNHWC<A extends Float32Array | Float64Array>(data: A, nchwShape: readonly number[]): A {
  if (nchwShape.length <= 2) return data.slice() as A;
  const { N, C, S } = dims(nchwShape);
  const out = new (data.constructor as new (n: number) => A)(data.length);
  for (let b = 0; b < N; b++)
    for (let c = 0; c < C; c++) for (let p = 0; p < S; p++) out[(b * S + p) * C + c] = data[(b * C + c) * S + p]!;
  return out;
}

/** Data of NHWC layout (for NCHW `nchwShape`) → NCHW. */
export function toNCHW<A extends Float32Array | Float64Array>(data: A, nchwShape: readonly number[]): A {
  if (nchwShape.length <= 2) return data.slice() as A;
  const { N, C, S } = dims(nchwShape);
  const out = new (data.constructor as new (n: number) => A)(data.length);
  for (let b = 0; b < N; b++)
    for (let c = 0; c < C; c++) for (let p = 0; p < S; p++) out[(b * C + c) * S + p] = data[(b * S + p) * C + c]!;
  return out;
}
