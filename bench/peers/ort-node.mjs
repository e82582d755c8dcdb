// onnxruntime-node: the native CPU execution provider through N-API, 1 intra-op thread, on the
// model built in JS at startup (see onnx-model.mjs). Not wasm: a native reference point.
// Installed with ONNXRUNTIME_NODE_INSTALL=skip (its installer otherwise fetches CUDA files);
// the CPU binaries ship inside the npm package.

import { createRequire } from 'node:module';
import { prepareOrt } from './onnx-model.mjs';

export const id = 'ort-node';
export const label = 'onnxruntime-node (native CPU)';
export const precision = 'float32';

export async function load() {
  const require = createRequire(import.meta.url);
  const ort = require('onnxruntime-node');
  ort.env.logLevel = 'error';
  const sessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  return {
    version: `${require('onnxruntime-node/package.json').version} (cpu, 1 thread)`,
    prepare: (data) => prepareOrt(ort, data, sessionOptions),
  };
}
