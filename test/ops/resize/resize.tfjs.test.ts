// The TF.js adapter with options.resize: the loss and the gradient (w.r.t. the low-resolution
// logits) are the core's, bit for bit, in both layouts; 'none' has the labels' resolution.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Xent } from '../../../dist/index.mjs';
import { crossEntropyLoss } from '../../../dist/tfjs.mjs';
import { firstBitDifference } from '../../reference/compare.js';

let xent: Xent;
beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  xent = await Xent.create();
});
afterAll(() => xent?.dispose());

describe('crossEntropyLoss with resize', () => {
  for (const layout of ['NHWC', 'NCHW'] as const) {
    it(`${layout}: the core's loss and gradient; 'none' at (N, H, W)`, () => {
      const [n, c, h, w, H, W] = [2, 5, 3, 4, 7, 9];
      const nchw = Float32Array.from({ length: n * c * h * w }, (_, i) => Math.sin(i * 0.7) * 2);
      const shape = layout === 'NHWC' ? [n, h, w, c] : [n, c, h, w];
      const data = new Float32Array(nchw.length);
      for (let b = 0; b < n; b++)
        for (let ci = 0; ci < c; ci++)
          for (let p = 0; p < h * w; p++) {
            const v = nchw[(b * c + ci) * h * w + p]!;
            data[layout === 'NHWC' ? (b * h * w + p) * c + ci : (b * c + ci) * h * w + p] = v;
          }
      const labels = Int32Array.from({ length: n * H * W }, (_, i) => (i % 13 === 0 ? 255 : (i * 3) % c));
      const resize = { mode: 'bilinear', alignCorners: true } as const;
      const loss = crossEntropyLoss(xent, { layout, resize, ignoreIndex: 255 });
      const x = tf.tensor(data, shape);
      const y = tf.tensor(labels, [n, H, W], 'int32');
      const g = tf.grad((v: tf.Tensor) => loss(y, v))(x);
      const grad = xent.tensor('float32', shape);
      const r = xent.crossEntropy(
        { data, shape },
        { data: labels, shape: [n, H, W] },
        { layout, resize, ignoreIndex: 255, grad },
      );
      expect(g.shape).toEqual(shape);
      expect(firstBitDifference(g.dataSync() as Float32Array, grad.toArray())).toBe(-1);
      expect(loss.last?.sum).toBe(r.sum);
      const none = crossEntropyLoss(xent, { layout, resize, ignoreIndex: 255, reduction: 'none' });
      const m = none(y, x);
      expect(m.shape).toEqual([n, H, W]);
      for (const t of [x, y, g, m]) t.dispose();
      grad.dispose();
      loss.dispose();
      none.dispose();
    });
  }
});
