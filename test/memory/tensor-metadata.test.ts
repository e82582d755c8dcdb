/**
 * Issue 16, item 1: a tensor's metadata (dtype, shape, size, byteLength, byteOffset) cannot be
 * changed after creation, neither from TypeScript nor from JavaScript, and no op writes outside
 * the block the allocator recorded for a tensor, whatever a caller does to the tensor object:
 * assignment, defineProperty on the instance, getters shadowed on Tensor.prototype.
 *
 * Each op that writes is tried with an output whose metadata a caller tried to enlarge and
 * inputs of the enlarged size: sentinel bytes around the output must stay intact and the call
 * must throw the typed error for the real (unchanged) metadata.
 */
import { describe, expect, it } from 'vitest';
import { XentError as SourceXentError } from '../../ts/errors.js';
import { Heap } from '../../ts/memory/heap.js';
import { checkExtent } from '../../ts/ops/args.js';
import type { Runtime } from '../../ts/runtime.js';
import { lib, type Xent } from '../reference/dist.js';

const { Xent: XentClass } = lib;
const PATTERN = 0xa5;

/** Tries to make `t[key]` read `value`: by assignment, then by defineProperty on the instance. */
function tamper(t: object, key: string, value: unknown): void {
  try {
    (t as Record<string, unknown>)[key] = value;
  } catch {
    // A TypeError in strict mode (this module): expected once metadata is read-only.
  }
  try {
    Object.defineProperty(t, key, { value, configurable: true, writable: true });
  } catch {
    // A TypeError for a frozen tensor: expected.
  }
}

/**
 * A fresh instance with three contiguous blocks: a guard, the tensor `make` creates, a guard;
 * both guards (and the tensor's padding) filled with a pattern.
 */
async function guarded<T extends lib.Tensor>(
  make: (x: Xent) => T,
): Promise<{ x: Xent; t: T; intact: () => boolean; before: Uint8Array }> {
  const x = await XentClass.create();
  const g0 = x.tensor('uint8', [256]);
  const t = make(x);
  const g1 = x.tensor('uint8', [1 << 16]);
  const from = g0.byteOffset;
  const to = g1.byteOffset + g1.byteLength;
  expect(t.byteOffset).toBeGreaterThan(from);
  expect(g1.byteOffset).toBeGreaterThan(t.byteOffset);
  const start = t.byteOffset;
  const end = t.byteOffset + t.byteLength;
  new Uint8Array(x.memory.buffer, from, to - from).fill(PATTERN);
  // The whole block (the allocator rounds it up to 64 bytes): written by nobody.
  const before = new Uint8Array(x.memory.buffer, start, Math.max(64, end - start)).slice();
  const intact = () => {
    const mem = new Uint8Array(x.memory.buffer);
    for (let p = from; p < to; p++) if ((p < start || p >= end) && mem[p] !== PATTERN) return false;
    return true;
  };
  return { x, t, intact, before };
}

describe('tensor metadata is immutable', () => {
  it('assigning any property throws a TypeError (strict mode) and changes nothing', async () => {
    using x = await XentClass.create();
    using t = x.tensor('float32', [2, 3]);
    const snapshot = () => [t.dtype, [...t.shape], t.size, t.byteLength, t.byteOffset, t.disposed];
    const was = snapshot();
    const attempts: Array<[string, unknown]> = [
      ['dtype', 'uint8'],
      ['shape', [100, 3]],
      ['size', 300],
      ['byteLength', 1200],
      ['byteOffset', 0],
      ['data', new Float32Array(300)],
      ['disposed', true],
    ];
    for (const [key, value] of attempts) {
      expect(() => {
        (t as unknown as Record<string, unknown>)[key] = value;
      }, key).toThrow(TypeError);
      expect(() => Object.defineProperty(t, key, { value }), `defineProperty ${key}`).toThrow(TypeError);
    }
    expect(snapshot()).toEqual(was);
    expect(t.data.length).toBe(6);
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(() => (t.shape as number[]).push(1)).toThrow(TypeError);
    expect(() => {
      (t.shape as number[])[0] = 100;
    }).toThrow(TypeError);
    expect(() => Object.setPrototypeOf(t, {})).toThrow(TypeError);
    expect(t.shape).toEqual([2, 3]);
  });

  it('in sloppy-mode JavaScript the assignments do nothing', async () => {
    using x = await XentClass.create();
    using t = x.tensor('uint8', [4, 4]);
    // new Function bodies are sloppy-mode code: assignments to getters fail silently there.
    const sloppy = new Function(
      't',
      't.shape = [1000]; t.size = 1000; t.dtype = "float32"; t.byteLength = 4000; t.foo = 1; t.shape[0] = 9; ' +
        'return [t.dtype, t.shape.slice(), t.size, t.byteLength, t.foo];',
    ) as (t: lib.Tensor) => unknown[];
    expect(sloppy(t)).toEqual(['uint8', [4, 4], 16, 16, undefined]);
  });

  it('TypeScript rejects the assignments at compile time', async () => {
    using x = await XentClass.create();
    using t = x.tensor('float32', [2]);
    expect(() => {
      // @ts-expect-error dtype is read-only
      t.dtype = 'float32';
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error shape is read-only
      t.shape = [4];
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error size is read-only
      t.size = 4;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error byteLength is read-only
      t.byteLength = 16;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error byteOffset is read-only
      t.byteOffset = 0;
    }).toThrow(TypeError);
    expect(t.size).toBe(2);
  });
});

/** Plain logits `[n, c]` and int32 targets `[n]` (class 0). */
function plainProblem(n: number, c: number) {
  return {
    logits: { data: Float32Array.from({ length: n * c }, (_, i) => Math.sin(i)), shape: [n, c] },
    target: { data: new Int32Array(n), shape: [n] },
  };
}

interface Writer {
  name: string;
  dtype?: 'float32' | 'uint8';
  shape: number[];
  bigShape: number[];
  run: (x: Xent, victim: lib.Tensor) => unknown;
}

/** Every op that writes, each with a victim output of real shape `[2, 3]` or `[2]` and inputs for `[100, 3]`. */
const WRITERS: Writer[] = ((): Writer[] => {
  const { logits, target } = plainProblem(100, 3);
  const ones = { data: new Float32Array(100).fill(1), shape: [100] };
  const v = (t: lib.Tensor) => t as lib.Tensor<'float32'>;
  // A victim of a loss-shaped ([2], inputs for [100]) or a logits-shaped ([2, 3], for [100, 3]) output.
  const onMap = (name: string, run: Writer['run']): Writer => ({ name, shape: [2], bigShape: [100], run });
  const onGrid = (name: string, run: Writer['run']): Writer => ({ name, shape: [2, 3], bigShape: [100, 3], run });
  return [
    onGrid('crossEntropy grad', (x, t) => x.crossEntropy(logits, target, { grad: v(t) })),
    onMap('crossEntropy lossMap', (x, t) => x.crossEntropy(logits, target, { lossMap: v(t) })),
    onMap('crossEntropy confidence', (x, t) => x.crossEntropy(logits, target, { confidence: v(t) })),
    onMap("crossEntropy out (reduction 'none')", (x, t) =>
      x.crossEntropy(logits, target, { reduction: 'none', out: v(t) }),
    ),
    onGrid("crossEntropy grad (reduction 'none')", (x, t) =>
      x.crossEntropy(logits, target, { reduction: 'none', grad: v(t), gradOutput: ones }),
    ),
    onGrid('crossEntropyAsync grad', (x, t) => x.crossEntropyAsync(logits, target, { grad: v(t) })),
    onMap('crossEntropyAsync lossMap', (x, t) => x.crossEntropyAsync(logits, target, { lossMap: v(t) })),
    onGrid('nllLoss grad', (x, t) => x.nllLoss(logits, target, { grad: v(t) })),
    onMap('nllLoss lossMap', (x, t) => x.nllLoss(logits, target, { lossMap: v(t) })),
    onMap("nllLoss out (reduction 'none')", (x, t) => x.nllLoss(logits, target, { reduction: 'none', out: v(t) })),
    onGrid('softmax out', (x, t) => x.softmax(logits, { out: v(t) })),
    onGrid('logSoftmax out', (x, t) => x.logSoftmax(logits, { out: v(t) })),
    onGrid('softmaxBackward out', (x, t) => x.softmaxBackward(logits, logits, { out: v(t) })),
    onGrid('logSoftmaxBackward out', (x, t) => x.logSoftmaxBackward(logits, logits, { out: v(t) })),
    onMap('score lossMap', (x, t) => x.score(logits, target, { lossMap: v(t) })),
    onMap('score confidence', (x, t) => x.score(logits, target, { confidence: v(t) })),
    onMap('score predConfidence', (x, t) => x.score(logits, target, { predConfidence: v(t) })),
    {
      name: 'score pred',
      dtype: 'uint8',
      shape: [2],
      bigShape: [1000],
      run: (x, t) =>
        x.score(
          { data: new Float32Array(3000), shape: [1000, 3] },
          { data: new Int32Array(1000), shape: [1000] },
          { pred: t as lib.Tensor<'uint8'> },
        ),
    },
  ];
})();

async function settle(f: () => unknown): Promise<unknown> {
  try {
    const r = f();
    return r instanceof Promise
      ? await r.then(
          () => undefined,
          (e: unknown) => e,
        )
      : undefined;
  } catch (e) {
    return e;
  }
}

describe('no op writes outside the block the allocator recorded for its output', () => {
  for (const w of WRITERS) {
    it(`${w.name}: an enlarged shape and size are ignored; the real shape is enforced`, async () => {
      const dtype = w.dtype ?? 'float32';
      const { x, t, intact, before } = await guarded((y) => y.tensor(dtype, w.shape));
      try {
        const size = w.bigShape.reduce((a, b) => a * b, 1);
        tamper(t, 'shape', Object.freeze(w.bigShape));
        tamper(t, 'size', size);
        tamper(t, 'byteLength', size * (dtype === 'uint8' ? 1 : 4));
        const err = await settle(() => w.run(x, t));
        expect(intact(), 'the guard bytes around the output').toBe(true);
        expect(err, 'the call refuses the output of the real shape').toBeInstanceOf(lib.XentShapeError);
        expect(new Uint8Array(x.memory.buffer, t.byteOffset, 64)).toEqual(before.slice(0, 64));
        expect([t.shape, t.size]).toEqual([w.shape, w.shape.reduce((a, b) => a * b, 1)]);
      } finally {
        x.dispose();
      }
    });
  }

  it('an enlarged dtype is ignored (a uint8 tensor cannot become a float32 output)', async () => {
    const { x, t, intact } = await guarded((y) => y.tensor('uint8', [64, 3]));
    try {
      tamper(t, 'dtype', 'float32');
      tamper(t, 'byteLength', 64 * 3 * 4);
      const { logits, target } = plainProblem(64, 3);
      const err = await settle(() => x.crossEntropy(logits, target, { grad: t as unknown as lib.Tensor<'float32'> }));
      expect(intact()).toBe(true);
      expect(err).toBeInstanceOf(lib.XentDtypeError);
    } finally {
      x.dispose();
    }
  });

  it('a zeroed byteLength does not defeat the alias check', async () => {
    using x = await XentClass.create();
    using logits = x.tensorFrom(
      Float32Array.from({ length: 12 }, (_, i) => i),
      [4, 3],
    );
    const was = logits.toArray();
    tamper(logits, 'byteLength', 0);
    tamper(logits, 'size', 0);
    const err = await settle(() => x.crossEntropy(logits, { data: new Int32Array(4), shape: [4] }, { grad: logits }));
    expect(err).toBeInstanceOf(lib.XentAliasError);
    expect(logits.toArray()).toEqual(was);
  });

  it('an input whose shape was enlarged is read with its real shape (the scorer too)', async () => {
    using x = await XentClass.create();
    using logits = x.tensorFrom(
      Float32Array.from({ length: 6 }, (_, i) => i),
      [2, 3],
    );
    tamper(logits, 'shape', Object.freeze([100, 3]));
    tamper(logits, 'size', 300);
    const target = { data: new Int32Array(100), shape: [100] };
    using scorer = x.scorer(3);
    expect(await settle(() => scorer.update(logits, target))).toBeInstanceOf(lib.XentShapeError);
    expect(await settle(() => x.crossEntropy(logits, target))).toBeInstanceOf(lib.XentShapeError);
    expect(await settle(() => x.softmax(logits, { out: x.tensor('float32', [100, 3]) }))).toBeInstanceOf(
      lib.XentShapeError,
    );
    expect(scorer.result().updates).toBe(0);
  });

  it('getters shadowed on Tensor.prototype change nothing an op uses', async () => {
    const { x, t, intact } = await guarded((y) => y.tensor('float32', [2, 3]));
    const proto = lib.Tensor.prototype;
    const saved = ['shape', 'size', 'byteLength', 'dtype'].map(
      (k) => [k, Object.getOwnPropertyDescriptor(proto, k)] as const,
    );
    try {
      Object.defineProperty(proto, 'shape', { get: () => [100, 3], configurable: true });
      Object.defineProperty(proto, 'size', { get: () => 300, configurable: true });
      Object.defineProperty(proto, 'byteLength', { get: () => 1200, configurable: true });
      const { logits, target } = plainProblem(100, 3);
      expect(await settle(() => x.crossEntropy(logits, target, { grad: t as lib.Tensor<'float32'> }))).toBeInstanceOf(
        lib.XentShapeError,
      );
      expect(await settle(() => x.softmax(logits, { out: t as lib.Tensor<'float32'> }))).toBeInstanceOf(
        lib.XentShapeError,
      );
      expect(intact()).toBe(true);
    } finally {
      for (const [k, d] of saved) {
        if (d) Object.defineProperty(proto, k, d);
        else delete (proto as unknown as Record<string, unknown>)[k];
      }
      x.dispose();
    }
    expect(t.disposed).toBe(true);
  });
});

describe('checkExtent: the last check before a kernel call (ts/ops/args.ts)', () => {
  it("refuses an extent beyond the allocator's block, or an address that is not a live block", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const heap = new Heap(memory, 1024);
    const rt = { heap } as unknown as Runtime;
    const a = heap.alloc(100); // a 128-byte block
    const b = heap.alloc(64);
    expect(() => checkExtent(rt, a, 0, 'x')).not.toThrow();
    expect(() => checkExtent(rt, a, 128, 'x')).not.toThrow();
    expect(() => checkExtent(rt, a, 129, 'options.grad')).toThrow(SourceXentError);
    expect(() => checkExtent(rt, a, 129, 'options.grad')).toThrow(/options\.grad: the op would access 129 bytes/);
    expect(() => checkExtent(rt, a + 64, 4, 'x')).toThrow(/not allocated/);
    heap.free(b);
    expect(() => checkExtent(rt, b, 4, 'x')).toThrow(/not allocated/);
  });
});
