/**
 * The worker pool of an {@link Xent} created with `threads > 1`: n workers, each with its own
 * instance of the threads build on the one shared memory and its own stack, running sample
 * ranges of split cross-entropy calls. Partial sums are exact accumulators merged on the
 * calling thread, so the result has the same bits whatever the split.
 * @module
 */

import { Status } from '../abi.js';
import { invoke } from '../args.js';
import { XentDisposedError, XentError } from '../errors.js';
import { roundUp } from '../heap.js';
import type { Runtime } from '../runtime.js';
import { checkThreadExports, type ThreadExports } from './abi.js';
import { canBlock, isNode, spawnWorker, warnOnce, type WorkerHandle } from './env.js';
import { STATUS_TRAPPED, type FromWorker } from './protocol.js';
import { splitRanges, usefulThreads, type SampleRange } from './split.js';

/** Bytes of each worker's stack (the module's own stack size). */
export const WORKER_STACK_BYTES = 65536;

/** How long the workers may take to start before the pool gives up (ms). */
const START_TIMEOUT_MS = 30_000;

/**
 * @internal The outcome of a split call: a kernel status and the kernel's `out`
 * (`[loss, sum, weightSum, 0]` on success; `[value, , , index]` for TargetOutOfBounds).
 */
export interface SplitOutcome {
  status: number;
  out: [number, number, number, number];
}

/** @internal What the pool needs to know about a cross-entropy call besides its arguments. */
export interface SplitCall {
  /** The first 15 arguments of `xent_cross_entropy` (everything before `out`). */
  args: number[];
  /** Samples: `n * s` of the kernel's dims. */
  samples: number;
  /** Classes. */
  classes: number;
  /** ABI reduction code. */
  reduction: number;
  /** Probability targets (their 'mean' of zero samples is 0/0 too, but not forced). */
  prob: boolean;
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

interface Slot {
  worker: WorkerHandle;
  stackTop: number;
  acc: number;
  out: number;
}

/** @internal */
export class Pool {
  /** Number of workers. */
  readonly size: number;
  /** Smallest share of a call, in logits elements, worth a thread. */
  readonly minElements: number;
  readonly #rt: Runtime;
  readonly #x: ThreadExports;
  readonly #slots: Slot[];
  /** The calling thread's ExactSum (its own range in sync calls, then the merged total). */
  readonly #mainAcc: number;
  /** Int32 control block: `[pending, status of slot 0, ..., status of slot size-1]`. */
  readonly #ctl: number;
  readonly #waiters = new Map<number, Waiter>();
  #queue: Promise<unknown> = Promise.resolve();
  /** Async calls queued or running. */
  #busy = 0;
  #nextId = 1;
  #started = false;
  #terminated = false;

  private constructor(rt: Runtime, x: ThreadExports, slots: Slot[], mainAcc: number, ctl: number, minElements: number) {
    this.#rt = rt;
    this.#x = x;
    this.#slots = slots;
    this.#mainAcc = mainAcc;
    this.#ctl = ctl;
    this.size = slots.length;
    this.minElements = minElements;
  }

  /**
   * Allocates the stacks and accumulators, starts `size` workers and instantiates the module
   * in each; rejects (having released everything) when a worker cannot start.
   */
  static async start(rt: Runtime, module: WebAssembly.Module, size: number, minElements: number): Promise<Pool> {
    const x = checkThreadExports(rt.exports);
    const accBytes = roundUp(x.xent_exact_sum_size(), 64);
    const blocks: number[] = [];
    const workers: WorkerHandle[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const main = rt.heap.alloc(accBytes + 4 * (size + 1), true);
      blocks.push(main);
      const slots: Slot[] = [];
      for (let i = 0; i < size; i++) {
        const b = rt.heap.alloc(WORKER_STACK_BYTES + accBytes + 64);
        blocks.push(b);
        slots.push({ worker: undefined!, stackTop: b + WORKER_STACK_BYTES, acc: b + WORKER_STACK_BYTES, out: b + WORKER_STACK_BYTES + accBytes });
      }
      for (let i = 0; i < size; i++) {
        const w = await spawnWorker();
        workers.push(w);
        slots[i]!.worker = w;
      }
      const pool = new Pool(rt, x, slots, main, main + accBytes, minElements);
      const ready = slots.map(
        (slot, i) =>
          new Promise<void>((resolve, reject) => {
            slot.worker.listen(
              (m) => (m.type === 'ready' ? resolve() : m.type === 'fail' && m.id === undefined ? reject(new Error(m.message)) : pool.#onMessage(m)),
              (message) => {
                reject(new Error(message));
                pool.#onFailure(i, message);
              },
            );
            slot.worker.post({ type: 'init', module, memory: rt.memory, stackTop: slot.stackTop });
          }),
      );
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the workers did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      });
      await Promise.race([Promise.all(ready), timeout]);
      // Idle workers must not keep a Node process alive (a forgotten dispose() would hang it).
      for (const s of slots) s.worker.unref();
      pool.#started = true;
      return pool;
    } catch (e) {
      for (const w of workers) w.terminate();
      for (const b of blocks) rt.heap.free(b);
      throw e;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** True while no async call is queued or running. */
  get idle(): boolean {
    return this.#busy === 0;
  }

  /**
   * Runs a cross-entropy call split between the calling thread and the workers, blocking in
   * `Atomics.wait` until they are done. Returns undefined when that is not possible or not
   * worth it (a browser's main thread, an async call in flight, a small call): the caller then
   * runs the whole call itself, with the same bits.
   */
  runSync(call: SplitCall): SplitOutcome | undefined {
    if (this.#terminated || this.#busy > 0 || !isNode() || !canBlock()) return undefined;
    const k = usefulThreads(call.samples, call.classes, this.size, this.minElements);
    if (k < 2) return undefined;
    const pre = this.#weightSum(call);
    if (pre.status !== Status.Ok) return pre;
    const ws = pre.out[2];
    const ranges = splitRanges(call.samples, k);
    const x = this.#x;
    const rt = this.#rt;
    const ctl = new Int32Array(rt.memory.buffer, this.#ctl, 1 + this.size);
    const others = ranges.slice(1);
    Atomics.store(ctl, 0, others.length);
    others.forEach((r, j) => {
      Atomics.store(ctl, 1 + j, STATUS_TRAPPED);
      this.#slots[j]!.worker.post({ type: 'range', id: 0, args: this.#rangeArgs(call, ws, r, this.#slots[j]!), ctl: this.#ctl, slot: j, sync: true });
    });
    let status: number;
    try {
      const r0 = ranges[0]!;
      x.xent_exact_sum_clear(this.#mainAcc);
      status = invoke('xent_cross_entropy_range', () => x.xent_cross_entropy_range(...call.args, ws, r0.lo, r0.hi, this.#mainAcc, rt.outPtr));
    } finally {
      // Whatever happened here, the workers are writing: wait for them before returning.
      for (let v = Atomics.load(ctl, 0); v !== 0; v = Atomics.load(ctl, 0)) Atomics.wait(ctl, 0, v);
    }
    if (status !== Status.Ok) return { status, out: readOut(rt, rt.outPtr) };
    return this.#finish(call, ws, others.length, ctl);
  }

  /**
   * Runs a cross-entropy call on the workers (validation and the weight sum on the calling
   * thread first, synchronously). Calls are queued: one runs at a time on the pool.
   */
  run(call: SplitCall): Promise<SplitOutcome> {
    if (this.#terminated) return Promise.reject(disposedError());
    const pre = this.#weightSum(call);
    if (pre.status !== Status.Ok) return Promise.resolve(pre);
    const ws = pre.out[2];
    const k = usefulThreads(call.samples, call.classes, this.size, this.minElements);
    const ranges = splitRanges(call.samples, k);
    this.#busy++;
    const job = this.#queue.then(() => this.#runAsync(call, ws, ranges));
    this.#queue = job.catch(() => undefined);
    return job.finally(() => {
      this.#busy--;
    });
  }

  /** Terminates the workers; calls in flight reject with {@link XentDisposedError}. */
  terminate(): void {
    this.#shutdown(disposedError());
  }

  #shutdown(reason: Error): void {
    if (this.#terminated) return;
    this.#terminated = true;
    for (const s of this.#slots) s.worker.terminate();
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const w of waiters) w.reject(reason);
  }

  async #runAsync(call: SplitCall, ws: number, ranges: SampleRange[]): Promise<SplitOutcome> {
    if (this.#terminated) throw disposedError();
    const rt = this.#rt;
    const jobs = ranges.map((r, j) => {
      const slot = this.#slots[j]!;
      const id = this.#nextId++;
      return new Promise<void>((resolve, reject) => {
        this.#waiters.set(id, { resolve, reject });
        Atomics.store(new Int32Array(rt.memory.buffer, this.#ctl + 4 * (1 + j), 1), 0, STATUS_TRAPPED);
        slot.worker.ref();
        slot.worker.post({ type: 'range', id, args: this.#rangeArgs(call, ws, r, slot), ctl: this.#ctl, slot: j, sync: false });
      }).finally(() => slot.worker.unref());
    });
    // Every range must be over before the caller's buffers are released, even if one failed.
    const settled = await Promise.allSettled(jobs);
    if (this.#terminated) throw disposedError();
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    this.#x.xent_exact_sum_clear(this.#mainAcc);
    return this.#finish(call, ws, ranges.length, new Int32Array(rt.memory.buffer, this.#ctl, 1 + this.size));
  }

  /** Checks the workers' statuses, merges their sums (in slot order) and reduces. */
  #finish(call: SplitCall, ws: number, workers: number, ctl: Int32Array): SplitOutcome {
    const x = this.#x;
    for (let j = 0; j < workers; j++) {
      const status = Atomics.load(ctl, 1 + j);
      if (status === STATUS_TRAPPED) {
        throw new XentError('xent_cross_entropy_range trapped in a worker thread: this is a bug in xent-wasm');
      }
      if (status !== Status.Ok) return { status, out: readOut(this.#rt, this.#slots[j]!.out) };
    }
    for (let j = 0; j < workers; j++) x.xent_exact_sum_merge(this.#mainAcc, this.#slots[j]!.acc);
    const sum = x.xent_exact_sum_value(this.#mainAcc);
    // As the kernel's reduce(): 'mean' of index targets with a zero weight sum is NaN (PyTorch).
    let loss = sum;
    if (call.reduction === 1) loss = ws === 0 && !call.prob ? NaN : sum / ws;
    return { status: Status.Ok, out: [loss, sum, ws, 0] };
  }

  #weightSum(call: SplitCall): SplitOutcome {
    const rt = this.#rt;
    const x = this.#x;
    const status = invoke('xent_cross_entropy_weight_sum', () => x.xent_cross_entropy_weight_sum(...call.args, rt.outPtr));
    return { status, out: readOut(rt, rt.outPtr) };
  }

  #rangeArgs(call: SplitCall, ws: number, r: SampleRange, slot: Slot): number[] {
    return [...call.args, ws, r.lo, r.hi, slot.acc, slot.out];
  }

  #onMessage(m: FromWorker): void {
    if (m.type !== 'done' && m.type !== 'fail') return;
    if (m.id === undefined) return;
    const w = this.#waiters.get(m.id);
    if (!w) return;
    this.#waiters.delete(m.id);
    if (m.type === 'done') w.resolve();
    else w.reject(new XentError(`xent_cross_entropy_range trapped in a worker thread (${m.message}): this is a bug in xent-wasm`));
  }

  /**
   * A worker died (it cannot, short of a crash or running out of memory): the calls in flight
   * reject and the instance continues on one thread. (During start, start() handles it.)
   */
  #onFailure(index: number, message: string): void {
    if (!this.#started || this.#terminated) return;
    this.#shutdown(new XentError(`worker thread ${index} failed: ${message}`));
    if (this.#rt.pool === this) this.#rt.pool = undefined;
    warnOnce(`worker thread ${index} failed (${message}); this instance continues on one thread`);
  }
}

function readOut(rt: Runtime, p: number): [number, number, number, number] {
  const o = new Float64Array(rt.memory.buffer, p, 4);
  return [o[0]!, o[1]!, o[2]!, o[3]!];
}

function disposedError(): XentDisposedError {
  return new XentDisposedError('crossEntropyAsync: the Xent instance was disposed before the call finished');
}
