/**
 * Issue 16, item 3: the tensors of a pending crossEntropyAsync call (on the worker threads) are
 * protected until it settles. dispose() is allowed (and `using` blocks work) but the block is
 * freed only when the call settles, so no new tensor can be given memory the workers still
 * read or write; another call may not write them (nor read the ones the pending call writes):
 * XentBusyError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lib, type Xent } from '../reference/dist.js';
import { Rng } from '../reference/rng.js';

const SHAPE = [2, 7, 96, 96];
const MAP = [2, 96, 96];
const SIZE = SHAPE.reduce((a, b) => a * b, 1);
const SAMPLES = MAP.reduce((a, b) => a * b, 1);

let x: Xent;
let logitsData: Float32Array;
let labels: Uint8Array;
beforeAll(async () => {
  x = await lib.Xent.create({ threads: 2, minElementsPerThread: 1 });
  const rng = new Rng(16);
  logitsData = Float32Array.from({ length: SIZE }, () => rng.normal() * 2);
  labels = Uint8Array.from({ length: SAMPLES }, () => rng.int(0, 6));
});
afterAll(() => x?.dispose());

/** The reference result of the problem (synchronously, with its gradient). */
function reference(): { loss: number; grad: Float32Array } {
  using logits = x.tensorFrom(logitsData, SHAPE);
  using target = x.tensorFrom(labels, MAP);
  using grad = x.tensor('float32', SHAPE);
  const { loss } = x.crossEntropy(logits, target, { grad });
  return { loss, grad: grad.toArray() };
}

describe('disposing a tensor of a pending crossEntropyAsync call', () => {
  it('the threads are really used', () => {
    expect(x.threads).toBe(2);
  });

  it('grad: the block is kept until the call settles; a new tensor gets other memory and is not overwritten', async () => {
    using logits = x.tensorFrom(logitsData, SHAPE);
    using target = x.tensorFrom(labels, MAP);
    const before = x.memoryStats();
    const grad = x.tensor('float32', SHAPE);
    const offset = grad.byteOffset;
    const pending = x.crossEntropyAsync(logits, target, { grad });
    grad.dispose();
    expect(grad.disposed).toBe(true);
    expect(() => grad.data).toThrow(lib.XentDisposedError);
    expect(() => grad.dispose()).toThrow(lib.XentDisposedError);
    using victim = x.tensor('float32', SHAPE);
    victim.data.fill(42);
    expect(victim.byteOffset).not.toBe(offset);
    expect(x.memoryStats().liveTensors).toBe(before.liveTensors + 2); // grad's block is still held
    const r = await pending;
    expect(r.loss).toBe(reference().loss);
    expect(victim.data.every((v) => v === 42)).toBe(true);
    expect(x.memoryStats().liveTensors).toBe(before.liveTensors + 1); // freed when the call settled
    using again = x.tensor('float32', SHAPE);
    expect(again.byteOffset).toBe(offset); // and reusable afterwards
  });

  it('a using block that ends before the call settles', async () => {
    using logits = x.tensorFrom(logitsData, SHAPE);
    using target = x.tensorFrom(labels, MAP);
    let pending: Promise<unknown>;
    {
      using grad = x.tensor('float32', SHAPE);
      using lossMap = x.tensor('float32', MAP);
      pending = x.crossEntropyAsync(logits, target, { grad, lossMap, confidence: true });
    }
    using a = x.tensor('float32', SHAPE);
    using b = x.tensor('float32', MAP);
    a.data.fill(-3);
    b.data.fill(-3);
    const r = (await pending) as { confidence: lib.Tensor<'float32'> };
    r.confidence.dispose();
    expect(a.data.every((v) => v === -3)).toBe(true);
    expect(b.data.every((v) => v === -3)).toBe(true);
  });

  it('inputs: disposing logits and target does not let new data into the pending call', async () => {
    const ref = reference();
    const logits = x.tensorFrom(logitsData, SHAPE);
    const target = x.tensorFrom(labels, MAP);
    using grad = x.tensor('float32', SHAPE);
    const pending = x.crossEntropyAsync(logits, target, { grad });
    logits.dispose();
    target.dispose();
    using junk = x.tensor('float32', SHAPE);
    using junkLabels = x.tensor('uint8', MAP);
    junk.data.fill(1e30);
    junkLabels.data.fill(200);
    const r = await pending;
    expect(r.loss).toBe(ref.loss);
    expect(grad.toArray()).toEqual(ref.grad);
  });

  it('a call that fails on the workers releases its tensors too', async () => {
    using logits = x.tensorFrom(logitsData, SHAPE);
    const bad = labels.slice();
    bad[SAMPLES - 5] = 9;
    using target = x.tensorFrom(bad, MAP);
    const grad = x.tensor('float32', SHAPE);
    const offset = grad.byteOffset;
    const pending = x.crossEntropyAsync(logits, target, { grad, ignoreIndex: 255 });
    grad.dispose();
    await expect(pending).rejects.toBeInstanceOf(lib.XentTargetError);
    using again = x.tensor('float32', SHAPE);
    expect(again.byteOffset).toBe(offset);
    expect(target.disposed).toBe(false);
  });

  it('a scope that ends before the call settles: its new outputs keep their blocks until then', async () => {
    using logits = x.tensorFrom(logitsData, SHAPE);
    using target = x.tensorFrom(labels, MAP);
    const before = x.memoryStats();
    // The scope disposes the call's new lossMap and confidence (created inside, not returned).
    const pending = x.scope(() => {
      const p = x.crossEntropyAsync(logits, target, { lossMap: true, confidence: true });
      return [p];
    })[0]!;
    using a = x.tensor('float32', MAP);
    using b = x.tensor('float32', MAP);
    a.data.fill(-3);
    b.data.fill(-3);
    const r = (await pending) as { loss: number; lossMap: lib.Tensor<'float32'>; confidence: lib.Tensor<'float32'> };
    expect(r.loss).toBe(reference().loss);
    expect(r.lossMap.disposed).toBe(true);
    expect(a.data.every((v) => v === -3)).toBe(true);
    expect(b.data.every((v) => v === -3)).toBe(true);
    expect(x.memoryStats().liveTensors).toBe(before.liveTensors + 2);
  });

  it('a scope that ends before a failing call settles: the call rejects with its own error', async () => {
    using logits = x.tensorFrom(logitsData, SHAPE);
    const bad = labels.slice();
    bad[SAMPLES - 5] = 9;
    using target = x.tensorFrom(bad, MAP);
    const before = x.memoryStats();
    const pending = x.scope(() => [x.crossEntropyAsync(logits, target, { lossMap: true, ignoreIndex: 255 })])[0]!;
    await expect(pending).rejects.toBeInstanceOf(lib.XentTargetError);
    expect(x.memoryStats()).toEqual(before);
  });

  it('disposing the instance while a disposed tensor waits for its call', async () => {
    const y = await lib.Xent.create({ threads: 2, minElementsPerThread: 1 });
    const logits = y.tensorFrom(logitsData, SHAPE);
    const grad = y.tensor('float32', SHAPE);
    const pending = y.crossEntropyAsync(logits, { data: labels, shape: MAP }, { grad });
    grad.dispose();
    y.dispose();
    await expect(pending).rejects.toBeInstanceOf(lib.XentDisposedError);
    expect(logits.disposed).toBe(true);
  });
});

describe('other calls and the tensors of a pending call', () => {
  it('may not write them, nor read what the pending call writes (XentBusyError); may read its inputs', async () => {
    using logits = x.tensorFrom(logitsData, SHAPE);
    using target = x.tensorFrom(labels, MAP);
    using grad = x.tensor('float32', SHAPE);
    using other = x.tensor('float32', SHAPE);
    const pending = x.crossEntropyAsync(logits, target, { grad });
    const busy: Array<[string, () => unknown]> = [
      ['grad as the grad of a sync call', () => x.crossEntropy(logits, target, { grad })],
      ['grad as the grad of another async call', () => x.crossEntropyAsync(logits, target, { grad })],
      ['grad as an input', () => x.softmax(grad)],
      ['logits as an output', () => x.softmax(other, { out: logits })],
    ];
    for (const [name, f] of busy) {
      let err: unknown;
      try {
        await f();
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(lib.XentBusyError);
      expect((err as Error).message, name).toMatch(/pending crossEntropyAsync call/);
    }
    // Reading the pending call's inputs is fine.
    const during = x.crossEntropy(logits, target, { grad: other });
    const r = await pending;
    expect(during.loss).toBe(r.loss);
    expect(other.toArray()).toEqual(grad.toArray());
    // Once settled, everything is free again.
    expect(() => x.crossEntropy(logits, target, { grad })).not.toThrow();
    expect(() => x.softmax(other, { out: logits })).not.toThrow();
  });
});
