/**
 * Issue 16, items 2 and 6: who owns what.
 *
 * - A `WebAssembly.Memory` belongs to one live instance: a second `Xent.create({ memory })` on
 *   it is refused with XentMemoryInUseError (every copy of the library shares the registry),
 *   until the first instance is disposed.
 * - A tensor of another instance, including one of another copy of the library (the
 *   `xent-wasm/inline` entry), is refused with XentForeignTensorError wherever it is passed.
 * - Bad arguments to the public entry points throw XentError subclasses, never bare TypeErrors.
 */
import { describe, expect, it } from 'vitest';
import { lib } from '../reference/dist.js';

const { Xent } = lib;

type Lib = typeof lib;
const loadInline = async () => (await import('../../dist/inline.mjs')) as unknown as Lib;
const loadTfjs = async () => await import('../../dist/tfjs.mjs');

describe('one live instance per memory', () => {
  it('a second instance on the same memory is refused, and the first is untouched', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 1000 });
    using a = await Xent.create({ memory });
    using t = a.tensorFrom(Float32Array.from({ length: 64 }, (_, i) => i + 0.5));
    const before = new Uint8Array(memory.buffer).slice();
    const err = await Xent.create({ memory }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(lib.XentMemoryInUseError);
    expect(err).toBeInstanceOf(lib.XentOptionError);
    expect((err as Error).name).toBe('XentMemoryInUseError');
    expect((err as Error).message).toMatch(/memory of another Xent instance that is still alive/);
    // Nothing was instantiated on the memory (which would rewrite the module's data).
    expect(new Uint8Array(memory.buffer)).toEqual(before);
    expect(t.data[63]).toBe(63.5);
  });

  it('the memory an instance created for itself cannot be given to another', async () => {
    using a = await Xent.create();
    await expect(Xent.create({ memory: a.memory })).rejects.toBeInstanceOf(lib.XentMemoryInUseError);
  });

  it('after dispose() the memory can be used again; a failed create does not keep it', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 1000 });
    const a = await Xent.create({ memory });
    a.dispose();
    await expect(Xent.create({ memory, wasm: new Uint8Array([0, 97, 115, 109]) })).rejects.toBeInstanceOf(
      lib.XentLoadError,
    );
    using b = await Xent.create({ memory });
    using t = b.tensor('float32', [4]);
    expect(t.data.length).toBe(4);
  });

  it('of two concurrent creates on one memory, exactly one succeeds', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 1000 });
    const results = await Promise.allSettled([Xent.create({ memory }), Xent.create({ memory })]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect([ok.length, refused.length]).toEqual([1, 1]);
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(lib.XentMemoryInUseError);
    (ok[0] as PromiseFulfilledResult<lib.Xent>).value.dispose();
  });

  it('the main entry and xent-wasm/inline share the registry', async () => {
    const inline = await loadInline();
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 1000 });
    const a = await Xent.create({ memory });
    const err = await inline.Xent.create({ memory }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('XentMemoryInUseError');
    a.dispose();
    using b = await inline.Xent.create({ memory });
    await expect(Xent.create({ memory })).rejects.toBeInstanceOf(lib.XentMemoryInUseError);
    expect(b.disposed).toBe(false);
  });

  it('with worker threads: refused while alive; after dispose() a new instance waits for the workers to exit', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
    const a = await Xent.create({ threads: 2, memory });
    expect(a.threads).toBe(2);
    await expect(Xent.create({ threads: 2, memory })).rejects.toBeInstanceOf(lib.XentMemoryInUseError);
    a.dispose();
    using b = await Xent.create({ threads: 2, memory });
    expect(b.threads).toBe(2);
    using logits = b.tensorFrom(
      Float32Array.from({ length: 2 * 3 * 64 }, (_, i) => Math.sin(i)),
      [2, 3, 64],
    );
    const r = await b.crossEntropyAsync(logits, { data: new Int32Array(128), shape: [2, 64] });
    expect(Number.isFinite(r.loss)).toBe(true);
  });

  const gc = (globalThis as { gc?: () => void }).gc;
  it.runIf(typeof gc === 'function')(
    'an instance garbage-collected without dispose() no longer holds its memory',
    async () => {
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 1000 });
      await (async () => {
        await Xent.create({ memory });
      })();
      let b: lib.Xent | undefined;
      for (let i = 0; i < 50 && b === undefined; i++) {
        gc!();
        await new Promise((r) => setTimeout(r, 10));
        b = await Xent.create({ memory }).catch(() => undefined);
      }
      expect(b).toBeDefined();
      b?.dispose();
    },
  );
});

describe('tensors of another instance or another copy of the library', () => {
  it('an xent-wasm/inline tensor is refused everywhere with XentForeignTensorError, never copied', async () => {
    const inline = await loadInline();
    using main = await Xent.create();
    using other = await inline.Xent.create();
    const grid = other.tensor('float32', [2, 3]) as unknown as lib.Tensor<'float32'>;
    const map = other.tensor('float32', [2]) as unknown as lib.Tensor<'float32'>;
    const labels = other.tensor('int32', [2]) as unknown as lib.Tensor<'int32'>;
    const pred = other.tensor('uint8', [2]) as unknown as lib.Tensor<'uint8'>;
    const w = other.tensor('float32', [3]) as unknown as lib.Tensor<'float32'>;
    expect(grid).not.toBeInstanceOf(lib.Tensor);
    const logits = { data: new Float32Array(6), shape: [2, 3] };
    const target = { data: new Int32Array(2), shape: [2] };
    const calls: Array<[string, () => unknown]> = [
      ['crossEntropy logits', () => main.crossEntropy(grid, target)],
      ['crossEntropy target', () => main.crossEntropy(logits, labels)],
      ['crossEntropy grad', () => main.crossEntropy(logits, target, { grad: grid })],
      ['crossEntropy weight', () => main.crossEntropy(logits, target, { weight: w })],
      ['crossEntropy lossMap', () => main.crossEntropy(logits, target, { lossMap: map })],
      ['crossEntropy confidence', () => main.crossEntropy(logits, target, { confidence: map })],
      ['crossEntropy out', () => main.crossEntropy(logits, target, { reduction: 'none', out: map })],
      [
        'crossEntropy gradOutput',
        () =>
          main.crossEntropy(logits, target, {
            reduction: 'none',
            grad: main.tensor('float32', [2, 3]),
            gradOutput: map,
          }),
      ],
      ['crossEntropyAsync grad', () => main.crossEntropyAsync(logits, target, { grad: grid })],
      ['nllLoss logProbs', () => main.nllLoss(grid, target)],
      ['softmax x', () => main.softmax(grid)],
      ['softmax out', () => main.softmax(logits, { out: grid })],
      ['logSoftmaxBackward gradY', () => main.logSoftmaxBackward(logits, grid)],
      ['score logits', () => main.score(grid, target)],
      ['score pred', () => main.score(logits, target, { pred })],
      ['score lossMap', () => main.score(logits, target, { lossMap: map })],
      ['scorer weight', () => main.scorer(3, { weight: w })],
      ['scorer update', () => main.scorer(3).update(grid, target)],
    ];
    for (const [name, f] of calls) {
      let err: unknown;
      try {
        await f();
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(lib.XentForeignTensorError);
      expect((err as Error).message, name).toMatch(/another copy of xent-wasm.*'xent-wasm\/inline'/);
    }
    expect(grid.data.every((v) => v === 0)).toBe(true);
    // Given where the options object goes, it is an options error as for any non-object.
    expect(() => main.crossEntropy(logits, target, grid as never)).toThrow(/options must be an object, got a Tensor/);
  });

  it('and the other way round: a main-entry tensor given to an inline instance', async () => {
    const inline = await loadInline();
    using main = await Xent.create();
    using other = await inline.Xent.create();
    using t = main.tensor('float32', [2, 3]);
    const err = (() => {
      try {
        other.crossEntropy(t as never, { data: new Int32Array(2), shape: [2] });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(inline.XentForeignTensorError);
  });

  it('a tensor of another instance of the same entry is refused as before; plain { data, shape } still works', async () => {
    using a = await Xent.create();
    using b = await Xent.create();
    using t = b.tensor('float32', [2, 3]);
    const target = { data: new Int32Array(2), shape: [2] };
    expect(() => a.crossEntropy(t, target)).toThrow(lib.XentForeignTensorError);
    expect(() => a.crossEntropy({ data: new Float32Array(6), shape: [2, 3] }, target, { grad: t })).toThrow(
      /belongs to another Xent instance/,
    );
    expect(a.crossEntropy({ data: t.data, shape: [2, 3] }, target).loss).toBeCloseTo(Math.log(3), 6);
  });
});

describe('bad arguments to the public API throw XentError subclasses', () => {
  it('Xent.create with options that are not an object', async () => {
    for (const bad of [null, 5, 'simd', [], true]) {
      const err = await Xent.create(bad as never).catch((e: unknown) => e);
      expect(err, String(bad)).toBeInstanceOf(lib.XentOptionError);
      expect((err as Error).message).toMatch(/^Xent\.create: options must be an object/);
    }
  });

  it('crossEntropyLoss (xent-wasm/tfjs) without an Xent instance', async () => {
    const tfjs = await loadTfjs();
    for (const bad of [null, undefined, 5, {}]) {
      expect(() => tfjs.crossEntropyLoss(bad as never), String(bad)).toThrow(lib.XentOptionError);
    }
  });

  it('a shape that cannot even be printed; the Tensor constructor', async () => {
    using x = await Xent.create();
    expect(() => x.tensor('float32', Object.create(null) as never)).toThrow(lib.XentShapeError);
    expect(() => x.tensorFrom(new Float32Array(1), Object.create(null) as never)).toThrow(lib.XentShapeError);
    expect(() => x.tensor('float32', [Object.create(null)] as never)).toThrow(lib.XentShapeError);
    expect(() => new (lib.Tensor as unknown as new () => unknown)()).toThrow(lib.XentError);
  });

  it('an Xent method called off its instance', async () => {
    using x = await Xent.create();
    const { crossEntropy, tensor, crossEntropyAsync } = x;
    const target = { data: new Int32Array(1), shape: [1] };
    expect(() => crossEntropy({ data: new Float32Array(2), shape: [1, 2] }, target)).toThrow(lib.XentError);
    expect(() => tensor('float32', [1])).toThrow(/Xent\.tensor was called on undefined, not on an Xent instance/);
    await expect(crossEntropyAsync.call({}, { data: new Float32Array(2), shape: [1, 2] }, target)).rejects.toThrow(
      lib.XentError,
    );
    const memory = Object.getOwnPropertyDescriptor(lib.Xent.prototype, 'memory')!.get!;
    expect(() => memory.call(null)).toThrow(lib.XentError);
    expect(crossEntropy.call(x, { data: new Float32Array(2), shape: [1, 2] }, target).loss).toBeCloseTo(Math.log(2), 6);
  });

  it('a sweep of bad values through every entry point: only XentErrors', async () => {
    const tfjs = await loadTfjs();
    using x = await Xent.create();
    const bads: unknown[] = [
      null,
      undefined,
      0,
      -1,
      1.5,
      NaN,
      'x',
      Symbol('s'),
      {},
      [],
      [null],
      { data: null, shape: null },
      { data: new Float32Array(1), shape: null },
      Object.create(null),
      () => 1,
      10n,
      true,
      new Float32Array(3),
      { shape: [1] },
      { data: new Float32Array(2), shape: { length: 2 } },
      { data: new Float32Array(1), shape: [-1] },
      { data: new Float32Array(1), shape: ['1'] },
      { data: new Float32Array(1), shape: [Object.create(null)] },
    ];
    const L = { data: new Float32Array(6), shape: [2, 3] };
    const T = { data: new Int32Array(2), shape: [2] };
    const entry: Record<string, (v: never) => unknown> = {
      create: (v) => Xent.create(v),
      createMemory: (v) => Xent.create({ memory: v }),
      createWasm: (v) => Xent.create({ wasm: v }),
      createThreads: (v) => Xent.create({ threads: v }),
      tensorDtype: (v) => x.tensor(v, [1]),
      tensorShape: (v) => x.tensor('float32', v),
      tensorFrom: (v) => x.tensorFrom(v),
      tensorFromShape: (v) => x.tensorFrom(new Float32Array(1), v),
      logits: (v) => x.crossEntropy(v, T),
      target: (v) => x.crossEntropy(L, v),
      options: (v) => x.crossEntropy(L, T, v),
      grad: (v) => x.crossEntropy(L, T, { grad: v }),
      weight: (v) => x.crossEntropy(L, T, { weight: v }),
      lossMap: (v) => x.crossEntropy(L, T, { lossMap: v }),
      reduction: (v) => x.crossEntropy(L, T, { reduction: v }),
      asyncOptions: (v) => x.crossEntropyAsync(L, T, v),
      nllLoss: (v) => x.nllLoss(v, T),
      softmax: (v) => x.softmax(v),
      softmaxDim: (v) => x.softmax(L, { dim: v }),
      softmaxOut: (v) => x.softmax(L, { out: v }),
      score: (v) => x.score(L, T, v),
      scorePred: (v) => x.score(L, T, { pred: v }),
      scorer: (v) => x.scorer(v),
      scorerOptions: (v) => x.scorer(3, v),
      scorerUpdate: (v) => x.scorer(3).update(v, T),
      metrics: (v) => lib.segmentationMetrics(v, 3),
      metricsClasses: (v) => lib.segmentationMetrics(new Float64Array(9), v),
      tfjs: (v) => tfjs.crossEntropyLoss(v),
      tfjsOptions: (v) => tfjs.crossEntropyLoss(x, v),
    };
    const wrong: string[] = [];
    for (const [name, f] of Object.entries(entry)) {
      for (const [i, v] of bads.entries()) {
        let err: unknown;
        try {
          const r = f(v as never);
          if (r instanceof Promise) {
            await r.then(
              (made: unknown) => (made as { dispose?: () => void } | undefined)?.dispose?.(),
              (e: unknown) => {
                err = e;
              },
            );
          }
        } catch (e) {
          err = e;
        }
        if (err !== undefined && !(err instanceof lib.XentError)) wrong.push(`${name}(bads[${i}]): ${String(err)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
