/**
 * The crossEntropy fuzz cases (test/ops/loss/cross-entropy.fuzz.test.ts, and a subset in
 * test/relaxed.test.ts; with the `resize` option, test/ops/loss/cross-entropy-resize.fuzz.test.ts):
 * the seeded case generators, running a case on an instance, and checking one run against the
 * float64 reference with the fuzz tolerances.
 *
 * Longer than 400 lines because generating, running and checking a case change together: a
 * new case field is drawn, passed and checked in this one file.
 */
import { arrayMismatch, elementwiseMismatch, firstBitDifference, lossMismatch, sameBits } from './compare.js';
import {
  ReferenceTargetError,
  classAxis,
  referenceCrossEntropy,
  type Layout,
  type Reduction,
} from './cross-entropy.js';
import { lib, type Xent } from './dist.js';
import { toNCHW } from './layout.js';
import { interpolateAdjoint, referenceResizedCrossEntropy, type ResizeReferenceOutput } from './resize.js';
import { Rng } from './rng.js';

export type TargetDtype = 'uint8' | 'uint16' | 'int32' | 'float32';
/** How an optional map is asked for: not at all, `true` (a new tensor) or a given tensor. */
export type MapRequest = 'no' | 'new' | 'tensor';

export interface Case {
  seed: number;
  layout: Layout;
  /** In `layout`. */
  logitsShape: number[];
  /** Index targets: (N, d..); probabilities: the logits' shape. */
  targetShape: number[];
  /** The per-sample shape (N, d..). */
  lossShape: number[];
  logits: Float32Array;
  /** Class indices, or probabilities (float32 values) in the logits' layout. */
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
  lossMap: MapRequest;
  confidence: MapRequest;
  dist: string;
  /**
   * The `resize` option (see makeResizeCase): logits (N, C, h, w) are interpolated to the
   * target's (H, W). Then `targetShape` is (N, H, W), or (N, C, H, W) probabilities in the
   * logits' layout, and `lossShape` (N, H, W).
   */
  resize?: 'bilinear' | 'nearest' | { mode: 'bilinear' | 'nearest'; alignCorners?: boolean };
}

export function spatialDims(r: Rng, form: string): number[] {
  // The spatial size covers every remainder mod 16 (tiles of 16 pixels in the kernel).
  const rem = r.int(0, 15);
  switch (form) {
    case 'NCL':
      return [16 * r.int(0, 3) + rem];
    case 'NCHW': {
      const w = r.pick([1, 2, 3, 5, 7, 16, 17, rem || 16]);
      return [r.chance(0.03) ? 0 : r.int(1, 5), w];
    }
    case 'NCDHW':
      return [r.int(1, 2), r.int(1, 3), r.int(1, 9)];
    default:
      return [];
  }
}

export function logitValues(r: Rng, size: number, dist: string): Float32Array {
  const sigma = dist === 'wide' ? 30 : dist === 'huge' ? 1e4 : r.pick([0.5, 1, 3]);
  const logits = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    logits[i] = dist === 'ties' ? r.int(-2, 2) : r.normal() * sigma;
    if (dist === 'nonfinite' && r.chance(0.02)) logits[i] = r.pick([NaN, Infinity, -Infinity, -Infinity]);
  }
  return logits;
}

export function makeCase(seed: number): Case {
  const r = new Rng(seed);
  const C = r.chance(0.04) ? 150 : r.int(1, 40);
  const form = r.pick(['C', 'NC', 'NCL', 'NCL', 'NCHW', 'NCHW', 'NCDHW'] as const);
  const N = r.chance(0.03) ? 0 : r.int(1, 3);
  const spatial = spatialDims(r, form);
  const layout: Layout = r.chance(0.4) ? 'NHWC' : 'NCHW';
  const nhwc = layout === 'NHWC' && spatial.length > 0;
  const logitsShape = form === 'C' ? [C] : nhwc ? [N, ...spatial, C] : [N, C, ...spatial];
  const lossShape = form === 'C' ? [] : [N, ...spatial];
  const samples = lossShape.reduce((a, b) => a * b, 1);
  const size = samples * C;

  const dist = r.pick(['normal', 'normal', 'normal', 'wide', 'huge', 'nonfinite', 'ties'] as const);
  const logits = logitValues(r, size, dist);

  const dtype = r.chance(0.3) ? 'float32' : r.pick(['uint8', 'uint16', 'int32'] as const);
  let ignoreIndex: number | undefined;
  const target: number[] = [];
  if (dtype === 'float32') {
    // Probabilities in the logits' layout: softmax rows, one-hot rows, or unnormalised values
    // with zeros (and now and then negative entries, which PyTorch does not check either).
    ignoreIndex = r.pick([undefined, -100, -1, -(2 ** 31)]);
    const style = r.pick(['softmax', 'softmax', 'onehot', 'raw'] as const);
    const { at } = classAxis(logitsShape, layout);
    const S = samples / Math.max(N, 1) || 0;
    const q = new Float32Array(size);
    for (let b = 0; b < (form === 'C' ? 1 : N); b++) {
      for (let p = 0; p < (form === 'C' ? 1 : S); p++) {
        const hot = r.int(0, C - 1);
        const e = Array.from({ length: C }, () => Math.exp(r.normal() * 2));
        const se = e.reduce((a, v) => a + v, 0);
        for (let c = 0; c < C; c++) {
          q[at(b, c, p)] =
            style === 'softmax'
              ? e[c]! / se
              : style === 'onehot'
                ? +(c === hot)
                : r.chance(0.3)
                  ? 0
                  : r.chance(0.05)
                    ? -r.next()
                    : r.next() * 2;
        }
      }
    }
    target.push(...q);
  } else {
    const maxValue = dtype === 'uint8' ? 255 : dtype === 'uint16' ? 65535 : 2 ** 31 - 1;
    const ig = r.int(0, 4);
    if (ig === 0)
      ignoreIndex = undefined; // -100
    else if (ig === 1) ignoreIndex = Math.min(255, maxValue);
    else if (ig === 2)
      ignoreIndex = r.int(0, C - 1); // a real class, as PyTorch allows
    else if (ig === 3) ignoreIndex = dtype === 'int32' ? -1 : maxValue;
    else ignoreIndex = dtype === 'int32' ? -(2 ** 31) : maxValue;
    const ignoreValue = ignoreIndex ?? -100;
    const canIgnore = ignoreValue >= (dtype === 'int32' ? -(2 ** 31) : 0) && ignoreValue <= maxValue;
    const pIgnore = canIgnore ? r.pick([0, 0.05, 0.3, 1]) : 0;
    for (let i = 0; i < samples; i++) target.push(r.chance(pIgnore) ? ignoreValue : r.int(0, C - 1));
    if (samples > 0 && r.chance(0.03)) {
      // An out-of-range target somewhere.
      const bad = r.pick(
        [C, C + 1, maxValue, ...(dtype === 'int32' ? [-1, -7] : [])].filter((v) => v !== ignoreValue && v <= maxValue),
      );
      if ((bad !== undefined && bad >= C) || (bad !== undefined && bad < 0)) target[r.int(0, samples - 1)] = bad;
    }
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
  const maps = ['no', 'no', 'new', 'tensor'] as const;
  return {
    seed,
    layout,
    logitsShape,
    targetShape: dtype === 'float32' ? logitsShape : lossShape,
    lossShape,
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
    lossMap: r.pick(maps),
    confidence: dtype === 'float32' ? 'no' : r.pick(maps),
    dist,
  };
}

export function describeCase(k: Case): string {
  return (
    `seed ${k.seed} (rerun: XENT_FUZZ_SEED=${k.seed} XENT_FUZZ_CASES=1): logits ${JSON.stringify(k.logitsShape)} ${k.layout} ${k.dist}, ` +
    `${k.dtype} target, reduction ${k.reduction}, ε=${k.labelSmoothing}, ignoreIndex=${k.ignoreIndex}, weight=${k.weight ? 'yes' : 'no'}, ` +
    `grad=${k.wantGrad}, lossMap=${k.lossMap}, confidence=${k.confidence}, ${k.plain ? 'plain inputs' : 'tensors'}`
  );
}

const ARRAYS = { uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array, float32: Float32Array } as const;

export interface Outcome {
  error?: unknown;
  loss?: number;
  losses?: Float32Array;
  sum?: number;
  weightSum?: number;
  grad?: Float32Array;
  lossMap?: Float32Array;
  confidence?: Float32Array;
}

/**
 * Runs a case. With `transposed`, an NHWC case runs as NCHW on the transposed data (and its
 * gradient is transposed back to NHWC): it must give the same bits.
 */
export function runKernel(x: Xent, k: Case, transposed = false): Outcome {
  const live: lib.Tensor[] = [];
  const keep = <T extends lib.Tensor>(t: T): T => {
    live.push(t);
    return t;
  };
  const nchwShape =
    k.layout === 'NHWC' && k.logitsShape.length >= 3
      ? [k.logitsShape[0]!, k.logitsShape.at(-1)!, ...k.logitsShape.slice(1, -1)]
      : k.logitsShape;
  const tr = transposed && nchwShape !== k.logitsShape;
  const toNchw = (a: Float32Array) => {
    // NHWC data (of NCHW shape nchwShape) → NCHW
    return tr ? toNCHW(a, nchwShape) : a;
  };
  const fromNchw = (a: Float32Array) => {
    if (!tr) return a;
    const [N, C] = nchwShape as [number, number];
    const S = a.length / Math.max(N * C, 1);
    const out = new Float32Array(a.length);
    for (let b = 0; b < N; b++)
      for (let c = 0; c < C; c++) for (let p = 0; p < S; p++) out[(b * S + p) * C + c] = a[(b * C + c) * S + p]!;
    return out;
  };
  const shape = tr ? nchwShape : k.logitsShape;
  const layout = tr ? 'NCHW' : k.layout;
  // Probabilities are in the logits' layout (at the target's resolution with resize).
  const probNchwShape = k.resize ? nchwOf(k.targetShape, k.layout) : nchwShape;
  const tdata =
    k.dtype === 'float32'
      ? tr
        ? toNCHW(Float32Array.from(k.target), probNchwShape)
        : Float32Array.from(k.target)
      : ARRAYS[k.dtype].from(k.target);
  const tshape = k.dtype === 'float32' ? (tr ? probNchwShape : k.targetShape) : k.targetShape;
  const logitsData = toNchw(k.logits);
  try {
    const logits = k.plain ? { data: logitsData, shape } : keep(x.tensorFrom(logitsData, shape));
    const target = k.plain ? { data: tdata, shape: tshape } : keep(x.tensorFrom(tdata as Float32Array, tshape));
    const grad = k.wantGrad ? keep(x.tensor('float32', shape)) : undefined;
    const weight = k.weight ? (k.plain ? k.weight : keep(x.tensorFrom(k.weight))) : undefined;
    const gradOutput = k.gradOutput
      ? k.plain
        ? { data: k.gradOutput, shape: k.lossShape }
        : keep(x.tensorFrom(k.gradOutput, k.lossShape))
      : undefined;
    const out = k.reduction === 'none' && k.useOut ? keep(x.tensor('float32', k.lossShape)) : undefined;
    const map = (m: MapRequest) =>
      m === 'no' ? undefined : m === 'new' ? true : keep(x.tensor('float32', k.lossShape));
    const lossMap = map(k.lossMap);
    const confidence = map(k.confidence);
    const r = x.crossEntropy(
      logits,
      target as lib.TargetInput,
      {
        weight,
        ignoreIndex: k.ignoreIndex,
        reduction: k.reduction,
        labelSmoothing: k.labelSmoothing,
        grad,
        gradOutput,
        // A given lossMap tensor is the destination of 'none' (then out must be the same or absent).
        out: out && lossMap instanceof lib.Tensor ? lossMap : out,
        layout,
        lossMap,
        confidence,
        ...(k.resize === undefined ? {} : { resize: k.resize }),
      } as Parameters<Xent['crossEntropy']>[2],
    );
    const o: Outcome = { sum: r.sum, weightSum: r.weightSum, grad: grad && fromNchw(grad.toArray()) };
    if (typeof r.loss === 'number') o.loss = r.loss;
    else {
      if (out && !(lossMap instanceof lib.Tensor) && r.loss !== out)
        throw new Error('options.out was not returned as the loss');
      o.losses = r.loss.toArray();
    }
    for (const [name, req, got] of [
      ['lossMap', lossMap, r.lossMap],
      ['confidence', confidence, r.confidence],
    ] as const) {
      if (req === undefined) {
        if (got !== undefined) throw new Error(`${name} was returned without being asked for`);
        continue;
      }
      if (!(got instanceof lib.Tensor)) throw new Error(`${name} was asked for but not returned`);
      if (req instanceof lib.Tensor && got !== req) throw new Error(`the given ${name} tensor was not returned`);
      if (name === 'lossMap' && typeof r.loss !== 'number' && got !== r.loss)
        throw new Error("'none': lossMap is not the loss tensor");
      o[name] = got.toArray();
      if (req === true && !(name === 'lossMap' && got === r.loss)) keep(got);
    }
    if (typeof r.loss !== 'number' && !out && !(lossMap instanceof lib.Tensor)) keep(r.loss);
    return o;
  } catch (error) {
    return { error };
  } finally {
    for (const t of live) t.dispose();
  }
}

/**
 * An absolute floor for the gradient tolerance: a few float32 ulps of the largest sum of the
 * terms that the kernel adds up per element — |g| · ((1 − ε) w[t] + ε/C · Σw) for class
 * indices, |g| · Σ_c |w[c] q'[c]| for probabilities. When the terms cancel (C = 1, or p ≈ the
 * target), the exact gradient is ~0 and 1e-5 · max|grad| alone would demand more than float32
 * can give. The fixtures use the plain 1e-5 · max|grad| criterion.
 */
export function gradFloor(k: Case, W: number): number {
  const { N, C, S, at } = classAxis(k.logitsShape, k.layout);
  const eps = k.labelSmoothing;
  const w = (c: number) => (k.weight ? k.weight[c]! : 1);
  let wAll = 0;
  for (let c = 0; c < C; c++) wAll += Math.abs(w(c));
  let scale = 0;
  for (let b = 0; b < N; b++) {
    for (let p = 0; p < S; p++) {
      const i = b * S + p;
      let term: number;
      const g = k.reduction === 'mean' ? 1 / W : k.reduction === 'sum' ? 1 : k.gradOutput![i]!;
      if (k.dtype === 'float32') {
        let s = 0;
        for (let c = 0; c < C; c++)
          s += Math.abs(w(c) * (eps > 0 ? k.target[at(b, c, p)]! * (1 - eps) + eps / C : k.target[at(b, c, p)]!));
        term = Math.abs(g) * s;
      } else {
        const t = k.target[i]!;
        if (t === (k.ignoreIndex ?? -100)) continue;
        term = Math.abs(g) * ((1 - eps) * Math.abs(w(t)) + (eps / C) * wAll);
      }
      if (Number.isFinite(term)) scale = Math.max(scale, term);
    }
  }
  return 8 * 2 ** -24 * scale;
}

/**
 * Absolute floors for the loss tolerance: 8 float32 ulps of the sum of the magnitudes of the
 * terms the kernel adds up for each sample, lse · Σ w q' and w q' d for probabilities, with
 * d = x − max (likewise (1 − ε) w[t] (lse − d[t]) + ε/C (lse Σw − Σ w d) for class indices),
 * and for the reduced loss their sum (/ W for 'mean'). They only matter when the terms cancel:
 * probability targets with negative entries and huge logits, where float32 cannot give
 * 2e-6 · |loss|. For non-negative targets every term has the same sign and the plain criterion
 * applies. Per sample and the reduced value.
 */
export function lossFloors(k: Case, W: number): { perSample: Float64Array; sum: number; reduced: number } {
  const { N, C, S, at } = classAxis(k.logitsShape, k.layout);
  const eps = k.labelSmoothing;
  const w = (c: number) => (k.weight ? k.weight[c]! : 1);
  const perSample = new Float64Array(N * S);
  let total = 0;
  for (let b = 0; b < N; b++) {
    for (let p = 0; p < S; p++) {
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, k.logits[at(b, c, p)]!);
      let se = 0;
      for (let c = 0; c < C; c++) se += Math.exp(k.logits[at(b, c, p)]! - m);
      const lse = Math.abs(Math.log(se));
      const d = (c: number) => Math.abs(k.logits[at(b, c, p)]! - m);
      let t = 0;
      if (k.dtype === 'float32') {
        for (let c = 0; c < C; c++) {
          const wq = Math.abs(w(c) * (eps > 0 ? k.target[at(b, c, p)]! * (1 - eps) + eps / C : k.target[at(b, c, p)]!));
          t += wq * (lse + d(c));
        }
      } else {
        const tc = k.target[b * S + p]!;
        if (tc === (k.ignoreIndex ?? -100)) continue;
        t = (1 - eps) * Math.abs(w(tc)) * (lse + d(tc));
        if (eps > 0) for (let c = 0; c < C; c++) t += (eps / C) * Math.abs(w(c)) * (lse + d(c));
      }
      const f = Number.isFinite(t) ? 8 * 2 ** -24 * t : 0;
      perSample[b * S + p] = f;
      total += f;
    }
  }
  return { perSample, sum: total, reduced: k.reduction === 'mean' ? (W > 0 ? total / W : 0) : total };
}

/**
 * The seed of case `i` of a fuzz run from `base`; with `replay` (XENT_FUZZ_SEED set), case 0's
 * is `base` itself, so that the seed a failure prints reruns that case.
 */
export function caseSeed(base: number, i: number, replay: boolean): number {
  if (replay && i === 0) return base >>> 0;
  return (Math.imul(base ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}

/**
 * A fuzz run's settings: XENT_FUZZ_SEED (default `seed`), XENT_FUZZ_CASES (default `cases`), and
 * the seed of each case (case 0 of a run with XENT_FUZZ_SEED set is that seed itself).
 */
export function fuzzSettings(
  seed: number,
  cases: number,
): {
  baseSeed: number;
  cases: number;
  seedOf: (i: number) => number;
} {
  const env = process.env.XENT_FUZZ_SEED;
  const baseSeed = Number(env ?? seed);
  return {
    baseSeed,
    cases: Number(process.env.XENT_FUZZ_CASES ?? cases),
    seedOf: (i) => caseSeed(baseSeed, i, env !== undefined),
  };
}

/** Undefined when two outcomes have the same bits (NaNs all equal), else what differs. */
export function outcomeDifference(a: Outcome, b: Outcome, what: string): string | undefined {
  if (!sameBits(a.loss ?? 0, b.loss ?? 0) || !sameBits(a.sum!, b.sum!) || !sameBits(a.weightSum!, b.weightSum!))
    return `${what} differ: loss ${a.loss} vs ${b.loss}, sum ${a.sum} vs ${b.sum}`;
  for (const f of ['losses', 'grad', 'lossMap', 'confidence'] as const) {
    const [p, q] = [a[f], b[f]];
    if ((p === undefined) !== (q === undefined)) return `${what}: ${f} in one run only`;
    if (p && firstBitDifference(p, q!) !== -1) return `${what}: ${f} differ at ${firstBitDifference(p, q!)}`;
  }
  return undefined;
}

/**
 * A case in both builds: each against the float64 reference, then bit for bit against each
 * other, and (NHWC cases) NHWC against NCHW on the transposed data. `failure` is the first
 * mismatch; `simd` the SIMD build's outcome, for further comparisons when there is none.
 */
export function checkBuilds(
  k: Case,
  builds: { simd: Xent; portable: Xent },
): { failure?: string; simd: Outcome; expected: Expected } {
  const expected = expectedOf(k);
  const outs = { simd: runKernel(builds.simd, k), portable: runKernel(builds.portable, k) };
  const result = (failure?: string) => ({ failure, simd: outs.simd, expected });
  for (const [build, o] of Object.entries(outs)) {
    const m = referenceMismatch(k, o, expected);
    if (m) return result(`${build}: ${m}`);
  }
  if (expected.refError) return result();
  const m = outcomeDifference(outs.simd, outs.portable, 'SIMD and portable builds');
  if (m) return result(m);
  if (k.layout === 'NHWC' && k.logitsShape.length >= 3) {
    const t = runKernel(builds.simd, k, true);
    if (t.error) return result(`NCHW on the transposed data: unexpected error ${String(t.error)}`);
    return result(outcomeDifference(t, outs.simd, 'NCHW on the transposed data and NHWC'));
  }
  return result();
}

/** The float64 reference of a case, or the out-of-bounds target it must report. */
export interface Expected {
  ref?: ReturnType<typeof referenceCrossEntropy>;
  refError?: ReferenceTargetError;
}

export function expectedOf(k: Case): Expected {
  const input = {
    logits: k.logits,
    logitsShape: k.logitsShape,
    target: k.target,
    targetKind: k.dtype === 'float32' ? ('prob' as const) : ('index' as const),
    weight: k.weight,
    ignoreIndex: k.ignoreIndex,
    reduction: k.reduction,
    labelSmoothing: k.labelSmoothing,
    gradOutput: k.gradOutput,
    layout: k.layout,
  };
  try {
    if (k.resize === undefined) return { ref: referenceCrossEntropy(input) };
    const resize = typeof k.resize === 'string' ? { mode: k.resize } : k.resize;
    return { ref: referenceResizedCrossEntropy({ ...input, targetShape: k.targetShape, resize }) };
  } catch (e) {
    if (!(e instanceof ReferenceTargetError)) throw e;
    return { refError: e };
  }
}

/**
 * One run against the float64 reference: the same error (out-of-bounds target, its value and
 * flat index), or loss, sum, weightSum, gradient and the maps within the fuzz tolerances (with
 * their floors), non-finite values in the same places. Undefined when it passes.
 */
export function referenceMismatch(k: Case, o: Outcome, { ref, refError }: Expected): string | undefined {
  if (refError) {
    if (!(o.error instanceof lib.XentTargetError))
      return `expected XentTargetError, got ${String(o.error ?? 'no error')}`;
    if (!o.error.message.startsWith(`Target ${refError.value} is out of bounds.`)) return `message: ${o.error.message}`;
    if (o.error.index !== refError.index)
      return `reported flat index ${o.error.index}, first bad one is ${refError.index}`;
    return undefined;
  }
  if (o.error) return `unexpected error ${String(o.error)}`;
  const r = ref!;
  const floors: {
    perSample: Float64Array;
    sum: number;
    reduced: number;
    grad?: number;
    confidence?: Float64Array;
  } = k.resize ? resizeFloors(k, r as ResizeReferenceOutput) : lossFloors(k, r.weightSum);
  const loss =
    k.reduction === 'none'
      ? elementwiseMismatch(o.losses!, r.losses, 2e-6, 'loss map', floors.perSample)
      : lossMismatch(o.loss!, r.loss, 2e-6, floors.reduced);
  if (loss) return loss;
  const ms = lossMismatch(o.sum!, r.sum, 2e-6, floors.sum) ?? lossMismatch(o.weightSum!, r.weightSum, 1e-6);
  if (ms) return `sum/weightSum: ${ms}`;
  if (o.grad && r.grad) {
    const floor = floors.grad ?? gradFloor(k, r.weightSum);
    const m = arrayMismatch(o.grad, r.grad, 1e-5, 'grad', floor);
    if (m) return m;
  }
  if (o.lossMap) {
    const m = elementwiseMismatch(o.lossMap, r.losses, 2e-6, 'lossMap', floors.perSample);
    if (m) return m;
  }
  if (o.confidence) return elementwiseMismatch(o.confidence, r.confidence!, 2e-6, 'confidence', floors.confidence);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The `resize` option.

/** The NCHW shape of a rank-4 tensor of `shape` in `layout`. */
export function nchwOf(shape: readonly number[], layout: Layout): number[] {
  return layout === 'NHWC' && shape.length === 4 ? [shape[0]!, shape[3]!, shape[1]!, shape[2]!] : [...shape];
}

/**
 * A case with the `resize` option: logits (N, C, h, w) (or NHWC) with h, w in 1..9 and a target
 * of any (H, W) in 1..24, larger, smaller or equal, per axis; bilinear (alignCorners false, true
 * or left out, or the shorthand 'bilinear') or nearest (the object or the shorthand); class
 * indices in every dtype or probabilities; every option, map request and value distribution
 * of makeCase (the option draws are makeCase's, from a stream of their own).
 */
export function makeResizeCase(seed: number): Case {
  const r = new Rng(seed ^ 0x2e512e);
  const base = makeCase(seed);
  const C = r.chance(0.05) ? 150 : r.int(1, 12);
  const N = r.int(1, 2);
  const h = r.int(1, 9);
  const w = r.int(1, 9);
  const axis = (n: number) =>
    r.pick(['same', 'up', 'up', 'down', 'any'] as const) === 'same'
      ? n
      : r.chance(0.5)
        ? Math.min(24, n * r.int(1, 4))
        : r.int(1, 24);
  const H = axis(h);
  const W = axis(w);
  const mode = r.pick(['bilinear', 'bilinear', 'nearest'] as const);
  const resize: Case['resize'] =
    mode === 'nearest'
      ? r.pick(['nearest', { mode }] as const)
      : r.pick(['bilinear', { mode }, { mode, alignCorners: false }, { mode, alignCorners: true }] as const);
  const layout: Layout = r.chance(0.4) ? 'NHWC' : 'NCHW';
  const nhwc = layout === 'NHWC';
  const logitsShape = nhwc ? [N, h, w, C] : [N, C, h, w];
  const lossShape = [N, H, W];
  const dist = r.pick(['normal', 'normal', 'normal', 'wide', 'huge', 'nonfinite', 'ties'] as const);
  const logits = logitValues(r, N * C * h * w, dist);
  const prob = base.dtype === 'float32';
  const samples = N * H * W;
  const target: number[] = [];
  const ignoreValue = base.ignoreIndex ?? -100;
  if (prob) {
    const q = new Float32Array(N * C * H * W);
    for (let i = 0; i < q.length; i++) q[i] = r.chance(0.3) ? 0 : r.next();
    for (const v of q) target.push(v);
  } else {
    const pIgnore = r.pick([0, 0.1, 1]);
    const fits = base.dtype === 'int32' || (ignoreValue >= 0 && ignoreValue <= (base.dtype === 'uint8' ? 255 : 65535));
    for (let i = 0; i < samples; i++) target.push(fits && r.chance(pIgnore) ? ignoreValue : r.int(0, C - 1));
    // Now and then a target out of range (C fits every dtype here), which must be reported at
    // its index in the full-resolution target.
    if (r.chance(0.03) && C !== ignoreValue) target[r.int(0, samples - 1)] = C;
  }
  let weight: Float32Array | null = null;
  if (base.weight) weight = Float32Array.from({ length: C }, () => (r.chance(0.1) ? 0 : r.next() * 3));
  const gradOutput =
    base.reduction === 'none' && base.wantGrad ? Float32Array.from({ length: samples }, () => r.normal()) : null;
  return {
    ...base,
    layout,
    logitsShape,
    targetShape: prob ? (nhwc ? [N, H, W, C] : [N, C, H, W]) : lossShape,
    lossShape,
    logits,
    target,
    weight,
    gradOutput,
    dist,
    resize,
  };
}

/**
 * The tolerance floors of a resize case: those of the same problem at the target's
 * resolution (lossFloors, gradFloor of the interpolated logits), plus the float32 rounding of
 * the interpolated logits, which the kernel (like PyTorch) computes in float32: each is off by
 * at most δ = 8 float32 ulps of the image's largest |logit|, and moves a pixel's loss by at
 * most 2δ times the sum of its weights (|g|((1 − ε)|w[t]| + ε/C Σ|w|), or |g| Σ|w q'|) and its
 * gradient likewise; the target's probability (the confidence map) by at most 2δ. The gradient floor is then scaled by the largest total interpolation
 * weight any low-resolution element receives (the adjoint of all ones).
 */
export function resizeFloors(
  k: Case,
  ref: ResizeReferenceOutput,
): { perSample: Float64Array; sum: number; reduced: number; grad: number; confidence: Float64Array } {
  const [N, C, H, W] = ref.upShape as [number, number, number, number];
  const prob = k.dtype === 'float32';
  const flat: Case = {
    ...k,
    resize: undefined,
    layout: 'NCHW',
    logitsShape: ref.upShape,
    logits: Float32Array.from(ref.up),
    target: prob && k.layout === 'NHWC' ? Array.from(toNCHW(Float64Array.from(k.target), ref.upShape)) : k.target,
    targetShape: prob ? ref.upShape : k.lossShape,
  };
  const base = lossFloors(flat, ref.weightSum);
  const S = H * W;
  const { at } = classAxis(ref.upShape, 'NCHW');
  const w = (c: number) => (k.weight ? Math.abs(k.weight[c]!) : 1);
  const eps = k.labelSmoothing;
  let wAll = 0;
  for (let c = 0; c < C; c++) wAll += w(c);
  const lowNchw = nchwOf(k.logitsShape, k.layout);
  const per = lowNchw[1]! * lowNchw[2]! * lowNchw[3]!;
  const perSample = Float64Array.from(base.perSample);
  const confidence = new Float64Array(N * S);
  let extra = 0;
  let gradTerm = 0;
  for (let b = 0; b < N; b++) {
    let M = 0;
    for (let i = b * per; i < (b + 1) * per; i++) {
      const v = Math.abs(k.logits[i]!);
      if (Number.isFinite(v)) M = Math.max(M, v);
    }
    const delta = 8 * 2 ** -24 * M;
    // The target's probability moves by at most p (|Δz_t| + Σ p_c |Δz_c|) ≤ 2δ.
    confidence.fill(2 * delta, b * S, (b + 1) * S);
    for (let p = 0; p < S; p++) {
      const i = b * S + p;
      let T = 0;
      if (prob) {
        for (let c = 0; c < C; c++) {
          const q = flat.target[at(b, c, p)]!;
          T += w(c) * Math.abs(eps > 0 ? q * (1 - eps) + eps / C : q);
        }
      } else {
        const t = k.target[i]!;
        if (t === (k.ignoreIndex ?? -100)) continue;
        T = (1 - eps) * w(t) + (eps / C) * wAll;
      }
      const g =
        k.reduction === 'mean' ? 1 / ref.weightSum : k.reduction === 'sum' ? 1 : Math.abs(k.gradOutput?.[i] ?? 0);
      const f = 2 * delta * T;
      if (!Number.isFinite(f)) continue;
      perSample[i] = perSample[i]! + f;
      extra += f;
      if (Number.isFinite(g)) gradTerm = Math.max(gradTerm, g * f);
    }
  }
  const sum = base.sum + extra;
  const reduced = k.reduction === 'mean' ? (ref.weightSum > 0 ? sum / ref.weightSum : 0) : sum;
  const spec = typeof k.resize === 'string' ? { mode: k.resize } : k.resize!;
  const fan = interpolateAdjoint(new Float64Array(N * C * S).fill(1), lowNchw, [H, W], spec);
  let maxFan = 0;
  for (const v of fan) maxFan = Math.max(maxFan, v);
  const withGrad = k.reduction !== 'none' || k.gradOutput !== null;
  const grad = withGrad ? (gradFloor(flat, ref.weightSum) + gradTerm) * maxFan : 0;
  return { perSample, sum, reduced, grad, confidence };
}
