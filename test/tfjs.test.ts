// xent-wasm/tfjs: the TF.js adapter, against TF.js's own tf.losses.softmaxCrossEntropy (CPU
// backend) on the cases both can express, and against the core API for the rest.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Xent, XentDtypeError, XentOptionError } from '../dist/index.mjs';
import { crossEntropyLoss } from '../dist/tfjs.mjs';

let xent: Xent;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  xent = await Xent.create();
});
afterAll(() => xent.dispose());

/** A deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const N = 2;
const H = 5;
const W = 6;
const CIN = 3;
const C = 4;

/** A tiny model: a 1×1 convolution with bias (CIN → C), NHWC logits; and its data. */
function setup(seed = 1) {
  const r = rng(seed);
  const x = tf.tensor4d(
    Float32Array.from({ length: N * H * W * CIN }, () => r() * 2 - 1),
    [N, H, W, CIN],
  );
  const kernel = tf.variable(
    tf.tensor4d(
      Float32Array.from({ length: CIN * C }, () => r() - 0.5),
      [1, 1, CIN, C],
    ),
  );
  const bias = tf.variable(tf.tensor1d(Float32Array.from({ length: C }, () => r() * 0.2 - 0.1)));
  const labels = Int32Array.from({ length: N * H * W }, () => Math.floor(r() * C));
  const model = () => tf.add(tf.conv2d(x, kernel, 1, 'same'), bias) as tf.Tensor4D;
  const dispose = () => tf.dispose([x, kernel, bias]);
  return { r, x, kernel, bias, labels, model, vars: [kernel, bias], dispose };
}

function maxAbs(a: Float32Array | Int32Array | Uint8Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** max|a - b| ≤ rel · max|b| (b the reference), element-wise over flattened data. */
function expectClose(a: tf.Tensor, b: tf.Tensor, rel = 1e-5, what = '') {
  expect(a.shape, what).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  const scale = Math.max(maxAbs(y as Float32Array), 1e-30);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  expect(worst / scale, `${what}: max|Δ| = ${worst}, scale ${scale}`).toBeLessThanOrEqual(rel);
}

/** Gradients of `lossFn()` w.r.t. the model's variables, and the loss value. */
function grads(lossFn: () => tf.Scalar, vars: tf.Variable[]) {
  const { value, grads } = tf.variableGrads(lossFn, vars);
  const out = { value: value.dataSync()[0]!, g: vars.map((v) => grads[v.name]!) };
  value.dispose();
  return out;
}

describe('xent-wasm/tfjs crossEntropyLoss vs tf.losses.softmaxCrossEntropy', () => {
  it('NHWC, int32 class labels: same loss and gradients over a few SGD steps', () => {
    const m = setup(1);
    const loss = crossEntropyLoss(xent, { layout: 'NHWC' });
    const labels = tf.tensor3d(m.labels, [N, H, W], 'int32');
    const onehot = tf.oneHot(labels, C).toFloat();
    const opt = tf.train.sgd(0.5);
    const values: number[] = [];
    for (let step = 0; step < 4; step++) {
      const ours = grads(() => loss(labels, m.model()), m.vars);
      const theirs = grads(() => tf.losses.softmaxCrossEntropy(onehot, m.model()) as tf.Scalar, m.vars);
      expect(Math.abs(ours.value - theirs.value)).toBeLessThanOrEqual(1e-5 * theirs.value);
      expect(loss.last!.weightSum).toBe(N * H * W);
      for (const [i, g] of ours.g.entries()) expectClose(g, theirs.g[i]!, 1e-5, `step ${step} var ${i}`);
      values.push(ours.value);
      // Train with xent-wasm's gradients.
      opt.applyGradients({ [m.kernel.name]: ours.g[0]!, [m.bias.name]: ours.g[1]! });
      tf.dispose([...ours.g, ...theirs.g]);
    }
    expect(values[3]!).toBeLessThan(values[0]!); // it trains
    tf.dispose([labels, onehot]);
    opt.dispose();
    m.dispose();
    loss.dispose();
  });

  it('float32 probability labels (one-hot and soft) of the logits shape', () => {
    const m = setup(2);
    const loss = crossEntropyLoss(xent); // NHWC is the default for TF.js
    const onehot = tf.oneHot(tf.tensor3d(m.labels, [N, H, W], 'int32'), C).toFloat();
    const raw = tf.tensor4d(
      Float32Array.from({ length: N * H * W * C }, () => m.r()),
      [N, H, W, C],
    );
    const soft = tf.div(raw, tf.sum(raw, -1, true));
    for (const [name, target] of [
      ['one-hot', onehot],
      ['soft', soft],
    ] as const) {
      const ours = grads(() => loss(target, m.model()), m.vars);
      const theirs = grads(() => tf.losses.softmaxCrossEntropy(target, m.model()) as tf.Scalar, m.vars);
      expect(Math.abs(ours.value - theirs.value), name).toBeLessThanOrEqual(1e-5 * theirs.value);
      for (const [i, g] of ours.g.entries()) expectClose(g, theirs.g[i]!, 1e-5, `${name} var ${i}`);
      tf.dispose([...ours.g, ...theirs.g]);
    }
    tf.dispose([onehot, raw, soft]);
    m.dispose();
    loss.dispose();
  });

  it("reduction 'sum', and an upstream gradient other than 1 (2·loss + 3)", () => {
    const m = setup(3);
    const labels = tf.tensor3d(m.labels, [N, H, W], 'int32');
    const onehot = tf.oneHot(labels, C).toFloat();
    const sum = crossEntropyLoss(xent, { reduction: 'sum' });
    const mean = crossEntropyLoss(xent);
    const cases: [string, () => tf.Scalar, () => tf.Scalar][] = [
      [
        'sum',
        () => sum(labels, m.model()),
        () => tf.losses.softmaxCrossEntropy(onehot, m.model(), undefined, 0, tf.Reduction.SUM) as tf.Scalar,
      ],
      [
        '2·mean + 3',
        () => tf.add(tf.mul(mean(labels, m.model()), 2), 3) as tf.Scalar,
        () => tf.add(tf.mul(tf.losses.softmaxCrossEntropy(onehot, m.model()), 2), 3) as tf.Scalar,
      ],
    ];
    for (const [name, a, b] of cases) {
      const ours = grads(a, m.vars);
      const theirs = grads(b, m.vars);
      expect(Math.abs(ours.value - theirs.value), name).toBeLessThanOrEqual(1e-5 * Math.abs(theirs.value));
      for (const [i, g] of ours.g.entries()) expectClose(g, theirs.g[i]!, 1e-5, `${name} var ${i}`);
      tf.dispose([...ours.g, ...theirs.g]);
    }
    tf.dispose([labels, onehot]);
    m.dispose();
    sum.dispose();
    mean.dispose();
  });

  it("reduction 'none': the loss map, and the gradient through a weighted sum of it (dy per pixel)", () => {
    const m = setup(4);
    const labels = tf.tensor3d(m.labels, [N, H, W], 'int32');
    const onehot = tf.oneHot(labels, C).toFloat();
    const perPixel = tf.tensor3d(
      Float32Array.from({ length: N * H * W }, () => m.r() * 2 - 0.5),
      [N, H, W],
    );
    const none = crossEntropyLoss(xent, { reduction: 'none' });
    const map = none(labels, m.model());
    const ref = tf.losses.softmaxCrossEntropy(onehot, m.model(), undefined, 0, tf.Reduction.NONE);
    expectClose(map, ref, 1e-6, 'loss map');
    const ours = grads(() => tf.sum(tf.mul(none(labels, m.model()), perPixel)) as tf.Scalar, m.vars);
    const theirs = grads(
      () =>
        tf.sum(
          tf.mul(tf.losses.softmaxCrossEntropy(onehot, m.model(), undefined, 0, tf.Reduction.NONE), perPixel),
        ) as tf.Scalar,
      m.vars,
    );
    for (const [i, g] of ours.g.entries()) expectClose(g, theirs.g[i]!, 1e-5, `none var ${i}`);
    tf.dispose([labels, onehot, perPixel, map, ref, ...ours.g, ...theirs.g]);
    m.dispose();
    none.dispose();
  });

  it('weight and ignoreIndex = per-pixel weights w[label] (0 where ignored) with Reduction.MEAN', () => {
    const m = setup(5);
    const classWeight = [0.2, 1, 3.5, 0.7];
    const lab = m.labels.slice();
    for (let i = 0; i < lab.length; i++) if (m.r() < 0.3) lab[i] = 255; // ~30 % ignored
    const labels = tf.tensor3d(lab, [N, H, W], 'int32');
    // TF.js: one-hot of the ignored pixels is all zeros (oneHot of 255 ≥ C), and weight 0.
    const onehot = tf.oneHot(labels, C).toFloat();
    const pixelWeight = tf.tensor3d(
      Float32Array.from(lab, (t) => (t === 255 ? 0 : classWeight[t]!)),
      [N, H, W],
    );
    const loss = crossEntropyLoss(xent, { weight: classWeight, ignoreIndex: 255 });
    const ours = grads(() => loss(labels, m.model()), m.vars);
    const theirs = grads(
      () => tf.losses.softmaxCrossEntropy(onehot, m.model(), pixelWeight, 0, tf.Reduction.MEAN) as tf.Scalar,
      m.vars,
    );
    expect(Math.abs(ours.value - theirs.value)).toBeLessThanOrEqual(1e-5 * theirs.value);
    expect(loss.last!.weightSum).toBeCloseTo(tf.sum(pixelWeight).dataSync()[0]!, 4);
    for (const [i, g] of ours.g.entries()) expectClose(g, theirs.g[i]!, 1e-5, `weighted var ${i}`);
    // The weight may also be a 1-D TF.js tensor.
    const w = tf.tensor1d(classWeight);
    const loss2 = crossEntropyLoss(xent, { weight: w, ignoreIndex: 255 });
    expect(tf.tidy(() => loss2(labels, m.model()).dataSync()[0])).toBe(
      tf.tidy(() => loss(labels, m.model()).dataSync()[0]),
    );
    tf.dispose([labels, onehot, pixelWeight, w, ...ours.g, ...theirs.g]);
    m.dispose();
    loss.dispose();
    loss2.dispose();
  });

  it('labelSmoothing, on (N·H·W, C) logits (tf.losses reads C from shape[1], so only 2-D is comparable)', () => {
    const m = setup(6);
    const labels = tf.tensor1d(m.labels, 'int32');
    const onehot = tf.oneHot(labels, C).toFloat();
    const flat = () => tf.reshape(m.model(), [-1, C]) as tf.Tensor2D;
    for (const eps of [0.1, 0.35]) {
      const loss = crossEntropyLoss(xent, { labelSmoothing: eps });
      const ours = grads(() => loss(labels, flat()), m.vars);
      const theirs = grads(() => tf.losses.softmaxCrossEntropy(onehot, flat(), undefined, eps) as tf.Scalar, m.vars);
      expect(Math.abs(ours.value - theirs.value)).toBeLessThanOrEqual(1e-5 * theirs.value);
      for (const [i, g] of ours.g.entries()) expectClose(g, theirs.g[i]!, 1e-5, `ε=${eps} var ${i}`);
      tf.dispose([...ours.g, ...theirs.g]);
      // And the 4-D NHWC call equals the core API with the same options.
      const logits = m.model();
      const v = tf.tidy(() => loss(tf.reshape(labels, [N, H, W]), logits).dataSync()[0]);
      const core = xent.crossEntropy(
        { data: logits.dataSync() as Float32Array, shape: logits.shape },
        { data: m.labels, shape: [N, H, W] },
        { layout: 'NHWC', labelSmoothing: eps },
      );
      expect(v).toBe(Math.fround(core.loss));
      logits.dispose();
      loss.dispose();
    }
    tf.dispose([labels, onehot]);
    m.dispose();
  });

  it("NCHW via layout: 'NCHW' gives the NHWC gradients (class labels and probabilities)", () => {
    const m = setup(7);
    const labels = tf.tensor3d(m.labels, [N, H, W], 'int32');
    const onehot = tf.oneHot(labels, C).toFloat();
    const nchw = crossEntropyLoss(xent, { layout: 'NCHW' });
    const toNCHW = (t: tf.Tensor4D) => tf.transpose(t, [0, 3, 1, 2]);
    const theirs = grads(() => tf.losses.softmaxCrossEntropy(onehot, m.model()) as tf.Scalar, m.vars);
    for (const [name, target] of [
      ['int32', labels],
      ['probabilities', toNCHW(onehot as tf.Tensor4D)],
    ] as const) {
      const ours = grads(() => nchw(target, toNCHW(m.model())), m.vars);
      expect(Math.abs(ours.value - theirs.value), name).toBeLessThanOrEqual(1e-5 * theirs.value);
      for (const [i, g] of ours.g.entries()) expectClose(g, theirs.g[i]!, 1e-5, `NCHW ${name} var ${i}`);
      tf.dispose(ours.g);
    }
    // tf.grad w.r.t. the NCHW logits themselves: NCHW-shaped, the NHWC gradient transposed.
    const logits = m.model();
    const gN = tf.grad((z: tf.Tensor) => nchw(labels, z))(toNCHW(logits));
    const gH = tf.grad((z: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, z) as tf.Scalar)(logits);
    expect(gN.shape).toEqual([N, C, H, W]);
    expectClose(gN, toNCHW(gH as tf.Tensor4D), 1e-5, 'dLoss/dLogits NCHW');
    tf.dispose([labels, onehot, logits, gN, gH, ...theirs.g]);
    m.dispose();
    nchw.dispose();
  });

  it('float32 class indices of the loss shape are read as class indices', () => {
    const m = setup(8);
    const loss = crossEntropyLoss(xent);
    const a = tf.tidy(() => loss(tf.tensor3d(m.labels, [N, H, W], 'int32'), m.model()).dataSync()[0]);
    const b = tf.tidy(
      () => loss(tf.tensor3d(Float32Array.from(m.labels), [N, H, W], 'float32'), m.model()).dataSync()[0],
    );
    expect(b).toBe(a);
    expect(() => tf.tidy(() => loss(tf.fill([N, H, W], 0.5), m.model()))).toThrow(XentDtypeError);
    m.dispose();
    loss.dispose();
  });

  it('a tf.LayersModel compiled with it trains with model.fit (one-hot labels)', async () => {
    const m = setup(9);
    const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [H, W, CIN], filters: C, kernelSize: 1 })] });
    const loss = crossEntropyLoss(xent);
    model.compile({ optimizer: tf.train.sgd(1), loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => loss(yTrue, yPred) });
    const y = tf.oneHot(tf.tensor3d(m.labels, [N, H, W], 'int32'), C).toFloat();
    const h = await model.fit(m.x, y, { epochs: 6, batchSize: N, verbose: 0 });
    const l = h.history.loss as number[];
    expect(l.every(Number.isFinite)).toBe(true);
    expect(l[l.length - 1]!).toBeLessThan(l[0]!);
    tf.dispose([y]);
    model.dispose();
    m.dispose();
    loss.dispose();
  });

  it('no leaks: TF.js tensors and wasm tensors stay constant over training steps; forward-only outside a gradient', () => {
    const m = setup(10);
    const labels = tf.tensor3d(m.labels, [N, H, W], 'int32');
    const live0 = xent.memoryStats().liveTensors;
    const loss = crossEntropyLoss(xent, { ignoreIndex: 255 });
    const none = crossEntropyLoss(xent, { reduction: 'none' });
    const opt = tf.train.adam(0.01);
    const step = () => {
      opt.minimize(() => loss(labels, m.model()));
      opt.minimize(() => tf.mean(none(labels, m.model())) as tf.Scalar);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    const liveAfterTraining = xent.memoryStats().liveTensors;
    // Outside a gradient no gradient staging tensor is needed; the value is the same.
    const fresh = crossEntropyLoss(xent);
    const v = tf.tidy(() => fresh(labels, m.model()).dataSync()[0]);
    expect(xent.memoryStats().liveTensors).toBe(liveAfterTraining + 2); // logits + labels only
    expect(fresh.last!.weightSum).toBe(N * H * W);
    expect(Number.isFinite(v)).toBe(true);
    for (const f of [loss, none, fresh]) f.dispose();
    expect(xent.memoryStats().liveTensors).toBe(live0);
    tf.dispose(labels);
    opt.dispose();
    m.dispose();
  });

  it('options are checked when the loss is made, with the core errors', () => {
    expect(() => crossEntropyLoss(xent, { ignore_index: 255 } as never)).toThrow(
      /unknown option "ignore_index".*ignoreIndex/,
    );
    expect(() => crossEntropyLoss(xent, { reduction: 'avg' } as never)).toThrow(XentOptionError);
    expect(() => crossEntropyLoss(xent, { labelSmoothing: 2 })).toThrow(XentOptionError);
    expect(() => crossEntropyLoss(xent, { layout: 'nhwc' } as never)).toThrow(/did you mean 'NHWC'/);
    expect(() => crossEntropyLoss(xent, { weight: [1, NaN] })).toThrow(XentOptionError);
    const loss = crossEntropyLoss(xent);
    expect(() => tf.tidy(() => loss(tf.zeros([2], 'bool'), tf.zeros([2, 3])))).toThrow(XentDtypeError);
    expect(() => tf.tidy(() => loss(tf.zeros([2], 'int32'), tf.zeros([2, 3], 'int32')))).toThrow(
      /logits must be float32/,
    );
    loss.dispose();
  });
});
