/**
 * The entry of each worker thread (bundled on its own as `dist/worker.mjs`): instantiates the
 * threads build on the shared memory with its own stack, then runs the parts of split
 * cross-entropy calls (weight sums of label ranges, sample ranges). Self-contained: it imports
 * only the message protocol and a leaf helper, no runtime code of the library.
 * @module
 */

import { RANGE_ACC_ARG, STATUS_TRAPPED, type CallMessage, type FromWorker, type ToWorker } from './protocol.js';
import { errorMessage } from '../error-message.js';

interface Kernel {
  xent_cross_entropy_range(...args: number[]): number;
  xent_cross_entropy_weight_sum(...args: number[]): number;
  xent_cross_entropy_f16_range(...args: number[]): number;
  xent_cross_entropy_f16_weight_sum(...args: number[]): number;
  xent_resize_cross_entropy_range(...args: number[]): number;
  xent_resize_weight_sum(...args: number[]): number;
  xent_exact_sum_clear(p: number): void;
}

let memory: WebAssembly.Memory | undefined;
let kernel: Kernel | undefined;

async function init(m: Extract<ToWorker, { type: 'init' }>, post: (m: FromWorker) => void): Promise<void> {
  try {
    const instance = await WebAssembly.instantiate(m.module, { env: { memory: m.memory } });
    const sp = instance.exports.__stack_pointer;
    if (!(sp instanceof WebAssembly.Global)) throw new Error('the module does not export __stack_pointer');
    sp.value = m.stackTop;
    memory = m.memory;
    kernel = instance.exports as unknown as Kernel;
    post({ type: 'ready' });
  } catch (e) {
    post({ type: 'fail', message: `could not instantiate the threads build in a worker: ${errorMessage(e)}` });
  }
}

function call(m: CallMessage, post: (m: FromWorker) => void): void {
  let status = STATUS_TRAPPED;
  let failure: string | undefined;
  try {
    if (!kernel || !memory) throw new Error('the worker was not initialised');
    if (m.fn === 'range' || m.fn === 'range16' || m.fn === 'resizeRange') {
      kernel.xent_exact_sum_clear(m.args[RANGE_ACC_ARG]!);
    }
    const k = kernel;
    const f = {
      range: () => k.xent_cross_entropy_range(...m.args),
      range16: () => k.xent_cross_entropy_f16_range(...m.args),
      resizeRange: () => k.xent_resize_cross_entropy_range(...m.args),
      weightSum: () => k.xent_cross_entropy_weight_sum(...m.args),
      weightSum16: () => k.xent_cross_entropy_f16_weight_sum(...m.args),
      resizeWeightSum: () => k.xent_resize_weight_sum(...m.args),
    }[m.fn];
    status = f() >>> 0;
  } catch (e) {
    failure = errorMessage(e);
  } finally {
    // Always signal: the main thread may be blocked waiting for this call.
    const ctl = new Int32Array(memory!.buffer, m.ctl, 1 + m.slot + 1);
    Atomics.store(ctl, 1 + m.slot, status);
    if (m.sync) {
      Atomics.sub(ctl, 0, 1);
      Atomics.notify(ctl, 0);
    }
  }
  if (m.sync) return; // the main thread reads the status from the control block
  post(failure === undefined ? { type: 'done', id: m.id } : { type: 'fail', id: m.id, message: failure });
}

function handle(m: ToWorker, post: (m: FromWorker) => void): void {
  if (m.type === 'init') void init(m, post);
  else if (m.type === 'call') call(m, post);
}

interface NodePort {
  on(event: 'message', f: (m: ToWorker) => void): void;
  postMessage(m: FromWorker): void;
}

const node = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
if (node) {
  // A variable specifier keeps browser bundlers from resolving a Node built-in.
  const name = 'node:worker_threads';
  void import(/* @vite-ignore */ /* webpackIgnore: true */ name).then((wt: { parentPort: NodePort | null }) => {
    const port = wt.parentPort!;
    port.on('message', (m) => handle(m, (r) => port.postMessage(r)));
  });
} else {
  const scope = globalThis as unknown as {
    onmessage: ((e: { data: ToWorker }) => void) | null;
    postMessage(m: FromWorker): void;
  };
  scope.onmessage = (e) => handle(e.data, (r) => scope.postMessage(r));
}
