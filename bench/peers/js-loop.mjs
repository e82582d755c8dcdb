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
