// A tiny app as a user writes it: the package by its name, bundled by the bundler under test
// (test/bundlers/bundlers.test.ts copies this folder to a temp dir, where node_modules/xent-wasm
// links to the repository; the inline variant imports 'xent-wasm/inline' instead).
import { Xent, simdSupported } from 'xent-wasm';
import { compute } from './compute.mjs';

window.runCompute = (opts) => compute({ Xent }, opts);
// A module Web Worker that imports the package too (bundled by Vite as its own chunk).
window.runInWorker = (opts) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (e) => {
      worker.terminate();
      if (e.data.error) reject(new Error(e.data.error));
      else resolve(e.data.result);
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(`worker error: ${e.message}`));
    };
    worker.postMessage(opts);
  });
// What a failed load looks like (for the test that withholds the .wasm).
window.tryCreate = async () => {
  try {
    const x = await Xent.create();
    const simd = x.simd;
    x.dispose();
    return { ok: true, simd };
  } catch (e) {
    return { ok: false, name: e.name, message: e.message };
  }
};
window.simdSupported = simdSupported();
document.getElementById('status').textContent = 'ready';
window.pageReady = true;
