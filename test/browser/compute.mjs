// The computation the browser tests run three times on the same data — in Node, in a page and
// in a Web Worker — with the package passed in (`lib`: dist/index.mjs as each of them imports
// it). Data comes from a seeded PRNG that uses only integer ops, + and * (no Math.sin/log, whose
// last bits may differ between JavaScript engines), so every environment sees the same bits.
// Results are strings of bits and hashes, compared for equality.

/** mulberry32: uniform in [0, 1). */
export function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The 64 bits of a double, as hex (exact through JSON and structured clone). */
export function bits(x) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  return dv.getBigUint64(0).toString(16).padStart(16, '0');
}

/** FNV-1a of a typed array's bytes, as hex. */
export function hash(a) {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** crossEntropy's result `ce`: the loss, sum and weightSum as bits, the gradient `grad` and the loss map as hashes. */
export function crossEntropySummary(ce, grad) {
  return {
    loss: bits(ce.loss),
    sum: bits(ce.sum),
    weightSum: bits(ce.weightSum),
    grad: hash(grad.data),
    lossMap: hash(ce.lossMap.data),
  };
}

/** Data for `seed`: a batch of logits (N, C, H, W), uint8 masks with ignored pixels, a class weight. */
export function makeData(seed, n = 2, c = 6, h = 9, w = 13) {
  const u = prng(seed);
  const normal = () => (u() + u() + u() + u() - 2) * 1.7; // Irwin–Hall: only + and *
  const logits = new Float32Array(n * c * h * w);
  const target = new Uint8Array(n * h * w);
  for (let i = 0; i < target.length; i++) target[i] = u() < 0.1 ? 255 : Math.floor(u() * c);
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      for (let p = 0; p < h * w; p++) {
        const t = target[b * h * w + p];
        logits[(b * c + k) * h * w + p] = normal() + (k === t && u() < 0.7 ? 2.5 : 0);
      }
    }
  }
  const weight = Float32Array.from({ length: c }, () => 0.5 + u());
  return { logits, target, weight, shape: [n, c, h, w], targetShape: [n, h, w] };
}

/**
 * crossEntropy forward + backward, score and a streaming scorer over three batches, on the
 * data of `seed`, in the SIMD or the portable build.
 */
export async function compute(lib, { seed, simd }) {
  const xent = await lib.Xent.create({ simd });
  try {
    const d = makeData(seed);
    const logits = xent.tensorFrom(d.logits, d.shape);
    const target = xent.tensorFrom(d.target, d.targetShape);
    const grad = xent.tensor('float32', d.shape);
    const ce = xent.crossEntropy(logits, target, {
      ignoreIndex: 255,
      weight: d.weight,
      labelSmoothing: 0.05,
      grad,
      lossMap: true,
    });
    const sc = xent.score(logits, target, { ignoreIndex: 255, predConfidence: true });
    const scorer = xent.scorer(d.shape[1], { ignoreIndex: 255 });
    const batches = [d, makeData(seed + 1), makeData(seed + 2, 1)];
    const updates = batches.map((b) =>
      bits(scorer.update({ data: b.logits, shape: b.shape }, { data: b.target, shape: b.targetShape }).loss),
    );
    const r = scorer.result();
    const out = {
      simd: xent.simd,
      crossEntropy: crossEntropySummary(ce, grad),
      score: {
        loss: bits(sc.loss),
        pred: hash(sc.pred.data),
        predConfidence: hash(sc.predConfidence.data),
        confusion: hash(sc.confusion),
      },
      scorer: {
        updates,
        loss: bits(r.loss),
        sum: bits(r.sum),
        meanIoU: bits(r.meanIoU),
        pixelAccuracy: bits(r.pixelAccuracy),
        frequencyWeightedIoU: bits(r.frequencyWeightedIoU),
        iou: Array.from(r.iou, bits),
        confusion: Array.from(r.confusion),
      },
    };
    scorer.dispose();
    return out;
  } finally {
    xent.dispose();
  }
}
