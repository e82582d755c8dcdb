/**
 * `Xent.create({ threads })`: the option, loading the threads build on a shared memory, and
 * starting the workers — or falling back to one thread with a warning where that cannot be.
 * @module
 */

import { describeValue } from '../memory/dtype.js';
import { XentOptionError } from '../errors.js';
import { defaultThreadsWasmUrl, load, type LoadOptions, type Loaded } from '../loader.js';
import type { Runtime } from '../runtime.js';
import { threadsUnavailable } from './env.js';
import { Pool } from './pool.js';
import { DEFAULT_MIN_ELEMENTS_PER_THREAD } from './split.js';
import { errorMessage } from '../error-message.js';
import type { WarningSink } from '../warnings.js';

/** The most workers an instance may ask for. */
export const MAX_THREADS = 256;

/** Options of {@link Xent.create} about threads. */
export interface ThreadOptions {
  /**
   * Run {@link Xent.crossEntropy} and {@link Xent.crossEntropyAsync} on this many worker
   * threads (Node's `worker_threads`; Web Workers in browsers, which need a cross-origin
   * isolated page) over one shared `WebAssembly.Memory`, with the threads build
   * (`xent-simd-threads.wasm`, beside the bundle). Default 1: no workers, the plain builds.
   *
   * Where shared memory, workers or the threads build are not available, the instance runs on
   * one thread and warns why (`'threads-fallback'`, see {@link XentOptions.onWarning});
   * {@link Xent.threads} says how many it got. The
   * results are bit-identical for any number of threads.
   */
  threads?: number;
  /**
   * The smallest share of a call worth a thread, in logits elements (default 65536): a call
   * of E elements uses at most ⌊E / minElementsPerThread⌋ threads (at least 1). Smaller
   * calls run on fewer threads, where starting a thread would cost more than it saves.
   */
  minElementsPerThread?: number;
}

/** @internal Checks `options.threads` (an integer in [1, 256]; default 1). */
export function threadsOption(options: ThreadOptions): { threads: number; minElements: number } {
  const t = options.threads ?? 1;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_THREADS) {
    throw new XentOptionError(`options.threads must be an integer from 1 to ${MAX_THREADS}, got ${describeValue(t)}`);
  }
  const m = options.minElementsPerThread ?? DEFAULT_MIN_ELEMENTS_PER_THREAD;
  if (typeof m !== 'number' || !Number.isSafeInteger(m) || m < 1) {
    throw new XentOptionError(`options.minElementsPerThread must be a positive integer, got ${describeValue(m)}`);
  }
  return { threads: t, minElements: m };
}

function fallback(warn: WarningSink, threads: number, why: string): undefined {
  warn('threads-fallback', `threads: ${threads} was asked for, but this instance runs on 1 thread: ${why}`);
  return undefined;
}

/**
 * @internal Loads the threads build on a shared memory for `threads` > 1, or returns
 * undefined (having warned) when it cannot: then the caller loads a plain build.
 */
export async function loadThreadsBuild(
  options: LoadOptions,
  threads: number,
  warn: WarningSink,
): Promise<Loaded | undefined> {
  const why = threadsUnavailable();
  if (why) return fallback(warn, threads, why);
  if (options.wasm === undefined && options.simd === false) {
    return fallback(warn, threads, 'the threads build needs WebAssembly SIMD, and simd: false was asked for');
  }
  if (options.wasm === undefined && defaultThreadsWasmUrl().protocol === 'xent-inline:') {
    return fallback(warn, threads, "xent-wasm/inline embeds no threads build (use the main entry, 'xent-wasm')");
  }
  const m = options.memory;
  if (m instanceof WebAssembly.Memory && !(m.buffer instanceof SharedArrayBuffer)) {
    return fallback(warn, threads, 'options.memory is not a shared memory (create it with shared: true and a maximum)');
  }
  try {
    return await load(options, true);
  } catch (e) {
    return fallback(warn, threads, `the threads build could not be loaded (${errorMessage(e)})`);
  }
}

/** @internal Starts the workers of an instance of the threads build (warns and runs on one thread on failure). */
export async function startThreads(
  rt: Runtime,
  module: WebAssembly.Module,
  threads: number,
  minElements: number,
  warn: WarningSink,
): Promise<void> {
  try {
    // A worker that dies later takes the pool with it: the instance continues on one thread.
    const pool: Pool = await Pool.start(rt, module, threads, minElements, (index, message) => {
      if (rt.pool === pool) rt.pool = undefined;
      warn('worker-failed', `worker thread ${index} failed (${message}); this instance continues on one thread`);
    });
    rt.pool = pool;
  } catch (e) {
    fallback(warn, threads, `the worker threads could not be started (${errorMessage(e)})`);
  }
}
