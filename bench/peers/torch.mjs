// PyTorch (CPU, 1 thread) through a Python child process: /usr/bin/python3 peers/torch_peer.py.
// The data goes over as raw files (the exact same bytes); PyTorch times itself and reports
// per-run times, the losses and a sample of the gradient as JSON.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const id = 'torch';
export const label = 'PyTorch CPU (1 thread)';
export const precision = 'float32';

const PYTHON = process.env.XENT_BENCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./torch_peer.py', import.meta.url));

export async function load() {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (probe.error) throw new Error(`${PYTHON}: ${probe.error.message}`);
  if (probe.status !== 0) {
    const last = (probe.stderr || '').trim().split('\n').pop();
    throw new Error(`${PYTHON} -c "import torch" failed: ${last || `exit ${probe.status}`}`);
  }
  const version = probe.stdout.trim();
  return {
    version: `${version} (${PYTHON})`,
    external: true,
    /** Runs the whole measurement in Python; returns { op: { loss, times, gradSample? } }. */
    run(data, ops, policy, sample) {
      const dir = mkdtempSync(join(tmpdir(), 'xent-bench-'));
      try {
        const logits = join(dir, 'logits.f32');
        const target = join(dir, 'target.u8');
        writeFileSync(logits, new Uint8Array(data.logits.buffer, data.logits.byteOffset, data.logits.byteLength));
        writeFileSync(target, data.target);
        const job = {
          logits,
          target,
          shape: data.shape,
          ignoreIndex: data.ignoreIndex,
          ops,
          policy,
          sample: Array.from(sample),
          // bench/resize.mjs: { size: [H, W], mode, alignCorners }, the labels at that size
          ...(data.resize ? { resize: data.resize } : {}),
        };
        const r = spawnSync(PYTHON, [SCRIPT], {
          input: JSON.stringify(job),
          encoding: 'utf8',
          maxBuffer: 64 << 20,
          timeout: 30 * 60_000,
          env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
        });
        if (r.error) throw new Error(`torch peer: ${r.error.message}`);
        if (r.status !== 0)
          throw new Error(`torch peer exited ${r.status}: ${(r.stderr || '').trim().split('\n').pop()}`);
        return JSON.parse(r.stdout).results;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
