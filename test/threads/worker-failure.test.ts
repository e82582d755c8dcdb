/**
 * A worker thread that dies during a crossEntropyAsync call: the call rejects, but only once
 * the other workers have exited (they may still be writing the call's tensors and scratch
 * memory, whose blocks the rejection frees). The workers here are fakes (ts/threads/env.ts's
 * spawnWorker mocked): worker 0 takes its task and never answers, worker 1 dies.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import type { WorkerHandle } from '../../ts/threads/env.js';
import type { FromWorker, ToWorker } from '../../ts/threads/protocol.js';

const fakes: Array<{ onMessage?: (m: FromWorker) => void; onFailure?: (message: string) => void; calls: number }> = [];
let exitWorkers: () => void = () => undefined;
const exited = new Promise<void>((resolve) => {
  exitWorkers = resolve;
});

vi.mock('../../ts/threads/env.js', async (importOriginal) => {
  const env = await importOriginal<typeof import('../../ts/threads/env.js')>();
  return {
    ...env,
    spawnWorker: async (): Promise<WorkerHandle> => {
      const f: (typeof fakes)[number] = { calls: 0 };
      fakes.push(f);
      return {
        post(m: ToWorker) {
          if (m.type === 'init') queueMicrotask(() => f.onMessage?.({ type: 'ready' }));
          else f.calls++;
        },
        listen(onMessage, onFailure) {
          f.onMessage = onMessage;
          f.onFailure = onFailure;
        },
        ref: () => undefined,
        unref: () => undefined,
        terminate: () => exited,
      };
    },
  };
});

describe('a worker that dies during an async call', () => {
  it('the call rejects only once the other workers have exited', async () => {
    const { Xent } = await import('../../ts/xent.js');
    const { XentDisposedError, XentError } = await import('../../ts/errors.js');
    const wasm = readFileSync(new URL('../../dist/xent-simd-threads.wasm', import.meta.url));
    const warnings: string[] = [];
    const x = await Xent.create({ wasm, threads: 2, minElementsPerThread: 1, onWarning: (w) => warnings.push(w.code) });
    try {
      expect(x.threads).toBe(2);
      const logits = x.tensorFrom(new Float32Array(2 * 3 * 64), [2, 3, 64]);
      const target = x.tensorFrom(new Uint8Array(2 * 64), [2, 64]);
      let settled = false;
      const pending = x.crossEntropyAsync(logits, target, { lossMap: true });
      pending.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      await vi.waitFor(() => expect(fakes.every((f) => f.calls > 0)).toBe(true));
      fakes[1]!.onFailure!('boom');
      expect(warnings).toEqual(['worker-failed']);
      expect(x.threads).toBe(1);
      for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 1));
      // Worker 0 has not exited: it may still be writing the call's lossMap and scratch.
      expect(settled).toBe(false);
      exitWorkers();
      // The worker's failure, not an XentDisposedError: the instance was not disposed.
      const err = await pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(XentError);
      expect(err).not.toBeInstanceOf(XentDisposedError);
      expect((err as Error).message).toMatch(/worker thread 1 failed: boom/);
      expect(x.disposed).toBe(false);
    } finally {
      x.dispose();
    }
  });
});
