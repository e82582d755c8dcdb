// xent-wasm itself (the built package in ../../dist), SIMD and portable builds, and the opt-in
// relaxed-SIMD build (fused multiply-add; not bit-identical to the others). The logits,
// targets (uint8, as the masks come) and gradient live in the instance's wasm memory: the
// timing covers one crossEntropy call, as a training step would make it. A fresh instance per
// workload, so its memory size afterwards is that workload's peak.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIST = new URL('../../dist/index.mjs', import.meta.url);

/** Which build was measured: the file, its size, hash prefix and build time (dist/ is rebuilt often). */
function describeWasm(file) {
  const url = new URL(`../../dist/${file}`, import.meta.url);
  try {
    const bytes = readFileSync(url);
    const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
    return `dist/${file}, ${bytes.length} bytes, sha256 ${sha}, built ${statSync(url).mtime.toISOString()}`;
  } catch {
    return `dist/${file}`;
  }
}

/** The relaxed-SIMD build (fused multiply-add where the engine fuses; not bit-identical). */
const RELAXED_WASM = new URL('../../dist/xent-simd-relaxed.wasm', import.meta.url);

/** NCHW [n, c, h, w] -> NHWC [n, h, w, c] (or back, with `back`), into `out`. */
function transpose(src, [n, c, h, w], out, back = false) {
  const s = h * w;
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      for (let p = 0; p < s; p++) {
        const nchw = (b * c + k) * s + p;
        const nhwc = (b * s + p) * c + k;
        if (back) out[nchw] = src[nhwc];
        else out[nhwc] = src[nchw];
      }
    }
  }
  return out;
}

function makePeer(simd, relaxed = false, layout = 'NCHW') {
  const file = relaxed ? 'xent-simd-relaxed.wasm' : simd ? 'xent-simd.wasm' : 'xent.wasm';
  const options = relaxed ? { wasm: RELAXED_WASM } : { simd };
  const nhwc = layout === 'NHWC';
  return {
    id: relaxed ? 'xent-relaxed' : nhwc ? 'xent-nhwc' : simd ? 'xent-simd' : 'xent-portable',
    label: relaxed
      ? 'xent-wasm relaxed SIMD (FMA)'
      : nhwc
        ? 'xent-wasm SIMD, NHWC logits'
        : simd
          ? 'xent-wasm SIMD'
          : 'xent-wasm portable',
    precision: 'float32',
    async load() {
      if (!existsSync(fileURLToPath(DIST)))
        throw new Error('dist/index.mjs not built (run `npm run build` at the root)');
      if (relaxed) {
        try {
          new WebAssembly.Module(readFileSync(RELAXED_WASM));
        } catch (e) {
          throw new Error(`this engine does not run relaxed SIMD (${/** @type {Error} */ (e).message.split('\n')[0]})`);
        }
      }
      const { Xent } = await import(DIST.href);
      const probe = await Xent.create(options);
      if (!relaxed && probe.simd !== simd)
        throw new Error(`asked for simd: ${simd}, got the ${probe.simd ? 'SIMD' : 'portable'} build`);
      probe.dispose();
      return {
        version: describeWasm(file) + (nhwc ? ' (logits and gradient [N, H, W, C]; transposed once, untimed)' : ''),
        async prepare(data) {
          const xent = await Xent.create(options);
          const [N, C, H, W] = data.shape;
          const shape = nhwc ? [N, H, W, C] : data.shape;
          const logits = xent.tensor('float32', shape);
          if (nhwc) transpose(data.logits, data.shape, logits.data);
          else logits.data.set(data.logits);
          const target = xent.tensorFrom(data.target, [N, H, W]);
          const grad = xent.tensor('float32', shape);
          const fwdOpts = { ignoreIndex: data.ignoreIndex, reduction: 'mean', layout };
          const bwdOpts = { ignoreIndex: data.ignoreIndex, reduction: 'mean', layout, grad };
          return {
            fwd: () => xent.crossEntropy(logits, target, fwdOpts).loss,
            fwdbwd: (check) => {
              const { loss } = xent.crossEntropy(logits, target, bwdOpts);
              if (!check) return loss;
              // The check compares NCHW gradients.
              return {
                loss,
                grad: nhwc ? transpose(grad.data, data.shape, new Float32Array(grad.size), true) : grad.data,
              };
            },
            memory: () => xent.memoryStats(),
            dispose() {
              xent.dispose();
            },
          };
        },
      };
    },
  };
}

export const simd = makePeer(true);
export const portable = makePeer(false);
export const relaxed = makePeer(true, true);
export const nhwc = makePeer(true, false, 'NHWC');
