/**
 * Memory behaviour of the published package: views across memory.grow, dispose semantics,
 * memoryStats, guard bytes around the kernel's outputs, and no writes on errors.
 *
 * Longer than 400 lines: the memory contract is several short sections sharing one helper.
 */
import { describe, expect, it } from 'vitest';
import { hashBytes } from './reference/compare.js';
import { lib, type Xent } from './reference/dist.js';

const { Xent: XentClass, XentDisposedError, XentOutOfMemoryError } = lib;

async function withXent<T>(f: (x: Xent) => T | Promise<T>, options?: lib.XentOptions): Promise<T> {
  const x = await XentClass.create(options);
  try {
    return await f(x);
  } finally {
    x.dispose();
  }
}

describe('views are never stale', () => {
  it('survive memory.grow: contents intact and data.buffer === memory.buffer', async () => {
    await withXent((x) => {
      const a = x.tensorFrom(
        Float32Array.from({ length: 1000 }, (_, i) => i * 0.5),
        [10, 100],
      );
      const b = x.tensorFrom(
        Uint8Array.from({ length: 77 }, (_, i) => i),
        [77],
      );
      const oldView = a.data;
      const oldBuffer = x.memory.buffer;
      const reserved = x.memoryStats().bytesReserved;
      const big = x.tensor('float32', [16, 1024, 1024]); // 64 MiB: forces memory.grow
      expect(x.memoryStats().bytesReserved).toBeGreaterThan(reserved);
      expect(x.memory.buffer).not.toBe(oldBuffer);
      expect(oldView.length).toBe(0); // the old ArrayBuffer was detached by the growth
      expect(a.data.buffer).toBe(x.memory.buffer);
      expect(b.data.buffer).toBe(x.memory.buffer);
      expect(Array.from(a.data.subarray(0, 5))).toEqual([0, 0.5, 1, 1.5, 2]);
      expect(a.data[999]).toBe(499.5);
      expect(Array.from(b.data)).toEqual(Array.from({ length: 77 }, (_, i) => i));
      expect(big.data.every((v) => v === 0)).toBe(true);
      // The view is cached while the buffer is unchanged.
      expect(a.data).toBe(a.data);
    });
  });

  it('survive a growth caused by the scratch memory of a crossEntropy call', async () => {
    await withXent((x) => {
      using logits = x.tensorFrom(new Float32Array([1, 2, 3]), [1, 3]);
      const view = logits.data;
      const buffer = x.memory.buffer;
      // A plain input of 32 MiB is copied into scratch memory, which grows the memory.
      const n = 1 << 23;
      const r = x.crossEntropy(
        { data: new Float32Array(n), shape: [n / 2, 2] },
        { data: new Uint8Array(n / 2), shape: [n / 2] },
      );
      expect(r.loss).toBeCloseTo(Math.log(2), 6);
      expect(x.memory.buffer).not.toBe(buffer);
      expect(view.length).toBe(0);
      expect(Array.from(logits.data)).toEqual([1, 2, 3]);
      expect(x.memoryStats().liveTensors).toBe(1); // scratch freed
    });
  });
});

describe('inputs that view wasm memory', () => {
  it('tensorFrom(tensor.data) and { data: tensor.data } survive a growth during the call', async () => {
    await withXent((x) => {
      // Fill the memory so that the next allocation must grow it.
      const big = x.tensor('float32', [1 << 20]);
      big.data.set([1, 2, 3]);
      const stats = x.memoryStats();
      const free = stats.bytesReserved - stats.bytesInUse;
      const filler = x.tensor('uint8', [Math.max(0, free - 200_000)]);
      const buf1 = x.memory.buffer;
      const copy = x.tensorFrom(big.data, [1 << 20]); // grows the memory while copying
      expect(x.memory.buffer).not.toBe(buf1);
      expect(Array.from(copy.data.subarray(0, 4))).toEqual([1, 2, 3, 0]);
      const pad = x.tensor('uint8', [
        Math.max(0, x.memoryStats().bytesReserved - x.memoryStats().bytesInUse - 100_000),
      ]);
      const n = 1 << 18;
      using logits = x.tensorFrom(
        Float32Array.from({ length: 2 * n }, (_, i) => (i % 2 ? 1 : 0)),
        [n, 2],
      );
      const buf2 = x.memory.buffer;
      const r = x.crossEntropy({ data: logits.data, shape: [n, 2] }, { data: new Uint8Array(n).fill(1), shape: [n] });
      expect(x.memory.buffer).not.toBe(buf2);
      expect(r.loss).toBeCloseTo(Math.log(1 + Math.exp(-1)), 6);
      for (const t of [big, filler, copy, pad]) t.dispose();
    });
  });
});

describe('dispose', () => {
  it('use after dispose and double dispose throw XentDisposedError', async () => {
    await withXent((x) => {
      const t = x.tensor('float32', [2, 3]);
      const target = x.tensor('uint8', [2]);
      expect(t.disposed).toBe(false);
      t.dispose();
      expect(t.disposed).toBe(true);
      expect(() => t.data).toThrow(XentDisposedError);
      expect(() => t.byteOffset).toThrow(XentDisposedError);
      expect(() => t.toArray()).toThrow(XentDisposedError);
      expect(() => t.dispose()).toThrow(XentDisposedError);
      expect(() => t.dispose()).toThrow(/already disposed/);
      expect(() => x.crossEntropy(t, target)).toThrow(XentDisposedError);
      expect(() => x.crossEntropy(t, target)).toThrow(/logits: this float32 tensor of shape \[2, 3\] was disposed/);
      // Shape and dtype stay readable.
      expect(t.shape).toEqual([2, 3]);
      expect(String(t)).toBe('Tensor(float32 [2, 3], disposed)');
    });
  });

  it('using disposes at the end of the block', async () => {
    await withXent((x) => {
      let escaped: lib.Tensor | undefined;
      {
        using t = x.tensor('int32', [4]);
        escaped = t;
        expect(x.memoryStats().liveTensors).toBe(1);
      }
      expect(escaped.disposed).toBe(true);
      expect(x.memoryStats().liveTensors).toBe(0);
    });
  });

  it('disposing the Xent instance disposes all its tensors; further use throws', async () => {
    const x = await XentClass.create();
    const a = x.tensor('float32', [3]);
    const b = x.tensor('uint16', [3]);
    x.dispose();
    expect(x.disposed).toBe(true);
    expect(a.disposed && b.disposed).toBe(true);
    expect(() => a.data).toThrow(/its Xent instance was disposed/);
    expect(() => a.dispose()).toThrow(XentDisposedError);
    expect(() => x.tensor('float32', [1])).toThrow(XentDisposedError);
    expect(() =>
      x.crossEntropy({ data: new Float32Array(2), shape: [2] }, { data: new Int32Array(1), shape: [] }),
    ).toThrow(XentDisposedError);
    expect(x.memoryStats().liveTensors).toBe(0);
    x.dispose(); // idempotent
  });

  it('using on the Xent instance', async () => {
    let t: lib.Tensor | undefined;
    {
      using x = await XentClass.create();
      t = x.tensor('float32', [1]);
    }
    expect(t.disposed).toBe(true);
  });
});

describe('autoFree', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  it.runIf(typeof gc === 'function')('frees tensors that were garbage-collected without dispose (opt-in)', async () => {
    await withXent(
      async (x) => {
        (() => {
          for (let i = 0; i < 10; i++) x.tensor('float32', [1000]);
        })();
        expect(x.memoryStats().liveTensors).toBe(10);
        for (let i = 0; i < 50 && x.memoryStats().liveTensors > 0; i++) {
          gc!();
          await new Promise((r) => setTimeout(r, 10));
        }
        expect(x.memoryStats().liveTensors).toBe(0);
        const kept = x.tensor('float32', [10]);
        gc!();
        await new Promise((r) => setTimeout(r, 10));
        expect(kept.data.length).toBe(10);
        expect(x.memoryStats().liveTensors).toBe(1);
      },
      { autoFree: true },
    );
  });
});

describe('memoryStats and the allocator', () => {
  it('counts bytes and tensors', async () => {
    await withXent((x) => {
      const s0 = x.memoryStats();
      expect(s0.liveTensors).toBe(0);
      expect(s0.bytesReserved).toBe(x.memory.buffer.byteLength);
      const a = x.tensor('float32', [100]); // 400 → 448 bytes
      const b = x.tensor('uint8', [1]); // → 64 bytes
      const s1 = x.memoryStats();
      expect(s1.liveTensors).toBe(2);
      expect(s1.bytesInUse - s0.bytesInUse).toBe(448 + 64);
      a.dispose();
      b.dispose();
      expect(x.memoryStats()).toEqual(s0);
    });
  });

  it('zero-size tensors get distinct, aligned, non-zero offsets', async () => {
    await withXent((x) => {
      const ts = [x.tensor('float32', [0]), x.tensor('uint8', [3, 0, 2]), x.tensor('int32', [0])];
      const offs = ts.map((t) => t.byteOffset);
      expect(new Set(offs).size).toBe(3);
      for (const t of ts) {
        expect(t.byteOffset).toBeGreaterThan(0);
        expect(t.byteOffset % 64).toBe(0);
        expect(t.size).toBe(0);
        expect(t.data.length).toBe(0);
      }
    });
  });

  it('tensors are 64-byte aligned, zero-filled, and freed memory is reused', async () => {
    await withXent((x) => {
      const a = x.tensor('float32', [1000]);
      a.data.fill(7);
      const off = a.byteOffset;
      expect(off % 64).toBe(0);
      a.dispose();
      const b = x.tensor('float32', [1000]);
      expect(b.byteOffset).toBe(off); // best fit reuses the hole
      expect(b.data.every((v) => v === 0)).toBe(true); // zero-filled although the memory was dirty
      const c = x.tensorFrom(new Uint16Array([1, 2, 3]), [3]);
      expect(c.byteOffset % 64).toBe(0);
    });
  });

  it('throws XentOutOfMemoryError with the sizes when the memory cannot grow', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 40 });
    await withXent(
      (x) => {
        const a = x.tensor('float32', [100_000]);
        const before = x.memoryStats();
        let err: unknown;
        try {
          x.tensor('float32', [1 << 20]);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(XentOutOfMemoryError);
        const e = err as lib.XentOutOfMemoryError;
        expect(e.requestedBytes).toBe(4 << 20);
        expect(e.bytesInUse).toBe(before.bytesInUse);
        expect(e.message).toContain(`asked for ${4 << 20} bytes`);
        expect(e.message).toContain(`${before.bytesInUse} bytes`);
        expect(x.memoryStats()).toEqual(before);
        // Still usable afterwards.
        a.dispose();
        expect(x.tensor('float32', [1 << 19]).size).toBe(1 << 19);
      },
      { memory },
    );
  });

  it('an out-of-memory scratch allocation in crossEntropy frees what it took', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 40 });
    await withXent(
      (x) => {
        using _grad = x.tensor('float32', [1000, 2]);
        const before = x.memoryStats();
        const n = 1 << 20; // 8 MiB of plain logits: more than 40 pages
        expect(() =>
          x.crossEntropy({ data: new Float32Array(2 * n), shape: [n, 2] }, { data: new Uint8Array(n), shape: [n] }),
        ).toThrow(XentOutOfMemoryError);
        // The target fits, the loss map does not.
        expect(() =>
          x.crossEntropy(
            { data: new Float32Array(2 * 300_000), shape: [300_000, 2] },
            { data: new Uint8Array(300_000), shape: [300_000] },
            { reduction: 'none' },
          ),
        ).toThrow(XentOutOfMemoryError);
        expect(x.memoryStats().bytesInUse).toBe(before.bytesInUse);
        expect(x.memoryStats().liveTensors).toBe(before.liveTensors);
      },
      { memory },
    );
  });

  it('rejects tensors of 4 GiB or more before allocating', async () => {
    await withXent((x) => {
      const before = x.memoryStats();
      expect(() => x.tensor('float32', [1 << 30])).toThrow(XentOutOfMemoryError);
      expect(() => x.tensor('float32', [65536, 65536, 4])).toThrow(
        /tensor too large: tensor: a float32 tensor of shape \[65536, 65536, 4\]/,
      );
      expect(() => x.tensor('uint8', [2 ** 40])).toThrow(/at most 4 GiB/);
      expect(x.memoryStats()).toEqual(before);
    });
  });
});

/** Fills [from, to) of the wasm memory with a byte. */
function fillRaw(x: Xent, from: number, to: number, byte: number): void {
  new Uint8Array(x.memory.buffer, from, to - from).fill(byte);
}

describe('the kernel writes only its outputs', () => {
  const SENTINEL = 0xa5;
  const shapes: number[][] = [];
  for (const c of [1, 2, 3, 5, 19]) {
    for (let s = 1; s <= 33; s++) shapes.push([c % 2 ? 1 : 2, c, s]);
    shapes.push([3, c]);
    shapes.push([c]);
  }

  for (const reduction of ['none', 'mean'] as const) {
    it(`guard bytes around grad and the loss map (reduction ${reduction}, ${shapes.length} shapes, every tail mod 16)`, async () => {
      await withXent((x) => {
        for (const shape of shapes) {
          const unbatched = shape.length === 1;
          const C = unbatched ? shape[0]! : shape[1]!;
          const tShape = unbatched ? [] : [shape[0]!, ...shape.slice(2)];
          const samples = tShape.reduce((a, b) => a * b, 1);
          using logits = x.tensorFrom(
            Float32Array.from({ length: samples * C }, (_, i) => Math.sin(i)),
            shape,
          );
          using target = x.tensorFrom(
            Int32Array.from({ length: samples }, (_, i) => (i % 5 === 4 ? -100 : i % C)),
            tShape,
          );
          using gradOutput = x.tensorFrom(
            Float32Array.from({ length: samples }, (_, i) => 1 + i),
            tShape,
          );
          // Contiguous blocks: guard, grad, guard, loss map, guard (fresh blocks at the top).
          using g0 = x.tensor('uint8', [256]);
          using grad = x.tensor('float32', shape);
          using g1 = x.tensor('uint8', [256]);
          using loss = x.tensor('float32', tShape);
          using g2 = x.tensor('uint8', [256]);
          const from = g0.byteOffset;
          const to = g2.byteOffset + 256;
          const order = [g0, grad, g1, loss, g2].map((t) => t.byteOffset);
          expect(order, 'blocks in address order').toEqual([...order].sort((a, b) => a - b));
          fillRaw(x, from, to, SENTINEL); // also the padding of each block
          x.crossEntropy(logits, target, {
            reduction,
            grad,
            gradOutput: reduction === 'none' ? gradOutput : undefined,
            out: reduction === 'none' ? loss : undefined,
            labelSmoothing: 0.1,
          });
          const mem = new Uint8Array(x.memory.buffer);
          const inside = (p: number, t: lib.Tensor) => p >= t.byteOffset && p < t.byteOffset + t.byteLength;
          for (let p = from; p < to; p++) {
            if (inside(p, grad) || (reduction === 'none' && inside(p, loss))) continue;
            if (mem[p] !== SENTINEL) {
              throw new Error(
                `shape ${JSON.stringify(shape)}: byte ${p} outside the outputs was written (grad @${grad.byteOffset}+${grad.byteLength}, loss @${loss.byteOffset}+${loss.byteLength})`,
              );
            }
          }
          // Every element of the outputs was written.
          const untouched = (t: lib.Tensor) =>
            new Uint32Array(x.memory.buffer, t.byteOffset, t.size).indexOf(0xa5a5a5a5);
          expect(untouched(grad), `grad of ${JSON.stringify(shape)}`).toBe(-1);
          if (reduction === 'none') expect(untouched(loss), `loss map of ${JSON.stringify(shape)}`).toBe(-1);
        }
      });
    });
  }
});

describe('an erroring call writes nothing', () => {
  it('every kind of error leaves every live tensor and the stats unchanged', async () => {
    await withXent(async (x) => {
      const other = await XentClass.create();
      try {
        const logits = x.tensorFrom(
          Float32Array.from({ length: 2 * 3 * 17 }, (_, i) => Math.cos(i)),
          [2, 3, 17],
        );
        const badTarget = x.tensorFrom(
          Uint8Array.from({ length: 34 }, (_, i) => (i === 29 ? 3 : i % 3)),
          [2, 17],
        );
        const target = x.tensorFrom(
          Uint8Array.from({ length: 34 }, (_, i) => i % 3),
          [2, 17],
        );
        const grad = x.tensor('float32', [2, 3, 17]);
        const out = x.tensor('float32', [2, 17]);
        const gradOutput = x.tensorFrom(new Float32Array(34).fill(1), [2, 17]);
        grad.data.fill(-1.5);
        out.data.fill(2.5);
        const live = [logits, badTarget, target, grad, out, gradOutput];
        const hashAll = () => live.map((t) => hashBytes(new Uint8Array(x.memory.buffer, t.byteOffset, t.byteLength)));
        const foreign = other.tensor('float32', [2, 3, 17]);
        const disposed = x.tensor('float32', [2, 3, 17]);
        disposed.dispose();
        const calls: Array<[string, () => unknown, new (...a: never[]) => Error]> = [
          [
            'target out of bounds (none)',
            () => x.crossEntropy(logits, badTarget, { reduction: 'none', grad, gradOutput, out }),
            lib.XentTargetError,
          ],
          [
            'target out of bounds (mean, new loss tensor)',
            () => x.crossEntropy(logits, badTarget, { grad }),
            lib.XentTargetError,
          ],
          [
            'target out of bounds (none, plain inputs)',
            () =>
              x.crossEntropy(
                { data: logits.toArray(), shape: [2, 3, 17] },
                { data: badTarget.toArray(), shape: [2, 17] },
                { reduction: 'none' },
              ),
            lib.XentTargetError,
          ],
          ['grad shape', () => x.crossEntropy(logits, target, { grad: out }), lib.XentShapeError],
          ['alias', () => x.crossEntropy(logits, target, { grad: logits }), lib.XentAliasError],
          ['foreign', () => x.crossEntropy(logits, target, { grad: foreign }), lib.XentForeignTensorError],
          ['disposed', () => x.crossEntropy(logits, target, { grad: disposed }), lib.XentDisposedError],
          ['option', () => x.crossEntropy(logits, target, { grad, labelSmoothing: 2 }), lib.XentOptionError],
          ['weight', () => x.crossEntropy(logits, target, { grad, weight: [1, NaN, 1] }), lib.XentOptionError],
          [
            'gradOutput missing',
            () => x.crossEntropy(logits, target, { grad, reduction: 'none', out }),
            lib.XentOptionError,
          ],
        ];
        const stats = x.memoryStats();
        const before = hashAll();
        for (const [what, call, E] of calls) {
          expect(call, what).toThrow(E);
          expect(hashAll(), what).toEqual(before);
          expect(x.memoryStats(), what).toEqual(stats);
        }
        expect(Array.from(new Set(grad.data))).toEqual([-1.5]);
        expect(Array.from(new Set(out.data))).toEqual([2.5]);
      } finally {
        other.dispose();
      }
    });
  });
});
