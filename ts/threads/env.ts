/**
 * What the environment offers for threads (shared memory, workers, blocking waits), and spawning
 * the worker (`worker.mjs`, beside the bundle) in Node or a browser.
 * @module
 */

import type { FromWorker, ToWorker } from './protocol.js';
import { errorMessage } from '../error-message.js';

/** @internal True in Node.js (main thread or worker). */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/**
 * @internal Why worker threads over a shared memory cannot be used here (undefined when they
 * can): no `SharedArrayBuffer` (browsers give it only to cross-origin isolated pages), no shared
 * `WebAssembly.Memory`, no Web Workers.
 */
export function threadsUnavailable(): string | undefined {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown };
  if (!isNode() && g.crossOriginIsolated !== true) {
    return (
      'the page is not cross-origin isolated (serve it with the headers ' +
      'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)'
    );
  }
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available in this environment';
  if (typeof Atomics !== 'object') return 'Atomics is not available in this environment';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return 'this engine cannot create a shared WebAssembly.Memory';
  }
  if (!isNode() && typeof g.Worker !== 'function') return 'Web Workers are not available in this environment';
  return undefined;
}

let blockCache: boolean | undefined;

/** @internal Whether this thread may block in `Atomics.wait` (not a browser's main thread). */
export function canBlock(): boolean {
  if (blockCache === undefined) {
    try {
      // Returns 'not-equal' at once where waiting is allowed; throws where it is not.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blockCache = true;
    } catch {
      blockCache = false;
    }
  }
  return blockCache;
}

/** @internal A worker thread, Node's or the browser's, behind one small interface. */
export interface WorkerHandle {
  post(m: ToWorker): void;
  /** Sets the handler of the worker's messages, and of its failure (error, exit). */
  listen(onMessage: (m: FromWorker) => void, onFailure: (message: string) => void): void;
  /** Lets the process exit while the worker is idle (Node; a no-op in browsers). */
  unref(): void;
  /** Keeps the process alive while the worker has work (Node; a no-op in browsers). */
  ref(): void;
  /** Terminates the worker; settles when it has stopped (at once in browsers). */
  terminate(): Promise<void>;
}

interface NodeWorker {
  postMessage(m: unknown): void;
  on(event: 'message', f: (m: FromWorker) => void): void;
  on(event: 'error', f: (e: unknown) => void): void;
  on(event: 'exit', f: (code: number) => void): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

interface BrowserWorker {
  postMessage(m: unknown): void;
  addEventListener(type: 'message', f: (e: { data: FromWorker }) => void): void;
  addEventListener(type: 'error' | 'messageerror', f: (e: { message?: string }) => void): void;
  terminate(): void;
}

/** @internal Starts one worker running `worker.mjs` (beside this bundle). */
export async function spawnWorker(): Promise<WorkerHandle> {
  if (isNode()) {
    const name = 'node:worker_threads';
    const wt = (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as {
      Worker: new (url: URL) => NodeWorker;
    };
    const w = new wt.Worker(new URL('./worker.mjs', import.meta.url));
    let done = false;
    return {
      post: (m) => w.postMessage(m),
      listen(onMessage, onFailure) {
        w.on('message', onMessage);
        w.on('error', (e) => {
          if (!done) onFailure(errorMessage(e));
        });
        w.on('exit', (code) => {
          if (!done) onFailure(`the worker exited (code ${code})`);
        });
      },
      ref: () => w.ref(),
      unref: () => w.unref(),
      terminate() {
        done = true;
        return w.terminate().then(
          () => undefined,
          () => undefined,
        );
      },
    };
  }
  // Written out literally so that bundlers (Vite, webpack 5) see the worker entry and emit it.
  const w: BrowserWorker = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module', name: 'xent-wasm' });
  let done = false;
  return {
    post: (m) => w.postMessage(m),
    listen(onMessage, onFailure) {
      w.addEventListener('message', (e) => onMessage(e.data));
      w.addEventListener('error', (e) => {
        if (!done) onFailure(e.message ?? 'the worker script failed to load or threw');
      });
      w.addEventListener('messageerror', () => {
        if (!done) onFailure('a message could not be deserialised by the worker');
      });
    },
    ref: () => undefined,
    unref: () => undefined,
    terminate() {
      done = true;
      w.terminate();
      return Promise.resolve();
    },
  };
}
