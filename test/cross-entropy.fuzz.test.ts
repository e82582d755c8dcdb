/**
 * Seeded fuzzing of the published package against the float64 reference: shapes (C 1..40 and
 * sometimes 150; spatial sizes covering every remainder mod 16; empty batches), target dtypes,
 * every option, and value distributions (normal, huge ±1e4, NaN and ±inf now and then), in
 * both builds, which must also agree bit for bit.
 *
 * Reproduce a failure with the seed printed in its message:
 *   XENT_FUZZ_SEED=<seed> XENT_FUZZ_CASES=1 npx vitest run test/cross-entropy.fuzz.test.ts
 * (XENT_FUZZ_CASES sets the number of cases, default 3000).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elementwiseMismatch, arrayMismatch, firstBitDifference, lossMismatch, sameBits } from './reference/compare.js';
import { ReferenceTargetError, referenceCrossEntropy, type Reduction } from './reference/cross-entropy.js';
import { bothBuilds, lib, type Xent } from './reference/dist.js';
import { Rng } from './reference/rng.js';

const BASE_SEED = Number(process.env['XENT_FUZZ_SEED'] ?? 0x5eed);
const CASES = Number(process.env['XENT_FUZZ_CASES'] ?? 3000);
const BATCH = 250;

let builds: { simd: Xent; portable: Xent };
beforeAll(async () => {
  builds = await bothBuilds();
});
afterAll(() => {
  builds.simd.dispose();
  builds.portable.dispose();
});

type TargetDtype = 'uint8' | 'uint16' | 'int32';

interface Case {
  seed: number;
  logitsShape: number[];
  targetShape: number[];
  logits: Float32Array;
  target: number[];
  dtype: TargetDtype;
  weight: Float32Array | null;
  ignoreIndex: number | undefined;
  reduction: Reduction;
  labelSmoothing: number;
  wantGrad: boolean;
  gradOutput: Float32Array | null;
  plain: boolean;
  useOut: boolean;
  dist: string;
}

function caseSeed(i: number): number {
  return (Math.imul(BASE_SEED ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}

function makeCase(seed: number): Case {
  const r = new Rng(seed);
  const C = r.chance(0.04) ? 150 : r.int(1, 40);
  const form = r.pick(['C', 'NC', 'NCL', 'NCL', 'NCHW', 'NCHW', 'NCDHW'] as const);
  const N = r.chance(0.03) ? 0 : r.int(1, 3);
  // The spatial size covers every remainder mod 16 (tiles of 16 pixels in the kernel).
  const rem = r.int(0, 15);
  let spatial: number[];
  switch (form) {
    case 'C':
    case 'NC':
      spatial = [];
      break;
    case 'NCL':
      spatial = [16 * r.int(0, 3) + rem];
      break;
    case 'NCHW': {
      const w = r.pick([1, 2, 3, 5, 7, 16, 17, rem || 16]);
      spatial = [r.chance(0.03) ? 0 : r.int(1, 5), w];
      break;
    }
    case 'NCDHW':
      spatial = [r.int(1, 2), r.int(1, 3), r.int(1, 9)];
      break;
  }
  const logitsShape = form === 'C' ? [C] : [N, C, ...spatial];
  const targetShape = form === 'C' ? [] : [N, ...spatial];
  const samples = targetShape.reduce((a, b) => a * b, 1);
  const size = samples * C;

  const dist = r.pick(['normal', 'normal', 'normal', 'wide', 'huge', 'nonfinite', 'ties'] as const);
  const sigma = dist === 'wide' ? 30 : dist === 'huge' ? 1e4 : r.pick([0.5, 1, 3]);
  const logits = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    logits[i] = dist === 'ties' ? r.int(-2, 2) : r.normal() * sigma;
    if (dist === 'nonfinite' && r.chance(0.02)) logits[i] = r.pick([NaN, Infinity, -Infinity, -Infinity]);
  }

  const dtype = r.pick(['uint8', 'uint16', 'int32'] as const);
  const maxValue = dtype === 'uint8' ? 255 : dtype === 'uint16' ? 65535 : 2 ** 31 - 1;
  let ignoreIndex: number | undefined;
  const ig = r.int(0, 4);
  if (ig === 0) ignoreIndex = undefined; // -100
  else if (ig === 1) ignoreIndex = Math.min(255, maxValue);
  else if (ig === 2) ignoreIndex = r.int(0, C - 1); // a real class, as PyTorch allows
  else if (ig === 3) ignoreIndex = dtype === 'int32' ? -1 : maxValue;
  else ignoreIndex = dtype === 'int32' ? -(2 ** 31) : maxValue;
  const ignoreValue = ignoreIndex ?? -100;
  const canIgnore = ignoreValue >= (dtype === 'int32' ? -(2 ** 31) : 0) && ignoreValue <= maxValue;
  const pIgnore = canIgnore ? r.pick([0, 0.05, 0.3, 1]) : 0;
  const target: number[] = [];
  for (let i = 0; i < samples; i++) target.push(r.chance(pIgnore) ? ignoreValue : r.int(0, C - 1));
  if (samples > 0 && r.chance(0.03)) {
    // An out-of-range target somewhere.
    const bad = r.pick([C, C + 1, maxValue, ...(dtype === 'int32' ? [-1, -7] : [])].filter((v) => v !== ignoreValue && v <= maxValue));
    if (bad !== undefined && bad >= C || (bad !== undefined && bad < 0)) target[r.int(0, samples - 1)] = bad;
  }

  let weight: Float32Array | null = null;
  if (r.chance(0.4)) {
    weight = new Float32Array(C);
    for (let c = 0; c < C; c++) weight[c] = r.chance(0.1) ? 0 : r.next() * 3;
  }
  const reduction = r.pick(['mean', 'mean', 'sum', 'none'] as const);
  const labelSmoothing = r.pick([0, 0, 0.1, 1, Math.fround(r.next())]);
  const wantGrad = r.chance(0.75);
  let gradOutput: Float32Array | null = null;
  if (reduction === 'none' && wantGrad) {
    gradOutput = new Float32Array(samples);
    for (let i = 0; i < samples; i++) gradOutput[i] = r.normal();
  }
  return {
    seed,
    logitsShape,
    targetShape,
    logits,
    target,
    dtype,
    weight,
    ignoreIndex,
    reduction,
    labelSmoothing,
    wantGrad,
    gradOutput,
    plain: r.chance(0.3),
    useOut: r.chance(0.5),
    dist,
  };
}

function describeCase(k: Case): string {
  return (
    `seed ${k.seed} (XENT_FUZZ_SEED=${BASE_SEED}): logits ${JSON.stringify(k.logitsShape)} ${k.dist}, ${k.dtype} target, ` +
    `reduction ${k.reduction}, ε=${k.labelSmoothing}, ignoreIndex=${k.ignoreIndex}, weight=${k.weight ? 'yes' : 'no'}, ` +
    `grad=${k.wantGrad}, ${k.plain ? 'plain inputs' : 'tensors'}`
  );
}

const ARRAYS = { uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array } as const;

interface Outcome {
  error?: unknown;
  loss?: number;
  losses?: Float32Array;
  sum?: number;
  weightSum?: number;
  grad?: Float32Array;
}

function runKernel(x: Xent, k: Case): Outcome {
  const tdata = ARRAYS[k.dtype].from(k.target);
  const live: lib.Tensor[] = [];
  const keep = <T extends lib.Tensor>(t: T): T => (live.push(t), t);
  try {
    const logits = k.plain ? { data: k.logits, shape: k.logitsShape } : keep(x.tensorFrom(k.logits, k.logitsShape));
    const target = k.plain ? { data: tdata, shape: k.targetShape } : keep(x.tensorFrom(tdata, k.targetShape));
    const grad = k.wantGrad ? keep(x.tensor('float32', k.logitsShape)) : undefined;
    const weight = k.weight ? (k.plain ? k.weight : keep(x.tensorFrom(k.weight))) : undefined;
    const gradOutput = k.gradOutput ? (k.plain ? { data: k.gradOutput, shape: k.targetShape } : keep(x.tensorFrom(k.gradOutput, k.targetShape))) : undefined;
    const out = k.reduction === 'none' && k.useOut ? keep(x.tensor('float32', k.targetShape)) : undefined;
    const r = x.crossEntropy(logits, target, {
      weight,
      ignoreIndex: k.ignoreIndex,
      reduction: k.reduction,
      labelSmoothing: k.labelSmoothing,
      grad,
      gradOutput,
      out,
    });
    const o: Outcome = { sum: r.sum, weightSum: r.weightSum, grad: grad?.toArray() };
    if (typeof r.loss === 'number') o.loss = r.loss;
    else {
      if (out && r.loss !== out) throw new Error('options.out was not returned as the loss');
      o.losses = r.loss.toArray();
      if (!out) r.loss.dispose();
    }
    return o;
  } catch (error) {
    return { error };
  } finally {
    for (const t of live) t.dispose();
  }
}

/**
 * An absolute floor for the gradient tolerance: a few float32 ulps of the largest term that the
 * kernel adds up per element, |g_i| · ((1 − ε) w[t] + ε/C · Σw). When the terms cancel (C = 1,
 * or p ≈ one-hot), the exact gradient is ~0 and 1e-5 · max|grad| alone would demand more than
 * float32 can give. The fixtures use the plain 1e-5 · max|grad| criterion.
 */
function gradFloor(k: Case, W: number): number {
  const C = k.logitsShape.length === 1 ? k.logitsShape[0]! : k.logitsShape[1]!;
  const eps = k.labelSmoothing;
  const w = (c: number) => (k.weight ? k.weight[c]! : 1);
  let wAll = 0;
  for (let c = 0; c < C; c++) wAll += Math.abs(w(c));
  let scale = 0;
  k.target.forEach((t, i) => {
    if (t === (k.ignoreIndex ?? -100)) return;
    const g = k.reduction === 'mean' ? 1 / W : k.reduction === 'sum' ? 1 : k.gradOutput![i]!;
    const term = Math.abs(g) * ((1 - eps) * Math.abs(w(t)) + (eps / C) * wAll);
    if (Number.isFinite(term)) scale = Math.max(scale, term);
  });
  return 8 * 2 ** -24 * scale;
}

function check(k: Case): string | undefined {
  let ref: ReturnType<typeof referenceCrossEntropy> | undefined;
  let refError: ReferenceTargetError | undefined;
  try {
    ref = referenceCrossEntropy({
      logits: k.logits,
      logitsShape: k.logitsShape,
      target: k.target,
      weight: k.weight,
      ignoreIndex: k.ignoreIndex,
      reduction: k.reduction,
      labelSmoothing: k.labelSmoothing,
      gradOutput: k.gradOutput,
    });
  } catch (e) {
    if (!(e instanceof ReferenceTargetError)) throw e;
    refError = e;
  }
  const outs = { simd: runKernel(builds.simd, k), portable: runKernel(builds.portable, k) };
  for (const [build, o] of Object.entries(outs)) {
    const fail = (m: string) => `${build}: ${m}`;
    if (refError) {
      if (!(o.error instanceof lib.XentTargetError)) return fail(`expected XentTargetError, got ${String(o.error ?? 'no error')}`);
      if (!o.error.message.startsWith(`Target ${refError.value} is out of bounds.`)) return fail(`message: ${o.error.message}`);
      if (o.error.index !== refError.index) return fail(`reported flat index ${o.error.index}, first bad one is ${refError.index}`);
      continue;
    }
    if (o.error) return fail(`unexpected error ${String(o.error)}`);
    const r = ref!;
    if (k.reduction === 'none') {
      const m = elementwiseMismatch(o.losses!, r.losses, 2e-6, 'loss map');
      if (m) return fail(m);
    } else {
      const m = lossMismatch(o.loss!, r.loss);
      if (m) return fail(m);
    }
    const ms = lossMismatch(o.sum!, r.sum) ?? lossMismatch(o.weightSum!, r.weightSum, 1e-6);
    if (ms) return fail(`sum/weightSum: ${ms}`);
    if (o.grad && r.grad) {
      const m = arrayMismatch(o.grad, r.grad, 1e-5, 'grad', gradFloor(k, r.weightSum));
      if (m) return fail(m);
    }
  }
  if (!refError) {
    const s = outs.simd;
    const p = outs.portable;
    if (!sameBits(s.loss ?? 0, p.loss ?? 0) || !sameBits(s.sum!, p.sum!) || !sameBits(s.weightSum!, p.weightSum!)) {
      return `SIMD and portable builds differ: loss ${s.loss} vs ${p.loss}, sum ${s.sum} vs ${p.sum}`;
    }
    if (s.losses && firstBitDifference(s.losses, p.losses!) !== -1) return `SIMD and portable loss maps differ at ${firstBitDifference(s.losses, p.losses!)}`;
    if (s.grad && firstBitDifference(s.grad, p.grad!) !== -1) return `SIMD and portable grads differ at ${firstBitDifference(s.grad, p.grad!)}`;
  }
  return undefined;
}

describe(`fuzz against the float64 reference (XENT_FUZZ_SEED=${BASE_SEED}, ${CASES} cases)`, () => {
  for (let start = 0; start < CASES; start += BATCH) {
    const end = Math.min(CASES, start + BATCH);
    it(`cases ${start}..${end - 1}`, () => {
      const failures: string[] = [];
      for (let i = start; i < end && failures.length < 5; i++) {
        const k = makeCase(caseSeed(i));
        const m = check(k);
        if (m) failures.push(`case ${i}, ${describeCase(k)}\n    ${m}`);
      }
      for (const t of [builds.simd, builds.portable]) expect(t.memoryStats().liveTensors).toBe(0);
      expect(failures, failures.join('\n')).toEqual([]);
    });
  }
});

export { makeCase, caseSeed };
