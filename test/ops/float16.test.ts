/**
 * Float16 logits: the kernel's conversion of every one of the 65536 half values against a
 * decoder written here from the format's definition, on the SIMD and the portable build; and
 * crossEntropy (sync, async, with threads), score and Scorer on float16 logits against the
 * same calls on float32 logits holding the same values: every bit of the loss, sum,
 * weightSum, gradient, maps, prediction and confusion matrix, on both builds, NCHW and NHWC,
 * class-index and probability targets, with strips of many sizes. Then the typed errors where
 * float16 is not accepted.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstBitDifference } from '../reference/compare.js';
import { DIST, lib, useBothBuilds, type Xent } from '../reference/dist.js';
import { crossEntropyOutcome, difference, type Outcome } from '../reference/outcome.js';
import { Rng } from '../reference/rng.js';

const getBuilds = useBothBuilds();

/** The f32 bits of a half, from the definition: (-1)^s 2^(e-15) (1 + m/1024); subnormals 2^-14 m/1024. */
function decodeBits(h: number): number {
  const sign = h & 0x8000;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  // A NaN keeps its sign and payload (at the top of the f32 mantissa).
  if (e === 31 && m !== 0) return ((sign << 16) | 0x7f800000 | (m << 13)) >>> 0;
  const v = (sign ? -1 : 1) * (e === 31 ? Infinity : e === 0 ? 2 ** -14 * (m / 1024) : 2 ** (e - 15) * (1 + m / 1024));
  const f = new Float32Array([v]);
  return new Uint32Array(f.buffer)[0]!;
}

/** The float32 logits holding the values of half bits `h`. */
function decode(h: Uint16Array): Float32Array {
  const u = Uint32Array.from(h, decodeBits);
  return new Float32Array(u.buffer);
}

describe('the conversion of all 65536 half values (raw ABI export xent_f16_to_f32)', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const want = Uint32Array.from(all, decodeBits);
  for (const file of ['xent-simd.wasm', 'xent.wasm']) {
    it(`${file}: exact, NaN payloads and signed zeros kept`, async () => {
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
      const { instance } = await WebAssembly.instantiate(readFileSync(`${DIST}${file}`), { env: { memory } });
      const e = instance.exports as unknown as lib.XentExports;
      const base = Math.ceil(Number(e.__heap_base.value) / 64) * 64;
      memory.grow(8);
      const src = base;
      const dst = base + 2 * 65536;
      new Uint16Array(memory.buffer, src, 65536).set(all);
      // Every length's tail (the SIMD build converts 8 at a time) and the whole table.
      for (const len of [1, 7, 8, 9, 15, 65536]) {
        new Uint32Array(memory.buffer, dst, 65536).fill(0xdeadbeef);
        expect(e.xent_f16_to_f32(src, dst, len)).toBe(0);
        const got = new Uint32Array(memory.buffer, dst, 65536);
        for (let i = 0; i < len; i++) if (got[i] !== want[i]) expect([i, got[i]]).toEqual([i, want[i]]);
        expect(got[len] ?? 0xdeadbeef).toBe(0xdeadbeef);
      }
    });
  }

  const F16 = (globalThis as { Float16Array?: new (b: ArrayBuffer) => ArrayLike<number> }).Float16Array;
  // Node 20 has no Float16Array: there this is skipped, and the same check of the kernel's own
  // output (both builds) against Chromium's Float16Array runs in test/browser/float16.test.ts.
  it.skipIf(F16 === undefined)(
    `the decoder agrees with the engine’s Float16Array${F16 === undefined ? ' (skipped: this engine has none; Chromium’s is checked against the kernel in test/browser/float16.test.ts)' : ''}`,
    () => {
      const values = new F16!(all.slice().buffer);
      for (let i = 0; i < 65536; i++) {
        const v = values[i]!;
        if (Number.isNaN(v)) expect((want[i]! & 0x7fffffff) > 0x7f800000).toBe(true);
        else expect(decodeBits(i)).toBe(new Uint32Array(new Float32Array([v]).buffer)[0]);
      }
    },
  );
});

interface Problem {
  shape: number[];
  tshape: number[];
  halves: Uint16Array;
  target: Uint8Array | Float32Array;
  options: Record<string, unknown>;
}

/** Random halves: finite values of moderate size (subnormals included), now and then ±inf. */
function halves(rng: Rng, size: number): Uint16Array {
  return Uint16Array.from({ length: size }, () =>
    rng.chance(0.003)
      ? 0x7c00 | (rng.int(0, 1) << 15)
      : (rng.int(0, 1) << 15) | (rng.int(0, 18) << 10) | rng.int(0, 1023),
  );
}

function problem(seed: number, dims: number[], layout: 'NCHW' | 'NHWC', prob: boolean, reduction: string): Problem {
  const rng = new Rng(seed);
  const c = dims[1]!;
  const nhwc = layout === 'NHWC';
  const shape = nhwc ? [dims[0]!, ...dims.slice(2), c] : dims;
  const tshape = dims.filter((_, i) => i !== 1);
  const size = shape.reduce((a, b) => a * b, 1);
  const samples = size / c;
  const target = prob
    ? Float32Array.from({ length: size }, () => rng.next())
    : Uint8Array.from({ length: samples }, () => (rng.chance(0.1) ? 255 : rng.int(0, c - 1)));
  const options: Record<string, unknown> = { layout, reduction, labelSmoothing: 0.1 };
  if (!prob) options.ignoreIndex = 255;
  if (rng.chance(0.5)) options.weight = Float32Array.from({ length: c }, () => 0.25 + rng.next());
  if (reduction === 'none')
    options.gradOutput = { data: Float32Array.from({ length: samples }, () => rng.normal()), shape: tshape };
  return { shape, tshape, halves: halves(rng, size), target, options };
}

/** crossEntropy with grad, lossMap (and confidence) on `logits`, everything copied out. */
async function run(x: Xent, logits: unknown, p: Problem, mode: 'sync' | 'async' = 'sync'): Promise<Outcome> {
  using grad = x.tensor('float32', p.shape);
  const target: lib.TargetInput =
    p.target instanceof Float32Array ? { data: p.target, shape: p.shape } : { data: p.target, shape: p.tshape };
  const opts: Record<string, unknown> & { grad: typeof grad; lossMap: true } = { ...p.options, grad, lossMap: true };
  if (!(p.target instanceof Float32Array)) opts.confidence = true;
  return await crossEntropyOutcome(x, logits, target, opts, mode);
}

function expectSameBits(got: Outcome, want: Outcome, what: string): void {
  expect(difference(got, want), what).toBeUndefined();
}

/** Shapes: small; C = 5 over 2 x 90 x 90 (two 256 KiB strips per item); C = 300 (many strips of ~70 pixels). */
const CASES: Array<[number[], 'NCHW' | 'NHWC', boolean, string]> = [
  [[2, 3, 7, 5], 'NCHW', false, 'mean'],
  [[2, 3, 7, 5], 'NHWC', true, 'sum'],
  [[1, 2, 33], 'NCHW', false, 'none'],
  [[2, 5, 90, 90], 'NCHW', false, 'mean'],
  [[2, 5, 90, 90], 'NHWC', false, 'none'],
  [[1, 300, 20, 20], 'NCHW', true, 'mean'],
  [[1, 300, 20, 20], 'NHWC', false, 'sum'],
  [[40, 7], 'NCHW', false, 'mean'],
];

describe('crossEntropy on float16 logits: the bits of float32 logits of the same values', () => {
  for (const [i, [dims, layout, prob, reduction]] of CASES.entries()) {
    it(`${JSON.stringify(dims)} ${layout} ${prob ? 'prob' : 'index'} ${reduction}, both builds, every float16 form`, async () => {
      const p = problem(100 + i, dims, layout, prob, reduction);
      const f32 = decode(p.halves);
      const builds = getBuilds();
      const want = await run(builds.simd, { data: f32, shape: p.shape }, p);
      for (const [name, x] of Object.entries(builds)) {
        expectSameBits(await run(x, { data: f32, shape: p.shape }, p), want, `${name} float32`);
        expectSameBits(await run(x, { data: p.halves, shape: p.shape, dtype: 'float16' }, p), want, `${name} plain`);
        expectSameBits(await run(x, { type: 'float16', data: p.halves, dims: p.shape }, p), want, `${name} runtime`);
        using t = x.tensor('float16', p.shape);
        expect(t.data).toBeInstanceOf(Uint16Array);
        t.data.set(p.halves);
        expectSameBits(await run(x, t, p), want, `${name} tensor`);
        expectSameBits(await run(x, t, p, 'async'), want, `${name} tensor async`);
      }
    });
  }
});

describe('float16 logits with worker threads: the bits of one thread on float32 logits', () => {
  let threaded: Xent | undefined;
  beforeAll(async () => {
    threaded = await lib.Xent.create({ threads: 2, minElementsPerThread: 1 });
  });
  afterAll(() => threaded?.dispose());
  for (const [i, [dims, layout, prob, reduction]] of CASES.entries()) {
    it(`${JSON.stringify(dims)} ${layout} ${prob ? 'prob' : 'index'} ${reduction}, sync and async`, async () => {
      const x = threaded!;
      expect(x.threads).toBe(2);
      const p = problem(200 + i, dims, layout, prob, reduction);
      const want = await run(getBuilds().simd, { data: decode(p.halves), shape: p.shape }, p);
      const logits = { data: p.halves, shape: p.shape, dtype: 'float16' };
      expectSameBits(await run(x, logits, p, 'sync'), want, 'sync');
      expectSameBits(await run(x, logits, p, 'async'), want, 'async');
      expect(x.memoryStats().liveTensors).toBe(0);
    });
  }
});

describe('score and Scorer on float16 logits: the bits of float32 logits', () => {
  for (const [dims, layout] of [
    [[2, 4, 30, 31], 'NCHW'],
    [[2, 300, 9, 9], 'NHWC'],
    [[50, 6], 'NCHW'],
  ] as const) {
    it(`${JSON.stringify(dims)} ${layout}, both builds`, () => {
      const p = problem(300, [...dims], layout, false, 'mean');
      const target = { data: p.target as Uint8Array, shape: p.tshape };
      const f32 = { data: decode(p.halves), shape: p.shape };
      const f16 = { data: p.halves, shape: p.shape, dtype: 'float16' as const };
      const scoreOf = (x: Xent, logits: lib.LogitsInput) => {
        const r = x.score(logits, target, { layout, ignoreIndex: 255, lossMap: true, predConfidence: true });
        const out = {
          loss: r.loss,
          sum: r.sum,
          pred: Array.from(r.pred.toArray()),
          lossMap: r.lossMap.toArray(),
          predConfidence: r.predConfidence.toArray(),
          confusion: Array.from(r.confusion),
        };
        r.pred.dispose();
        r.lossMap.dispose();
        r.predConfidence.dispose();
        return out;
      };
      const scorerOf = (x: Xent, logits: lib.LogitsInput) => {
        using s = x.scorer(p.shape[layout === 'NHWC' ? p.shape.length - 1 : 1]!, { layout, ignoreIndex: 255 });
        const u = s.update(logits, target);
        s.update(logits, target);
        return { u, r: s.result() };
      };
      const want = scoreOf(getBuilds().simd, f32);
      const wantScorer = scorerOf(getBuilds().simd, f32);
      for (const x of Object.values(getBuilds())) {
        const got = scoreOf(x, f16);
        expect(firstBitDifference(got.lossMap, want.lossMap)).toBe(-1);
        expect(firstBitDifference(got.predConfidence, want.predConfidence)).toBe(-1);
        expect({ ...got, lossMap: 0, predConfidence: 0 }).toEqual({ ...want, lossMap: 0, predConfidence: 0 });
        expect(scorerOf(x, f16)).toEqual(wantScorer);
      }
    });
  }
});

describe('float16 where it is not accepted: XentDtypeError', () => {
  it('names what float16 is accepted for', () => {
    const x = getBuilds().simd;
    using h = x.tensor('float16', [2, 3]);
    const target = { data: new Uint8Array([0, 1]), shape: [2] };
    const only = /float16 is accepted only for the logits of crossEntropy, crossEntropyAsync, score and Scorer/;
    // (The types refuse them too: hence the casts.)
    expect(() => x.softmax(h as never)).toThrow(lib.XentDtypeError);
    expect(() => x.softmax(h as never)).toThrow(only);
    expect(() => x.nllLoss(h as never, target)).toThrow(only);
    expect(() => x.crossEntropy({ data: new Float32Array(6), shape: [2, 3] }, h as never)).toThrow(only);
    using grad = x.tensor('float32', [2, 3]);
    expect(() =>
      x.crossEntropy(h, target, {
        reduction: 'none',
        grad,
        gradOutput: { data: new Uint16Array(2), shape: [2], dtype: 'float16' } as never,
      }),
    ).toThrow(only);
    expect(() =>
      x.crossEntropy(
        { data: new Float32Array(6), shape: [2, 3] },
        { type: 'float16', data: new Uint16Array(6), dims: [2, 3] },
      ),
    ).toThrow(only);
  });

  it('a Uint16Array without dtype is uint16, not float16; a dtype that contradicts the data', () => {
    const x = getBuilds().simd;
    const target = { data: new Uint8Array([0, 1]), shape: [2] };
    expect(() => x.crossEntropy({ data: new Uint16Array(6), shape: [2, 3] } as never, target)).toThrow(
      /add dtype: 'float16' if it holds half-precision bits/,
    );
    expect(() =>
      x.crossEntropy({ data: new Float32Array(6), shape: [2, 3], dtype: 'float16' } as never, target),
    ).toThrow(/logits\.dtype is the string "float16" but its data is a Float32Array/);
    expect(() => x.crossEntropy({ type: 'float16', data: new Float32Array(6), dims: [2, 3] }, target)).toThrow(
      /type is 'float16' but its data is a Float32Array, not a Float16Array or Uint16Array/,
    );
  });

  it('more classes than 1 MiB of scratch per pixel', () => {
    const x = getBuilds().simd;
    const c = 262_145;
    expect(() =>
      x.crossEntropy(
        { data: new Uint16Array(c), shape: [1, c], dtype: 'float16' },
        { data: new Int32Array(1), shape: [1] },
      ),
    ).toThrow(/one pixel would need 1048580 bytes, more than the 1048576 per thread/);
    expect(x.memoryStats().liveTensors).toBe(0);
  });
});
