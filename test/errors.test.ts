/**
 * Every kind of bad input gives the right typed error, with a message that names the argument
 * and the problem, and leaves the wasm memory as it was.
 *
 * Longer than 400 lines because it is one catalogue: a section per error class and op, all on
 * one setup and one check that memory is unchanged (`expectError`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashBytes } from './reference/compare.js';
import { lib, type Xent } from './reference/dist.js';

const E = lib;
let x: Xent;
let other: Xent;
let t: {
  logits: lib.Tensor<'float32'>;
  target: lib.Tensor<'uint8'>;
  grad: lib.Tensor<'float32'>;
  loss: lib.Tensor<'float32'>;
  gradOutput: lib.Tensor<'float32'>;
  weight: lib.Tensor<'float32'>;
  u8: lib.Tensor<'uint8'>;
  unbatched: lib.Tensor<'float32'>;
  /** Probabilities of the logits' shape [2, 3, 4]. */
  probs: lib.Tensor<'float32'>;
  /** A second [2, 4] float32 map. */
  map: lib.Tensor<'float32'>;
  i32: lib.Tensor<'int32'>;
};

beforeAll(async () => {
  x = await lib.Xent.create();
  other = await lib.Xent.create();
  t = {
    logits: x.tensorFrom(
      Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i)),
      [2, 3, 4],
    ),
    target: x.tensorFrom(Uint8Array.from([0, 1, 2, 0, 1, 2, 0, 1]), [2, 4]),
    grad: x.tensor('float32', [2, 3, 4]),
    loss: x.tensor('float32', [2, 4]),
    gradOutput: x.tensorFrom(new Float32Array(8).fill(1), [2, 4]),
    weight: x.tensorFrom(new Float32Array([1, 2, 3])),
    u8: x.tensor('uint8', [2, 3, 4]),
    unbatched: x.tensorFrom(new Float32Array([0.5, 1, 2])),
    probs: x.tensorFrom(new Float32Array(24).fill(1 / 3), [2, 3, 4]),
    map: x.tensor('float32', [2, 4]),
    i32: x.tensor('int32', [2, 4]),
  };
  t.grad.data.fill(9);
  t.loss.data.fill(8);
  t.map.data.fill(7);
});
afterAll(() => {
  x.dispose();
  other.dispose();
});

/** Asserts `f` throws `Err` with a message matching every pattern, and that memory is unchanged. */
function expectError(f: () => unknown, Err: new (...a: never[]) => Error, ...patterns: Array<string | RegExp>): Error {
  const hashes = () =>
    Object.values(t).map((v) => hashBytes(new Uint8Array(x.memory.buffer, v.byteOffset, v.byteLength)));
  const before = hashes();
  const stats = x.memoryStats();
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'no error was thrown').toBeDefined();
  expect(err).toBeInstanceOf(Err);
  expect(err).toBeInstanceOf(E.XentError);
  expect((err as Error).name).toBe(Err.name);
  for (const p of patterns) {
    if (typeof p === 'string') expect((err as Error).message).toContain(p);
    else expect((err as Error).message).toMatch(p);
  }
  expect(hashes(), 'live tensors were written').toEqual(before);
  expect(x.memoryStats()).toEqual(stats);
  return err as Error;
}

const ce =
  (...a: Parameters<Xent['crossEntropy']>) =>
  () =>
    x.crossEntropy(...a);
const anyOpts = (o: Record<string, unknown>) => o as lib.CrossEntropyOptions;

describe('XentOptionError', () => {
  it.each([
    ['ignore_index', 'ignoreIndex'],
    ['label_smoothing', 'labelSmoothing'],
    ['grad_output', 'gradOutput'],
    ['reductoin', 'reduction'],
    ['weights', 'weight'],
    ['IgnoreIndex', 'ignoreIndex'],
    ['labelSmothing', 'labelSmoothing'],
  ])('unknown option %s suggests %s', (bad, good) => {
    expectError(
      ce(t.logits, t.target, anyOpts({ [bad]: 1 })),
      E.XentOptionError,
      `unknown option "${bad}"`,
      `did you mean "${good}"?`,
    );
  });
  it('size_average points to reduction', () => {
    expectError(
      ce(t.logits, t.target, anyOpts({ size_average: true })),
      E.XentOptionError,
      'did you mean "reduction"',
      'PyTorch deprecated size_average',
    );
  });
  it('an unrelated name lists the valid options', () => {
    const e = expectError(
      ce(t.logits, t.target, anyOpts({ frobnicate: 1 })),
      E.XentOptionError,
      'unknown option "frobnicate"',
      'Valid options: weight, ignoreIndex',
    );
    expect(e.message).not.toContain('did you mean');
  });
  it.each([5, 'mean', [1]])('options must be an object (%s)', (o) => {
    expectError(() => x.crossEntropy(t.logits, t.target, o as never), E.XentOptionError, 'options must be an object');
  });
  it.each([1.5, 1.0000001, -0.1, -Infinity, Infinity])(
    "labelSmoothing %s outside [0, 1] uses PyTorch's message",
    (v) => {
      expectError(
        ce(t.logits, t.target, { labelSmoothing: v }),
        E.XentOptionError,
        'options.labelSmoothing',
        `label_smoothing must be between 0.0 and 1.0. Got: ${v}`,
      );
    },
  );
  it('labelSmoothing NaN and non-numbers', () => {
    expectError(
      ce(t.logits, t.target, { labelSmoothing: NaN }),
      E.XentOptionError,
      'label_smoothing must be between 0.0 and 1.0. Got: NaN',
    );
    expectError(
      ce(t.logits, t.target, anyOpts({ labelSmoothing: '0.1' })),
      E.XentOptionError,
      'options.labelSmoothing must be a number',
    );
  });
  it.each([
    [1.5, 'must be an integer'],
    ['255', 'must be an integer'],
    [NaN, 'must be an integer'],
    [2 ** 31, 'must fit in 32 bits'],
    [-(2 ** 31) - 1, 'must fit in 32 bits'],
  ])('ignoreIndex %s', (v, msg) => {
    expectError(ce(t.logits, t.target, anyOpts({ ignoreIndex: v })), E.XentOptionError, 'options.ignoreIndex', msg);
  });
  it.each(['avg', 'Mean', 'elementwise_mean', 3])('reduction %s', (v) => {
    expectError(
      ce(t.logits, t.target, anyOpts({ reduction: v })),
      E.XentOptionError,
      "options.reduction must be 'mean', 'sum' or 'none'",
    );
  });
  it('weight of the wrong length (PyTorch wording too)', () => {
    expectError(
      ce(t.logits, t.target, { weight: [1, 2, 3, 4] }),
      E.XentOptionError,
      'options.weight must have C = 3 elements, got 4',
      'weight tensor should be defined either for all 3 classes or no classes',
    );
    expectError(ce(t.logits, t.target, { weight: new Float32Array(2) }), E.XentOptionError, 'got 2');
    expectError(ce(t.logits, t.target, { weight: x.tensor('float32', [1, 3]) }), E.XentOptionError, 'got shape [1, 3]');
  });
  it('non-finite weights', () => {
    expectError(
      ce(t.logits, t.target, { weight: [1, NaN, 1] }),
      E.XentOptionError,
      'options.weight[1] must be finite, got NaN',
    );
    expectError(
      ce(t.logits, t.target, { weight: new Float32Array([1, 1, -Infinity]) }),
      E.XentOptionError,
      'options.weight[2] must be finite',
    );
    expectError(
      ce(t.logits, t.target, { weight: [1, 1e39, 1] }),
      E.XentOptionError,
      'options.weight[1] must be finite',
    );
    const wt = x.tensorFrom(new Float32Array([1, Infinity, 1]));
    expectError(ce(t.logits, t.target, { weight: wt }), E.XentOptionError, 'options.weight[1] must be finite');
    wt.dispose();
  });
  it('weight of the wrong kind', () => {
    expectError(
      ce(t.logits, t.target, anyOpts({ weight: 'ones' })),
      E.XentOptionError,
      'options.weight must be a Float32Array, an array of numbers or a float32 Tensor',
    );
    expectError(
      ce(t.logits, t.target, anyOpts({ weight: [1, '2', 3] })),
      E.XentOptionError,
      'options.weight[1] must be a number',
    );
  });
  it('options that do not go together', () => {
    expectError(
      ce(t.logits, t.target, { grad: t.grad, gradOutput: t.gradOutput }),
      E.XentOptionError,
      "options.gradOutput is only used with reduction 'none'",
    );
    expectError(
      ce(t.logits, t.target, { reduction: 'none', gradOutput: t.gradOutput }),
      E.XentOptionError,
      'options.gradOutput was given without options.grad',
    );
    expectError(
      ce(t.logits, t.target, { reduction: 'none', grad: t.grad }),
      E.XentOptionError,
      "options.gradOutput (shape [2, 4]) is required with options.grad when reduction is 'none'",
    );
    expectError(
      ce(t.logits, t.target, anyOpts({ reduction: 'sum', out: t.loss })),
      E.XentOptionError,
      "options.out is only used with reduction 'none'",
    );
    expectError(
      ce(t.logits, t.target, anyOpts({ grad: { data: new Float32Array(24), shape: [2, 3, 4] } })),
      E.XentOptionError,
      'options.grad must be a float32 Tensor of shape [2, 3, 4]',
    );
  });
});

describe('XentShapeError', () => {
  const f32 = (n: number) => new Float32Array(n);
  const i32 = (n: number) => new Int32Array(n);
  it.each([
    ['scalar logits', [], [], 'got a scalar shape []'],
    ['unbatched logits with a batched target', [3], [1], 'need a scalar target of shape []'],
    ['batch mismatch', [2, 3], [3], 'Expected input batch_size (2) to match target batch_size (3)'],
    ['spatial mismatch', [2, 3, 4, 5], [2, 4, 4], 'Expected target size [2, 4, 5], got [2, 4, 4]'],
    ['target rank', [2, 3, 4], [2], 'target must have shape [2, 4]'],
    [
      '(C, H, W) is (N, C, L) as in PyTorch',
      [4, 3, 5],
      [3, 5],
      'Expected input batch_size (4) to match target batch_size (3)',
    ],
    ['C = 0', [2, 0], [2], 'C = 0 classes'],
    ['C = 0 unbatched', [0], [], 'C = 0 classes'],
  ])('%s', (_, ls, ts, msg) => {
    const lsz = (ls as number[]).reduce((a, b) => a * b, 1);
    const tsz = (ts as number[]).reduce((a, b) => a * b, 1);
    expectError(
      ce({ data: f32(lsz), shape: ls as number[] }, { data: i32(tsz), shape: ts as number[] }),
      E.XentShapeError,
      msg as string,
    );
  });
  it('data length does not match the shape', () => {
    expectError(
      ce({ data: f32(5), shape: [2, 3] }, { data: i32(2), shape: [2] }),
      E.XentShapeError,
      'logits: data has 5 elements but shape [2, 3] has 6',
    );
    expectError(
      ce({ data: f32(6), shape: [2, 3] }, { data: i32(3), shape: [2] }),
      E.XentShapeError,
      'target: data has 3 elements',
    );
  });
  it.each([[[-1, 3]], [[1.5]], [['2', 3]], [[NaN]], ['2,3']])('invalid shape %j', (shape) => {
    expectError(
      ce({ data: f32(6), shape: shape as never }, { data: i32(2), shape: [2] }),
      E.XentShapeError,
      'logits: shape',
    );
    expectError(() => x.tensor('float32', shape as never), E.XentShapeError, 'tensor: shape');
  });
  it('tensorFrom with a shape that does not match', () => {
    expectError(
      () => x.tensorFrom(f32(6), [4]),
      E.XentShapeError,
      'tensorFrom: data has 6 elements but shape [4] has 4',
    );
  });
  it('grad, gradOutput and out shapes', () => {
    expectError(
      ce(t.logits, t.target, { grad: t.loss }),
      E.XentShapeError,
      'options.grad must have shape [2, 3, 4] (the logits shape), got [2, 4]',
    );
    expectError(
      ce(t.logits, t.target, { reduction: 'none', grad: t.grad, gradOutput: { data: f32(4), shape: [4] } }),
      E.XentShapeError,
      'options.gradOutput must have the loss shape [2, 4]',
    );
    expectError(
      ce(t.logits, t.target, { reduction: 'none', out: t.grad }),
      E.XentShapeError,
      'options.out must have shape [2, 4]',
    );
  });
});

describe('XentDtypeError', () => {
  it('logits must be float32', () => {
    expectError(
      ce({ data: new Float64Array(6) as never, shape: [2, 3] }, t.target),
      E.XentDtypeError,
      'logits.data must be a Float32Array',
      'Float64Array',
    );
    expectError(ce(t.u8 as never, t.target), E.XentDtypeError, 'logits must be float32 or float16, got a uint8 tensor');
    expectError(
      ce([1, 2, 3] as never, t.target),
      E.XentDtypeError,
      'logits must be float32 or float16 (a Tensor or { data, shape }), got an Array',
    );
  });
  it('targets must be uint8, uint16 or int32 class indices, or float32 probabilities', () => {
    expectError(
      ce(t.logits, { data: new Float64Array(8) as never, shape: [2, 4] }),
      E.XentDtypeError,
      'target.data must be a Uint8Array or Uint16Array or Int32Array or Float32Array',
      'Float64Array',
    );
    expectError(ce(t.logits, { data: [0, 1] as never, shape: [2] }), E.XentDtypeError, 'got an Array of length 2');
    expectError(
      ce(t.logits, { data: new Uint8ClampedArray(8) as never, shape: [2, 4] }),
      E.XentDtypeError,
      'Uint8ClampedArray',
    );
    expectError(
      ce(t.logits, { data: new BigInt64Array(8) as never, shape: [2, 4] }),
      E.XentDtypeError,
      'BigInt64Array',
    );
  });
  it('outputs must be float32', () => {
    const g = x.tensor('int32', [2, 3, 4]);
    expectError(
      ce(t.logits, t.target, { grad: g as never }),
      E.XentDtypeError,
      'options.grad must be a float32 tensor, got int32',
    );
    g.dispose();
  });
  it('tensor() and tensorFrom() dtypes', () => {
    expectError(
      () => x.tensor('float64' as never, [2]),
      E.XentDtypeError,
      'dtype must be one of float32, float16, uint8, uint16, int32',
    );
    expectError(
      () => x.tensorFrom(new Float64Array(2) as never),
      E.XentDtypeError,
      'tensorFrom: data must be a Float32Array',
    );
  });
});

describe('XentTargetError', () => {
  it("PyTorch's wording, the value, the flat index and the position", () => {
    const bad = x.tensorFrom(Uint8Array.from([0, 1, 2, 0, 1, 7, 0, 1]), [2, 4]);
    const e = expectError(
      ce(t.logits, bad, { grad: t.grad }),
      E.XentTargetError,
      /^Target 7 is out of bounds\./,
      'target[1, 1] (flat index 5)',
      'C = 3',
    ) as lib.XentTargetError;
    expect(e.target).toBe(7);
    expect(e.index).toBe(5);
    expect(e.position).toEqual([1, 1]);
    expect(e.classes).toBe(3);
    bad.dispose();
  });
  it('the first bad target is reported; negative and 255 targets', () => {
    expectError(
      ce(t.logits, { data: Int32Array.from([0, 1, -1, 0, 5, 2, 0, 1]), shape: [2, 4] }),
      E.XentTargetError,
      'Target -1 is out of bounds.',
      'flat index 2',
    );
    expectError(
      ce(t.logits, { data: Uint8Array.from([0, 1, 2, 0, 1, 2, 0, 255]), shape: [2, 4] }),
      E.XentTargetError,
      'Target 255 is out of bounds.',
      'target[1, 3] (flat index 7)',
      'ignoreIndex = -100',
    );
    expectError(
      ce(
        t.logits,
        { data: Int32Array.from([0, 1, 2, 0, 1, 2, 0, -100]), shape: [2, 4] },
        { ignoreIndex: 255, reduction: 'none' },
      ),
      E.XentTargetError,
      'Target -100 is out of bounds.',
    );
  });
  it('unbatched', () => {
    expectError(
      ce(t.unbatched, { data: Int32Array.from([3]), shape: [] }),
      E.XentTargetError,
      'Target 3 is out of bounds.',
      'the scalar target (flat index 0)',
    );
  });
});

describe('tensors of another instance, disposed tensors and aliasing', () => {
  it('XentForeignTensorError for every tensor argument', () => {
    const fl = other.tensor('float32', [2, 3, 4]);
    const ft = other.tensor('uint8', [2, 4]);
    const fw = other.tensor('float32', [3]);
    const fo = other.tensor('float32', [2, 4]);
    expectError(
      ce(fl, t.target),
      E.XentForeignTensorError,
      'logits: this float32 tensor of shape [2, 3, 4] belongs to another Xent instance',
    );
    expectError(ce(t.logits, ft), E.XentForeignTensorError, 'target:');
    expectError(ce(t.logits, t.target, { weight: fw }), E.XentForeignTensorError, 'options.weight:');
    expectError(ce(t.logits, t.target, { grad: fl }), E.XentForeignTensorError, 'options.grad:');
    expectError(ce(t.logits, t.target, { reduction: 'none', out: fo }), E.XentForeignTensorError, 'options.out:');
    expectError(
      ce(t.logits, t.target, { reduction: 'none', grad: t.grad, gradOutput: fo }),
      E.XentForeignTensorError,
      'options.gradOutput:',
    );
    for (const f of [fl, ft, fw, fo]) f.dispose();
  });
  it('XentDisposedError for a disposed argument', () => {
    const d = x.tensor('float32', [2, 4]);
    d.dispose();
    expectError(
      ce(t.logits, t.target, { reduction: 'none', out: d }),
      E.XentDisposedError,
      'options.out: this float32 tensor of shape [2, 4] was disposed',
    );
  });
  it('XentAliasError when an output overlaps an input', () => {
    expectError(ce(t.logits, t.target, { grad: t.logits }), E.XentAliasError, 'options.grad overlaps logits');
    expectError(
      ce(t.logits, t.target, { reduction: 'none', grad: t.grad, gradOutput: t.gradOutput, out: t.gradOutput }),
      E.XentAliasError,
      'options.out overlaps options.gradOutput',
    );
    const w = x.tensorFrom(new Float32Array([1, 1, 1]));
    expectError(
      ce(w, { data: Int32Array.from([0]), shape: [] }, { weight: w, grad: w }),
      E.XentAliasError,
      'options.grad overlaps logits',
    );
    expectError(
      ce(t.unbatched, { data: Int32Array.from([0]), shape: [] }, { weight: w, grad: w }),
      E.XentAliasError,
      'options.grad overlaps options.weight',
    );
    w.dispose();
  });
});

describe('messages', () => {
  it('every error class is exported and named', () => {
    for (const C of [
      E.XentShapeError,
      E.XentDtypeError,
      E.XentTargetError,
      E.XentOptionError,
      E.XentDisposedError,
      E.XentOutOfMemoryError,
      E.XentForeignTensorError,
      E.XentAliasError,
      E.XentLoadError,
      E.XentBusyError,
      E.XentMemoryInUseError,
    ]) {
      expect(C.prototype).toBeInstanceOf(E.XentError);
      expect(C.prototype).toBeInstanceOf(Error);
    }
  });
  it('error names are the exported names, set explicitly (minifiers rename classes)', () => {
    for (const [key, C] of Object.entries(E)) {
      if (typeof C === 'function' && /^Xent\w*Error$/.test(key))
        expect((C as { prototype: Error }).prototype.name).toBe(key);
    }
    expect(new E.XentShapeError('x').name).toBe('XentShapeError');
    expect(E.XentMemoryInUseError.prototype).toBeInstanceOf(E.XentOptionError);
  });
});

describe('probability targets, layouts, loss and confidence maps', () => {
  const f32 = (shape: number[]) => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
  it('a float32 target must have the logits shape (in the layout)', () => {
    expectError(
      ce(t.logits, f32([2, 3, 5])),
      E.XentShapeError,
      "a float32 target holds class probabilities and must have the logits' shape [2, 3, 4]",
      'got [2, 3, 5]',
      'class-index targets (uint8, uint16 or int32) have shape [2, 4]',
    );
    expectError(
      ce(t.logits, f32([3, 3, 4])),
      E.XentShapeError,
      'Expected input batch_size (2) to match target batch_size (3)',
    );
    expectError(
      ce(t.logits, f32([2, 4, 3]), { layout: 'NHWC' }),
      E.XentShapeError,
      "must have the logits' shape [2, 3, 4] (N, d1..dk, C) in the NHWC layout",
      'got [2, 4, 3]',
      'have shape [2, 3]',
    );
    expectError(
      ce({ data: new Float32Array(6), shape: [2, 3] }, f32([2, 4])),
      E.XentShapeError,
      "logits' shape [2, 3]",
    );
    expectError(ce(t.unbatched, f32([2])), E.XentShapeError, "logits' shape [3]");
  });
  it("the target's dtype must match what its shape says", () => {
    expectError(
      ce(t.logits, f32([2, 4])),
      E.XentDtypeError,
      'target of shape [2, 4] is float32, which means class probabilities, but has the shape of class indices',
      'must be uint8, uint16 or int32',
    );
    expectError(
      ce(t.logits, t.u8),
      E.XentDtypeError,
      "target of shape [2, 3, 4] has the logits' shape, which means class probabilities, but is uint8",
      'class probabilities must be float32',
      'class indices (uint8, uint16 or int32) have shape [2, 4]',
    );
    expectError(ce(t.unbatched, { data: new Int32Array(3), shape: [3] }), E.XentDtypeError, 'but is int32');
    expectError(
      ce(t.unbatched, { data: new Float32Array(1), shape: [] }),
      E.XentDtypeError,
      'is float32, which means class probabilities',
    );
  });
  it('ignoreIndex >= 0 with probabilities is rejected as in PyTorch; a negative one is accepted', () => {
    for (const ignoreIndex of [0, 255])
      expectError(
        ce(t.logits, t.probs, { ignoreIndex }),
        E.XentOptionError,
        `options.ignoreIndex = ${ignoreIndex}: ignore_index is not supported for floating point target`,
      );
    for (const ignoreIndex of [-1, -100, -(2 ** 31)])
      expect(x.crossEntropy(t.logits, t.probs, { ignoreIndex }).loss).toBeGreaterThan(0);
  });
  it('confidence is for class-index targets only', () => {
    expectError(
      ce(t.logits, t.probs, { confidence: true }),
      E.XentOptionError,
      'options.confidence is only defined for class-index targets',
    );
    expectError(
      ce(t.logits, t.probs, { confidence: t.map }),
      E.XentOptionError,
      'options.confidence is only defined for class-index targets',
    );
  });
  it.each([
    ['nhwc', "did you mean 'NHWC'? (layouts are spelled in upper case)"],
    ['Nchw', "did you mean 'NCHW'?"],
    ['channels_last', "did you mean 'NHWC'?"],
    ['NDHWC', "did you mean 'NHWC'?"],
    ['HWC', ''],
    [1, ''],
  ])('layout %j: exactly NCHW or NHWC', (layout, hint) => {
    const err = expectError(
      ce(t.logits, t.target, anyOpts({ layout })),
      E.XentOptionError,
      "crossEntropy: options.layout must be exactly 'NCHW' or 'NHWC'",
      hint,
    );
    if (!hint) expect(err.message).not.toContain('did you mean');
    expectError(
      () => x.nllLoss(t.logits, t.target, { layout } as never),
      E.XentOptionError,
      "nllLoss: options.layout must be exactly 'NCHW' or 'NHWC'",
    );
  });
  it('NHWC shape rules', () => {
    // logits [2, 3, 4] in NHWC: C = 4, target (2, 3).
    expectError(
      ce(t.logits, t.target, { layout: 'NHWC' }),
      E.XentShapeError,
      'Expected target size [2, 3], got [2, 4]',
      'layout NHWC',
    );
    expectError(
      ce(t.logits, { data: new Uint8Array(2), shape: [2] }, { layout: 'NHWC' }),
      E.XentShapeError,
      'target must have shape [2, 3] for logits of shape [2, 3, 4] (N, d1..dk, C) (layout NHWC)',
    );
    expectError(
      ce(t.logits, { data: new Uint8Array(6).fill(3), shape: [2, 3] }, { layout: 'NHWC', weight: [1, 1, 1] }),
      E.XentOptionError,
      'options.weight must have C = 4 elements, got 3',
    );
    expectError(
      ce(
        { data: new Float32Array(0), shape: [2, 3, 0] },
        { data: new Uint8Array(6), shape: [2, 3] },
        { layout: 'NHWC' },
      ),
      E.XentShapeError,
      'C = 0 classes',
    );
  });
  it('lossMap and confidence: shape, dtype, kind, instance', () => {
    expectError(
      ce(t.logits, t.target, { lossMap: t.grad }),
      E.XentShapeError,
      'options.lossMap must have shape [2, 4]',
      'got [2, 3, 4]',
    );
    expectError(
      ce(t.logits, t.target, { confidence: x.tensor('float32', [8]) }),
      E.XentShapeError,
      'options.confidence must have shape [2, 4]',
    );
    expectError(
      ce(t.logits, t.target, { lossMap: t.i32 as never }),
      E.XentDtypeError,
      'options.lossMap must be a float32 tensor, got int32',
    );
    expectError(
      ce(t.logits, t.target, { confidence: t.i32 as never }),
      E.XentDtypeError,
      'options.confidence must be a float32 tensor, got int32',
    );
    expectError(
      ce(t.logits, t.target, anyOpts({ lossMap: { data: new Float32Array(8), shape: [2, 4] } })),
      E.XentOptionError,
      'options.lossMap must be a float32 Tensor of shape [2, 4]',
      'or true for a new tensor',
    );
    expectError(
      ce(t.logits, t.target, anyOpts({ confidence: 'yes' })),
      E.XentOptionError,
      'options.confidence must be a float32 Tensor',
    );
    const fo = other.tensor('float32', [2, 4]);
    expectError(ce(t.logits, t.target, { lossMap: fo }), E.XentForeignTensorError, 'options.lossMap:');
    expectError(ce(t.logits, t.target, { confidence: fo }), E.XentForeignTensorError, 'options.confidence:');
    fo.dispose();
    const d = x.tensor('float32', [2, 4]);
    d.dispose();
    expectError(
      ce(t.logits, t.target, { lossMap: d }),
      E.XentDisposedError,
      'options.lossMap: this float32 tensor of shape [2, 4] was disposed',
    );
  });
  it("out and lossMap with 'none' must not name different tensors; out only with 'none'", () => {
    expectError(
      ce(t.logits, t.target, { reduction: 'none', out: t.loss, lossMap: t.map }),
      E.XentOptionError,
      'options.out and options.lossMap are both the destination',
    );
    expectError(
      ce(t.logits, t.target, anyOpts({ out: t.loss, lossMap: true })),
      E.XentOptionError,
      "options.out is only used with reduction 'none'",
      'use options.lossMap',
    );
  });
  it('overlapping outputs, and outputs overlapping inputs', () => {
    expectError(
      ce(t.logits, t.target, { lossMap: t.map, confidence: t.map }),
      E.XentAliasError,
      'options.lossMap overlaps options.confidence',
    );
    expectError(
      ce(t.logits, t.target, { reduction: 'none', out: t.loss, confidence: t.loss }),
      E.XentAliasError,
      'options.out overlaps options.confidence',
    );
    expectError(
      ce(t.logits, t.target, { reduction: 'none', grad: t.grad, gradOutput: t.map, lossMap: t.map }),
      E.XentAliasError,
      'options.lossMap overlaps options.gradOutput',
    );
    expectError(ce(t.logits, t.probs, { grad: t.probs }), E.XentAliasError, 'options.grad overlaps target');
    expectError(
      ce(t.logits, t.target, {
        grad: t.grad,
        lossMap: true,
        confidence: t.gradOutput,
        reduction: 'none',
        gradOutput: t.gradOutput,
      }),
      E.XentAliasError,
      'options.confidence overlaps options.gradOutput',
    );
  });
  it('a target error after new output tensors were allocated frees them', () => {
    const bad = { data: Uint8Array.from([0, 1, 2, 9, 0, 1, 2, 0]), shape: [2, 4] };
    expectError(
      ce(t.logits, bad, { lossMap: true, confidence: true }),
      E.XentTargetError,
      'Target 9 is out of bounds.',
    );
    expectError(
      ce(t.logits, bad, { reduction: 'none', confidence: true }),
      E.XentTargetError,
      'Target 9 is out of bounds.',
    );
    expectError(
      () => x.nllLoss(t.logits, bad, { reduction: 'none', lossMap: true }),
      E.XentTargetError,
      'Target 9 is out of bounds.',
      'target[0, 3] (flat index 3)',
    );
  });
});

describe('nllLoss', () => {
  const nll =
    (...a: Parameters<Xent['nllLoss']>) =>
    () =>
      x.nllLoss(...a);
  it('takes class indices only', () => {
    expectError(
      nll(t.logits, t.probs as never),
      E.XentDtypeError,
      'target must be uint8, uint16 or int32 class indices (nllLoss has no probability targets), got a float32 tensor',
    );
  });
  it('has no labelSmoothing and no confidence', () => {
    expectError(
      nll(t.logits, t.target, { labelSmoothing: 0.1 } as never),
      E.XentOptionError,
      'nllLoss: option "labelSmoothing" is not supported by nllLoss',
      'label smoothing is part of crossEntropy',
    );
    expectError(
      nll(t.logits, t.target, { confidence: true } as never),
      E.XentOptionError,
      'nllLoss: option "confidence" is not supported',
    );
    expectError(
      nll(t.logits, t.target, { ignore_index: 1 } as never),
      E.XentOptionError,
      'nllLoss: unknown option "ignore_index"; did you mean "ignoreIndex"?',
    );
  });
  it('shares the loss rules of crossEntropy', () => {
    expectError(
      nll(t.logits, { data: new Uint8Array(3), shape: [3] }),
      E.XentShapeError,
      'target must have shape [2, 4] for logProbs of shape [2, 3, 4]',
    );
    expectError(
      nll(t.logits, t.target, { weight: [1, 2] }),
      E.XentOptionError,
      'options.weight must have C = 3 elements, got 2',
    );
    expectError(nll(t.logits, t.target, { grad: t.logits }), E.XentAliasError, 'options.grad overlaps logProbs');
    expectError(
      nll(t.logits, t.target, { reduction: 'none', grad: t.grad }),
      E.XentOptionError,
      'options.gradOutput (shape [2, 4]) is required',
    );
    expectError(
      nll(t.logits, t.target, { grad: t.loss }),
      E.XentShapeError,
      'options.grad must have shape [2, 3, 4] (the logProbs shape)',
    );
  });
});

describe('softmax ops', () => {
  const ops = ['softmax', 'logSoftmax'] as const;
  const bops = ['softmaxBackward', 'logSoftmaxBackward'] as const;
  it.each([3, -4, 100])('dim %s out of range for rank 3', (dim) => {
    for (const op of ops) {
      expectError(
        () => x[op](t.logits, { dim }),
        E.XentOptionError,
        `${op}: options.dim = ${dim} is out of range for an input of shape [2, 3, 4] (rank 3)`,
        `Dimension out of range (expected to be in range of [-3, 2], but got ${dim})`,
      );
    }
    for (const op of bops)
      expectError(() => x[op](t.logits, t.probs, { dim }), E.XentOptionError, `${op}: options.dim = ${dim}`);
  });
  it('dim of a scalar is 0 or -1; of a vector 0 or -1', () => {
    const s = { data: new Float32Array([2]), shape: [] };
    expectError(() => x.softmax(s, { dim: 1 }), E.XentOptionError, 'expected to be in range of [-1, 0], but got 1');
    expectError(
      () => x.softmax(t.unbatched, { dim: 1 }),
      E.XentOptionError,
      'expected to be in range of [-1, 0], but got 1',
    );
  });
  it.each([1.5, '1', NaN, null])('dim %s is not an integer', (dim) => {
    expectError(
      () => x.softmax(t.logits, { dim } as never),
      E.XentOptionError,
      'softmax: options.dim must be an integer',
    );
  });
  it('unknown options', () => {
    expectError(
      () => x.softmax(t.logits, { axis: 1 } as never),
      E.XentOptionError,
      'softmax: unknown option "axis"; did you mean "dim"?',
      'Valid options: dim, out',
    );
    expectError(
      () => x.logSoftmax(t.logits, { reduction: 'mean' } as never),
      E.XentOptionError,
      'logSoftmax: unknown option "reduction"',
    );
    expectError(() => x.softmax(t.logits, 1 as never), E.XentOptionError, 'softmax: options must be an object');
  });
  it('out of the wrong shape, dtype, kind or instance', () => {
    for (const op of ops) {
      expectError(
        () => x[op](t.logits, { out: t.loss }),
        E.XentShapeError,
        'options.out must have shape [2, 3, 4] (the shape of x), got [2, 4]',
      );
      expectError(
        () => x[op](t.logits, { out: t.u8 as never }),
        E.XentDtypeError,
        'options.out must be a float32 tensor, got uint8',
      );
      expectError(
        () => x[op](t.logits, { out: f32out() as never }),
        E.XentOptionError,
        'options.out must be a float32 Tensor of shape [2, 3, 4]',
      );
    }
    for (const op of bops)
      expectError(
        () => x[op](t.logits, t.probs, { out: t.loss }),
        E.XentShapeError,
        'options.out must have shape [2, 3, 4] (the shape of y)',
      );
    const fo = other.tensor('float32', [2, 3, 4]);
    expectError(() => x.softmax(t.logits, { out: fo }), E.XentForeignTensorError, 'options.out:');
    expectError(() => x.softmax(fo), E.XentForeignTensorError, 'x:');
    fo.dispose();
  });
  it('out must not overlap the inputs (no in-place)', () => {
    for (const op of ops)
      expectError(() => x[op](t.logits, { out: t.logits }), E.XentAliasError, 'options.out overlaps x');
    for (const op of bops) {
      expectError(() => x[op](t.logits, t.probs, { out: t.logits }), E.XentAliasError, 'options.out overlaps y');
      expectError(() => x[op](t.logits, t.probs, { out: t.probs }), E.XentAliasError, 'options.out overlaps gradY');
    }
  });
  it('inputs: dtypes and the shape of gradY', () => {
    expectError(() => x.softmax(t.u8 as never), E.XentDtypeError, 'x must be float32, got a uint8 tensor');
    expectError(
      () => x.softmax({ data: new Float64Array(3), shape: [3] } as never),
      E.XentDtypeError,
      'x.data must be a Float32Array',
    );
    expectError(
      () => x.softmaxBackward(t.logits, t.loss),
      E.XentShapeError,
      'softmaxBackward: gradY must have the shape of y [2, 3, 4], got [2, 4]',
    );
    expectError(() => x.logSoftmaxBackward(t.logits, t.u8 as never), E.XentDtypeError, 'gradY must be float32');
  });
});

function f32out() {
  return { data: new Float32Array(24), shape: [2, 3, 4] };
}
