// The demo's model: a small fully-convolutional network (a tiny U-Net: two 2x downsamplings,
// two upsamplings with skip connections), NHWC, in plain TF.js ops and variables.
//
// Its 3x3 convolutions use conv2d() below, a tf.customGrad whose backward pass is two more
// forward convolutions (XNNPACK-fast on the wasm backend): the input gradient is the
// convolution of dy with the flipped, transposed filter, and the filter gradient is a
// convolution of the (transposed) input with the (transposed) dy. TF.js's wasm backend has no
// Conv2DBackpropFilter kernel of its own, and its Conv2DBackpropInput is ~10x slower than a
// forward convolution, so this is what makes training on it possible and fast.

/** @typedef {import('@tensorflow/tfjs').Tensor4D} Tensor4D */

/**
 * y = conv2d(x, w) with stride 1 and 'same' padding, for odd kernel sizes.
 * @param {typeof import('@tensorflow/tfjs')} tf
 */
export function makeConv2d(tf) {
  // tf.customGrad types its callback's arguments as (Tensor | GradSaveFunc)[]; they are x, w, save.
  /** @param {(x: Tensor4D, w: Tensor4D, save: import('@tensorflow/tfjs').GradSaveFunc) => any} f */
  const customGrad = (f) => tf.customGrad(/** @type {any} */ (f));
  const withInputGrad = customGrad((x, w, save) => {
    save([x, w]);
    return {
      value: tf.conv2d(x, w, 1, 'same'),
      gradFunc: (dy, [x, w]) => [inputGrad(tf, dy, w), filterGrad(tf, x, dy, w.shape)],
    };
  });
  // For the first layer, whose input is the data: no input gradient to compute.
  const noInputGrad = customGrad((x, w, save) => {
    save([x, w]);
    return {
      value: tf.conv2d(x, w, 1, 'same'),
      gradFunc: (dy, [x, w]) => [tf.zerosLike(x), filterGrad(tf, x, dy, w.shape)],
    };
  });
  return (x, w, { first = false } = {}) => (first ? noInputGrad(x, w) : withInputGrad(x, w));
}

function inputGrad(tf, dy, w) {
  return tf.tidy(() => tf.conv2d(dy, tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]), 1, 'same'));
}

function filterGrad(tf, x, dy, [kh, kw, ci, co]) {
  return tf.tidy(() => {
    const ph = (kh - 1) / 2;
    const pw = (kw - 1) / 2;
    const xp =
      ph || pw
        ? tf.pad(x, [
            [0, 0],
            [ph, ph],
            [pw, pw],
            [0, 0],
          ])
        : x;
    // [Ci, H+2p, W+2p, N] * [H, W, N, Co] (valid) -> [Ci, kh, kw, Co]
    const g = tf.conv2d(tf.transpose(xp, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]), 1, 'valid');
    return tf.transpose(g, [1, 2, 0, 3]).reshape([kh, kw, ci, co]);
  });
}

/**
 * The network: 64² → 32² → 16² and back, NHWC logits with `classes` channels.
 * @param {typeof import('@tensorflow/tfjs')} tf
 * @param {{ classes: number, seed?: number, width?: number }} options
 */
export function makeModel(tf, { classes, seed = 7, width = 16 }) {
  const conv = makeConv2d(tf);
  const w1 = width;
  const w2 = 2 * width;
  const w3 = 3 * width;
  const w5 = Math.round(1.5 * width);
  const shapes = {
    c1: [3, 3, 3, w1],
    c2: [3, 3, w1, w2],
    c3: [3, 3, w2, w3],
    c4: [3, 3, w3, w3],
    c5: [3, 3, w3 + w2, w5],
    c6: [3, 3, w5 + w1, w1],
    head: [1, 1, w1, classes],
  };
  const vars = {};
  let s = seed;
  for (const [name, shape] of Object.entries(shapes)) {
    const fanIn = shape[0] * shape[1] * shape[2];
    const std = name === 'head' ? Math.sqrt(1 / fanIn) : Math.sqrt(2 / fanIn); // He init
    vars[name] = tf.variable(tf.randomNormal(shape, 0, std, 'float32', s++), true, name);
    vars[`${name}_b`] = tf.variable(tf.zeros([shape[3]]), true, `${name}_b`);
  }
  const block = (x, name, first = false) =>
    /** @type {Tensor4D} */ (tf.relu(tf.add(conv(x, vars[name], { first }), vars[`${name}_b`])));
  /** @param {import('@tensorflow/tfjs').Tensor4D} x normalised images, NHWC */
  const apply = (x) => {
    const [, h, w] = x.shape;
    const h1 = block(x, 'c1', true); // 64², w1
    const h2 = block(tf.maxPool(h1, 2, 2, 'valid'), 'c2'); // 32², w2
    const h3 = block(tf.maxPool(h2, 2, 2, 'valid'), 'c3'); // 16², w3
    const h4 = block(h3, 'c4'); // 16², w3
    const u1 = tf.image.resizeBilinear(h4, [h / 2, w / 2]);
    const h5 = block(tf.concat([u1, h2], 3), 'c5'); // 32², w5
    const u2 = tf.image.resizeBilinear(h5, [h, w]);
    const h6 = block(tf.concat([u2, h1], 3), 'c6'); // 64², w1
    return tf.add(conv(h6, vars.head), vars.head_b); // logits, NHWC
  };
  const params = Object.values(vars).reduce((n, v) => n + v.size, 0);
  return { apply, vars: Object.values(vars), params };
}
