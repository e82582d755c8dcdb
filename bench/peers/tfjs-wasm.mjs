// TensorFlow.js with its WebAssembly backend (XNNPACK, SIMD build, one thread: TF.js never
// uses threads in Node). TF.js has no NCHW class-index cross-entropy, so the graph is the
// usual port: transpose the logits to NHWC, one-hot the labels, and weight the pixels with a
// 0/1 mask for the ignore index (tf.losses.softmaxCrossEntropy with SUM_BY_NONZERO_WEIGHTS is
// then PyTorch's mean). fwdbwd is tf.grad of that loss with respect to the NCHW logits.
// Untimed: the logits and int32 labels are uploaded to the backend once. The loss is read back
// (dataSync) in the timing; the gradient stays in the backend (only the check reads it).

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const id = 'tfjs-wasm';
export const label = 'TF.js wasm (SIMD)';
export const precision = 'float32';

/**
 * Not run above 256 MiB of logits: the graph keeps several logits-sized tensors alive (NHWC
 * copy, one-hot, softmax, gradient), and on ade512 (300 MiB of logits) the wasm backend's
 * fwdbwd fails with "memory access out of bounds" (cocostuff, 171 MiB, runs), after which the
 * backend cannot be trusted for the next workload.
 */
export const limit = {
  logitsBytes: 256 * 2 ** 20,
  why: 'the TF.js wasm backend runs out of wasm memory ("memory access out of bounds" on 300 MiB of logits; run up to 256 MiB)',
};

export async function load() {
  const require = createRequire(import.meta.url);
  // tfjs-core alone registers no gradient functions (tf.grad fails with "gradient function not
  // found for RealDiv"): the @tensorflow/tfjs umbrella bundle registers them into the same core.
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const distDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const dist = join(distDir, 'dist');
  wasm.setWasmPaths({
    'tfjs-backend-wasm.wasm': join(dist, 'tfjs-backend-wasm.wasm'),
    'tfjs-backend-wasm-simd.wasm': join(dist, 'tfjs-backend-wasm-simd.wasm'),
    'tfjs-backend-wasm-threaded-simd.wasm': join(dist, 'tfjs-backend-wasm-threaded-simd.wasm'),
  });
  wasm.setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  if (!simd) throw new Error('the SIMD build of the TF.js wasm backend is not in use');
  const version = require('@tensorflow/tfjs-backend-wasm/package.json').version;

  return {
    version: `${version} (simd, ${wasm.getThreadsCount()} thread)`,
    prepare(data) {
      const { N, C, H, W, ignoreIndex } = data;
      const logits = tf.tensor4d(data.logits, [N, C, H, W], 'float32');
      const labels = tf.tensor3d(Int32Array.from(data.target), [N, H, W], 'int32');

      /** The loss of NCHW logits `x` (a scalar tensor). */
      const lossOf = (x) => {
        const nhwc = tf.transpose(x, [0, 2, 3, 1]);
        const onehot = tf.oneHot(labels, C); // out-of-range labels (255) give all-zero rows
        const weights = tf.cast(tf.notEqual(labels, tf.scalar(ignoreIndex, 'int32')), 'float32');
        return tf.losses.softmaxCrossEntropy(onehot, nhwc, weights, 0, tf.Reduction.SUM_BY_NONZERO_WEIGHTS);
      };
      const gradOf = tf.valueAndGrad(lossOf);

      return {
        fwd: () => {
          const loss = tf.tidy(() => lossOf(logits));
          const v = loss.dataSync()[0];
          loss.dispose();
          return v;
        },
        fwdbwd: (check) => {
          const { value, grad } = tf.tidy(() => gradOf(logits));
          const loss = value.dataSync()[0];
          // The wasm backend runs kernels eagerly: the gradient is computed by now. Reading it
          // back (dataSync) would add a copy no trainer does, so only the check reads it.
          const g = check ? grad.dataSync() : undefined;
          value.dispose();
          grad.dispose();
          return check ? { loss, grad: g } : loss;
        },
        dispose() {
          logits.dispose();
          labels.dispose();
        },
        memoryBytes: () => tf.memory().numBytes,
      };
    },
  };
}
