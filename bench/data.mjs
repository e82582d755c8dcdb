// Deterministic benchmark data: NCHW float32 logits uniform in [-4, 4) and class-index
// targets (uint8) uniform in [0, C) with 5 % of the pixels set to the ignore index 255.
// Every peer gets exactly these bytes (converted to its own label dtype outside the timing).

/** The ignore index used by every workload (segmentation masks' "void" label). */
export const IGNORE_INDEX = 255;

/** Fraction of pixels whose target is IGNORE_INDEX. */
export const IGNORE_FRACTION = 0.05;

/** Benchmark workloads: [N, C, H, W]. */
export const WORKLOADS = Object.freeze({
  voc: { name: 'voc', shape: [8, 21, 128, 128], about: 'Pascal VOC-like, 21 classes' },
  ade: { name: 'ade', shape: [4, 150, 64, 64], about: 'ADE20K-like, 150 classes' },
  city: { name: 'city', shape: [2, 19, 512, 1024], about: 'Cityscapes-like, 19 classes, full resolution' },
  bin: { name: 'bin', shape: [16, 2, 128, 128], about: 'binary segmentation, 2 classes' },
  ade512: { name: 'ade512', shape: [2, 150, 512, 512], about: 'ADE20K at training size, 150 classes' },
  cocostuff: { name: 'cocostuff', shape: [1, 171, 512, 512], about: 'COCO-Stuff at training size, 171 classes' },
});

/** The workloads of a full run of run.mjs, in order (the large training shapes last). */
export const FULL_WORKLOADS = Object.freeze(['voc', 'ade', 'city', 'bin', 'ade512', 'cocostuff']);

/** The workloads of `run.mjs --quick`: small, a few seconds each. */
export const QUICK_WORKLOADS = Object.freeze(['voc', 'bin']);

/** Operations: fwd = loss only; fwdbwd = loss and dLoss/dLogits. */
export const OPS = Object.freeze(['fwd', 'fwdbwd']);

/**
 * xoshiro128** (Blackman & Vigna): a small, fast 32-bit PRNG with a 128-bit state, seeded
 * through splitmix32 so any 32-bit seed gives a good state.
 */
export function rng(seed) {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(),
    b = splitmix(),
    c = splitmix(),
    d = splitmix();
  /** Next uniform 32-bit unsigned integer. */
  return function next() {
    const r = Math.imul((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    return r;
  };
}

/** A 32-bit FNV-1a hash of a string: the seed of a workload. */
export function seedOf(name) {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Makes a workload's data. Logits are k·2⁻²¹ − 4 for a uniform 24-bit k: uniform in [-4, 4)
 * and exactly representable in float32, so every peer sees bit-identical inputs.
 * @returns {{ name: string, shape: number[], N: number, C: number, H: number, W: number,
 *   S: number, logits: Float32Array, target: Uint8Array, ignored: number, seed: number }}
 */
export function makeData(workload) {
  const w = typeof workload === 'string' ? WORKLOADS[workload] : workload;
  if (!w) throw new Error(`unknown workload ${workload}`);
  const [N, C, H, W] = w.shape;
  if (C > IGNORE_INDEX) throw new Error('uint8 targets need C <= 255');
  const S = H * W;
  const seed = seedOf(w.name);
  const next = rng(seed);
  const logits = new Float32Array(N * C * S);
  for (let i = 0; i < logits.length; i++) logits[i] = (next() >>> 8) * 2 ** -21 - 4;
  const target = new Uint8Array(N * S);
  const ignoreBelow = Math.round(IGNORE_FRACTION * 2 ** 32);
  let ignored = 0;
  for (let i = 0; i < target.length; i++) {
    if (next() < ignoreBelow) {
      target[i] = IGNORE_INDEX;
      ignored++;
    } else {
      // Lemire's multiply-shift: uniform in [0, C) up to a bias below 2⁻²⁴.
      target[i] = Math.floor(((next() >>> 8) * C) / 2 ** 24);
    }
  }
  return { name: w.name, shape: [N, C, H, W], N, C, H, W, S, logits, target, ignored, seed };
}

/**
 * Size of a workload in bytes of logits (what a pass over the input has to read).
 * @param {string | { shape: number[] }} workload a name of WORKLOADS, or anything with a shape
 */
export function logitsBytes(workload) {
  const [N, C, H, W] = (typeof workload === 'string' ? WORKLOADS[workload] : workload).shape;
  return N * C * H * W * 4;
}

/** @typedef {{ name: string, shape: [number, number, number, number], size: [number, number] }} ResizeWorkload */

/**
 * The resize workloads: low-resolution logits `shape` [N, C, h, w], labels of size [H, W].
 * @type {Readonly<Record<string, ResizeWorkload>>}
 */
export const RESIZE_WORKLOADS = Object.freeze({
  city: { name: 'city-resize', shape: [2, 19, 128, 256], size: [512, 1024] },
  ade: { name: 'ade-resize', shape: [2, 150, 128, 128], size: [512, 512] },
});

/**
 * A resize workload's data: logits uniform in [-4, 4) (exact in float32, as makeData) and
 * labels at the full size, 5 % ignored.
 * @param {ResizeWorkload} w one of RESIZE_WORKLOADS
 */
export function makeResizeData(w) {
  const [N, C, h, wd] = w.shape;
  const [H, W] = w.size;
  const next = rng(seedOf(w.name));
  const logits = new Float32Array(N * C * h * wd);
  for (let i = 0; i < logits.length; i++) logits[i] = (next() >>> 8) * 2 ** -21 - 4;
  const target = new Uint8Array(N * H * W);
  for (let i = 0; i < target.length; i++)
    target[i] = next() < IGNORE_FRACTION * 2 ** 32 ? IGNORE_INDEX : Math.floor(((next() >>> 8) * C) / 2 ** 24);
  return { ...w, N, C, h, w: wd, H, W, logits, target, labelShape: [N, H, W] };
}
