/**
 * Seeded fuzzing of issue 16's goal, "no public call can corrupt a tensor it was not given as an
 * output", against the published package:
 *
 * - metadata tampering: a random op's output has its shape, size, dtype or byteLength
 *   "changed" (assignment, defineProperty on the instance, a getter on Tensor.prototype) to
 *   something larger, and the inputs are made for the larger size;
 * - shared memories: random creates and disposes of instances of the main entry and of
 *   `xent-wasm/inline` on a few `WebAssembly.Memory` objects, with tensors and ops in between;
 * - dispose during flight: crossEntropyAsync calls on worker threads whose tensors are randomly
 *   disposed, refilled or passed to other calls while pending.
 *
 * After every step, sentinel tensors filled with random bytes must be unchanged, every error
 * must be an XentError, and results must equal a synchronous reference.
 *
 * Reproduce with XENT_ISOLATION_SEED=<seed> (and XENT_ISOLATION_CASES=<n>, default 2000).
 */
import { describe, expect, it } from 'vitest';
import { lib, type Xent } from '../reference/dist.js';
import { Rng } from '../reference/rng.js';

const BASE_SEED = Number(process.env.XENT_ISOLATION_SEED ?? 0x16);
const CASES = Number(process.env.XENT_ISOLATION_CASES ?? 2000);
type Lib = typeof lib;

function caseSeed(i: number): number {
  return (Math.imul(BASE_SEED ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}

/** A tensor filled with random bytes, and a check that it still holds them. */
interface Sentinel {
  t: lib.Tensor;
  bytes: Uint8Array;
}

function sentinel(x: Xent, rng: Rng): Sentinel {
  const dtype = rng.pick(['float32', 'uint8', 'uint16', 'int32'] as const);
  const t = x.tensor(dtype, [rng.int(0, 300)]);
  const bytes = Uint8Array.from({ length: t.byteLength }, () => rng.int(0, 255));
  new Uint8Array(x.memory.buffer, t.byteOffset, t.byteLength).set(bytes);
  return { t, bytes };
}

function changed(x: Xent, sentinels: readonly Sentinel[]): string | undefined {
  for (const [i, s] of sentinels.entries()) {
    if (s.t.disposed) continue;
    const now = new Uint8Array(x.memory.buffer, s.t.byteOffset, s.t.byteLength);
    for (let j = 0; j < now.length; j++) {
      if (now[j] !== s.bytes[j]) return `sentinel ${i} (${String(s.t)}) byte ${j}: ${s.bytes[j]} -> ${now[j]}`;
    }
  }
  return undefined;
}

async function outcome(f: () => unknown): Promise<unknown> {
  try {
    const r = f();
    if (r instanceof Promise) await r;
    return undefined;
  } catch (e) {
    return e;
  }
}

type Prop = 'shape' | 'size' | 'dtype' | 'byteLength';

/** Tries to make `victim[prop]` read `value`, by one of three means; returns the undo. */
function tamper(victim: lib.Tensor, prop: Prop, value: unknown, how: 'assign' | 'define' | 'proto'): () => void {
  if (how === 'assign') {
    try {
      (victim as unknown as Record<string, unknown>)[prop] = value;
    } catch {
      // strict mode: TypeError
    }
    return () => undefined;
  }
  if (how === 'define') {
    try {
      Object.defineProperty(victim, prop, { value, configurable: true });
    } catch {
      // frozen: TypeError
    }
    return () => undefined;
  }
  const proto = lib.Tensor.prototype;
  const saved = Object.getOwnPropertyDescriptor(proto, prop);
  Object.defineProperty(proto, prop, {
    configurable: true,
    get(this: lib.Tensor) {
      return this === victim ? value : saved?.get?.call(this);
    },
  });
  return () => {
    if (saved) Object.defineProperty(proto, prop, saved);
    else delete (proto as unknown as Record<string, unknown>)[prop];
  };
}

interface Op {
  name: string;
  /** The victim's dtype and shape for a problem of n samples and c classes. */
  out(n: number, c: number): { dtype: lib.DType; shape: number[] };
  run(x: Xent, victim: lib.Tensor, logits: lib.PlainTensor<Float32Array>, target: lib.PlainTensor<Int32Array>): unknown;
}

const f32 = (t: lib.Tensor) => t as lib.Tensor<'float32'>;
const OPS: Op[] = [
  {
    name: 'crossEntropy grad',
    out: (n, c) => ({ dtype: 'float32', shape: [n, c] }),
    run: (x, v, l, t) => x.crossEntropy(l, t, { grad: f32(v), labelSmoothing: 0.1 }),
  },
  {
    name: 'crossEntropy lossMap',
    out: (n) => ({ dtype: 'float32', shape: [n] }),
    run: (x, v, l, t) => x.crossEntropy(l, t, { lossMap: f32(v) }),
  },
  {
    name: 'crossEntropy confidence',
    out: (n) => ({ dtype: 'float32', shape: [n] }),
    run: (x, v, l, t) => x.crossEntropy(l, t, { confidence: f32(v) }),
  },
  {
    name: "crossEntropy out ('none')",
    out: (n) => ({ dtype: 'float32', shape: [n] }),
    run: (x, v, l, t) => x.crossEntropy(l, t, { reduction: 'none', out: f32(v) }),
  },
  {
    name: 'crossEntropyAsync grad',
    out: (n, c) => ({ dtype: 'float32', shape: [n, c] }),
    run: (x, v, l, t) => x.crossEntropyAsync(l, t, { grad: f32(v) }),
  },
  {
    name: 'nllLoss grad',
    out: (n, c) => ({ dtype: 'float32', shape: [n, c] }),
    run: (x, v, l, t) => x.nllLoss(l, t, { grad: f32(v) }),
  },
  {
    name: "nllLoss out ('none')",
    out: (n) => ({ dtype: 'float32', shape: [n] }),
    run: (x, v, l, t) => x.nllLoss(l, t, { reduction: 'none', out: f32(v) }),
  },
  {
    name: 'softmax out',
    out: (n, c) => ({ dtype: 'float32', shape: [n, c] }),
    run: (x, v, l) => x.softmax(l, { out: f32(v) }),
  },
  {
    name: 'logSoftmax out',
    out: (n, c) => ({ dtype: 'float32', shape: [n, c] }),
    run: (x, v, l) => x.logSoftmax(l, { out: f32(v) }),
  },
  {
    name: 'softmaxBackward out',
    out: (n, c) => ({ dtype: 'float32', shape: [n, c] }),
    run: (x, v, l) => x.softmaxBackward(l, l, { out: f32(v) }),
  },
  {
    name: 'logSoftmaxBackward out',
    out: (n, c) => ({ dtype: 'float32', shape: [n, c] }),
    run: (x, v, l) => x.logSoftmaxBackward(l, l, { out: f32(v) }),
  },
  {
    name: 'score lossMap + predConfidence',
    out: (n) => ({ dtype: 'float32', shape: [n] }),
    run: (x, v, l, t) => {
      const r = x.score(l, t, { lossMap: f32(v), predConfidence: true });
      r.pred.dispose();
      r.predConfidence.dispose();
    },
  },
  {
    name: 'score pred',
    out: (n) => ({ dtype: 'uint8', shape: [n] }),
    run: (x, v, l, t) => x.score(l, t, { pred: v as lib.Tensor<'uint8'> }),
  },
  {
    name: 'scorer update (reads only)',
    out: (n, c) => ({ dtype: 'float32', shape: [n, c] }),
    run: (x, v, _l, t) => {
      using s = x.scorer(v.shape[1] ?? 1);
      return s.update(f32(v), t);
    },
  },
];

describe('fuzz: metadata tampering', () => {
  it(`${CASES} cases: nothing outside the outputs changes, errors are XentErrors`, async () => {
    using x = await lib.Xent.create();
    const failures: string[] = [];
    for (let i = 0; i < CASES && failures.length < 5; i++) {
      const seed = caseSeed(i);
      const rng = new Rng(seed);
      const op = rng.pick(OPS);
      const n = rng.int(1, 8);
      const c = rng.int(1, 6);
      const sentinels: Sentinel[] = [];
      for (let k = rng.int(0, 3); k > 0; k--) sentinels.push(sentinel(x, rng));
      const spec = op.out(n, c);
      const victim = x.tensor(spec.dtype, spec.shape);
      for (let k = rng.int(1, 4); k > 0; k--) sentinels.push(sentinel(x, rng));
      // The enlarged problem the tampering pretends the victim fits.
      const bigN = n + rng.int(1, 200);
      const bigShape = spec.shape.length === 2 ? [bigN, c] : [bigN];
      const bigSize = bigShape.reduce((a, b) => a * b, 1);
      const prop = rng.pick(['shape', 'size', 'dtype', 'byteLength'] as const);
      const value =
        prop === 'shape'
          ? Object.freeze(bigShape)
          : prop === 'size'
            ? bigSize
            : prop === 'dtype'
              ? rng.pick(['float32', 'int32', 'uint16'])
              : bigSize * 4;
      const how = rng.pick(['assign', 'define', 'proto'] as const);
      // With a bigger shape the inputs are the big problem; otherwise the real one.
      const inN = prop === 'shape' || prop === 'size' || prop === 'byteLength' ? bigN : n;
      const logits = { data: Float32Array.from({ length: inN * c }, () => rng.normal() * 3), shape: [inN, c] };
      const target = { data: Int32Array.from({ length: inN }, () => rng.int(0, c - 1)), shape: [inN] };
      const undo = tamper(victim, prop, value, how);
      let err: unknown;
      try {
        err = await outcome(() => op.run(x, victim, logits, target));
      } finally {
        undo();
      }
      const where = `seed ${seed} (${op.name}, ${prop} -> ${JSON.stringify(value)} by ${how})`;
      const bad = changed(x, sentinels);
      if (bad) failures.push(`${where}: ${bad}`);
      if (err !== undefined && !(err instanceof lib.XentError)) failures.push(`${where}: threw ${String(err)}`);
      if (inN !== n && err === undefined) failures.push(`${where}: the enlarged problem was accepted`);
      victim.dispose();
      for (const s of sentinels) s.t.dispose();
    }
    expect(failures).toEqual([]);
    expect(x.memoryStats().liveTensors).toBe(0);
  });
});

describe('fuzz: shared memories', () => {
  it('random creates and disposes on a few memories, by both entries: one owner each; no tensor changes', async () => {
    const inline = (await import('../../dist/inline.mjs')) as unknown as Lib;
    const entries = [lib, inline];
    const memories = [0, 1, 2].map(() => new WebAssembly.Memory({ initial: 2, maximum: 2000 }));
    const rng = new Rng(BASE_SEED ^ 0x2222);
    interface Live {
      x: Xent;
      sentinels: Sentinel[];
    }
    const live = new Map<WebAssembly.Memory, Live>();
    const everyone = () => [...live.values()];
    const steps = Math.max(40, Math.round(CASES / 3));
    try {
      for (let step = 0; step < steps; step++) {
        const action = rng.pick(['create', 'create', 'tensor', 'tensor', 'op', 'op', 'dispose'] as const);
        const where = `step ${step} (${action})`;
        if (action === 'create') {
          const memory = rng.pick(memories);
          const entry = rng.pick(entries);
          const made = await entry.Xent.create({ memory }).then(
            (x) => x,
            (e: unknown) => e,
          );
          if (live.has(memory)) {
            expect((made as Error).name, where).toBe('XentMemoryInUseError');
          } else {
            expect(made, where).toHaveProperty('memory', memory);
            live.set(memory, { x: made as Xent, sentinels: [] });
          }
        } else if (action === 'tensor' && live.size > 0) {
          const l = rng.pick(everyone());
          l.sentinels.push(sentinel(l.x, rng));
        } else if (action === 'op' && live.size > 0) {
          const l = rng.pick(everyone());
          const n = rng.int(1, 40);
          const c = rng.int(2, 9);
          using grad = l.x.tensor('float32', [n, c]);
          const r = l.x.crossEntropy(
            { data: Float32Array.from({ length: n * c }, () => rng.normal()), shape: [n, c] },
            { data: Int32Array.from({ length: n }, () => rng.int(0, c - 1)), shape: [n] },
            { grad, lossMap: true },
          );
          r.lossMap.dispose();
        } else if (action === 'dispose' && live.size > 0) {
          const l = rng.pick(everyone());
          l.x.dispose();
          live.delete(l.x.memory);
        }
        for (const l of everyone()) {
          const bad = changed(l.x, l.sentinels);
          if (bad) throw new Error(`${where}: ${bad}`);
        }
      }
    } finally {
      for (const l of everyone()) l.x.dispose();
    }
  });
});

describe('fuzz: dispose during flight', () => {
  it('pending crossEntropyAsync calls with tensors disposed, refilled and reused meanwhile', async () => {
    using x = await lib.Xent.create({ threads: 2, minElementsPerThread: 1 });
    expect(x.threads).toBe(2);
    const cases = Math.max(20, Math.round(CASES / 10));
    for (let i = 0; i < cases; i++) {
      const seed = caseSeed(i) ^ 0x3333;
      const rng = new Rng(seed);
      const n = rng.int(1, 3);
      const c = rng.int(2, 12);
      const hw = rng.int(1, 64);
      const shape = [n, c, hw];
      const map = [n, hw];
      const logitsData = Float32Array.from({ length: n * c * hw }, () => rng.normal() * 3);
      const labels = Int32Array.from({ length: n * hw }, () => rng.int(0, c - 1));
      // The reference, synchronously.
      let ref: { loss: number; grad: Float32Array; lossMap: Float32Array };
      {
        using g = x.tensor('float32', shape);
        const r = x.crossEntropy({ data: logitsData, shape }, { data: labels, shape: map }, { grad: g, lossMap: true });
        ref = { loss: r.loss, grad: g.toArray(), lossMap: r.lossMap.toArray() };
        r.lossMap.dispose();
      }
      const stats = () => {
        const m = x.memoryStats();
        return [m.bytesInUse, m.liveTensors];
      };
      const before = stats();
      const sentinels: Sentinel[] = [];
      const logits = x.tensorFrom(logitsData, shape);
      const target = x.tensorFrom(labels, map);
      const grad = x.tensor('float32', shape);
      const lossMap = x.tensor('float32', map);
      const all = { logits, target, grad, lossMap };
      const pending = x.crossEntropyAsync(logits, target, { grad, lossMap });
      const where = `seed ${seed}`;
      // Meanwhile: dispose some, allocate and fill new tensors, try to write the busy ones.
      const disposed = new Set<string>();
      for (const [name, t] of Object.entries(all)) {
        if (rng.chance(0.5)) {
          t.dispose();
          disposed.add(name);
        }
      }
      for (let k = rng.int(1, 5); k > 0; k--) sentinels.push(sentinel(x, rng));
      for (let k = rng.int(0, 2); k > 0; k--) {
        const name = rng.pick(Object.keys(all) as Array<keyof typeof all>);
        const t = all[name];
        const err = await outcome(() =>
          name === 'grad' || name === 'logits'
            ? x.crossEntropy({ data: logitsData, shape }, { data: labels, shape: map }, { grad: f32(t) })
            : x.softmax({ data: new Float32Array(t.size), shape: [...t.shape] }, { out: f32(t) }),
        );
        const want = disposed.has(name) ? lib.XentDisposedError : lib.XentBusyError;
        expect(err, `${where}: ${name} used as an output while pending`).toBeInstanceOf(want);
      }
      const r = await pending;
      expect(r.loss, where).toBe(ref.loss);
      if (!disposed.has('grad')) expect(grad.toArray(), where).toEqual(ref.grad);
      if (!disposed.has('lossMap')) expect(lossMap.toArray(), where).toEqual(ref.lossMap);
      const bad = changed(x, sentinels);
      if (bad) throw new Error(`${where}: ${bad}`);
      for (const [name, t] of Object.entries(all)) if (!disposed.has(name)) t.dispose();
      for (const s of sentinels) s.t.dispose();
      // Every deferred free happened when the call settled.
      expect(stats(), where).toEqual(before);
    }
  });
});
