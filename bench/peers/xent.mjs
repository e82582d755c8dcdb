// xent-wasm itself (the built package in ../../dist), SIMD and portable builds. The logits,
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

function makePeer(simd) {
  return {
    id: simd ? 'xent-simd' : 'xent-portable',
    label: simd ? 'xent-wasm SIMD' : 'xent-wasm portable',
    precision: 'float32',
    async load() {
      if (!existsSync(fileURLToPath(DIST))) throw new Error('dist/index.mjs not built (run `npm run build` at the root)');
      const { Xent } = await import(DIST.href);
      const probe = await Xent.create({ simd });
      if (probe.simd !== simd) throw new Error(`asked for simd: ${simd}, got the ${probe.simd ? 'SIMD' : 'portable'} build`);
      probe.dispose();
      return {
        version: describeWasm(simd ? 'xent-simd.wasm' : 'xent.wasm'),
        async prepare(data) {
          const xent = await Xent.create({ simd });
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
