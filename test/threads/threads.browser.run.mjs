// The computation of test/threads/threads.browser.test.ts, run in Node and in Chromium pages with the
// package passed in (`lib`: dist/index.mjs). Seeded data from integer ops, + and * only, so
// every engine sees the same bits; results are bit strings and hashes, compared for equality.

import { bits, hash, prng } from '../browser/compute.mjs';

export async function run(lib, { seed, threads, mode }) {
  const x = await lib.Xent.create({ threads, minElementsPerThread: 1 });
  try {
    const u = prng(seed);
    const [n, c, h, w] = [2, 6, 33, 17];
    const logits = x.tensor('float32', [n, c, h, w]);
    const target = x.tensor('uint8', [n, h, w]);
    const grad = x.tensor('float32', [n, c, h, w]);
    const L = logits.data;
    for (let i = 0; i < L.length; i++) L[i] = (u() + u() + u() - 1.5) * 3;
    const T = target.data;
    for (let i = 0; i < T.length; i++) T[i] = u() < 0.1 ? 255 : Math.floor(u() * c);
    const weight = Float32Array.from({ length: c }, () => 0.5 + u());
    const opts = { ignoreIndex: 255, weight, grad, lossMap: true };
    const r = mode === 'async' ? await x.crossEntropyAsync(logits, target, opts) : x.crossEntropy(logits, target, opts);
    return {
      threads: x.threads,
      shared: typeof SharedArrayBuffer === 'function' && x.memory.buffer instanceof SharedArrayBuffer,
      loss: bits(r.loss),
      sum: bits(r.sum),
      weightSum: bits(r.weightSum),
      grad: hash(grad.data),
      lossMap: hash(r.lossMap.data),
    };
  } finally {
    x.dispose();
  }
}
