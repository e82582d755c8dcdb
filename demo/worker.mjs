// The demo's scoring worker: loads xent-wasm from the built package (an ES module, no
// bundler; the .wasm is fetched beside it) and scores off the main thread, so the page never
// freezes. On a cross-origin isolated page (node demo/serve.mjs --isolate) it asks for 2 worker
// threads of its own: xent.score runs on this worker's thread (as it does in every browser), and
// the loss is computed a second time by crossEntropyAsync on the 2 threads, which must give the
// same bits. Messages:
//   -> { type: 'ready', simd, threads, isolated } once loaded
//   { type: 'score', id, logits, logitsShape, layout, mask, ignoreIndex, quarter? }
//     -> { type: 'scored', id, pred, lossMap, confidence, predConfidence, loss, sum, weightSum, metrics, ms,
//          simd, threads, isolated, threadsLoss (crossEntropyAsync's loss; undefined on 1 thread),
//          quarter? }
//     quarter = { logits, logitsShape }: the model's output at 1/4 of the mask's resolution (NCHW),
//     scored against the full-resolution mask with resize: 'bilinear' (the interpolated logits
//     are never built): -> quarter = { pred, lossMap, loss, weightSum, metrics, ms } at the mask's size
//   { type: 'scoreAll', id, items: [{ logits, logitsShape, mask }], layout, ignoreIndex, classes }
//     -> { type: 'scoredAll', id, result, ms }
//   any failure -> { type: 'error', id, name, message }
import { Xent, segmentationMetrics } from '../dist/index.mjs';

// A dedicated worker's global scope (demo/tsconfig.json types this file with the page's DOM lib).
const scope = /** @type {{ postMessage(message: unknown, transfer?: Transferable[]): void }} */ (
  /** @type {unknown} */ (self)
);

// Threads need SharedArrayBuffer, which only a cross-origin isolated page has; elsewhere one
// thread, without asking (which would only log the fallback warning). The samples have 64,512
// logits: minElementsPerThread 16384 lets such a call use both threads (the default, 65536,
// would keep it on one).
const isolated = self.crossOriginIsolated === true;
const ready = Xent.create(isolated ? { threads: 2, minElementsPerThread: 16384 } : {}).then((xent) => {
  postMessage({ type: 'ready', simd: xent.simd, threads: xent.threads, isolated });
  return xent;
});

self.onmessage = async (e) => {
  const msg = e.data;
  try {
    const xent = await ready;
    if (msg.type === 'score') {
      const t0 = performance.now();
      const maskShape = [
        msg.logitsShape[0],
        ...(msg.layout === 'NHWC' ? msg.logitsShape.slice(1, -1) : msg.logitsShape.slice(2)),
      ];
      const logits = { data: msg.logits, shape: msg.logitsShape };
      const mask = { data: msg.mask, shape: maskShape };
      const r = xent.score(logits, mask, {
        ignoreIndex: msg.ignoreIndex,
        layout: msg.layout,
        lossMap: true,
        confidence: true,
        predConfidence: true,
      });
      const ms = performance.now() - t0;
      const threadsLoss =
        xent.threads > 1
          ? (await xent.crossEntropyAsync(logits, mask, { ignoreIndex: msg.ignoreIndex, layout: msg.layout })).loss
          : undefined;
      const C = msg.layout === 'NHWC' ? msg.logitsShape[msg.logitsShape.length - 1] : msg.logitsShape[1];
      // Copies out of wasm memory (transferable), then the tensors are freed.
      const out = {
        type: 'scored',
        id: msg.id,
        pred: r.pred.toArray(),
        lossMap: r.lossMap.toArray(),
        confidence: r.confidence.toArray(),
        predConfidence: r.predConfidence.toArray(),
        loss: r.loss,
        sum: r.sum,
        weightSum: r.weightSum,
        metrics: segmentationMetrics(r.confusion, C),
        ms,
        simd: xent.simd,
        threads: xent.threads,
        isolated,
        threadsLoss,
        quarter: /** @type {object | undefined} */ (undefined),
      };
      for (const t of [r.pred, r.lossMap, r.confidence, r.predConfidence]) t.dispose();
      const transfer = [out.pred.buffer, out.lossMap.buffer, out.confidence.buffer, out.predConfidence.buffer];
      if (msg.quarter) {
        const t1 = performance.now();
        const quarterOptions = {
          ignoreIndex: msg.ignoreIndex,
          resize: /** @type {'bilinear'} */ ('bilinear'),
          lossMap: /** @type {true} */ (true),
        };
        const q = xent.score({ data: msg.quarter.logits, shape: msg.quarter.logitsShape }, mask, quarterOptions);
        const quarter = {
          pred: q.pred.toArray(),
          lossMap: q.lossMap.toArray(),
          loss: q.loss,
          weightSum: q.weightSum,
          metrics: segmentationMetrics(q.confusion, C),
          ms: performance.now() - t1,
        };
        q.pred.dispose();
        q.lossMap.dispose();
        out.quarter = quarter;
        transfer.push(quarter.pred.buffer, quarter.lossMap.buffer);
      }
      scope.postMessage(out, transfer);
    } else if (msg.type === 'scoreAll') {
      const t0 = performance.now();
      const scorer = xent.scorer(msg.classes, { ignoreIndex: msg.ignoreIndex, layout: msg.layout });
      try {
        for (const it of msg.items) {
          const maskShape = [
            it.logitsShape[0],
            ...(msg.layout === 'NHWC' ? it.logitsShape.slice(1, -1) : it.logitsShape.slice(2)),
          ];
          scorer.update({ data: it.logits, shape: it.logitsShape }, { data: it.mask, shape: maskShape });
        }
        postMessage({ type: 'scoredAll', id: msg.id, result: scorer.result(), ms: performance.now() - t0 });
      } finally {
        scorer.dispose();
      }
    }
  } catch (caught) {
    const err = /** @type {{ name?: string, message?: string } | undefined} */ (caught);
    postMessage({ type: 'error', id: msg.id, name: err?.name ?? 'Error', message: err?.message ?? String(err) });
  }
};
