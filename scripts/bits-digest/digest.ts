/**
 * Bit-identity digest of the built package: "same bits before and after" for kernel changes that
 * must not change a result (refactors, lint fixes, code motion).
 *
 *   npm run build && bash scripts/bits-digest.sh --cases /tmp/before.json     # before the change
 *   npm run build && bash scripts/bits-digest.sh --compare /tmp/before.json   # after: same digests
 *
 * (scripts/bits-digest.sh runs this file with vite-node, the config beside it, and V8's relaxed-SIMD
 * flag where Node needs it; without it that build is reported as skipped). Options:
 *
 *   --dist DIR       the package to load (default dist/; e.g. a copy of dist/ saved before a change)
 *   --cases FILE     also write every case's own digest to FILE (JSON)
 *   --compare FILE   name the first case of each category whose digest differs from FILE's
 *   --fuzz N         crossEntropy fuzz cases (default 5000), --score N score cases (default 400)
 *
 * It runs, in each build (SIMD, portable, relaxed SIMD, threads), crossEntropy over every PyTorch
 * fixture (test/fixtures/*.json: both layouts, every index dtype the labels fit, with and without
 * the gradient and the maps), the seeded crossEntropy fuzz cases of test/reference/fuzz.ts, the
 * decomposition ops over their fixtures, score (pred map, loss and confidence maps, predicted
 * confidence, confusion) and Scorer over seeded cases, and hashes every output's bytes (loss,
 * sum, weightSum, gradient, maps, error class and message) with SHA-256: one digest a category and
 * one a build. The relaxed build's bits may differ from the others' (fused or not multiply-adds),
 * so each build is compared only with itself across a change.
 */
import { createHash, type Hash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadDecomposition, loadFixtures, type FixtureCase } from '../../test/reference/fixtures.js';
import { makeCase, type Case } from '../../test/reference/fuzz.js';
import { Rng } from '../../test/reference/rng.js';

type Lib = typeof import('../../dist/index.mjs');
type Xent = import('../../dist/index.mjs').Xent;

const argv = process.argv.slice(2).filter((a) => a !== '--');
function option(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
const DIST = resolve(option('--dist') ?? 'dist');
const FUZZ = Number(option('--fuzz') ?? 5000);
const SCORE = Number(option('--score') ?? 400);
const lib: Lib = await import(pathToFileURL(`${DIST}/index.mjs`).href);

/**
 * Feeds values to a hash: numbers as float64 bytes, typed arrays as their bytes, the rest as
 * tagged text. Every NaN is hashed as one pattern: the builds may differ in a NaN's sign and
 * payload (the tests hold them to NaN in the same places), and so then the SIMD, portable and
 * threads builds give one digest.
 */
function feed(h: Hash, v: unknown): void {
  if (typeof v === 'number') {
    h.update('n');
    h.update(new Uint8Array(Float64Array.of(Number.isNaN(v) ? NaN : v).buffer));
  } else if (ArrayBuffer.isView(v)) {
    h.update(`a${v.constructor.name}:${v.byteLength}:`);
    if (v instanceof Float32Array || v instanceof Float64Array) {
      const copy = v.slice();
      for (let i = 0; i < copy.length; i++) if (Number.isNaN(copy[i])) copy[i] = NaN;
      h.update(new Uint8Array(copy.buffer));
    } else h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  } else if (v instanceof lib.Tensor) {
    h.update(`t${v.dtype}[${v.shape.join(',')}]`);
    feed(h, v.toArray());
  } else if (v instanceof Error) {
    h.update(`e${v.constructor.name}:${v.message}:${String((v as { index?: unknown }).index)}`);
  } else if (Array.isArray(v)) {
    h.update(`l${v.length}`);
    for (const x of v) feed(h, x);
  } else if (v && typeof v === 'object') {
    for (const k of Object.keys(v).sort()) {
      h.update(`k${k}`);
      feed(h, (v as Record<string, unknown>)[k]);
    }
  } else h.update(`v${String(v)}`);
}

/** The outputs of one run with its tensors read out and disposed; an error as the value. */
function outcome(f: (keep: <T>(t: T) => T) => unknown): unknown {
  const live: { dispose(): void }[] = [];
  const keep = <T>(t: T): T => {
    if (t instanceof lib.Tensor) live.push(t);
    return t;
  };
  try {
    const r = f(keep);
    const read = (v: unknown): unknown =>
      v instanceof lib.Tensor
        ? { dtype: v.dtype, shape: [...v.shape], data: v.toArray() }
        : v && typeof v === 'object' && !ArrayBuffer.isView(v) && !Array.isArray(v)
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, read(x)]))
          : v;
    const out = read(r);
    for (const t of [...Object.values(r as object)]) if (t instanceof lib.Tensor && !live.includes(t)) live.push(t);
    return out;
  } catch (e) {
    return e;
  } finally {
    for (const t of new Set(live)) t.dispose();
  }
}

const INDEX_ARRAYS = { uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array } as const;
const RANGE = { uint8: [0, 255], uint16: [0, 65535], int32: [-(2 ** 31), 2 ** 31 - 1] } as const;

function nhwc(data: ArrayLike<number>, shape: readonly number[]): { data: Float32Array; shape: number[] } {
  const [N, C] = shape as [number, number];
  const S = shape.slice(2).reduce((a, b) => a * b, 1);
  const out = new Float32Array(data.length);
  for (let b = 0; b < N; b++)
    for (let c = 0; c < C; c++) for (let p = 0; p < S; p++) out[(b * S + p) * C + c] = data[(b * C + c) * S + p]!;
  return { data: out, shape: [N, ...shape.slice(2), C] };
}

/** Every run of one fixture case: layouts, fitting dtypes, with and without the outputs. */
function* fixtureRuns(x: Xent, c: FixtureCase): Generator<[string, unknown]> {
  const prob = c.targetKind === 'prob';
  const dtypes = prob
    ? (['float32'] as const)
    : (['uint8', 'uint16', 'int32'] as const).filter((d) =>
        c.target.every((v) => v >= RANGE[d][0] && v <= RANGE[d][1]),
      );
  const layouts = c.logitsShape.length >= 3 ? (['NCHW', 'NHWC'] as const) : (['NCHW'] as const);
  for (const layout of layouts)
    for (const dtype of dtypes)
      for (const outputs of [true, false]) {
        const tr = layout === 'NHWC';
        const logits = tr ? nhwc(c.logits, c.logitsShape) : { data: Float32Array.from(c.logits), shape: c.logitsShape };
        const target =
          dtype === 'float32'
            ? tr
              ? nhwc(c.target, c.logitsShape)
              : { data: Float32Array.from(c.target), shape: c.targetShape }
            : { data: INDEX_ARRAYS[dtype].from(c.target), shape: c.targetShape };
        const gradOutput = c.gradOutput ? { data: Float32Array.from(c.gradOutput), shape: c.lossShape } : undefined;
        const wantGrad = outputs && (c.reduction !== 'none' || gradOutput !== undefined);
        yield [
          `${c.name} ${layout} ${dtype} ${outputs ? 'outputs' : 'loss'}`,
          outcome((keep) => {
            const grad = wantGrad ? keep(x.tensor('float32', logits.shape)) : undefined;
            const r = x.crossEntropy(logits, target as never, {
              weight: c.weight ?? undefined,
              ignoreIndex: c.ignoreIndex,
              reduction: c.reduction,
              labelSmoothing: c.labelSmoothing,
              grad,
              gradOutput: wantGrad ? gradOutput : undefined,
              layout,
              lossMap: outputs,
              confidence: outputs && !prob,
            });
            return { ...r, grad };
          }),
        ];
      }
}

/** A fuzz case as test/reference/fuzz.ts's runKernel runs it (plain inputs, new maps). */
function fuzzRun(x: Xent, k: Case): unknown {
  return outcome((keep) => {
    const ARR = { ...INDEX_ARRAYS, float32: Float32Array } as const;
    const grad = k.wantGrad ? keep(x.tensor('float32', k.logitsShape)) : undefined;
    const mapOf = (m: string) => (m === 'no' ? undefined : m === 'new' ? true : keep(x.tensor('float32', k.lossShape)));
    const lossMap = mapOf(k.lossMap);
    const out = k.reduction === 'none' && k.useOut ? keep(x.tensor('float32', k.lossShape)) : undefined;
    const r = x.crossEntropy(
      { data: k.logits, shape: k.logitsShape },
      { data: ARR[k.dtype].from(k.target), shape: k.targetShape } as never,
      {
        weight: k.weight ?? undefined,
        ignoreIndex: k.ignoreIndex,
        reduction: k.reduction,
        labelSmoothing: k.labelSmoothing,
        grad,
        gradOutput: k.gradOutput ? { data: k.gradOutput, shape: k.lossShape } : undefined,
        // A given lossMap tensor is the destination of 'none' (then out must be the same or absent).
        out: out && lossMap instanceof lib.Tensor ? lossMap : out,
        layout: k.layout,
        lossMap,
        confidence: mapOf(k.confidence),
      },
    );
    return { ...r, grad };
  });
}

function decompositionRun(x: Xent, c: ReturnType<typeof loadDecomposition>['cases'][number]): unknown {
  return outcome((keep) => {
    const input = { data: Float32Array.from(c.input), shape: c.inputShape };
    if (c.op === 'nll_loss') {
      const grad = keep(x.tensor('float32', c.inputShape));
      const data = (c.target ?? []).every((v) => v >= RANGE.int32[0] && v <= RANGE.int32[1])
        ? Int32Array.from(c.target ?? [])
        : Float32Array.from(c.target ?? []);
      const r = x.nllLoss(
        input,
        { data, shape: c.targetShape ?? [] } as never,
        {
          weight: c.weight ?? undefined,
          ignoreIndex: c.ignoreIndex,
          reduction: c.reduction,
          grad: c.reduction !== 'none' || c.gradOutput ? grad : undefined,
          gradOutput: c.gradOutput ? { data: Float32Array.from(c.gradOutput), shape: c.outputShape } : undefined,
          lossMap: true,
        } as never,
      );
      return { ...r, grad };
    }
    const log = c.op === 'log_softmax';
    const y = keep(log ? x.logSoftmax(input, { dim: c.dim }) : x.softmax(input, { dim: c.dim }));
    const gy = c.gradOutput ? { data: Float32Array.from(c.gradOutput), shape: c.outputShape } : undefined;
    const gx = gy
      ? keep(log ? x.logSoftmaxBackward(y, gy, { dim: c.dim }) : x.softmaxBackward(y, gy, { dim: c.dim }))
      : undefined;
    return { y, gx };
  });
}

interface ScoreCase {
  shape: number[];
  logits: Float32Array;
  target: Uint8Array | Uint16Array | Int32Array;
  ignoreIndex: number;
  weight?: Float32Array;
  layout: 'NCHW' | 'NHWC';
  pred: 'new' | 'uint8' | 'uint16';
}

/** Score cases: many exact ties (argmax tie rule), NaN and ±inf now and then, C past 256. */
function scoreCase(seed: number): ScoreCase {
  const r = new Rng(seed);
  const C = r.pick([1, 2, 3, 5, 8, 19, 33, 150, 257, 300]);
  const rank = r.pick([1, 2, 3, 4, 4]);
  const N = r.int(1, 3);
  const spatial = rank >= 3 ? Array.from({ length: rank - 2 }, () => r.int(1, rank === 3 ? 37 : 9)) : [];
  const shape = rank === 1 ? [C] : [N, C, ...spatial];
  const size = shape.reduce((a, b) => a * b, 1);
  const mode = r.pick(['normal', 'ties', 'special']);
  const logits = new Float32Array(size);
  for (let i = 0; i < size; i++)
    logits[i] =
      mode === 'ties'
        ? r.int(-2, 2)
        : mode === 'special' && r.chance(0.05)
          ? r.pick([NaN, Infinity, -Infinity])
          : r.normal() * 3;
  const Ctor: Uint8ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor =
    C > 256 ? r.pick([Uint16Array, Int32Array]) : r.pick([Uint8Array, Uint16Array, Int32Array]);
  const ignoreIndex =
    Ctor === Int32Array ? r.pick([-100, -1, 0, 255]) : Ctor === Uint8Array ? 255 : r.pick([255, 65535, 0]);
  const target = Ctor.from(Array.from({ length: size / C }, () => (r.chance(0.1) ? ignoreIndex : r.int(0, C - 1))));
  const weight = r.chance(0.3) ? Float32Array.from({ length: C }, () => r.next() * 2) : undefined;
  const layout = rank >= 3 && r.chance(0.4) ? 'NHWC' : 'NCHW';
  const pred = C > 256 ? r.pick(['new', 'uint16'] as const) : r.pick(['new', 'uint8', 'uint16'] as const);
  return { shape, logits, target, ignoreIndex, weight, layout, pred };
}

function scoreInputs(k: ScoreCase) {
  const logits = k.layout === 'NHWC' ? nhwc(k.logits, k.shape) : { data: k.logits, shape: k.shape };
  const tshape = k.shape.length === 1 ? [] : [k.shape[0]!, ...k.shape.slice(2)];
  return { logits, target: { data: k.target, shape: tshape } };
}

function scoreRun(x: Xent, k: ScoreCase, maps: boolean): unknown {
  return outcome((keep) => {
    const { logits, target } = scoreInputs(k);
    const pred = k.pred === 'new' ? undefined : keep(x.tensor(k.pred, target.shape));
    const r = x.score(logits, target, {
      ignoreIndex: k.ignoreIndex,
      weight: k.weight,
      layout: k.layout,
      pred,
      lossMap: maps,
      confidence: maps,
      predConfidence: maps,
    });
    keep(r.pred);
    return r;
  });
}

/** A Scorer fed a few cases of one class count (C of the first), reset once. */
function scorerRun(x: Xent, seed: number): unknown {
  return outcome(() => {
    const first = scoreCase(seed);
    const C = first.shape.length === 1 ? first.shape[0]! : first.shape[1]!;
    const s = x.scorer(C, { ignoreIndex: first.ignoreIndex, weight: first.weight, layout: first.layout });
    const updates: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const k = i === 0 ? first : scoreCase(seed * 31 + i);
      if ((k.shape.length === 1 ? k.shape[0] : k.shape[1]) !== C) continue;
      const { logits, target } = scoreInputs({ ...k, layout: first.layout, ignoreIndex: first.ignoreIndex });
      updates.push(outcome(() => s.update(logits, target)));
      if (i === 1) updates.push(s.result());
    }
    const result = s.result();
    s.reset();
    const afterReset = s.result();
    s.dispose();
    return { updates, result, afterReset };
  });
}

/** The fuzz seed of case i (as test/cross-entropy.fuzz.test.ts with its default base seed). */
function fuzzSeed(i: number): number {
  return (Math.imul(0x5eed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}

type Digests = Record<string, Record<string, Record<string, string>>>;
/** Runs that threw, by category (PyTorch's errors in the fixtures, out-of-range fuzz targets). */
let errors: Record<string, number> = {};

function digestBuild(x: Xent): Record<string, Record<string, string>> {
  const cats: Record<string, Record<string, string>> = {};
  const add = (cat: string, name: string, v: unknown) => {
    if (v instanceof Error) errors[cat] = (errors[cat] ?? 0) + 1;
    const h = createHash('sha256');
    feed(h, v);
    cats[cat] ??= {};
    cats[cat][name] = h.digest('hex');
  };
  for (const file of ['cross_entropy_index.json', 'cross_entropy_prob.json'])
    for (const c of loadFixtures(file).cases)
      for (const [name, v] of fixtureRuns(x, c)) add(`fixtures:${file}`, name, v);
  for (let i = 0; i < FUZZ; i++)
    add('fuzz:crossEntropy', `case ${i} seed ${fuzzSeed(i)}`, fuzzRun(x, makeCase(fuzzSeed(i))));
  for (const c of loadDecomposition().cases) add('fixtures:decomposition.json', c.name, decompositionRun(x, c));
  for (let i = 0; i < SCORE; i++) {
    const seed = 0x5c0e + i * 7919;
    add('score', `seed ${seed} maps`, scoreRun(x, scoreCase(seed), true));
    add('score', `seed ${seed} pred only`, scoreRun(x, scoreCase(seed), false));
  }
  for (let i = 0; i < SCORE / 8; i++) add('scorer', `seed ${i}`, scorerRun(x, 0x5c07 + i));
  return cats;
}

function combine(values: string[]): string {
  const h = createHash('sha256');
  for (const v of values) h.update(v);
  return h.digest('hex');
}

const builds: [string, () => Promise<Xent>][] = [
  ['simd', () => lib.Xent.create({ simd: true })],
  ['portable', () => lib.Xent.create({ simd: false })],
  ['relaxed', () => lib.Xent.create({ relaxed: true })],
  ['threads', () => lib.Xent.create({ threads: 2, minElementsPerThread: 1 })],
];
const all: Digests = {};
const previous: Digests | undefined = option('--compare')
  ? JSON.parse(readFileSync(option('--compare')!, 'utf8'))
  : undefined;
let differs = false;
console.log(`bits-digest: ${DIST}, ${FUZZ} fuzz cases, ${SCORE} score cases`);
for (const [name, create] of builds) {
  let x: Xent;
  try {
    x = await create();
  } catch (e) {
    console.log(`${name.padEnd(9)} skipped: ${String(e)}`);
    continue;
  }
  if ((name === 'relaxed' && !x.relaxed) || (name === 'threads' && x.threads < 2) || (name === 'portable') === x.simd) {
    console.log(
      `${name.padEnd(9)} skipped: the engine gave another build (simd ${x.simd}, relaxed ${x.relaxed}, threads ${x.threads})`,
    );
    x.dispose();
    continue;
  }
  errors = {};
  const cats = digestBuild(x);
  x.dispose();
  all[name] = cats;
  const catDigests = Object.entries(cats).map(([cat, cases]) => [cat, combine(Object.entries(cases).flat())] as const);
  console.log(`${name.padEnd(9)} ${combine(catDigests.flat())}`);
  for (const [cat, d] of catDigests) {
    const n = Object.keys(cats[cat]!).length;
    let note = '';
    const before = previous?.[name]?.[cat];
    if (before) {
      const first = Object.keys(cats[cat]!).find((k) => before[k] !== cats[cat]![k]);
      if (first !== undefined) {
        differs = true;
        note = `  DIFFERS first at: ${first}`;
      }
    }
    console.log(`  ${cat.padEnd(36)} ${d.slice(0, 16)} (${n} runs, ${errors[cat] ?? 0} errors)${note}`);
  }
}
if (option('--cases')) writeFileSync(option('--cases')!, JSON.stringify(all));
if (differs) process.exitCode = 1;
