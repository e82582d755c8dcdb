// Timing and statistics: warm-up, an adaptive number of repetitions, robust summaries, and
// the correctness checks that gate a peer's timing.

/** Timing policies: `full` for `npm run bench`, `quick` for `--quick`. Times in seconds. */
export const POLICIES = Object.freeze({
  full: { warmup: 5, warmupSeconds: 0.5, minReps: 10, maxReps: 200, targetSeconds: 1.5 },
  quick: { warmup: 3, warmupSeconds: 0.05, minReps: 3, maxReps: 15, targetSeconds: 0.1 },
});

/** Tolerances of the checks: relative loss error, and gradient error relative to max |grad|. */
export const TOLERANCE = Object.freeze({ loss: 1e-4, grad: 1e-3 });

const call = (fn) => fn();
const isThenable = (v) => v !== null && typeof v === 'object' && typeof v.then === 'function';

/**
 * Warm-up runs: at least `warmup` of them and `warmupSeconds`, and on until the last run is
 * within 1.3× the fastest so far (ONNX Runtime web grows its heap over its first ~5 runs),
 * within 10 × warmupSeconds or maxReps runs. Then clamp(targetSeconds / the last warm-up
 * runs' median, minReps, maxReps) timed runs.
 * @returns {Promise<number[]>} per-run times in ms
 */
export async function measure(fn, policy) {
  const now = () => performance.now();
  const warm = [];
  const start = now();
  let min = Infinity;
  for (;;) {
    const t0 = now();
    const r = call(fn);
    if (isThenable(r)) await r;
    const t = now() - t0;
    warm.push(t);
    min = Math.min(min, t);
    const elapsed = (now() - start) / 1e3;
    if (warm.length >= policy.maxReps || (warm.length >= policy.warmup && elapsed >= 10 * policy.warmupSeconds)) break;
    if (warm.length >= policy.warmup && elapsed >= policy.warmupSeconds && t <= 1.3 * min) break;
  }
  const est = quantile(
    warm.slice(-3).sort((a, b) => a - b),
    0.5,
  );
  const reps = Math.min(
    policy.maxReps,
    Math.max(policy.minReps, Math.round((policy.targetSeconds * 1e3) / Math.max(est, 1e-6))),
  );
  const times = new Array(reps);
  for (let i = 0; i < reps; i++) {
    const t0 = now();
    const r = call(fn);
    if (isThenable(r)) await r;
    times[i] = now() - t0;
  }
  return times;
}

/** Linear-interpolated quantile of a sorted array. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Summary of per-run times (ms): median, min, max, p10, p90, quartiles, IQR, mean, n. */
export function summarize(times) {
  const s = [...times].sort((a, b) => a - b);
  const q1 = quantile(s, 0.25);
  const q3 = quantile(s, 0.75);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s[0],
    max: s[s.length - 1],
    p10: quantile(s, 0.1),
    p90: quantile(s, 0.9),
    q1,
    q3,
    iqr: q3 - q1,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

/** |a - b| / |b| (0 when both are equal, including both NaN). */
export function relErr(a, b) {
  if (Object.is(a, b) || a === b) return 0;
  if (Number.isNaN(a) && Number.isNaN(b)) return 0;
  return Math.abs(a - b) / Math.abs(b);
}

/**
 * Indices at which gradients are compared: an even stride over the whole tensor plus every
 * class of the first pixel and of the last one. Sorted, unique.
 */
export function sampleIndices(data, count = 8192) {
  const { N, C, S } = data;
  const total = N * C * S;
  const set = new Set();
  const step = Math.max(1, Math.floor(total / count));
  for (let i = 0; i < total; i += step) set.add(i);
  for (let c = 0; c < C; c++) {
    set.add(c * S);
    set.add((N - 1) * C * S + c * S + (S - 1));
  }
  return Float64Array.from([...set].sort((a, b) => a - b));
}

/** A full gradient array at the sample indices. */
export function gradAt(grad, sample) {
  const out = new Float64Array(sample.length);
  for (let i = 0; i < sample.length; i++) out[i] = grad[sample[i]];
  return out;
}

/** max |g - ref| / max |ref| over the sample (NaN-aware: a NaN where ref is finite is Infinity). */
export function gradErr(g, ref) {
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
    const d = Math.abs(g[i] - ref[i]);
    if (Number.isNaN(d)) {
      if (!(Number.isNaN(g[i]) && Number.isNaN(ref[i]))) return Infinity;
    } else maxDiff = Math.max(maxDiff, d);
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}
