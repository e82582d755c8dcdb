/**
 * Runtime tensors as inputs: the output tensors of the real onnxruntime-web (wasm backend, in
 * Node) passed straight to the ops, compared with the same calls on plain Float32Array data of
 * the same values (bit-identical); the types that are refused, and why.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { bitIdentical } from '../reference/compare.js';
import { lib, type Xent } from '../reference/dist.js';
import { Rng } from '../reference/rng.js';

/** The parts of bench/peers/onnx-model.mjs (an ONNX protobuf encoder in plain JS) used here. */
interface OnnxModelBuilder {
  DT: { FLOAT: number; INT64: number };
  node(op: string, inputs: string[], outputs: string[], attrs?: Record<string, number | number[] | string>): Uint8Array;
  initializer(name: string, dataType: number, dims: number[], data: Float32Array | BigInt64Array): Uint8Array;
  valueInfo(name: string, elemType: number, dims: Array<number | string>): Uint8Array;
  model(graph: {
    name: string;
    nodes: Uint8Array[];
    inputs: Uint8Array[];
    outputs: Uint8Array[];
    initializers?: Uint8Array[];
  }): Uint8Array;
}

const FLOAT16 = 10; // ONNX TensorProto.DataType

const N = 1;
const CIN = 3;
const C = 5;
const H = 4;
const W = 6;

let x: Xent;
let ort: typeof Ort;
let session: Ort.InferenceSession;
let outputs: Ort.InferenceSession.OnnxValueMapType;
let inputPixels: Float32Array;

beforeAll(async () => {
  x = await lib.Xent.create();
  ort = await import('onnxruntime-web');
  const dist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = pathToFileURL(`${dist}/`).href;
  ort.env.logLevel = 'error';
  const onnx = (await import(new URL('../../bench/peers/onnx-model.mjs', import.meta.url).href)) as OnnxModelBuilder;
  // A 1x1 convolution from CIN input channels to C classes: NCHW logits [N, C, H, W]; and from
  // them ArgMax over the classes (int64 class ids [N, H, W]), Softmax over the classes (float32
  // probabilities) and a Cast to float16.
  const rng = new Rng(19);
  const weight = Float32Array.from({ length: C * CIN }, () => rng.normal());
  const bias = Float32Array.from({ length: C }, () => rng.normal());
  const { DT } = onnx;
  const bytes = onnx.model({
    name: 'ort_input_test',
    nodes: [
      onnx.node('Conv', ['pixels', 'weight', 'bias'], ['logits'], { kernel_shape: [1, 1] }),
      onnx.node('ArgMax', ['logits'], ['classes'], { axis: 1, keepdims: 0 }),
      onnx.node('Softmax', ['logits'], ['probs'], { axis: 1 }),
      onnx.node('Cast', ['logits'], ['logits16'], { to: FLOAT16 }),
    ],
    initializers: [
      onnx.initializer('weight', DT.FLOAT, [C, CIN, 1, 1], weight),
      onnx.initializer('bias', DT.FLOAT, [C], bias),
    ],
    inputs: [onnx.valueInfo('pixels', DT.FLOAT, [N, CIN, H, W])],
    outputs: [
      onnx.valueInfo('logits', DT.FLOAT, [N, C, H, W]),
      onnx.valueInfo('classes', DT.INT64, [N, H, W]),
      onnx.valueInfo('probs', DT.FLOAT, [N, C, H, W]),
      onnx.valueInfo('logits16', FLOAT16, [N, C, H, W]),
    ],
  });
  session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  inputPixels = Float32Array.from({ length: N * CIN * H * W }, () => rng.normal() * 3);
  outputs = await session.run({ pixels: new ort.Tensor('float32', inputPixels, [N, CIN, H, W]) });
}, 60_000);

afterAll(async () => {
  await session?.release();
  x?.dispose();
});

/** The float32 values of half-precision bits, from the format's definition. */
function halvesToFloat32(bits: Uint16Array): Float32Array {
  return Float32Array.from(bits, (h) => {
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    const v = e === 31 ? (m ? NaN : Infinity) : e === 0 ? 2 ** -14 * (m / 1024) : 2 ** (e - 15) * (1 + m / 1024);
    return h & 0x8000 ? -v : v;
  });
}

/** The same values as plain data, in a fresh array (no shared buffer with ONNX Runtime). */
function plain(t: Ort.Tensor): { data: Float32Array; shape: number[] } {
  expect(t.type).toBe('float32');
  return { data: Float32Array.from(t.data as Float32Array), shape: [...t.dims] };
}

function target(): { data: Int32Array; shape: number[] } {
  const rng = new Rng(7);
  return {
    data: Int32Array.from({ length: N * H * W }, () => (rng.chance(0.1) ? -100 : rng.int(0, C - 1))),
    shape: [N, H, W],
  };
}

describe('onnxruntime-web output tensors (real onnxruntime-web 1.30.0, wasm backend in Node)', () => {
  it('the model outputs NCHW float32 logits, int64 class ids and a float16 copy', () => {
    const logits = outputs.logits!;
    expect(logits).toBeInstanceOf(ort.Tensor);
    expect(logits.type).toBe('float32');
    expect(logits.dims).toEqual([N, C, H, W]);
    expect(logits.data).toBeInstanceOf(Float32Array);
    expect(outputs.classes!.type).toBe('int64');
    expect(outputs.classes!.data).toBeInstanceOf(BigInt64Array);
    expect(outputs.logits16!.type).toBe('float16');
  });

  it('crossEntropy(ortTensor, target): bit-identical to the same values as plain data, every reduction', () => {
    const logits = outputs.logits!;
    const t = target();
    for (const reduction of ['mean', 'sum'] as const) {
      const a = x.crossEntropy(logits, t, { reduction });
      const b = x.crossEntropy(plain(logits), t, { reduction });
      expect(Object.is(a.loss, b.loss)).toBe(true);
      expect(Object.is(a.sum, b.sum)).toBe(true);
      expect(Object.is(a.weightSum, b.weightSum)).toBe(true);
      expect(Number.isFinite(a.loss)).toBe(true);
    }
    const a = x.crossEntropy(logits, t, { reduction: 'none' });
    const b = x.crossEntropy(plain(logits), t, { reduction: 'none' });
    expect(a.loss.shape).toEqual([N, H, W]);
    expect(bitIdentical(a.loss.toArray(), b.loss.toArray())).toBe(true);
    a.loss.dispose();
    b.loss.dispose();
  });

  it('the gradient and label smoothing: bit-identical, and the ort tensor is left as it was', () => {
    const logits = outputs.logits!;
    const before = Float32Array.from(logits.data as Float32Array);
    const t = target();
    const ga = x.tensor('float32', [N, C, H, W]);
    const gb = x.tensor('float32', [N, C, H, W]);
    const a = x.crossEntropy(logits, t, { grad: ga, labelSmoothing: 0.1 });
    const b = x.crossEntropy(plain(logits), t, { grad: gb, labelSmoothing: 0.1 });
    expect(Object.is(a.loss, b.loss)).toBe(true);
    expect(bitIdentical(ga.toArray(), gb.toArray())).toBe(true);
    expect(bitIdentical(logits.data as Float32Array, before)).toBe(true);
    ga.dispose();
    gb.dispose();
  });

  it("int64 class ids (ArgMax's output) as the target: converted to int32, the same as an Int32Array", () => {
    const logits = outputs.logits!;
    const classes = outputs.classes!;
    const as32 = { data: Int32Array.from(classes.data as BigInt64Array, Number), shape: [...classes.dims] };
    const a = x.crossEntropy(logits, classes);
    const b = x.crossEntropy(plain(logits), as32);
    expect(Object.is(a.loss, b.loss)).toBe(true);
    const na = x.nllLoss(logits, classes, { reduction: 'sum' });
    const nb = x.nllLoss(plain(logits), as32, { reduction: 'sum' });
    expect(Object.is(na.loss, nb.loss)).toBe(true);
    const sa = x.score(logits, classes);
    const sb = x.score(plain(logits), as32);
    expect(Object.is(sa.loss, sb.loss)).toBe(true);
    // ONNX Runtime's argmax and xent-wasm's agree.
    expect(Array.from(sa.pred.toArray())).toEqual(Array.from(as32.data));
    sa.pred.dispose();
    sb.pred.dispose();
  });

  it('float32 probabilities (Softmax output) as the target: bit-identical to plain data', () => {
    const logits = outputs.logits!;
    const probs = outputs.probs!;
    const a = x.crossEntropy(logits, probs, { reduction: 'sum' });
    const b = x.crossEntropy(plain(logits), plain(probs), { reduction: 'sum' });
    expect(Object.is(a.loss, b.loss)).toBe(true);
  });

  it('softmax, logSoftmax and a Scorer take ort tensors too', () => {
    const logits = outputs.logits!;
    for (const op of ['softmax', 'logSoftmax'] as const) {
      const a = x[op](logits, { dim: 1 });
      const b = x[op](plain(logits), { dim: 1 });
      expect(bitIdentical(a.toArray(), b.toArray())).toBe(true);
      a.dispose();
      b.dispose();
    }
    const scorer = x.scorer(C);
    const u = scorer.update(logits, outputs.classes!);
    expect(Number.isFinite(u.loss)).toBe(true);
    scorer.dispose();
  });

  it('float16 logits (the Cast output, and a constructed ort.Tensor): the bits of float32 logits of the same values', () => {
    const t = target();
    const l16 = outputs.logits16!;
    // Node 20 has no Float16Array: ONNX Runtime gives the half-precision bits (elsewhere a
    // Float16Array, viewed as its bits).
    const d = l16.data as unknown as ArrayBufferView & { length: number };
    const bits = d instanceof Uint16Array ? d : new Uint16Array(d.buffer, d.byteOffset, d.length);
    const values = { data: halvesToFloat32(bits), shape: [N, C, H, W] };
    const constructed = new ort.Tensor('float16', bits.slice(), [N, C, H, W]);
    const run = (logits: Parameters<typeof x.crossEntropy>[0]) => {
      using grad = x.tensor('float32', [N, C, H, W]);
      const r = x.crossEntropy(logits, t, { grad, labelSmoothing: 0.1 });
      return { loss: r.loss, sum: r.sum, grad: grad.toArray() };
    };
    const want = run(values);
    expect(Number.isFinite(want.loss)).toBe(true);
    for (const logits of [l16, constructed]) {
      const got = run(logits);
      expect(Object.is(got.loss, want.loss)).toBe(true);
      expect(Object.is(got.sum, want.sum)).toBe(true);
      expect(bitIdentical(got.grad, want.grad)).toBe(true);
    }
    const a = x.score(l16, t);
    const b = x.score(values, t);
    expect(Object.is(a.loss, b.loss)).toBe(true);
    expect(a.pred.toArray()).toEqual(b.pred.toArray());
    a.pred.dispose();
    b.pred.dispose();
  });

  it('float16 where float32 is needed (softmax, a probability target) is an XentDtypeError', () => {
    expect(() => x.softmax(outputs.logits16!)).toThrow(lib.XentDtypeError);
    expect(() => x.softmax(outputs.logits16!)).toThrow(
      /^x must be float32, got a float16 tensor \(supported here: 'float32'\) \(float16 is accepted only for the logits/,
    );
    expect(() => x.crossEntropy(outputs.logits!, outputs.logits16!)).toThrow(lib.XentDtypeError);
  });

  it('other types are refused by their type, not their data (a bool tensor holds a Uint8Array)', () => {
    const logits = outputs.logits!;
    expect(() => x.crossEntropy(outputs.classes!, target())).toThrow(
      "logits must be float32 or float16, got a int64 tensor (supported here: 'float32', 'float16')",
    );
    const bool = new ort.Tensor('bool', new Uint8Array(N * H * W), [N, H, W]);
    expect(() => x.crossEntropy(logits, bool)).toThrow(lib.XentDtypeError);
    expect(() => x.crossEntropy(logits, bool)).toThrow(
      /got a bool tensor \(supported here: 'uint8', 'uint16', 'int32', 'float32', 'int64'\)/,
    );
    const f64 = new ort.Tensor('float64', new Float64Array(N * C * H * W), [N, C, H, W]);
    expect(() => x.crossEntropy(f64, target())).toThrow(lib.XentDtypeError);
    // nllLoss has no probability targets: a float32 target is refused there.
    expect(() => x.nllLoss(logits, outputs.probs!)).toThrow(lib.XentDtypeError);
  });

  it('an int64 value outside the int32 range is an XentDtypeError; -100 (ignoreIndex) converts', () => {
    const logits = outputs.logits!;
    const ids = new BigInt64Array(N * H * W).fill(-100n);
    ids[3] = 2n;
    const r = x.crossEntropy(logits, new ort.Tensor('int64', ids, [N, H, W]), { reduction: 'sum' });
    expect(r.weightSum).toBe(1);
    ids[5] = 2n ** 40n;
    expect(() => x.crossEntropy(logits, new ort.Tensor('int64', ids, [N, H, W]))).toThrow(
      /^target: int64 value 1099511627776 at flat index 5 \(target shape \[1, 4, 6\]\) does not fit int32/,
    );
    ids[5] = 7n; // in int32, out of [0, C): the usual XentTargetError
    expect(() => x.crossEntropy(logits, new ort.Tensor('int64', ids, [N, H, W]))).toThrow(lib.XentTargetError);
  });

  it('dims that do not match the data are an XentShapeError, as for plain data', () => {
    const bad = new ort.Tensor('float32', new Float32Array(N * C * H * W), [N, C, H, W]);
    // ort.Tensor checks its own dims; a runtime that did not would be caught here.
    const stale = { type: 'float32', data: bad.data, dims: [N, C, H, W + 1] };
    expect(() => x.crossEntropy(stale, target())).toThrow(lib.XentShapeError);
  });

  it('the public type takes an ort.Tensor (and a session output) with no cast', () => {
    expectTypeOf<Ort.Tensor>().toMatchTypeOf<lib.Float32Input>();
    expectTypeOf<Ort.Tensor>().toMatchTypeOf<lib.TargetInput>();
    expectTypeOf<Ort.Tensor>().toMatchTypeOf<lib.RuntimeTensor>();
  });
});

describe('stand-in objects (not a real runtime): what the duck typing reads', () => {
  it('a stand-in shaped like a transformers.js Tensor ({ type, data, dims } with a size): bit-identical', () => {
    const logits = outputs.logits!;
    class TransformersLikeTensor {
      constructor(
        readonly type: string,
        readonly data: Float32Array,
        readonly dims: number[],
      ) {}
      get size(): number {
        return this.data.length;
      }
    }
    const p = plain(logits);
    const t = target();
    const a = x.crossEntropy(new TransformersLikeTensor('float32', p.data, p.shape), t);
    const b = x.crossEntropy(p, t);
    expect(Object.is(a.loss, b.loss)).toBe(true);
  });

  it("a stand-in whose data is not on the CPU (ONNX Runtime's location 'gpu-buffer') is an XentDtypeError", () => {
    const onGpu = {
      type: 'float32',
      dims: [N, C, H, W],
      location: 'gpu-buffer',
      get data(): never {
        throw new Error('the data is not on CPU');
      },
    };
    expect(() => x.crossEntropy(onGpu, target())).toThrow(lib.XentDtypeError);
    expect(() => x.crossEntropy(onGpu, target())).toThrow(
      /not in JavaScript memory \(location the string "gpu-buffer"\)/,
    );
  });

  it("a type that contradicts the data (type 'float32', data an Int32Array) is an XentDtypeError", () => {
    const liar = { type: 'float32', data: new Int32Array(N * C * H * W), dims: [N, C, H, W] };
    expect(() => x.crossEntropy(liar, target())).toThrow(
      "logits: this tensor's type is 'float32' but its data is a Int32Array, not a Float32Array",
    );
  });
});
