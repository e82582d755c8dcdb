// A plain JavaScript loop: float64 math, one pass per pixel over its C strided logits (NCHW),
// PyTorch semantics (class-index targets, ignore index, mean over the non-ignored pixels).
// This is what one would write without a library; it is also the fallback reference when
// xent-wasm is not built.

export const id = 'js-loop';
export const label = 'plain JS loop (float64)';
export const precision = 'float64';

/**
 * Loss (and optionally dLoss/dLogits for the mean) over NCHW logits.
 * @returns {number} the mean loss (NaN when every pixel is ignored, as in PyTorch)
 */
export function crossEntropyJs(logits, target, N, C, S, ignoreIndex, grad) {
  // The mean's denominator is needed for the gradient, so count first (a cheap pass over the
  // uint8 targets); the logits are then read once and the gradient written once.
  let count = 0;
  for (let i = 0; i < target.length; i++) if (target[i] !== ignoreIndex) count++;
  const scale = 1 / count;
  let sum = 0;
  for (let n = 0; n < N; n++) {
    const base = n * C * S;
    for (let s = 0; s < S; s++) {
      const t = target[n * S + s];
      const p = base + s;
      if (t === ignoreIndex) {
        if (grad) for (let c = 0; c < C; c++) grad[p + c * S] = 0;
        continue;
      }
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        const x = logits[p + c * S];
        if (x > max) max = x;
      }
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(logits[p + c * S] - max);
      const lse = max + Math.log(z);
      sum += lse - logits[p + t * S];
      if (grad) {
        const k = scale / z;
        for (let c = 0; c < C; c++) grad[p + c * S] = Math.exp(logits[p + c * S] - max) * k;
        grad[p + t * S] -= scale;
      }
    }
  }
  return sum / count;
}

/**
 * Above this many bytes of logits the loop is not timed (run.mjs and strides.mjs skip it with
 * this reason): at ~1 ns per logit per pass and several passes, a call takes seconds and a
 * timing dozens of calls. xent-wasm SIMD is still checked against float64 there, through
 * referenceF64 (the loss over every pixel, the gradient at the sampled entries).
 */
export const limit = {
  logitsBytes: 128 * 2 ** 20,
  why: 'the float64 JS loop takes seconds per call at this size (timed up to 128 MiB of logits)',
};

/**
 * The float64 reference that xent-wasm SIMD is checked against before it is timed: the mean
 * loss over every pixel (as crossEntropyJs computes it, without writing a gradient) and,
 * when `withGrad`, dLoss/dLogits at the `sample` indices only (the same formulas, per entry).
 * Costs one strided float64 pass over the logits (~1 s for 300 MB), whatever the size.
 * @param {{ logits: Float32Array, target: Uint8Array, N: number, C: number, S: number, ignoreIndex: number }} data
 * @param {ArrayLike<number>} sample flat NCHW indices
 * @param {boolean} withGrad
 * @returns {{ loss: number, gradSample?: Float64Array }}
 */
export function referenceF64(data, sample, withGrad) {
  const { logits, target, N, C, S, ignoreIndex } = data;
  const loss = crossEntropyJs(logits, target, N, C, S, ignoreIndex);
  if (!withGrad) return { loss };
  let count = 0;
  for (let i = 0; i < target.length; i++) if (target[i] !== ignoreIndex) count++;
  const scale = 1 / count;
  const gradSample = new Float64Array(sample.length);
  for (let j = 0; j < sample.length; j++) {
    const i = sample[j];
    const n = Math.floor(i / (C * S));
    const c = Math.floor((i - n * C * S) / S);
    const s = i - n * C * S - c * S;
    const t = target[n * S + s];
    if (t === ignoreIndex) continue; // 0
    const p = n * C * S + s;
    let max = -Infinity;
    for (let k = 0; k < C; k++) max = Math.max(max, logits[p + k * S]);
    let z = 0;
    for (let k = 0; k < C; k++) z += Math.exp(logits[p + k * S] - max);
    gradSample[j] = Math.exp(logits[i] - max) * (scale / z) - (c === t ? scale : 0);
  }
  return { loss, gradSample };
}

export async function load() {
  return {
    version: `node ${process.versions.node}`,
    prepare(data) {
      const { logits, target, N, C, S } = data;
      // A float32 gradient buffer, like every other peer returns.
      const grad = new Float32Array(logits.length);
      return {
        fwd: () => crossEntropyJs(logits, target, N, C, S, data.ignoreIndex),
        fwdbwd: (check) => {
          const loss = crossEntropyJs(logits, target, N, C, S, data.ignoreIndex, grad);
          return check ? { loss, grad } : loss;
        },
        dispose() {},
      };
    },
  };
}

/**
 * The mean loss as a naive float32 implementation computes it: per-pixel losses rounded to
 * float32 and summed sequentially (pixel order n, h, w) in a float32 accumulator. Not a peer:
 * the checks use it to recognise a float32 peer whose loss differs from the exact one only by
 * that accumulation error (which grows with the pixel count, e.g. ~1e-4 relative on `bin`).
 */
export function crossEntropyF32Sequential(logits, target, N, C, S, ignoreIndex) {
  const f = Math.fround;
  let sum = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      const t = target[n * S + s];
      if (t === ignoreIndex) continue;
      const p = n * C * S + s;
      let max = -Infinity;
      for (let c = 0; c < C; c++) max = Math.max(max, logits[p + c * S]);
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(logits[p + c * S] - max);
      sum = f(sum + f(max + Math.log(z) - logits[p + t * S]));
      count++;
    }
  }
  return f(sum / count);
}
