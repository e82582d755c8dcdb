/**
 * Seeded fuzzing of crossEntropy's `resize` option against the float64 reference
 * (test/reference/resize.ts): random factors per axis (up, down, same, 1x1), bilinear with and
 * without alignCorners, legacy nearest, the object form and the shorthand, both layouts, both
 * target kinds (class indices in every dtype; probabilities), every option and map request, and
 * the value distributions of the crossEntropy fuzz (normal, wide, huge ±1e4, NaN and ±inf,
 * integer ties), in the SIMD and the portable build, which must agree bit for bit, as must NHWC
 * and NCHW on the transposed data and 2 worker threads (sync and async) with one thread.
 *
 * Reproduce a failure with the seed printed in its message:
 *   XENT_FUZZ_SEED=<seed> XENT_FUZZ_CASES=1 npx vitest run test/ops/loss/cross-entropy-resize.fuzz.test.ts
 * (XENT_FUZZ_CASES: the number of cases, default 3000.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lib, useBothBuilds, type Xent } from '../../reference/dist.js';
import {
  checkBuilds,
  describeCase,
  expectedOf,
  fuzzSettings,
  makeResizeCase,
  nchwOf,
  outcomeDifference,
  referenceMismatch,
  runKernel,
  type Case,
  type Outcome,
} from '../../reference/fuzz.js';
import { toNCHW, toNHWC } from '../../reference/layout.js';
import { interpolateAdjoint, taps, type ResizeSpec } from '../../reference/resize.js';

const { baseSeed: BASE_SEED, cases: CASES, seedOf } = fuzzSettings(0x2e5e, 3000);
const BATCH = 250;

const getBuilds = useBothBuilds();
let threaded: Xent;
beforeAll(async () => {
  // minElementsPerThread: 1 splits even these small problems between both threads.
  threaded = await lib.Xent.create({ threads: 2, minElementsPerThread: 1 } as Parameters<typeof lib.Xent.create>[0]);
  if (threaded.threads !== 2) throw new Error(`expected 2 threads, got ${threaded.threads}`);
});
afterAll(() => threaded?.dispose());

const ARRAYS = { uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array, float32: Float32Array } as const;

/** crossEntropyAsync on the threaded instance: loss, sum, weightSum, the gradient and the loss map. */
async function runAsync(x: Xent, k: Case): Promise<Outcome> {
  using logits = x.tensorFrom(k.logits, k.logitsShape);
  using target = x.tensorFrom(ARRAYS[k.dtype].from(k.target) as Float32Array, k.targetShape);
  using grad = x.tensor('float32', k.logitsShape);
  const r = (await x.crossEntropyAsync(
    logits,
    target as lib.TargetInput,
    {
      resize: k.resize,
      weight: k.weight ?? undefined,
      ignoreIndex: k.ignoreIndex,
      reduction: k.reduction,
      labelSmoothing: k.labelSmoothing,
      grad: k.wantGrad ? grad : undefined,
      gradOutput: k.gradOutput ? { data: k.gradOutput, shape: k.lossShape } : undefined,
      layout: k.layout,
      lossMap: true,
    } as Parameters<Xent['crossEntropyAsync']>[2],
  )) as { loss: number | lib.Tensor<'float32'>; sum: number; weightSum: number; lossMap: lib.Tensor<'float32'> };
  const o: Outcome = { sum: r.sum, weightSum: r.weightSum, grad: k.wantGrad ? grad.toArray() : undefined };
  if (typeof r.loss === 'number') o.loss = r.loss;
  else o.losses = r.loss.toArray();
  o.lossMap = r.lossMap.toArray();
  r.lossMap.dispose();
  if (typeof r.loss !== 'number' && r.loss !== r.lossMap) r.loss.dispose();
  return o;
}

/** The fields of `a` that `b` has too (the async run asks for the loss map always). */
function common(a: Outcome, b: Outcome): Outcome {
  return { ...a, lossMap: b.lossMap && a.lossMap, confidence: undefined };
}

/** Both builds (checkBuilds), then 2 threads, sync and async, bit for bit against one thread. */
async function check(k: Case): Promise<string | undefined> {
  const { failure, simd, expected } = checkBuilds(k, getBuilds());
  if (failure || expected.refError) return failure;
  return (
    outcomeDifference(runKernel(threaded, k), simd, '2 threads (sync) and 1 thread') ??
    outcomeDifference(
      common(await runAsync(threaded, k), simd),
      { ...simd, confidence: undefined },
      '2 threads (async) and 1 thread',
    )
  );
}

describe(`fuzz crossEntropy with resize against the float64 reference (XENT_FUZZ_SEED=${BASE_SEED}, ${CASES} cases)`, () => {
  it('draws every mode, form and direction', () => {
    const ks = Array.from({ length: 400 }, (_, i) => makeResizeCase(seedOf(i)));
    const forms = new Set(ks.map((k) => JSON.stringify(k.resize)));
    for (const f of ['"bilinear"', '"nearest"', '{"mode":"bilinear","alignCorners":true}', '{"mode":"nearest"}'])
      expect(forms.has(f), f).toBe(true);
    const up = (k: Case) => k.lossShape[1]! > (k.layout === 'NHWC' ? k.logitsShape[1]! : k.logitsShape[2]!);
    expect(ks.some(up)).toBe(true);
    expect(ks.some((k) => !up(k))).toBe(true);
    expect(ks.some((k) => k.dtype === 'float32')).toBe(true);
  });
  for (let start = 0; start < CASES; start += BATCH) {
    const end = Math.min(CASES, start + BATCH);
    it(`cases ${start}..${end - 1}`, async () => {
      const failures: string[] = [];
      for (let i = start; i < end && failures.length < 5; i++) {
        const k = makeResizeCase(seedOf(i));
        const m = await check(k);
        if (m)
          failures.push(
            `case ${i}, ${describeCase(k)}, resize ${JSON.stringify(k.resize)} → ${JSON.stringify(k.lossShape)}\n    ${m}`,
          );
      }
      for (const t of [getBuilds().simd, getBuilds().portable, threaded]) expect(t.memoryStats().liveTensors).toBe(0);
      expect(failures, failures.join('\n')).toEqual([]);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// The criterion itself: a float32 implementation of the semantics — the interpolation in
// float32 (PyTorch's taps, each product and sum rounded), crossEntropy at the full resolution,
// the adjoint back — must pass it, else the tolerance floors are too tight to test a kernel.

const fr = Math.fround;

function interpolateF32(x: Float32Array, [N, C, h, w]: number[], [H, W]: number[], spec: ResizeSpec): Float32Array {
  const ty = taps(h!, H!, spec);
  const tx = taps(w!, W!, spec);
  const out = new Float32Array(N! * C! * H! * W!);
  for (let nc = 0; nc < N! * C!; nc++)
    for (let y = 0; y < H!; y++)
      for (let xo = 0; xo < W!; xo++) {
        const at = (i: number, j: number) => x[(nc * h! + i) * w! + j]!;
        const row = (i: number) => fr(fr(at(i, tx.i0[xo]!) * tx.l0[xo]!) + fr(at(i, tx.i1[xo]!) * tx.l1[xo]!));
        out[(nc * H! + y) * W! + xo] =
          spec.mode === 'nearest'
            ? at(ty.i0[y]!, tx.i0[xo]!)
            : fr(fr(row(ty.i0[y]!) * ty.l0[y]!) + fr(row(ty.i1[y]!) * ty.l1[y]!));
      }
  return out;
}

function runUnfused(x: Xent, k: Case): Outcome {
  const spec: ResizeSpec = typeof k.resize === 'string' ? { mode: k.resize } : k.resize!;
  const low = nchwOf(k.logitsShape, k.layout);
  const [N, C] = low as [number, number];
  const [, H, W] = k.lossShape as [number, number, number];
  const nhwc = k.layout === 'NHWC';
  const upNchw = interpolateF32(nhwc ? toNCHW(k.logits, low) : k.logits, low, [H, W], spec);
  const upShape = [N, C, H, W];
  const flat: Case = {
    ...k,
    resize: undefined,
    logits: nhwc ? toNHWC(upNchw, upShape) : upNchw,
    logitsShape: nhwc ? [N, H, W, C] : upShape,
  };
  const o = runKernel(x, flat);
  if (o.grad) {
    const g = interpolateAdjoint(nhwc ? toNCHW(o.grad, upShape) : o.grad, low, [H, W], spec);
    const g32 = Float32Array.from(g);
    o.grad = nhwc ? toNHWC(g32, low) : g32;
  }
  return o;
}

describe('the resize fuzz criterion admits a float32 implementation (resize in float32, then crossEntropy, then the adjoint)', () => {
  const cases = Math.min(CASES, 1000);
  it(`cases 0..${cases - 1}`, () => {
    const failures: string[] = [];
    for (let i = 0; i < cases && failures.length < 5; i++) {
      const k = makeResizeCase(seedOf(i));
      const m = referenceMismatch(k, runUnfused(getBuilds().simd, k), expectedOf(k));
      if (m)
        failures.push(
          `case ${i}, ${describeCase(k)}, resize ${JSON.stringify(k.resize)} → ${JSON.stringify(k.lossShape)}\n    ${m}`,
        );
    }
    expect(getBuilds().simd.memoryStats().liveTensors).toBe(0);
    expect(failures, failures.join('\n')).toEqual([]);
  });
});
