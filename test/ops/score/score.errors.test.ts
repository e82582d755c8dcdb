/**
 * xent.score and the Scorer: typed errors with messages that name the problem, nothing written
 * (and nothing counted) when a call throws, no wasm memory left behind, and a steady-state
 * Scorer.update that allocates no wasm memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashBytes } from '../../reference/compare.js';
import { lib, type Xent } from '../../reference/dist.js';

const E = lib;
let x: Xent;
let other: Xent;

beforeAll(async () => {
  x = await lib.Xent.create();
  other = await lib.Xent.create();
});
afterAll(() => {
  x.dispose();
  other.dispose();
});

const logits = () => ({ data: Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i)), shape: [2, 3, 4] });
const target = () => ({ data: Uint8Array.from([0, 1, 2, 0, 1, 2, 0, 1]), shape: [2, 4] });

/**
 * Runs `f`, which must throw `type` with a message matching `msg`, and checks that no memory is
 * held and (unless the kernel itself found the error, after plain inputs were copied into
 * scratch memory) that not a byte of wasm memory changed.
 */
function expectThrows(f: () => unknown, type: new (...a: never[]) => Error, msg: RegExp, untouched = true): void {
  const before = x.memoryStats();
  const mem = hashBytes(new Uint8Array(x.memory.buffer));
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${type.name}`).toBeInstanceOf(type);
  expect(err).toBeInstanceOf(E.XentError);
  expect((err as Error).message).toMatch(msg);
  const after = x.memoryStats();
  expect(after.bytesInUse).toBe(before.bytesInUse);
  expect(after.liveTensors).toBe(before.liveTensors);
  if (untouched) expect(hashBytes(new Uint8Array(x.memory.buffer)), 'the wasm memory changed').toBe(mem);
}

describe('score: errors', () => {
  it('probability (float32) targets are refused with the reason', () => {
    expectThrows(
      () => x.score(logits(), { data: new Float32Array(24), shape: [2, 3, 4] } as never),
      E.XentDtypeError,
      /scoring needs class indices .*confusion matrix/,
    );
  });

  it('shapes: batch, spatial dims, rank, C = 0, NHWC', () => {
    expectThrows(
      () => x.score(logits(), { data: new Uint8Array(4), shape: [1, 4] }),
      E.XentShapeError,
      /batch_size \(2\).*\(1\)/,
    );
    expectThrows(
      () => x.score(logits(), { data: new Uint8Array(6), shape: [2, 3] }),
      E.XentShapeError,
      /Expected target size \[2, 4\]/,
    );
    expectThrows(() => x.score(logits(), { data: new Uint8Array(2), shape: [2] }), E.XentShapeError, /rank/);
    expectThrows(() => x.score({ data: new Float32Array(0), shape: [2, 0, 4] }, target()), E.XentShapeError, /C = 0/);
    // (2, 3, 4) read as NHWC has C = 4 and target (2, 3).
    expectThrows(() => x.score(logits(), target(), { layout: 'NHWC' }), E.XentShapeError, /\[2, 3\]/);
  });

  it('dtypes of logits and target', () => {
    expectThrows(
      () => x.score({ data: new Float64Array(24), shape: [2, 3, 4] } as never, target()),
      E.XentDtypeError,
      /Float32Array/,
    );
    expectThrows(
      () => x.score(logits(), { data: new Int8Array(8), shape: [2, 4] } as never),
      E.XentDtypeError,
      /Int8Array/,
    );
  });

  it('target out of bounds: PyTorch wording, position; nothing written into given outputs', () => {
    using pred = x.tensor('uint8', [2, 4]);
    using lossMap = x.tensor('float32', [2, 4]);
    pred.data.fill(77);
    lossMap.data.fill(7);
    const t = target();
    t.data[6] = 3;
    let err: lib.XentTargetError | undefined;
    try {
      x.score(logits(), t, { pred, lossMap, predConfidence: true });
    } catch (e) {
      err = e as lib.XentTargetError;
    }
    expect(err).toBeInstanceOf(E.XentTargetError);
    expect(err!.message).toMatch(/^Target 3 is out of bounds/);
    expect(err!.position).toEqual([1, 2]);
    expect(Array.from(pred.data).every((v) => v === 77)).toBe(true);
    expect(Array.from(lossMap.data).every((v) => v === 7)).toBe(true);
    expect(x.memoryStats().liveTensors).toBe(2); // the predConfidence tensor was freed
    t.data[6] = 255;
    expectThrows(
      () => x.score(logits(), t),
      E.XentTargetError,
      /Target 255 is out of bounds.*ignoreIndex = -100/,
      false,
    );
  });

  it('options: unknown names with suggestions, bad values', () => {
    expectThrows(
      () => x.score(logits(), target(), { ignore_index: 255 } as never),
      E.XentOptionError,
      /did you mean "ignoreIndex"/,
    );
    expectThrows(
      () => x.score(logits(), target(), { pred_confidence: true } as never),
      E.XentOptionError,
      /did you mean "predConfidence"/,
    );
    expectThrows(
      () => x.score(logits(), target(), { reduction: 'sum' } as never),
      E.XentOptionError,
      /unknown option "reduction"/,
    );
    expectThrows(() => x.score(logits(), target(), { ignoreIndex: 1.5 }), E.XentOptionError, /integer/);
    expectThrows(() => x.score(logits(), target(), { layout: 'nhwc' as never }), E.XentOptionError, /'NHWC'/);
    expectThrows(() => x.score(logits(), target(), { weight: [1, 2] }), E.XentOptionError, /C = 3/);
    expectThrows(() => x.score(logits(), target(), { weight: [1, NaN, 2] }), E.XentOptionError, /finite/);
    expectThrows(() => x.score(logits(), target(), 'mean' as never), E.XentOptionError, /must be an object/);
  });

  it('output tensors: dtype, shape, aliasing, owner, disposed', () => {
    using f32 = x.tensor('float32', [2, 4]);
    using i32 = x.tensor('int32', [2, 4]);
    using wrong = x.tensor('uint8', [8]);
    using lg = x.tensorFrom(logits().data, [2, 3, 4]);
    using mine = other.tensor('uint8', [2, 4]);
    expectThrows(() => x.score(logits(), target(), { pred: f32 as never }), E.XentDtypeError, /uint8 or uint16/);
    expectThrows(() => x.score(logits(), target(), { pred: i32 as never }), E.XentDtypeError, /uint8 or uint16/);
    expectThrows(() => x.score(logits(), target(), { pred: wrong }), E.XentShapeError, /\[2, 4\]/);
    expectThrows(
      () => x.score(logits(), target(), { pred: new Uint8Array(8) as never }),
      E.XentOptionError,
      /Tensor of shape \[2, 4\]/,
    );
    expectThrows(() => x.score(logits(), target(), { pred: mine }), E.XentForeignTensorError, /another Xent instance/);
    expectThrows(() => x.score(logits(), target(), { lossMap: f32, confidence: f32 }), E.XentAliasError, /overlaps/);
    const view = x.tensor('float32', [2, 4]);
    view.dispose();
    expectThrows(() => x.score(logits(), target(), { lossMap: view }), E.XentDisposedError, /disposed/);
    // An output that is also an input: the weight tensor as the loss map of (N = 3, C = 3) logits.
    using w = x.tensorFrom(new Float32Array([1, 2, 3]), [3]);
    expectThrows(
      () =>
        x.score(
          { data: new Float32Array(9), shape: [3, 3] },
          { data: new Uint8Array(3), shape: [3] },
          { weight: w, lossMap: w },
        ),
      E.XentAliasError,
      /options\.lossMap overlaps options\.weight/,
    );
    void lg;
  });

  it('uint8 predictions need C ≤ 256', () => {
    using pred = x.tensor('uint8', [1, 2]);
    expectThrows(
      () =>
        x.score(
          { data: new Float32Array(257 * 2), shape: [1, 257, 2] },
          { data: new Uint16Array(2), shape: [1, 2] },
          { pred },
        ),
      E.XentDtypeError,
      /uint16/,
    );
  });
});

describe('Scorer: errors and lifetime', () => {
  it('bad construction arguments', () => {
    expectThrows(() => x.scorer(0), E.XentOptionError, /\[1, 65536\]/);
    expectThrows(() => x.scorer(2.5), E.XentOptionError, /integer/);
    expectThrows(() => x.scorer(3, { lossMap: true } as never), E.XentOptionError, /per-call output of xent\.score/);
    expectThrows(() => x.scorer(3, { ignoreindex: 3 } as never), E.XentOptionError, /did you mean "ignoreIndex"/);
    expectThrows(() => x.scorer(3, { weight: [1] }), E.XentOptionError, /C = 3/);
  });

  it('a failing update counts nothing', () => {
    using s = x.scorer(3);
    s.update(logits(), target());
    const before = s.result();
    const t = target();
    t.data[0] = 9;
    expect(() => s.update(logits(), t)).toThrow(E.XentTargetError);
    expect(() => s.update({ data: new Float32Array(16), shape: [2, 2, 4] }, target())).toThrow(/made for C = 3/);
    expect(() => s.update(logits(), { data: new Float32Array(24), shape: [2, 3, 4] } as never)).toThrow(
      E.XentDtypeError,
    );
    const after = s.result();
    expect(after.updates).toBe(1);
    expect(after.confusion).toEqual(before.confusion);
    expect(after.sum).toBe(before.sum);
  });

  it('dispose frees its memory; use afterwards throws; dispose twice is fine', () => {
    const base = x.memoryStats().bytesInUse;
    const s = x.scorer(19, { weight: new Float32Array(19).fill(1) });
    expect(x.memoryStats().bytesInUse).toBeGreaterThan(base);
    s.dispose();
    s.dispose();
    expect(s.disposed).toBe(true);
    expect(x.memoryStats().bytesInUse).toBe(base);
    expect(() => s.update(logits(), target())).toThrow(E.XentDisposedError);
    expect(() => s.result()).toThrow(E.XentDisposedError);
    expect(() => s.reset()).toThrow(E.XentDisposedError);
  });

  it('disposing the instance disposes its scorers', async () => {
    const y = await lib.Xent.create();
    const s = y.scorer(3);
    y.dispose();
    expect(s.disposed).toBe(true);
    expect(() => s.update(logits(), target())).toThrow(/Xent instance of this scorer was disposed/);
    s.dispose();
    expect(() => y.score(logits(), target())).toThrow(E.XentDisposedError);
    expect(() => y.scorer(3)).toThrow(E.XentDisposedError);
  });
});

describe('memory', () => {
  it('score leaves nothing behind but the tensors it returns', () => {
    const before = x.memoryStats();
    const r = x.score(logits(), target(), { lossMap: true, confidence: true, predConfidence: true });
    expect(x.memoryStats().liveTensors).toBe(before.liveTensors + 4);
    for (const t of [r.pred, r.lossMap, r.confidence, r.predConfidence]) t.dispose();
    expect(x.memoryStats().bytesInUse).toBe(before.bytesInUse);
    expect(x.memoryStats().liveTensors).toBe(before.liveTensors);
  });

  it('Scorer.update allocates no wasm memory in steady state (plain and tensor inputs)', () => {
    const C = 19;
    const shape = [2, C, 16, 24];
    const make = (n: number) => ({
      logits: {
        data: Float32Array.from({ length: n * C * 16 * 24 }, (_, i) => Math.sin(i * 0.37)),
        shape: [n, C, 16, 24],
      },
      target: { data: Uint8Array.from({ length: n * 16 * 24 }, (_, i) => (i * 7) % C), shape: [n, 16, 24] },
    });
    const big = make(2);
    const small = make(1);
    using s = x.scorer(C, { ignoreIndex: 255 });
    const fresh = x.memoryStats();
    s.update(big.logits, big.target); // grows the staging buffers once
    const steady = x.memoryStats();
    expect(steady.bytesInUse).toBeGreaterThan(fresh.bytesInUse);
    expect(steady.liveTensors).toBe(fresh.liveTensors);
    for (let i = 0; i < 50; i++) {
      s.update(i % 2 ? big.logits : small.logits, i % 2 ? big.target : small.target); // smaller batches reuse them
      expect(x.memoryStats()).toEqual(steady);
    }
    // Tensor inputs are used in place: no staging at all.
    using lt = x.tensorFrom(big.logits.data, shape);
    using tt = x.tensorFrom(big.target.data, [2, 16, 24]);
    const withTensors = x.memoryStats();
    for (let i = 0; i < 20; i++) {
      s.update(lt, tt);
      expect(x.memoryStats()).toEqual(withTensors);
    }
    expect(s.result().updates).toBe(71);
    // A larger batch grows the staging buffers once more, then steady again.
    const bigger = make(3);
    s.update(bigger.logits, bigger.target);
    const grown = x.memoryStats();
    expect(grown.bytesInUse).toBeGreaterThan(withTensors.bytesInUse);
    s.update(bigger.logits, bigger.target);
    s.update(small.logits, small.target);
    expect(x.memoryStats()).toEqual(grown);
  });
});
