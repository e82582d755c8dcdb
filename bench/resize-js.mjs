// The resize in plain JavaScript, for the unfused path of bench/resize.mjs (resize the logits
// to the labels' size, then crossEntropy, then the gradient back through the adjoint): PyTorch's
// F.interpolate(mode='bilinear', align_corners=False) rules on NCHW float32 data, with the
// weights in float32 as PyTorch computes them (see test/reference/resize.ts for the rules).

const f = Math.fround;

/**
 * The two source indices and float32 weights of each of `outSize` outputs along one axis.
 * @param {number} inSize
 * @param {number} outSize
 */
export function bilinearTaps(inSize, outSize) {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l0 = new Float32Array(outSize);
  const l1 = new Float32Array(outSize);
  const scale = f(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    if (inSize === outSize) {
      i0[o] = o;
      i1[o] = o;
      l0[o] = 1;
      continue;
    }
    const src = Math.max(f(scale * (o + 0.5) - 0.5), 0);
    const j = Math.trunc(src);
    i0[o] = j;
    i1[o] = j < inSize - 1 ? j + 1 : j;
    l1[o] = Math.min(Math.max(f(src - j), 0), 1);
    l0[o] = f(1 - l1[o]);
  }
  return { i0, i1, l0, l1 };
}

/**
 * Bilinear resize of NCHW `x` [N, C, h, w] to [N, C, H, W], written into `out` (float32).
 * @param {Float32Array} x
 * @param {number[]} shape [N, C, h, w]
 * @param {[number, number]} size [H, W]
 * @param {Float32Array} out
 */
export function resizeBilinear(x, [N, C, h, w], [H, W], out) {
  const ty = bilinearTaps(h, H);
  const tx = bilinearTaps(w, W);
  for (let nc = 0; nc < N * C; nc++) {
    const src = nc * h * w;
    let o = nc * H * W;
    for (let y = 0; y < H; y++) {
      const r0 = src + ty.i0[y] * w;
      const r1 = src + ty.i1[y] * w;
      const a = ty.l0[y];
      const b = ty.l1[y];
      for (let xo = 0; xo < W; xo++) {
        const j0 = tx.i0[xo];
        const j1 = tx.i1[xo];
        const c = tx.l0[xo];
        const d = tx.l1[xo];
        out[o++] = (x[r0 + j0] * c + x[r0 + j1] * d) * a + (x[r1 + j0] * c + x[r1 + j1] * d) * b;
      }
    }
  }
  return out;
}

/**
 * The adjoint of resizeBilinear: full-resolution gradient `g` [N, C, H, W] → `out` [N, C, h, w]
 * (summed in float64 per row, stored as float32).
 * @param {Float32Array} g
 * @param {number[]} shape [N, C, h, w]
 * @param {[number, number]} size [H, W]
 * @param {Float32Array} out
 */
export function resizeBilinearAdjoint(g, [N, C, h, w], [H, W], out) {
  const ty = bilinearTaps(h, H);
  const tx = bilinearTaps(w, W);
  const acc = new Float64Array(h * w);
  for (let nc = 0; nc < N * C; nc++) {
    acc.fill(0);
    let o = nc * H * W;
    for (let y = 0; y < H; y++) {
      const r0 = ty.i0[y] * w;
      const r1 = ty.i1[y] * w;
      const a = ty.l0[y];
      const b = ty.l1[y];
      for (let xo = 0; xo < W; xo++) {
        const v = g[o++];
        const j0 = tx.i0[xo];
        const j1 = tx.i1[xo];
        const c = tx.l0[xo] * v;
        const d = tx.l1[xo] * v;
        acc[r0 + j0] += a * c;
        acc[r0 + j1] += a * d;
        acc[r1 + j0] += b * c;
        acc[r1 + j1] += b * d;
      }
    }
    out.set(acc, nc * h * w);
  }
  return out;
}
