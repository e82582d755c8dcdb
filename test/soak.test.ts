/**
 * Soak: 1,000,000 fused loss + gradient calls with allocation/dispose churn in between. Memory
 * in use must come back to where it started, reserved memory must stop growing once the
 * working set has been seen, and the results must not drift (every call on the same data gives
 * the same bits). `XENT_SOAK_CALLS` changes the count (e.g. 10,000,000 for a long run).
 */
import { describe, expect, it } from 'vitest';
import { lib } from './reference/dist.js';
import { Rng } from './reference/rng.js';

const CALLS = Number(process.env.XENT_SOAK_CALLS ?? 1_000_000);

describe('soak', () => {
  it(`${CALLS.toLocaleString('en')} fused calls with alloc/dispose churn leak nothing`, async () => {
    const xent = await lib.Xent.create();
    try {
      const start = xent.memoryStats();
      const rng = new Rng(20261128);
      // The working data: small, so that the call overhead (validation, ABI) dominates.
      const [N, C, S] = [1, 5, 7];
      const logits = xent.tensorFrom(
        Float32Array.from({ length: N * C * S }, () => rng.normal() * 3),
        [N, C, S],
      );
      const target = xent.tensorFrom(
        Uint8Array.from({ length: N * S }, (_, i) => (i % 4 === 3 ? 255 : i % C)),
        [N, S],
      );
      const grad = xent.tensor('float32', [N, C, S]);
      const first = xent.crossEntropy(logits, target, { ignoreIndex: 255, labelSmoothing: 0.1, grad });
      const firstGrad = Uint32Array.from(new Uint32Array(grad.data.buffer, grad.data.byteOffset, grad.size));

      // Churn: a pool of up to 24 live tensors of random sizes and dtypes, one allocation or
      // dispose every 5 calls; plain-input calls (copied into scratch memory) every 50.
      const pool: lib.Tensor[] = [];
      const dtypes = ['float32', 'uint8', 'uint16', 'int32'] as const;
      let reservedAfterWarmup = -1;
      let mismatches = 0;
      for (let i = 1; i <= CALLS; i++) {
        if (i % 50 === 0) {
          const r = xent.crossEntropy(
            { data: logits.data.slice(), shape: [N, C, S] },
            { data: target.data.slice(), shape: [N, S] },
            { ignoreIndex: 255, labelSmoothing: 0.1 },
          );
          if (r.sum !== first.sum) mismatches++;
        } else {
          const r = xent.crossEntropy(logits, target, { ignoreIndex: 255, labelSmoothing: 0.1, grad });
          if (r.loss !== first.loss || r.weightSum !== first.weightSum) mismatches++;
        }
        if (i % 5 === 0) {
          if (pool.length < 24 && (pool.length === 0 || rng.next() < 0.5)) {
            const dtype = rng.pick(dtypes);
            pool.push(xent.tensor(dtype, [rng.int(1, 2000)]));
          } else {
            pool.splice(rng.int(0, pool.length - 1), 1)[0]!.dispose();
          }
        }
        if (i === Math.min(CALLS, 20_000)) reservedAfterWarmup = xent.memoryStats().bytesReserved;
      }
      const bits = new Uint32Array(grad.data.buffer, grad.data.byteOffset, grad.size);
      expect(mismatches).toBe(0);
      expect(Array.from(bits)).toEqual(Array.from(firstGrad));
      // Reserved memory stopped growing after the warm-up: the allocator reuses freed blocks.
      expect(xent.memoryStats().bytesReserved).toBe(reservedAfterWarmup);
      for (const t of pool) t.dispose();
      logits.dispose();
      target.dispose();
      grad.dispose();
      const end = xent.memoryStats();
      expect(end.bytesInUse).toBe(start.bytesInUse);
      expect(end.liveTensors).toBe(start.liveTensors);
    } finally {
      xent.dispose();
    }
  }, 600_000);
});
