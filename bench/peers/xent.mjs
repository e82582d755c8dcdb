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

function makePeer(simd, relaxed = false) {
  const file = relaxed ? 'xent-simd-relaxed.wasm' : simd ? 'xent-simd.wasm' : 'xent.wasm';
  const options = relaxed ? { wasm: RELAXED_WASM } : { simd };
  return {
    id: relaxed ? 'xent-relaxed' : simd ? 'xent-simd' : 'xent-portable',
    label: relaxed ? 'xent-wasm relaxed SIMD (FMA)' : simd ? 'xent-wasm SIMD' : 'xent-wasm portable',
    precision: 'float32',
    async load() {
      if (!existsSync(fileURLToPath(DIST))) throw new Error('dist/index.mjs not built (run `npm run build` at the root)');
      if (relaxed) {
        try {
          new WebAssembly.Module(readFileSync(RELAXED_WASM));
        } catch (e) {
          throw new Error(`this engine does not run relaxed SIMD (${e.message.split('\n')[0]})`);
        }
      }
      const { Xent } = await import(DIST.href);
      const probe = await Xent.create(options);
      if (!relaxed && probe.simd !== simd) throw new Error(`asked for simd: ${simd}, got the ${probe.simd ? 'SIMD' : 'portable'} build`);
      probe.dispose();
      return {
        version: describeWasm(file),
        async prepare(data) {
          const xent = await Xent.create(options);
          const logits = xent.tensorFrom(data.logits, data.shape);
          const target = xent.tensorFrom(data.target, [data.N, data.H, data.W]);
          const grad = xent.tensor('float32', data.shape);
          const fwdOpts = { ignoreIndex: data.ignoreIndex, reduction: 'mean' };
          const bwdOpts = { ignoreIndex: data.ignoreIndex, reduction: 'mean', grad };
          return {
            fwd: () => xent.crossEntropy(logits, target, fwdOpts).loss,
            fwdbwd: (check) => {
              const { loss } = xent.crossEntropy(logits, target, bwdOpts);
              return check ? { loss, grad: grad.data } : loss;
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
