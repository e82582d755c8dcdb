/**
 * crossEntropy with many classes against the float64 reference: C from 2 to beyond 65,536, in
 * every form ((C), (N, C), NCHW, NHWC), with equal, uniform, normal and confident logits (the
 * target far above the rest: a plain float32 sum of the exponentials loses the small ones, and
 * the target's gradient p - 1 cancels), class-index targets with and without label smoothing
 * and probability targets. Loss |Δ| ≤ 2e-6 · max(1, |ref|) (reduced and per sample), gradient
 * max|Δ| ≤ 1e-5 · max|grad| + 1e-9 (reduction 'sum': the upstream gradient is 1), and the SIMD
 * and portable builds bit-identical. scripts/class-accuracy.sh prints the errors. The softmax
 * ops share the sum of the exponentials: their outputs too.
 */
import { describe, expect, it } from 'vitest';
import {
  DISTS,
  FORMS,
  KINDS,
  problem,
  referenceOf,
  targetOf,
  type Form,
  type Kind,
  type Problem,
} from '../../reference/classes.js';
import { firstBitDifference } from '../../reference/compare.js';
import { referenceSoftmax } from '../../reference/decomposition.js';
import { useBothBuilds, type Xent } from '../../reference/dist.js';

const getBuilds = useBothBuilds();

/** Class counts: the two-class tile, small, around a fold of the sum (256), large. */
const CLASSES = [2, 3, 17, 64, 150, 256, 257, 300, 1000, 4096, 30_000, 65_535, 65_536, 100_000];

interface Run {
  loss: number;
  map: Float32Array;
  grad: Float32Array;
}

function run(x: Xent, p: Problem): Run {
  const logits = { data: p.logits, shape: p.shape };
  const target = targetOf(p);
  const opts = { layout: p.layout, labelSmoothing: p.labelSmoothing };
  using grad = x.tensor('float32', p.shape);
  const r = x.crossEntropy(logits, target, { ...opts, reduction: 'sum', grad, lossMap: true });
  const map = r.lossMap.toArray();
  r.lossMap.dispose();
  return { loss: r.loss, map, grad: grad.toArray() };
}

/** The first failure of a run against the reference, or undefined. */
function mismatch(p: Problem, got: Run): string | undefined {
  const ref = referenceOf(p);
  const lossOff = (a: number, e: number) => Math.abs(a - e) > 2e-6 * Math.max(1, Math.abs(e));
  if (lossOff(got.loss, ref.loss)) return `loss ${got.loss}, expected ${ref.loss}`;
  for (let i = 0; i < ref.losses.length; i++) {
    if (lossOff(got.map[i]!, ref.losses[i]!)) return `loss map [${i}] ${got.map[i]}, expected ${ref.losses[i]}`;
  }
  const g = ref.grad!;
  let maxAbs = 0;
  for (const v of g) maxAbs = Math.max(maxAbs, Math.abs(v));
  const tol = 1e-5 * maxAbs + 1e-9;
  for (let i = 0; i < g.length; i++) {
    const d = Math.abs(got.grad[i]! - g[i]!);
    if (!(d <= tol)) return `grad [${i}] ${got.grad[i]}, expected ${g[i]} (|Δ| ${d.toExponential(2)} > ${tol})`;
  }
  return undefined;
}

describe('crossEntropy with many classes is as accurate as float64 allows', () => {
  for (const C of CLASSES) {
    it(`C = ${C}`, () => {
      const { simd, portable } = getBuilds();
      const failures: string[] = [];
      const forms: readonly Form[] = C > 10_000 ? ['(N, C)', 'NCHW', 'NHWC'] : FORMS;
      for (const form of forms) {
        for (const kind of KINDS as readonly Kind[]) {
          // Probability targets of 100,000 classes: as many floats again, nothing new to learn.
          if (kind === 'prob' && C > 70_000) continue;
          for (const dist of DISTS) {
            const p = problem(1, C, form, dist, kind);
            const a = run(simd, p);
            const b = run(portable, p);
            const where = `${form} ${kind} ${dist}`;
            if (!Object.is(a.loss, b.loss) || firstBitDifference(a.grad, b.grad) !== -1) {
              failures.push(`${where}: SIMD and portable differ`);
            }
            const m = mismatch(p, a);
            if (m) failures.push(`${where}: ${m}`);
          }
        }
      }
      expect(failures).toEqual([]);
    });
  }
});

describe('softmax and logSoftmax with many classes', () => {
  // The same sum of exponentials: log-probabilities within 2e-6 · max(1, |ref|), probabilities
  // within 1e-5 · max(p) + 1e-9, for confident and uniform logits in (N, C) and NCHW.
  for (const C of [300, 4096, 65_535, 100_000]) {
    it(`C = ${C}`, () => {
      const { simd } = getBuilds();
      const failures: string[] = [];
      for (const form of ['(N, C)', 'NCHW'] as const) {
        for (const dist of ['uniform', 'confident'] as const) {
          const p = problem(2, C, form, dist, 'index');
          for (const log of [true, false]) {
            const ref = referenceSoftmax(p.logits, p.shape, 1, log);
            const y = log
              ? simd.logSoftmax({ data: p.logits, shape: p.shape })
              : simd.softmax({ data: p.logits, shape: p.shape });
            let maxAbs = 0;
            for (const v of ref) maxAbs = Math.max(maxAbs, Math.abs(v));
            for (let i = 0; i < ref.length; i++) {
              const tol = log ? 2e-6 * Math.max(1, Math.abs(ref[i]!)) : 1e-5 * maxAbs + 1e-9;
              if (!(Math.abs(y.data[i]! - ref[i]!) <= tol)) {
                failures.push(
                  `${form} ${dist} ${log ? 'logSoftmax' : 'softmax'} [${i}] ${y.data[i]}, expected ${ref[i]}`,
                );
                break;
              }
            }
            y.dispose();
          }
        }
      }
      expect(failures).toEqual([]);
    });
  }
});
