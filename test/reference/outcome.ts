/**
 * One crossEntropy call copied out of wasm memory, and the bit-for-bit comparison of two such
 * calls: for the tests that make the same call several ways (threads, layouts, builds, logits
 * dtypes, sync and async) and demand the same bits.
 */
import { firstBitDifference } from './compare.js';
import type { lib, Xent } from './dist.js';

export interface Outcome {
  loss: number | Float32Array;
  sum: number;
  weightSum: number;
  grad: Float32Array;
  lossMap: Float32Array;
  confidence?: Float32Array;
}

/** crossEntropy's result where the loss map was asked for (the tests pass their options as a record). */
export interface LossMapResult {
  loss: number | lib.Tensor<'float32'>;
  sum: number;
  weightSum: number;
  lossMap: lib.Tensor<'float32'>;
  confidence?: lib.Tensor<'float32'>;
}

/**
 * crossEntropy (or crossEntropyAsync, `mode` 'async') of `logits` and `target` with `opts`, which
 * ask for the loss map and give the `grad` tensor: the loss, sum, weightSum, gradient and maps
 * copied out, the tensors the call made disposed. `inspect` sees the result first.
 */
export async function crossEntropyOutcome(
  x: Xent,
  logits: unknown,
  target: unknown,
  opts: Record<string, unknown> & { grad: lib.Tensor<'float32'>; lossMap: true },
  mode: 'sync' | 'async' = 'sync',
  inspect?: (r: LossMapResult) => void,
): Promise<Outcome> {
  const [l, t] = [logits as lib.LogitsInput, target as lib.TargetInput];
  const r = (mode === 'sync'
    ? x.crossEntropy(l, t, opts)
    : await x.crossEntropyAsync(l, t, opts)) as unknown as LossMapResult;
  inspect?.(r);
  const out: Outcome = {
    loss: typeof r.loss === 'number' ? r.loss : r.loss.toArray(),
    sum: r.sum,
    weightSum: r.weightSum,
    grad: opts.grad.toArray(),
    lossMap: r.lossMap.toArray(),
  };
  if (r.confidence) out.confidence = r.confidence.toArray();
  if (typeof r.loss !== 'number' && r.loss !== r.lossMap) r.loss.dispose();
  r.lossMap.dispose();
  r.confidence?.dispose();
  return out;
}

/** Undefined when both outcomes have the same bits everywhere (NaNs all equal), else what differs. */
export function difference(a: Outcome, b: Outcome): string | undefined {
  for (const k of ['sum', 'weightSum'] as const) if (!Object.is(a[k], b[k])) return `${k}: ${a[k]} vs ${b[k]}`;
  if (typeof a.loss === 'number' || typeof b.loss === 'number') {
    if (!Object.is(a.loss, b.loss)) return `loss: ${String(a.loss)} vs ${String(b.loss)}`;
  } else if (firstBitDifference(a.loss, b.loss) !== -1)
    return `loss tensor differs at ${firstBitDifference(a.loss, b.loss)}`;
  for (const k of ['grad', 'lossMap', 'confidence'] as const) {
    const x = a[k];
    const y = b[k];
    if ((x === undefined) !== (y === undefined)) return `${k}: present in one only`;
    if (x && y) {
      const i = firstBitDifference(x, y);
      if (i !== -1) return `${k} differs at ${i}: ${x[i]} vs ${y[i]}`;
    }
  }
  return undefined;
}
