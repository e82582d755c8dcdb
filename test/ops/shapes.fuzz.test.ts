/**
 * Seeded fuzzing of the shape space: every op (crossEntropy, crossEntropyAsync, nllLoss, the
 * four softmax ops, score, Scorer) in both layouts (softmax: any dim), shapes of rank 0 to 4
 * whose every dimension is drawn from 0 to 2^32 (the edges of the kernel's u8, u16 and u32
 * arguments among them). Where the shape's product is small the data is real (labels in range,
 * sometimes out of it); elsewhere it is a tiny buffer. Every call must either succeed or throw a
 * typed error: a subclass of XentError whose message does not call itself a bug. An empty
 * tensor with 2^32 classes or more gives PyTorch's empty result.
 *
 * Reproduce a failure with the seed printed in its message:
 *   XENT_SHAPE_SEED=<seed> XENT_SHAPE_CASES=1 npx vitest run test/ops/shapes.fuzz.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lib, type Xent } from '../reference/dist.js';
import { Rng } from '../reference/rng.js';

const CASES = Number(process.env.XENT_SHAPE_CASES ?? 3000);
const SEED = Number(process.env.XENT_SHAPE_SEED ?? 16);

/** Dimensions at the edges of the kernel's integer arguments, and of the tiles. */
const EDGES = [
  0,
  1,
  2,
  3,
  15,
  16,
  17,
  255,
  256,
  257,
  65535,
  65536,
  65537,
  2 ** 24,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 1,
];
/** Largest product given real data (the rest gets a tiny buffer). */
const REAL = 2 ** 16;

const OPS = [
  'crossEntropy',
  'crossEntropyAsync',
  'nllLoss',
  'softmax',
  'logSoftmax',
  'softmaxBackward',
  'logSoftmaxBackward',
  'score',
  'scorer',
] as const;
type Op = (typeof OPS)[number];

let x: Xent;
beforeAll(async () => {
  x = await lib.Xent.create();
});
afterAll(() => x.dispose());

function dim(r: Rng): number {
  switch (r.int(0, 3)) {
    case 0:
      return r.int(0, 4);
    case 1:
      return r.pick(EDGES);
    case 2:
      return r.int(0, 2 ** 32);
    default:
      return r.int(1, 80_000);
  }
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Real values when the size is small (and `real`), else a buffer of 0 or 1 elements (refused:
 * the shape's size is not the data's length).
 */
function floats(r: Rng, shape: readonly number[], real = true): { data: Float32Array; shape: number[] } {
  const n = size(shape);
  const data =
    real && n <= REAL ? Float32Array.from({ length: n }, () => r.normal() * 3) : new Float32Array(r.int(0, 1));
  return { data, shape: [...shape] };
}

function labels(r: Rng, shape: readonly number[], classes: number) {
  const n = size(shape);
  const dtype = r.pick(['uint8', 'uint16', 'int32'] as const);
  const max = { uint8: 255, uint16: 65535, int32: 2 ** 31 - 1 }[dtype];
  const Ctor = { uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array }[dtype];
  const len = n <= REAL ? n : r.int(0, 1);
  const bad = r.chance(0.1);
  const data = (Ctor as typeof Int32Array).from({ length: len }, () =>
    Math.min(max, bad && r.chance(0.2) ? classes + r.int(0, 3) : r.int(0, Math.max(0, Math.min(classes, 2 ** 31) - 1))),
  );
  return { data, shape: [...shape] };
}

interface Call {
  op: Op;
  shape: number[];
  describe: string;
  run: () => unknown;
}

function makeCall(seed: number): Call {
  const r = new Rng(seed);
  const op = r.pick(OPS);
  const rank = r.int(op.startsWith('softmax') || op.startsWith('logSoftmax') ? 0 : 1, 4);
  const shape = Array.from({ length: rank }, () => dim(r));
  // Some shapes with many classes and little else, which must work.
  if (rank >= 2 && r.chance(0.2)) {
    for (let i = 0; i < rank; i++) shape[i] = r.int(0, 2);
    shape[r.int(0, rank - 1)] = r.pick([65535, 65536, 65537, 70_000, r.int(1, 2 ** 17)]);
  }
  const layout = r.pick(['NCHW', 'NHWC'] as const);
  const nhwc = layout === 'NHWC' && rank >= 3;
  const ca = rank === 1 ? 0 : nhwc ? rank - 1 : 1;
  const classes = shape[ca] ?? 1;
  const lossShape = shape.filter((_, i) => i !== ca);
  const reduction = r.pick(['mean', 'sum', 'none'] as const);
  const describe = `seed ${seed}: ${op} ${JSON.stringify(shape)} ${layout} ${reduction}`;
  const prob = op === 'crossEntropy' && r.chance(0.2);
  const target = () => (prob ? floats(r, shape) : labels(r, lossShape, classes));
  // A gradient tensor only for small shapes: a large one would grow the memory by gigabytes.
  const withGrad =
    (op === 'crossEntropy' || op === 'nllLoss') && reduction !== 'none' && size(shape) <= REAL && r.chance(0.3);
  // Scoring allocates a C x C confusion matrix once the inputs are checked: real inputs only
  // where it is small (else gigabytes), typed errors either way.
  const scoreReal = classes <= 2048;
  const lossOptions = () => ({
    layout,
    reduction,
    ...(withGrad ? { grad: x.tensor('float32', shape) } : {}),
  });
  const dispose = (v: unknown) => {
    for (const t of Object.values((v ?? {}) as object)) if (t instanceof lib.Tensor) t.dispose();
    if (v instanceof lib.Tensor) v.dispose();
  };
  let run: () => unknown;
  switch (op) {
    case 'crossEntropy':
    case 'nllLoss': {
      const logits = floats(r, shape);
      const t = op === 'nllLoss' ? labels(r, lossShape, classes) : target();
      run = () => {
        const o = lossOptions();
        try {
          const res = op === 'nllLoss' ? x.nllLoss(logits, t as never, o) : x.crossEntropy(logits, t as never, o);
          dispose(res);
          return res;
        } finally {
          if ('grad' in o) o.grad?.dispose();
        }
      };
      break;
    }
    case 'crossEntropyAsync': {
      const logits = floats(r, shape);
      const t = target();
      run = () => x.crossEntropyAsync(logits, t as never, { layout, reduction }).then(dispose);
      break;
    }
    case 'softmax':
    case 'logSoftmax':
    case 'softmaxBackward':
    case 'logSoftmaxBackward': {
      const d = r.int(-Math.max(rank, 1), Math.max(rank, 1) - 1);
      const a = floats(r, shape);
      const b = floats(r, shape);
      run = () =>
        dispose(
          op === 'softmax' || op === 'logSoftmax'
            ? x[op](a, { dim: d })
            : x[op](
                a,
                r.chance(0.9)
                  ? b
                  : floats(
                      r,
                      shape.map((v) => v + 1),
                    ),
                { dim: d },
              ),
        );
      break;
    }
    case 'score': {
      const logits = floats(r, shape, scoreReal);
      const t = labels(r, lossShape, classes);
      run = () => {
        const res = x.score(logits, t, { layout });
        dispose(res);
        return res;
      };
      break;
    }
    case 'scorer': {
      const logits = floats(r, shape, scoreReal);
      const t = labels(r, lossShape, classes);
      const c = r.chance(0.8) ? classes : dim(r);
      if (c > 2048 && c <= 65536) return { op, shape, describe, run: () => undefined };
      run = () => {
        const s = x.scorer(c, { layout });
        try {
          return s.update(logits, t);
        } finally {
          s.dispose();
        }
      };
      break;
    }
  }
  return { op, shape, describe, run };
}

/** Undefined when `e` is a typed error of xent-wasm that does not call itself a bug. */
function untyped(e: unknown): string | undefined {
  if (!(e instanceof lib.XentError)) return `threw a non-XentError ${String(e)}`;
  if (e.constructor === lib.XentError) return `threw the base XentError: ${e.message}`;
  if (/\bbug\b/i.test(e.message)) return `${e.name} says it is a bug: ${e.message}`;
  return undefined;
}

describe('every shape gives a result or a typed error', () => {
  // A generous timeout: two test files share two cores.
  it(`${CASES} seeded cases (XENT_SHAPE_SEED=${SEED})`, { timeout: 300_000 }, async () => {
    const before = x.memoryStats();
    const failures: string[] = [];
    let ok = 0;
    for (let i = 0; i < CASES && failures.length < 5; i++) {
      const seed = SEED * 1_000_003 + i;
      const call = makeCall(CASES === 1 ? SEED : seed);
      try {
        await call.run();
        ok++;
      } catch (e) {
        const m = untyped(e);
        if (m) failures.push(`${call.describe}: ${m}`);
      }
    }
    expect(failures).toEqual([]);
    // A fair share of the calls compute something (the rest are refused with typed errors).
    expect(ok).toBeGreaterThan(CASES / 10);
    const after = x.memoryStats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.bytesInUse).toBe(before.bytesInUse);
  });
});

describe('empty tensors with 2^32 classes or more (the kernel takes C as a u32)', () => {
  for (const C of [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5]) {
    it(`crossEntropy and nllLoss of [1, ${C}, 0] are PyTorch's empty results`, () => {
      const logits = { data: new Float32Array(0), shape: [1, C, 0] };
      const target = { data: new Int32Array(0), shape: [1, 0] };
      for (const op of ['crossEntropy', 'nllLoss'] as const) {
        const f = (o: { reduction?: 'mean' | 'sum' | 'none'; grad?: lib.Tensor<'float32'> }) =>
          op === 'nllLoss' ? x.nllLoss(logits, target, o) : x.crossEntropy(logits, target, o);
        const mean = f({});
        expect(mean.loss).toBeNaN();
        expect([mean.sum, mean.weightSum]).toEqual([0, 0]);
        expect(f({ reduction: 'sum' }).loss).toBe(0);
        using grad = x.tensor('float32', [1, C, 0]);
        expect(f({ reduction: 'sum', grad }).loss).toBe(0);
        const none = f({ reduction: 'none' });
        const map = none.loss as unknown as lib.Tensor<'float32'>;
        expect(map.shape).toEqual([1, 0]);
        map.dispose();
      }
      const prob = x.crossEntropy(logits, { data: new Float32Array(0), shape: [1, C, 0] });
      expect(prob.loss).toBeNaN();
    });
  }

  it('crossEntropyAsync too', async () => {
    const r = await x.crossEntropyAsync(
      { data: new Float32Array(0), shape: [0, 2 ** 32] },
      { data: new Int32Array(0), shape: [0] },
      { reduction: 'sum' },
    );
    expect(r.loss).toBe(0);
  });
});
