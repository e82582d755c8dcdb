// Float16 logits in an engine that has Float16Array (the browser float16 test runs this in
// Chromium; Node 20 has none). The logits are a real Float16Array made from seeded float32 data
// (the engine rounds), the float32 logits hold the Float16Array's own values; every call's
// results are summarised as strings of bits and hashes, so that the test can compare them for
// equality, across forms, builds and engines.
import { bits, crossEntropySummary, hash, makeData } from './compute.mjs';

/**
 * The cases: [N, C, H, W] for makeData, the layout (NHWC reads the same data as [N, H, W, C]),
 * and the targets. [2, 5, 90, 90] NCHW is two strips per batch item in the kernel (256 KiB of
 * scratch each).
 */
export const CASES = [
  { dims: [2, 6, 9, 13], layout: 'NCHW', prob: false },
  { dims: [2, 5, 90, 90], layout: 'NCHW', prob: false },
  { dims: [2, 7, 40, 40], layout: 'NHWC', prob: false },
  { dims: [1, 4, 30, 30], layout: 'NCHW', prob: true },
];

/**
 * The float32 data of case `i`: makeData's logits, and every 17th value replaced by one that
 * tests the rounding to half: subnormal halves, signed zeros, the largest finite halves, and
 * values halfway between two halves.
 */
export function caseData(i) {
  const c = CASES[i];
  const [n, ch, h, w] = c.dims;
  const d = makeData(40 + i, n, ch, h, w);
  const special = [3e-6, -4.5e-7, -0, 0, 65504, -65504, 1 + 2 ** -11, 2.5 + 2 ** -10, 6e-8, -3 * 2 ** -25];
  for (let k = 0; k * 17 < d.logits.length; k++) d.logits[k * 17] = special[k % special.length];
  const shape = c.layout === 'NHWC' ? [n, h, w, ch] : [n, ch, h, w];
  const target = c.prob
    ? { data: d.logits.map((v) => Math.min(v * v, 4)), shape }
    : { data: d.target, shape: d.targetShape };
  return { ...c, shape, logits: d.logits, target, weight: d.weight, c: ch };
}

/**
 * crossEntropy (gradient, loss map, confidence), score and a Scorer on `logits` for case `i`,
 * in `xent`, summarised as bits and hashes.
 */
export function summarize(xent, i, logits) {
  const k = caseData(i);
  const grad = xent.tensor('float32', k.shape);
  const opts = { layout: k.layout, weight: k.weight, labelSmoothing: 0.05, grad, lossMap: true };
  if (!k.prob) Object.assign(opts, { ignoreIndex: 255, confidence: true });
  const ce = xent.crossEntropy(logits, k.target, opts);
  const out = {
    crossEntropy: {
      ...crossEntropySummary(ce, grad),
      confidence: ce.confidence ? hash(ce.confidence.data) : 'none',
    },
  };
  ce.lossMap.dispose();
  ce.confidence?.dispose();
  grad.dispose();
  if (!k.prob) {
    const sc = xent.score(logits, k.target, {
      layout: k.layout,
      ignoreIndex: 255,
      lossMap: true,
      predConfidence: true,
    });
    out.score = {
      loss: bits(sc.loss),
      sum: bits(sc.sum),
      pred: hash(sc.pred.data),
      lossMap: hash(sc.lossMap.data),
      predConfidence: hash(sc.predConfidence.data),
      confusion: Array.from(sc.confusion),
    };
    for (const t of [sc.pred, sc.lossMap, sc.predConfidence]) t.dispose();
    const scorer = xent.scorer(k.c, { layout: k.layout, ignoreIndex: 255 });
    const updates = [scorer.update(logits, k.target), scorer.update(logits, k.target)].map((u) => bits(u.loss));
    const r = scorer.result();
    out.scorer = { updates, loss: bits(r.loss), meanIoU: bits(r.meanIoU), confusion: Array.from(r.confusion) };
    scorer.dispose();
  }
  return out;
}

/**
 * The kernel's conversion (the raw export xent_f16_to_f32 of `dist/<file>`, fetched from
 * `base`) of all 65536 halves, against the engine's decoding of a Float16Array holding them:
 * the count of halves whose f32 bits are the engine's value's (NaN: a NaN, with the half's
 * sign and payload at the top of the f32 mantissa), and the first few that are not.
 */
async function conversion(base, file) {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
  const bytes = await (await fetch(new URL(`dist/${file}`, base))).arrayBuffer();
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
  const e = instance.exports;
  const ptr = Math.ceil(Number(e.__heap_base.value) / 64) * 64;
  memory.grow(8);
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  new Uint16Array(memory.buffer, ptr, 65536).set(all);
  const dst = ptr + 2 * 65536;
  const status = e.xent_f16_to_f32(ptr, dst, 65536);
  const got = new Uint32Array(memory.buffer, dst, 65536);
  const engine = new Float16Array(all.buffer);
  const one = new Float32Array(1);
  const oneBits = new Uint32Array(one.buffer);
  let same = 0;
  let nans = 0;
  const wrong = [];
  for (let h = 0; h < 65536; h++) {
    const v = engine[h];
    one[0] = v;
    let ok;
    if (Number.isNaN(v)) {
      nans++;
      ok = got[h] === (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0;
    } else ok = got[h] === oneBits[0];
    if (ok) same++;
    else if (wrong.length < 5) wrong.push({ half: h, kernel: got[h].toString(16), engine: String(v) });
  }
  return { file, status, same, nans, wrong };
}

/** Everything the browser float16 test asks of the page (`base`: the server's root URL). */
export async function float16InPage(lib, { base, simd }) {
  const out = {
    float16Array: typeof Float16Array === 'function',
    f16round: typeof Math.f16round === 'function',
    conversion: [await conversion(base, 'xent-simd.wasm'), await conversion(base, 'xent.wasm')],
    cases: [],
  };
  const xent = await lib.Xent.create({ simd });
  try {
    out.simd = xent.simd;
    for (let i = 0; i < CASES.length; i++) {
      const k = caseData(i);
      const f16 = new Float16Array(k.logits);
      // The float32 logits: the Float16Array's own values; Math.f16round must round the same way.
      const f32 = new Float32Array(f16);
      let roundingDiffers = 0;
      for (let j = 0; j < f32.length; j++) if (!Object.is(Math.f16round(k.logits[j]), f32[j])) roundingDiffers++;
      const tensor = xent.tensorFrom(f16, k.shape);
      const halves = new Uint16Array(f16.buffer);
      out.cases.push({
        roundingDiffers,
        halves: Array.from(halves),
        tensor: {
          dtype: tensor.dtype,
          shape: Array.from(tensor.shape),
          dataIsUint16Array: tensor.data instanceof Uint16Array,
          sameBits: tensor.data.every((v, j) => v === halves[j]),
        },
        float32: summarize(xent, i, { data: f32, shape: k.shape }),
        float16Array: summarize(xent, i, { data: f16, shape: k.shape }),
        tensorFrom: summarize(xent, i, tensor),
        uint16: summarize(xent, i, { data: halves, shape: k.shape, dtype: 'float16' }),
      });
      tensor.dispose();
    }
    out.liveTensors = xent.memoryStats().liveTensors;
  } finally {
    xent.dispose();
  }
  return out;
}
