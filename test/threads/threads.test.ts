/**
 * Worker threads (Xent.create({ threads })): crossEntropy and crossEntropyAsync give the same
 * bits as the single-thread build for any number of threads — loss, sum, weightSum and every
 * gradient, loss-map and confidence bit — with index (uint8, uint16, int32) and probability
 * targets, NCHW and NHWC, every reduction and option; the range split; queued async calls;
 * errors; memory growth on the shared memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exactWeightSums, splitRanges, usefulThreads } from '../../ts/threads/split.js';
import { firstBitDifference } from '../reference/compare.js';
import { lib, type Xent } from '../reference/dist.js';
import { crossEntropyOutcome, difference, type Outcome } from '../reference/outcome.js';
import { Rng } from '../reference/rng.js';

type Target = 'uint8' | 'uint16' | 'int32' | 'prob';
type Reduction = 'mean' | 'sum' | 'none';

interface Problem {
  shape: number[];
  tshape: number[];
  c: number;
  layout: 'NCHW' | 'NHWC';
  logits: Float32Array;
  target: Uint8Array | Uint16Array | Int32Array | Float32Array;
  options: Record<string, unknown>;
  gradOutput?: Float32Array;
}

/** Logits of shape `dims` = [N, C, d1..dk] (NCHW) with random targets and options. */
function problem(
  seed: number,
  dims: number[],
  kind: Target,
  layout: 'NCHW' | 'NHWC',
  reduction: Reduction,
  extra: { weight?: boolean; smoothing?: number; ignoredFraction?: number } = {},
): Problem {
  const rng = new Rng(seed);
  const c = dims.length === 1 ? dims[0]! : dims[1]!;
  const nhwc = layout === 'NHWC' && dims.length >= 3;
  const shape = nhwc ? [dims[0]!, ...dims.slice(2), c] : dims;
  const tshape = dims.filter((_, i) => i !== (dims.length === 1 ? 0 : 1));
  const size = shape.reduce((a, b) => a * b, 1);
  const samples = tshape.reduce((a, b) => a * b, 1);
  const logits = Float32Array.from({ length: size }, () => rng.normal() * 3);
  const ignore = kind === 'uint16' ? 65535 : 255;
  let target: Problem['target'];
  if (kind === 'prob') {
    target = Float32Array.from({ length: size }, () => rng.next());
  } else {
    const T = kind === 'uint8' ? Uint8Array : kind === 'uint16' ? Uint16Array : Int32Array;
    target = new T(samples);
    for (let i = 0; i < samples; i++) target[i] = rng.chance(extra.ignoredFraction ?? 0.1) ? ignore : rng.int(0, c - 1);
  }
  const options: Record<string, unknown> = { reduction, layout };
  if (kind !== 'prob') options.ignoreIndex = ignore;
  if (extra.weight)
    options.weight = Float32Array.from({ length: c }, (_, i) => (i % 5 === 3 ? 0 : 0.25 + rng.next() * 2));
  if (extra.smoothing) options.labelSmoothing = extra.smoothing;
  const p: Problem = { shape, tshape, c, layout, logits, target, options };
  if (reduction === 'none') p.gradOutput = Float32Array.from({ length: samples }, () => rng.normal());
  return p;
}

/** Runs crossEntropy (sync or async) with grad, lossMap and confidence; copies everything out. */
async function run(x: Xent, p: Problem, mode: 'sync' | 'async'): Promise<Outcome> {
  const grad = x.tensor('float32', p.shape);
  const logits = x.tensorFrom(p.logits, p.shape);
  const target = x.tensorFrom(p.target, p.target instanceof Float32Array ? p.shape : p.tshape);
  const opts: Record<string, unknown> & { grad: typeof grad; lossMap: true } = { ...p.options, grad, lossMap: true };
  if (!(p.target instanceof Float32Array)) opts.confidence = true;
  if (p.gradOutput) opts.gradOutput = { data: p.gradOutput, shape: p.tshape };
  try {
    return await crossEntropyOutcome(x, logits, target, opts, mode);
  } finally {
    grad.dispose();
    logits.dispose();
    target.dispose();
  }
}

let single: Xent;
/** Threaded instances: label → instance; "1 range" splits nothing (the threads build, one worker or this thread). */
const threaded: Array<[string, Xent]> = [];

beforeAll(async () => {
  single = await lib.Xent.create({ simd: true });
  // minElementsPerThread: 1 splits even these small problems between every thread.
  for (const t of [2, 3, 4])
    threaded.push([`${t} threads`, await lib.Xent.create({ threads: t, minElementsPerThread: 1 })]);
  threaded.push(['1 range', await lib.Xent.create({ threads: 2, minElementsPerThread: 2 ** 40 })]);
  for (const [label, x] of threaded) if (x.threads < 2) throw new Error(`${label}: got ${x.threads} thread(s)`);
});
afterAll(() => {
  single?.dispose();
  for (const [, x] of threaded) x.dispose();
});

async function expectSameBits(p: Problem): Promise<void> {
  const ref = await run(single, p, 'sync');
  for (const [label, x] of threaded) {
    for (const mode of ['sync', 'async'] as const) {
      const d = difference(await run(x, p, mode), ref);
      expect(d, `${label}, ${mode}`).toBeUndefined();
    }
  }
}

describe('bit-identical to the single-thread build for 1 to 4 threads', () => {
  const kinds: Target[] = ['uint8', 'uint16', 'int32', 'prob'];
  const reductions: Reduction[] = ['mean', 'sum', 'none'];
  let seed = 100;
  for (const kind of kinds) {
    for (const layout of ['NCHW', 'NHWC'] as const) {
      for (const reduction of reductions) {
        const s = seed++;
        it(`${kind} targets, ${layout}, ${reduction} (weights, smoothing, ignored pixels; grad, lossMap, confidence)`, async () => {
          // 2 × 117 samples: ranges of every size, off the 16-sample grid at the end.
          await expectSameBits(
            problem(s, [2, 7, 9, 13], kind, layout, reduction, {
              weight: s % 2 === 0,
              smoothing: s % 3 === 0 ? 0.1 : 0,
            }),
          );
          await expectSameBits(
            problem(s + 1000, [3, 19, 24, 40], kind, layout, reduction, {
              weight: s % 2 === 1,
              smoothing: s % 3 === 1 ? 0.2 : 0,
            }),
          );
        });
      }
    }
  }
  it('(N, C) and (C) logits, 3-d spatial dims, C = 1, C = 300 (uint16 labels)', async () => {
    await expectSameBits(problem(1, [1000, 10], 'int32', 'NCHW', 'mean', { weight: true }));
    await expectSameBits(problem(2, [5], 'int32', 'NCHW', 'sum'));
    await expectSameBits(problem(3, [2, 3, 4, 5, 6], 'uint8', 'NHWC', 'none', { smoothing: 0.3 }));
    await expectSameBits(problem(4, [3, 1, 50, 7], 'uint8', 'NCHW', 'mean'));
    await expectSameBits(problem(5, [2, 300, 5, 17], 'uint16', 'NCHW', 'mean', { weight: true, smoothing: 0.05 }));
  });
  it('NaN means (every pixel ignored; every weight of the targets zero), empty tensors', async () => {
    await expectSameBits(problem(6, [2, 4, 16, 16], 'uint8', 'NCHW', 'mean', { ignoredFraction: 1 }));
    const p = problem(7, [2, 4, 16, 16], 'uint8', 'NCHW', 'mean', { smoothing: 0.1 });
    p.options.weight = new Float32Array([0, 0, 0, 0]);
    await expectSameBits(p);
    for (const r of ['mean', 'sum', 'none'] as const)
      await expectSameBits(problem(8, [0, 4, 5, 5], 'uint8', 'NCHW', r));
    await expectSameBits(problem(9, [0, 4, 5, 5], 'prob', 'NHWC', 'mean'));
  });
  it('the default split (65536 elements per thread) of a larger batch, sync and async', async () => {
    const x = await lib.Xent.create({ threads: 2 });
    try {
      const p = problem(10, [2, 19, 64, 128], 'uint8', 'NCHW', 'mean', { weight: true });
      const ref = await run(single, p, 'sync');
      expect(difference(await run(x, p, 'sync'), ref)).toBeUndefined();
      expect(difference(await run(x, p, 'async'), ref)).toBeUndefined();
    } finally {
      x.dispose();
    }
  });
});

describe('the split', () => {
  it('balanced ranges, inner bounds on the 16-sample grid, covering [0, total) exactly', () => {
    for (const total of [1, 15, 16, 17, 100, 1000, 1 << 20, 1048575, 2 * 512 * 1024]) {
      for (const parts of [1, 2, 3, 4, 7, 16]) {
        const r = splitRanges(total, parts);
        expect(r[0]!.lo).toBe(0);
        expect(r[r.length - 1]!.hi).toBe(total);
        expect(r.length).toBeLessThanOrEqual(parts);
        expect(r.length).toBe(Math.min(parts, Math.ceil(total / 16)));
        for (let i = 0; i < r.length; i++) {
          expect(r[i]!.hi).toBeGreaterThan(r[i]!.lo);
          if (i > 0) expect(r[i]!.lo).toBe(r[i - 1]!.hi);
          if (i < r.length - 1) expect(r[i]!.hi % 16).toBe(0);
        }
        // In 16-sample units the sizes differ by at most one; the last range ends off the grid.
        const units = r.map((x) => Math.ceil((x.hi - x.lo) / 16));
        expect(Math.max(...units) - Math.min(...units)).toBeLessThanOrEqual(1);
      }
    }
    expect(splitRanges(0, 4)).toEqual([]);
    expect(splitRanges(2 * 512 * 1024, 2)).toEqual([
      { lo: 0, hi: 524288 },
      { lo: 524288, hi: 1048576 },
    ]);
  });
  it('weight sums are split only where float64 adds them exactly', () => {
    expect(exactWeightSums(new Float32Array([1, 0.5, 2, 0.25, 3.75]), 2 * 512 * 1024)).toBe(true);
    expect(
      exactWeightSums(
        Float32Array.from({ length: 19 }, (_, i) => 0.3 + i / 7),
        2 * 512 * 1024,
      ),
    ).toBe(true);
    expect(exactWeightSums(new Float32Array([0, -0, 0]), 1e9)).toBe(true);
    expect(exactWeightSums(new Float32Array([1e-3, 1e3]), 2 * 512 * 1024)).toBe(false);
    expect(exactWeightSums(new Float32Array([1e-30, 1]), 10)).toBe(false);
    expect(exactWeightSums(new Float32Array([1.5e-45, 1e-40]), 10)).toBe(true); // subnormals
    // The bound: 24-bit weights in one binade leave 29 bits of headroom, 2^29 - 1 samples.
    const w = new Float32Array([1 + 2 ** -23]);
    expect(exactWeightSums(w, 2 ** 29 - 1)).toBe(true);
    expect(exactWeightSums(w, 2 ** 29)).toBe(false);
  });
  it('small calls use fewer threads', () => {
    expect(usefulThreads(2 * 512 * 1024, 19, 4, 65536)).toBe(4);
    expect(usefulThreads(1000, 19, 4, 65536)).toBe(1);
    expect(usefulThreads(7000, 19, 4, 65536)).toBe(2);
    expect(usefulThreads(40, 19, 4, 1)).toBe(3);
    expect(usefulThreads(0, 19, 4, 1)).toBe(1);
  });
});

describe('bad labels', () => {
  it('the first bad label is reported wherever it is, sync and async, and nothing is written', async () => {
    for (const bad of [[3], [200, 1999], [1000, 77], [1999]]) {
      const labels = new Int32Array(2000).fill(2);
      labels[bad[0]!] = 9;
      if (bad[1] !== undefined) labels[bad[1]] = -4;
      const first = Math.min(...bad);
      for (const [label, x] of [['single', single] as const, ...threaded]) {
        using logits = x.tensor('float32', [2000, 5]);
        using grad = x.tensor('float32', [2000, 5]);
        grad.data.fill(3);
        const target = { data: labels, shape: [2000] };
        for (const weight of [undefined, new Float32Array([1, 2, 3, 4, 1e-20])]) {
          const opts = { grad, weight };
          expect(() => x.crossEntropy(logits, target, opts), label).toThrow(lib.XentTargetError);
          try {
            x.crossEntropy(logits, target, opts);
          } catch (e) {
            expect((e as lib.XentTargetError).index, `${label} sync`).toBe(first);
          }
          await expect(x.crossEntropyAsync(logits, target, opts), `${label} async`).rejects.toMatchObject({
            index: first,
            target: labels[first],
          });
        }
        expect(grad.data.every((v) => v === 3)).toBe(true);
      }
    }
  });
  it('weights whose sums could round are summed in one part: still the same bits', async () => {
    const p = problem(500, [2, 5, 40, 50], 'uint8', 'NCHW', 'mean');
    p.options.weight = new Float32Array([1e-30, 3, 1e20, 0.5, 7]);
    await expectSameBits(p);
  });
});

describe('async calls', () => {
  let x: Xent;
  beforeAll(async () => {
    x = await lib.Xent.create({ threads: 2, minElementsPerThread: 1 });
  });
  afterAll(() => x?.dispose());

  it('many calls in flight at once are queued; each result is right; sync calls meanwhile run on this thread', async () => {
    const problems = [0, 1, 2, 3, 4, 5].map((i) =>
      problem(200 + i, [2, 5, 8, 16], i % 2 ? 'uint8' : 'prob', i % 3 ? 'NCHW' : 'NHWC', 'mean', {
        weight: i % 2 === 0,
      }),
    );
    const refs = await Promise.all(problems.map((p) => run(single, p, 'sync')));
    const pending = problems.map((p) => run(x, p, 'async'));
    const during = await run(x, problems[0]!, 'sync');
    expect(difference(during, refs[0]!)).toBeUndefined();
    const got = await Promise.all(pending);
    for (const [i, g] of got.entries()) expect(difference(g, refs[i]!), `call ${i}`).toBeUndefined();
  });

  it('errors reject the promise, and nothing is written', async () => {
    using logits = x.tensorFrom(
      Float32Array.from({ length: 2 * 3 * 40 }, (_, i) => Math.sin(i)),
      [2, 3, 40],
    );
    using grad = x.tensor('float32', [2, 3, 40]);
    grad.data.fill(7);
    const labels = new Uint8Array(80).fill(1);
    labels[57] = 3;
    const p = x.crossEntropyAsync(logits, { data: labels, shape: [2, 40] }, { grad });
    await expect(p).rejects.toBeInstanceOf(lib.XentTargetError);
    await expect(p).rejects.toMatchObject({ target: 3, index: 57, position: [1, 17] });
    await expect(x.crossEntropyAsync(logits, { data: labels, shape: [2, 41] })).rejects.toBeInstanceOf(
      lib.XentShapeError,
    );
    await expect(
      x.crossEntropyAsync(logits, { data: labels, shape: [2, 40] }, { ignore_index: 3 } as never),
    ).rejects.toBeInstanceOf(lib.XentOptionError);
    expect(grad.data.every((v) => v === 7)).toBe(true);
    expect(x.memoryStats().liveTensors).toBe(2);
  });

  it('without threads, crossEntropyAsync runs on the calling thread with the same result', async () => {
    const p = problem(300, [2, 4, 6, 6], 'int32', 'NCHW', 'sum');
    expect(difference(await run(single, p, 'async'), await run(single, p, 'sync'))).toBeUndefined();
  });

  it('dispose() rejects the calls in flight with XentDisposedError and terminates the workers', async () => {
    const y = await lib.Xent.create({ threads: 2 });
    expect(y.threads).toBe(2);
    const logits = y.tensor('float32', [2, 19, 256, 256]);
    const target = y.tensor('uint8', [2, 256, 256]);
    const calls = [0, 1, 2].map(() => y.crossEntropyAsync(logits, target, { lossMap: true }));
    y.dispose();
    for (const c of calls) await expect(c).rejects.toBeInstanceOf(lib.XentDisposedError);
    await expect(y.crossEntropyAsync(logits, target)).rejects.toBeInstanceOf(lib.XentDisposedError);
    expect(() => y.crossEntropy(logits, target)).toThrow(lib.XentDisposedError);
  });
});

describe('the shared memory', () => {
  it('is a SharedArrayBuffer; tensor.data stays right when the memory grows, and the workers see the new memory', async () => {
    using x = await lib.Xent.create({ threads: 2, minElementsPerThread: 1 });
    expect(x.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const p = problem(400, [2, 6, 10, 12], 'uint8', 'NCHW', 'mean');
    using a = x.tensorFrom(p.logits, p.shape);
    const view = a.data;
    const before = x.memory.buffer.byteLength;
    using big = x.tensor('float32', [Math.ceil((before * 2) / 4)]);
    expect(x.memory.buffer.byteLength).toBeGreaterThan(before);
    // The old view is not detached (shared memory), and data is a view of the grown buffer.
    expect(view.length).toBe(a.size);
    expect(a.data.buffer).toBe(x.memory.buffer);
    expect(a.data.buffer.byteLength).toBe(x.memory.buffer.byteLength);
    expect(firstBitDifference(a.data, p.logits)).toBe(-1);
    big.data[big.size - 1] = 1;
    // Tensors above the old end of memory, computed by the workers.
    using b = x.tensorFrom(p.logits, p.shape);
    expect(b.byteOffset).toBeGreaterThan(before);
    const ref = await run(single, p, 'sync');
    using t = x.tensorFrom(p.target as Uint8Array, p.tshape);
    using g = x.tensor('float32', p.shape);
    const r = await x.crossEntropyAsync(b, t, { ...p.options, grad: g } as never);
    expect(Object.is(r.loss, ref.loss)).toBe(true);
    expect(firstBitDifference(g.data, ref.grad)).toBe(-1);
    expect(big.data[big.size - 1]).toBe(1);
  });
});
