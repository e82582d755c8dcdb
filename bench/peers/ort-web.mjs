// onnxruntime-web, WebAssembly execution provider (SIMD build, 1 thread), run in Node, on a
// model built in JS at startup (see onnx-model.mjs).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { prepareOrt } from './onnx-model.mjs';

export const id = 'ort-web';
export const label = 'onnxruntime-web (wasm SIMD)';
export const precision = 'float32';

export async function load() {
  const require = createRequire(import.meta.url);
  // The package's "node" export (dist/ort.node.min.mjs): the wasm EP for Node.
  const ort = await import('onnxruntime-web');
  const dist = dirname(require.resolve('onnxruntime-web')); // .../onnxruntime-web/dist
  const version = JSON.parse(readFileSync(join(dist, '..', 'package.json'), 'utf8')).version;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true; // 1.19+ only ships SIMD builds; kept for older versions
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = pathToFileURL(`${dist}/`).href;
  ort.env.logLevel = 'error';
  const sessionOptions = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  return {
    version: `${version} (wasm, simd, 1 thread)`,
    prepare: (data) => prepareOrt(ort, data, sessionOptions),
  };
}
