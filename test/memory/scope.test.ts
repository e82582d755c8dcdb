/**
 * xent.scope(fn) and xent.keep(t) (ts/memory/scope.ts): every tensor created inside and not
 * returned or kept is disposed when fn returns or throws; memoryStats comes back to where it
 * started. Nested scopes, op outputs, async functions refused, dispose() inside, autoFree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as inline from '../../dist/inline.mjs';
import { lib, type Xent } from '../reference/dist.js';

const { Xent: XentClass, XentOptionError, XentDisposedError, XentForeignTensorError, XentDtypeError } = lib;

let x: Xent;
beforeAll(async () => {
  x = await XentClass.create();
});
afterAll(() => x.dispose());

/**
 * Logits (2, 3) and labels (2): the per-sample losses are log(e + e² + e³) − 3 ≈ 0.4076 and
 * log(e³ + e + 1) − 3 ≈ 0.1698, their mean ≈ 0.2887.
 */
function inputs(): { logits: Float32Array; labels: Uint8Array } {
  return { logits: new Float32Array([1, 2, 3, 3, 1, 0]), labels: new Uint8Array([2, 0]) };
}

function stats(): lib.MemoryStats {
  return x.memoryStats();
}

describe('scope', () => {
  it('disposes the tensors created inside (tensor, tensorFrom, op outputs); memoryStats back to the start', () => {
    const before = stats();
    const made: lib.Tensor[] = [];
    const loss = x.scope(() => {
      const { logits, labels } = inputs();
      const l = x.tensorFrom(logits, [2, 3]);
      const t = x.tensorFrom(labels);
      const grad = x.tensor('float32', [2, 3]);
      const r = x.crossEntropy(l, t, { grad, lossMap: true, confidence: true });
      const none = x.crossEntropy(l, t, { reduction: 'none' });
      const sm = x.softmax(l);
      const s = x.score(l, t, { lossMap: true });
      made.push(l, t, grad, r.lossMap, r.confidence, none.loss, sm, s.pred, s.lossMap);
      expect(stats().liveTensors).toBe(before.liveTensors + 9);
      return r.loss;
    });
    expect(loss).toBeCloseTo(0.2887, 3);
    expect(made.every((t) => t.disposed)).toBe(true);
    expect(stats()).toEqual(before);
  });

  it('keeps the tensors it returns: directly, in arrays and plain objects (nested), and an op result', () => {
    const before = stats();
    const { logits, labels } = inputs();
    const dropped: lib.Tensor[] = [];
    const out = x.scope(() => {
      const a = x.tensorFrom(logits, [2, 3]);
      const b = x.tensor('float32', [4]);
      const c = x.tensor('uint8', [4]);
      const d = x.tensor('int32', [1]);
      dropped.push(x.tensor('float32', [8]));
      const r = x.crossEntropy(a, { data: labels, shape: [2] }, { lossMap: true, reduction: 'none' });
      return { a, list: [b, { c }], nested: Object.assign(Object.create(null), { d }), r };
    });
    expect(dropped[0]!.disposed).toBe(true);
    const kept = [out.a, out.list[0] as lib.Tensor, (out.list[1] as { c: lib.Tensor }).c, out.nested.d];
    expect(out.r.lossMap).toBe(out.r.loss); // one tensor, for reduction 'none'
    kept.push(out.r.loss);
    expect(kept.every((t) => !t.disposed)).toBe(true);
    expect(out.r.loss.data[0]).toBeCloseTo(0.4076, 3);
    expect(stats().liveTensors).toBe(before.liveTensors + 5);
    for (const t of kept) t.dispose();
    expect(stats()).toEqual(before);

    const t = x.scope(() => x.tensor('float32', [3]));
    expect(t.disposed).toBe(false);
    t.dispose();
    expect(stats()).toEqual(before);
  });

  it('does not look into Maps, Sets, class instances or getters: those tensors are disposed', () => {
    const before = stats();
    class Box {
      constructor(readonly t: lib.Tensor) {}
    }
    const out = x.scope(() => {
      const g = x.tensor('float32', [1]);
      return {
        map: new Map([['t', x.tensor('float32', [1])]]),
        set: new Set([x.tensor('float32', [1])]),
        box: new Box(x.tensor('float32', [1])),
        get g() {
          return g;
        },
      };
    });
    expect(out.map.get('t')!.disposed).toBe(true);
    expect([...out.set][0]!.disposed).toBe(true);
    expect(out.box.t.disposed).toBe(true);
    expect(out.g.disposed).toBe(true);
    expect(stats()).toEqual(before);
  });

  it('handles a cyclic returned object', () => {
    const before = stats();
    const out = x.scope(() => {
      const o: { t: lib.Tensor; self?: unknown; list: unknown[] } = { t: x.tensor('float32', [2]), list: [] };
      o.self = o;
      o.list.push(o, o.list);
      return o;
    });
    expect(out.t.disposed).toBe(false);
    out.t.dispose();
    expect(stats()).toEqual(before);
  });

  it('disposes everything when fn throws, and rethrows what it threw', () => {
    const before = stats();
    let inner: lib.Tensor | undefined;
    const boom = new Error('boom');
    expect(() =>
      x.scope(() => {
        inner = x.tensor('float32', [16]);
        throw boom;
      }),
    ).toThrow(boom);
    expect(inner!.disposed).toBe(true);
    // An op's own error inside: its typed error comes through, the tensors made before are freed.
    expect(() =>
      x.scope(() => {
        const l = x.tensor('float32', [2, 3]);
        return x.crossEntropy(l, { data: new Uint8Array([7, 0]), shape: [2] }); // target 7 >= C = 3
      }),
    ).toThrow(lib.XentTargetError);
    expect(stats()).toEqual(before);
  });

  it('nested scopes: an inner scope returns to the outer, which disposes it unless it returns it too', () => {
    const before = stats();
    let fromInner: lib.Tensor | undefined;
    let innerDropped: lib.Tensor | undefined;
    let outerDropped: lib.Tensor | undefined;
    const result = x.scope(() => {
      outerDropped = x.tensor('float32', [1]);
      const kept = x.scope(() => {
        innerDropped = x.tensor('float32', [1]);
        fromInner = x.tensor('float32', [2]);
        return [fromInner, x.tensor('float32', [3])] as const;
      });
      expect(innerDropped!.disposed).toBe(true);
      expect(fromInner!.disposed).toBe(false);
      expect(outerDropped!.disposed).toBe(false);
      return kept[1]; // fromInner is not returned by the outer scope
    });
    expect(fromInner!.disposed).toBe(true);
    expect(outerDropped!.disposed).toBe(true);
    expect(result.disposed).toBe(false);
    expect(result.shape).toEqual([3]);
    result.dispose();
    expect(stats()).toEqual(before);
  });

  it('a throw in an inner scope caught by the outer one: the outer scope goes on and tracks its tensors', () => {
    const before = stats();
    const out = x.scope(() => {
      const a = x.tensor('float32', [1]);
      let innerT: lib.Tensor | undefined;
      try {
        x.scope(() => {
          innerT = x.tensor('float32', [1]);
          throw new Error('inner');
        });
      } catch {}
      expect(innerT!.disposed).toBe(true);
      const b = x.tensor('float32', [1]);
      return { a, bDisposedLater: b };
    });
    expect(out.a.disposed).toBe(false);
    expect(out.bDisposedLater.disposed).toBe(false);
    out.a.dispose();
    out.bDisposedLater.dispose();
    expect(stats()).toEqual(before);
  });

  it('dispose() inside a scope is fine; tensors created before the scope are not touched', () => {
    const before = stats();
    const outside = x.tensorFrom(inputs().logits, [2, 3]);
    const loss = x.scope(() => {
      const a = x.tensor('float32', [4]);
      a.dispose();
      const t = x.tensorFrom(inputs().labels);
      const r = x.crossEntropy(outside, t);
      t.dispose();
      return [r.loss, a] as const; // a disposed tensor returned: nothing to do
    });
    expect(loss[0]).toBeCloseTo(0.2887, 3);
    expect(outside.disposed).toBe(false);
    outside.dispose();
    expect(stats()).toEqual(before);
  });

  it('the tensors of an async call disposed by a scope: freed once the call settles, results still right', async () => {
    const y = await XentClass.create({ threads: 2, onWarning: null });
    try {
      const before = y.memoryStats();
      const logits = Float32Array.from({ length: 2 * 3 * 64 * 64 }, (_, i) => Math.sin(i));
      const labels = Uint8Array.from({ length: 2 * 64 * 64 }, (_, i) => i % 3);
      let grad: lib.Tensor<'float32'> | undefined;
      const pending = y.scope(() => {
        const l = y.tensorFrom(logits, [2, 3, 64, 64]);
        grad = y.tensor('float32', [2, 3, 64, 64]);
        return { call: y.crossEntropyAsync(l, { data: labels, shape: [2, 64, 64] }, { grad }) };
      });
      expect(grad!.disposed).toBe(true); // disposed at once; its block waits for the call
      const { loss } = await pending.call;
      expect(loss).toBeCloseTo(
        y.crossEntropy({ data: logits, shape: [2, 3, 64, 64] }, { data: labels, shape: [2, 64, 64] }).loss,
        6,
      );
      expect(y.memoryStats()).toEqual(before);
    } finally {
      y.dispose();
    }
  });

  it('keep(t): survives every open scope, returns t; the caller disposes it; outside a scope it does nothing', () => {
    const before = stats();
    let kept: lib.Tensor | undefined;
    let dropped: lib.Tensor | undefined;
    x.scope(() => {
      x.scope(() => {
        const r = x.crossEntropy(
          x.tensorFrom(inputs().logits, [2, 3]),
          { data: inputs().labels, shape: [2] },
          {
            lossMap: true,
          },
        );
        kept = x.keep(r.lossMap);
        expect(kept).toBe(r.lossMap);
        dropped = x.tensor('float32', [1]);
      });
      expect(kept!.disposed).toBe(false);
    });
    expect(dropped!.disposed).toBe(true);
    expect(kept!.disposed).toBe(false);
    expect(kept!.data[0]).toBeCloseTo(0.4076, 3);
    expect(stats().liveTensors).toBe(before.liveTensors + 1);
    kept!.dispose();
    const t = x.tensor('float32', [1]);
    expect(x.keep(t)).toBe(t); // outside a scope: nothing to do
    x.keep(t);
    t.dispose();
    expect(x.keep(t)).toBe(t); // a disposed tensor: nothing to do either
    expect(stats()).toEqual(before);
  });

  it('keep(): a typed error for a non-tensor, a tensor of another instance or another copy', async () => {
    expect(() => x.keep({ data: new Float32Array(1), shape: [1] } as never)).toThrow(XentDtypeError);
    expect(() => x.keep(null as never)).toThrow(/keep: expected a Tensor, got null/);
    const other = await XentClass.create();
    const ix = await inline.Xent.create();
    try {
      const t = other.tensor('float32', [1]);
      expect(() => x.keep(t)).toThrow(XentForeignTensorError);
      const it2 = ix.tensor('float32', [1]);
      expect(() => x.keep(it2 as never)).toThrow(XentForeignTensorError);
    } finally {
      other.dispose();
      ix.dispose();
    }
  });

  it('scopes are per instance: the tensors of another instance are not tracked', async () => {
    const other = await XentClass.create();
    try {
      let t: lib.Tensor | undefined;
      x.scope(() => {
        t = other.tensor('float32', [1]);
      });
      expect(t!.disposed).toBe(false);
      expect(other.memoryStats().liveTensors).toBe(1);
    } finally {
      other.dispose();
    }
  });

  it('refuses a promise (an async fn) with XentOptionError, after disposing what it had created', async () => {
    const before = stats();
    let early: lib.Tensor | undefined;
    let late: unknown;
    const e = (() => {
      try {
        x.scope(async () => {
          early = x.tensor('float32', [1]);
          await null;
          late = early.data; // the scope has ended: disposed
        });
      } catch (err) {
        return err as Error;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(XentOptionError);
    expect(e!.message).toMatch(/^scope: fn returned a promise/);
    expect(early!.disposed).toBe(true);
    await new Promise((r) => setTimeout(r, 0)); // the abandoned promise rejected, handled by scope
    expect(late).toBeUndefined();
    expect(stats()).toEqual(before);
    // The scope stack is intact: a later scope works.
    expect(x.scope(() => 1)).toBe(1);
  });

  it('a returned value that throws when looked into (a revoked Proxy): its error, everything disposed', () => {
    const before = stats();
    let t: lib.Tensor | undefined;
    expect(() =>
      x.scope(() => {
        t = x.tensor('float32', [1]);
        const { proxy, revoke } = Proxy.revocable({ t }, {});
        revoke();
        return proxy;
      }),
    ).toThrow(TypeError);
    expect(t!.disposed).toBe(true);
    expect(stats()).toEqual(before);
    expect(x.scope(() => 2)).toBe(2); // the scope stack is intact
  });

  it('refuses a non-function with XentOptionError; a disposed instance with XentDisposedError', async () => {
    expect(() => x.scope(42 as never)).toThrow(XentOptionError);
    expect(() => x.scope(42 as never)).toThrow(/scope: fn must be a function, got/);
    const y = await XentClass.create();
    y.dispose();
    expect(() => y.scope(() => 1)).toThrow(XentDisposedError);
    const { scope } = x;
    expect(() => scope(() => 1)).toThrow(lib.XentError);
  });

  it('the instance disposed inside a scope: the scope ends without errors', async () => {
    const y = await XentClass.create();
    let t: lib.Tensor | undefined;
    const r = y.scope(() => {
      t = y.tensor('float32', [1]);
      y.dispose();
      return 5;
    });
    expect(r).toBe(5);
    expect(t!.disposed).toBe(true);
    expect(y.memoryStats().liveTensors).toBe(0);
  });

  it('with autoFree: returned tensors stay registered, disposed ones are not freed twice', async () => {
    const y = await XentClass.create({ autoFree: true });
    try {
      const before = y.memoryStats();
      const t = y.scope(() => {
        y.tensor('float32', [100]);
        return y.tensor('float32', [100]);
      });
      expect(y.memoryStats().liveTensors).toBe(1);
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) {
        for (let i = 0; i < 5; i++) {
          gc();
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      expect(y.memoryStats().liveTensors).toBe(1); // the scope's disposed tensor is not freed twice
      t.dispose();
      expect(y.memoryStats()).toEqual(before);
    } finally {
      y.dispose();
    }
  });
});
