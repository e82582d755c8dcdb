/**
 * Accuracy of crossEntropy against the float64 reference (test/reference/) as the class count
 * grows: for each C, form ((N, C), NCHW, NHWC), logit distribution and target kind, the loss's
 * error relative to max(1, |ref|) and the gradient's max error relative to max|grad|, with
 * their worst case over a few seeds. The tests' tolerances are 2e-6 and 1e-5.
 *
 *   bash scripts/class-accuracy.sh [--dist DIR] [--classes 2,300,65535] [--seeds N]
 *
 * (scripts/class-accuracy.sh runs this file with vite-node and the bits digest's config.)
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DISTS, FORMS, KINDS, problem, referenceOf, targetOf, type Problem } from '../test/reference/classes.js';

type Lib = typeof import('../dist/index.mjs');

const argv = process.argv.slice(2).filter((a) => a !== '--');
function option(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
const DIST = resolve(option('--dist') ?? 'dist');
const CLASSES = (option('--classes') ?? '2,3,16,64,65,150,300,1000,4096,30000,65535,65536,100000,250000')
  .split(',')
  .map(Number);
const SEEDS = Number(option('--seeds') ?? 3);
const lib: Lib = await import(pathToFileURL(`${DIST}/index.mjs`).href);
const x = await lib.Xent.create({ simd: true });

interface Errors {
  loss: number;
  grad: number;
}

function measure(p: Problem): Errors | string {
  const ref = referenceOf(p);
  const grad = x.tensor('float32', p.shape);
  try {
    const r = x.crossEntropy({ data: p.logits, shape: p.shape }, targetOf(p), {
      layout: p.layout,
      reduction: 'sum',
      grad,
      labelSmoothing: p.labelSmoothing,
    });
    // 'sum' of the per-sample losses: the loss map's error, summed; compare per sample instead.
    const m = x.crossEntropy({ data: p.logits, shape: p.shape }, targetOf(p), {
      layout: p.layout,
      reduction: 'none',
      labelSmoothing: p.labelSmoothing,
    });
    let loss = 0;
    for (let i = 0; i < ref.losses.length; i++) {
      const e = ref.losses[i]!;
      loss = Math.max(loss, Math.abs(m.loss.data[i]! - e) / Math.max(1, Math.abs(e)));
    }
    m.loss.dispose();
    loss = Math.max(loss, Math.abs(r.loss - ref.loss) / Math.max(1, Math.abs(ref.loss)));
    let maxAbs = 0;
    let maxErr = 0;
    const g = ref.grad!;
    for (let i = 0; i < g.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(g[i]!));
      maxErr = Math.max(maxErr, Math.abs(grad.data[i]! - g[i]!));
    }
    return { loss, grad: maxErr / Math.max(maxAbs, 1e-300) };
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message.slice(0, 60)}`;
  } finally {
    grad.dispose();
  }
}

const fmt = (v: number) => v.toExponential(1).padStart(8);
console.log(`dist ${DIST}, worst of ${SEEDS} seeds; loss: |Δ| / max(1, |ref|) per sample; grad: max|Δ| / max|grad|`);
console.log(
  `${'C'.padStart(7)} ${'form'.padEnd(7)} ${'kind'.padEnd(6)} ` +
    DISTS.map((d) => `${d}: loss  grad`.padStart(22)).join(''),
);
let worstLoss = 0;
let worstGrad = 0;
for (const C of CLASSES) {
  for (const form of FORMS) {
    for (const kind of KINDS) {
      if (kind === 'prob' && C > 70000) continue;
      const cells: string[] = [];
      for (const dist of DISTS) {
        const e: Errors = { loss: 0, grad: 0 };
        let err: string | undefined;
        for (let seed = 0; seed < SEEDS && !err; seed++) {
          const m = measure(problem(seed, C, form, dist, kind));
          if (typeof m === 'string') err = m;
          else {
            e.loss = Math.max(e.loss, m.loss);
            e.grad = Math.max(e.grad, m.grad);
          }
        }
        worstLoss = Math.max(worstLoss, e.loss);
        worstGrad = Math.max(worstGrad, e.grad);
        cells.push(err ? err.slice(0, 20).padStart(22) : `${fmt(e.loss)} ${fmt(e.grad)}`.padStart(22));
      }
      console.log(`${String(C).padStart(7)} ${form.padEnd(7)} ${kind.padEnd(6)} ${cells.join('')}`);
    }
  }
}
console.log(`worst: loss ${worstLoss.toExponential(2)} (tolerance 2e-6), grad ${worstGrad.toExponential(2)} (1e-5)`);
x.dispose();
