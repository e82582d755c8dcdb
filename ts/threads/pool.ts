/**
 * The worker pool of an {@link Xent} created with `threads > 1`: n workers, each with its own
 * instance of the threads build on the one shared memory and its own stack, running the parts
 * of split cross-entropy calls.
 *
 * A split call has two rounds: the labels are validated and the 'mean' denominator summed by
 * label ranges (`xent_cross_entropy_weight_sum` on each part as a problem of its own: the
 * parts' sums are exact, see {@link exactWeightSums}, so their total has the bits of the whole
 * one), then the samples are computed by ranges (`xent_cross_entropy_range`) whose ExactSums
 * are merged on the calling thread. Per-sample arithmetic does not depend on the neighbours,
 * so loss and gradient have the same bits whatever the split.
 *
 * Longer than 400 lines because it is one class: the sync and async rounds share its private
 * state (the participants' places, the control block, the waiters), which a split would expose.
 * @module
 */

import { LOSS_ARGS_BYTES, REDUCTION_CODE, Status, writeLossArgs } from '../kernel/abi.js';
import { XentDisposedError, XentError } from '../errors.js';
import { roundUp } from '../memory/heap.js';
import { invoke, meanOf, readOut, type KernelOutcome, type SplitCall } from '../kernel/call.js';
import { stripOf } from '../kernel/half.js';
import type { Runtime, ThreadPool } from '../runtime.js';
import { checkThreadExports, type ThreadExports } from './abi.js';
import { canBlock, isNode, spawnWorker, type WorkerHandle } from './env.js';
import { RANGE_ACC_ARG, STATUS_TRAPPED, type CallMessage, type FromWorker } from './protocol.js';
import { exactWeightSums, splitRanges, usefulThreads, type SampleRange } from './split.js';

/** Bytes of each worker's stack (the module's own stack size). */
export const WORKER_STACK_BYTES = 65536;

/** How long the workers may take to start before the pool gives up (ms). */
const START_TIMEOUT_MS = 30_000;

/** Bytes per label of each ABI target kind (u8, u16, i32; 0 for probabilities). */
const LABEL_BYTES = [1, 2, 4, 0] as const;

/** One kernel call of a round, with where its ExactSum and `out` are. */
interface Task {
  fn: CallMessage['fn'];
  args: number[];
  out: number;
}

/** Where a participant of a round keeps its ExactSum, `out` and the `LossArgs` of its part. */
interface Place {
  acc: number;
  out: number;
  args: number;
  /** Its strip of a float16 call's scratch: 0 for the calling thread, i + 1 for worker i. */
  strip: number;
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

/** @internal Told when a worker dies after the start (the pool has shut down by then). */
export type PoolFailure = (worker: number, message: string) => void;

/** @internal */
export class Pool implements ThreadPool {
  /** Number of workers. */
  readonly size: number;
  /** Smallest share of a call, in logits elements, worth a thread. */
  readonly minElements: number;
  readonly #rt: Runtime;
  readonly #x: ThreadExports;
  readonly #workers: WorkerHandle[];
  /** Worker i's ExactSum and `out`. */
  readonly #places: Place[];
  /** The calling thread's ExactSum (its own range in sync calls, then the merged total) and `out`. */
  readonly #here: Place;
  /** The `LossArgs` of the call being split (every range reads it). */
  readonly #callArgs: number;
  /** Int32 control block: `[pending, status of worker 0, ..., status of worker size-1]`. */
  readonly #ctl: number;
  readonly #onFailed: PoolFailure;
  readonly #waiters = new Map<number, Waiter>();
  #queue: Promise<unknown> = Promise.resolve();
  /** Async calls queued or running. */
  #busy = 0;
  #nextId = 1;
  #started = false;
  #terminated = false;
  /** Why the pool shut down: the instance was disposed, or a worker failed. */
  #reason: Error | undefined;
  /** Settles when every worker has exited, after {@link Pool.terminate}. */
  #exited: Promise<void> = Promise.resolve();

  private constructor(
    rt: Runtime,
    x: ThreadExports,
    workers: WorkerHandle[],
    places: Place[],
    mainAcc: number,
    ctl: number,
    callArgs: number,
    minElements: number,
    onFailed: PoolFailure,
  ) {
    this.#rt = rt;
    this.#onFailed = onFailed;
    this.#x = x;
    this.#workers = workers;
    this.#places = places;
    this.#here = { acc: mainAcc, out: rt.outPtr, args: rt.argsPtr, strip: 0 };
    this.#ctl = ctl;
    this.#callArgs = callArgs;
    this.size = workers.length;
    this.minElements = minElements;
  }

  /**
   * Allocates the stacks and accumulators, starts `size` workers and instantiates the module
   * in each; rejects (having released everything) when a worker cannot start. `onFailed` is
   * called if a worker dies later on.
   */
  static async start(
    rt: Runtime,
    module: WebAssembly.Module,
    size: number,
    minElements: number,
    onFailed: PoolFailure,
  ): Promise<Pool> {
    const x = checkThreadExports(rt.exports);
    const accBytes = roundUp(x.xent_exact_sum_size(), 64);
    const blocks: number[] = [];
    const workers: WorkerHandle[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // [ExactSum | call's LossArgs | control block]
      const argsBytes = roundUp(LOSS_ARGS_BYTES, 16);
      const main = rt.heap.alloc(accBytes + argsBytes + 4 * (size + 1), true);
      blocks.push(main);
      // Per worker: [stack (grows down from its top) | ExactSum | out | LossArgs].
      const stacks: number[] = [];
      const places: Place[] = [];
      for (let i = 0; i < size; i++) {
        const b = rt.heap.alloc(WORKER_STACK_BYTES + accBytes + 32 + argsBytes);
        blocks.push(b);
        stacks.push(b + WORKER_STACK_BYTES);
        const acc = b + WORKER_STACK_BYTES;
        places.push({ acc, out: acc + accBytes, args: acc + accBytes + 32, strip: i + 1 });
      }
      for (let i = 0; i < size; i++) workers.push(await spawnWorker());
      const pool = new Pool(
        rt,
        x,
        workers,
        places,
        main,
        main + accBytes + argsBytes,
        main + accBytes,
        minElements,
        onFailed,
      );
      const ready = workers.map(
        (w, i) =>
          new Promise<void>((resolve, reject) => {
            w.listen(
              (m) =>
                m.type === 'ready'
                  ? resolve()
                  : m.type === 'fail' && m.id === undefined
                    ? reject(new Error(m.message))
                    : pool.#onMessage(m),
              (message) => {
                reject(new Error(message));
                pool.#onFailure(i, message);
              },
            );
            w.post({ type: 'init', module, memory: rt.memory, stackTop: stacks[i]! });
          }),
      );
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the workers did not start within ${START_TIMEOUT_MS / 1000} s`)),
          START_TIMEOUT_MS,
        );
      });
      await Promise.race([Promise.all(ready), timeout]);
      // Idle workers must not keep a Node process alive (a forgotten dispose() would hang it).
      for (const w of workers) w.unref();
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

  /**
   * Runs a cross-entropy call split between the calling thread and the workers, blocking in
   * `Atomics.wait` until they are done. Returns undefined when that is not possible or not
   * worth it (a browser's main thread, an async call in flight, a small call): the caller then
   * runs the whole call itself, with the same bits.
   */
  runSync(call: SplitCall): KernelOutcome | undefined {
    if (this.#terminated || this.#busy > 0 || !isNode() || !canBlock()) return undefined;
    const k = usefulThreads(call.samples, call.classes, this.size, this.minElements);
    if (k < 2) return undefined;
    // This thread is participant 0, worker j participant j + 1.
    const places = [this.#here, ...this.#places];
    const ws = this.#weightSumTasks(call, k, places);
    const pre = this.#weightSumOutcome(
      ws,
      ws.tasks.length === 1 ? [this.#runHere(ws.tasks[0]!)] : this.#roundSync(ws.tasks),
    );
    if (pre.status !== Status.Ok) return pre;
    const ranges = rangesOf(call, k);
    const statuses = this.#roundSync(this.#rangeTasks(call, pre.out[2], ranges, places));
    return this.#finish(call, pre.out[2], statuses, places.slice(0, ranges.length), true);
  }

  /**
   * Runs a cross-entropy call on the workers, queued behind the earlier ones (one runs at a
   * time). The calling thread only merges the sums at the end.
   */
  run(call: SplitCall): Promise<KernelOutcome> {
    if (this.#terminated) return Promise.reject(this.#reason);
    this.#busy++;
    const job = this.#queue.then(() => this.#runAsync(call));
    this.#queue = job.catch(() => undefined);
    return job.finally(() => {
      this.#busy--;
    });
  }

  /**
   * Terminates the workers; calls in flight reject with {@link XentDisposedError}. Settles
   * when every worker has exited.
   */
  terminate(): Promise<void> {
    return this.#shutdown(disposedError());
  }

  async #runAsync(call: SplitCall): Promise<KernelOutcome> {
    if (this.#terminated) throw this.#reason;
    const k = usefulThreads(call.samples, call.classes, this.size, this.minElements);
    const ws = this.#weightSumTasks(call, k, this.#places);
    // A weight sum that is not split (probability targets: nothing to read; small calls) runs
    // here, in the idle worker 0's out block.
    const pre = this.#weightSumOutcome(
      ws,
      ws.tasks.length === 1 ? [this.#runHere(ws.tasks[0]!)] : await this.#roundAsync(ws.tasks),
    );
    if (pre.status !== Status.Ok) return pre;
    if (call.samples === 0) return this.#finish(call, pre.out[2], [], [], false);
    const ranges = rangesOf(call, k);
    // (Worker j is participant j + 1 of the call's scratch blocks.)
    const statuses = await this.#roundAsync(this.#rangeTasks(call, pre.out[2], ranges, this.#places, 1));
    return this.#finish(call, pre.out[2], statuses, this.#places.slice(0, ranges.length), false);
  }

  /**
   * The weight-sum round: index targets are validated and summed by label ranges, each part a
   * problem of its own (n = 1, s = its length), unless the weights' sums could round; one task
   * for the whole call otherwise.
   */
  #weightSumTasks(call: SplitCall, k: number, places: Place[]): { tasks: Task[]; parts: SampleRange[] } {
    const a = call.args;
    const buffer = this.#rt.memory.buffer;
    writeLossArgs(buffer, this.#callArgs, a);
    // Float16 logits: their own weight sum (it reads the logits' length as half values).
    const fn = call.half ? 'weightSum16' : 'weightSum';
    const whole = (): { tasks: Task[]; parts: SampleRange[] } => ({
      tasks: [
        call.resize
          ? { fn: 'resizeWeightSum', args: [this.#callArgs, call.resize.args, places[0]!.out], out: places[0]!.out }
          : { fn, args: [this.#callArgs, places[0]!.out], out: places[0]!.out },
      ],
      parts: [{ lo: 0, hi: call.samples }],
    });
    // A resized call validates its full-resolution labels in one piece.
    if (call.resize) return whole();
    if (call.prob || k < 2) return whole();
    if (a.weight !== 0 && !exactWeightSums(new Float32Array(buffer, a.weight, a.c), call.samples)) return whole();
    const parts = splitRanges(call.samples, k);
    if (parts.length < 2) return whole();
    const bytes = LABEL_BYTES[a.targetKind as 0 | 1 | 2];
    const tasks = parts.map((r, j): Task => {
      const { out, args } = places[j]!;
      // Labels [lo, hi) as a batch of one sample row; the logits pointer only has to be valid
      // (the kernel reads no logits here); reduction 'mean' needs no other buffer.
      writeLossArgs(buffer, args, {
        ...a,
        target: a.target + r.lo * bytes,
        n: 1,
        s: r.hi - r.lo,
        layout: 0,
        reduction: 1,
        grad: 0,
        gradOutput: 0,
        lossMap: 0,
        confidence: 0,
      });
      return { fn, args: [args, out], out };
    });
    return { tasks, parts };
  }

  /** The weight sum from the parts' statuses and outs: the first failure (by position) or the total. */
  #weightSumOutcome({ tasks, parts }: { tasks: Task[]; parts: SampleRange[] }, statuses: number[]): KernelOutcome {
    const outs = tasks.map((t) => readOut(this.#rt.memory.buffer, t.out));
    for (let j = 0; j < statuses.length; j++) {
      const status = checkTrap(statuses[j]!);
      if (status === Status.Ok) continue;
      const out = outs[j]!;
      if (status === Status.TargetOutOfBounds) out[3] += parts[j]!.lo;
      return { status, out };
    }
    let ws = 0;
    for (const o of outs) ws += o[2];
    return { status: Status.Ok, out: [0, 0, ws, 0] };
  }

  /**
   * One task per range; a resized call's range j gets scratch block `first + j` (its ranges
   * are of source rows), a float16 call's the strip of its place.
   */
  #rangeTasks(call: SplitCall, ws: number, ranges: SampleRange[], places: Place[], first = 0): Task[] {
    const { half, resize: r } = call;
    return ranges.map((range, j) => {
      const { acc, out, strip } = places[j]!;
      if (half) {
        const args = [this.#callArgs, ws, range.lo, range.hi, acc, stripOf(half, strip), half.floats, out];
        return { fn: 'range16', args, out };
      }
      const args = [this.#callArgs, ws, range.lo, range.hi, acc, out];
      if (!r) return { fn: 'range', args, out };
      const scratch = r.scratch + (first + j) * r.scratchBytes;
      return { fn: 'resizeRange', args: [...args, r.args, scratch, r.scratchBytes], out };
    });
  }

  /** Runs a task on the calling thread. */
  #runHere(t: Task): number {
    const x = this.#x;
    const a = t.args;
    if (t.fn === 'range' || t.fn === 'range16' || t.fn === 'resizeRange') x.xent_exact_sum_clear(a[RANGE_ACC_ARG]!);
    switch (t.fn) {
      case 'range':
        return invoke('xent_cross_entropy_range', () =>
          x.xent_cross_entropy_range(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!),
        );
      case 'range16':
        return invoke('xent_cross_entropy_f16_range', () =>
          x.xent_cross_entropy_f16_range(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!),
        );
      case 'weightSum':
        return invoke('xent_cross_entropy_weight_sum', () => x.xent_cross_entropy_weight_sum(a[0]!, a[1]!));
      case 'weightSum16':
        return invoke('xent_cross_entropy_f16_weight_sum', () => x.xent_cross_entropy_f16_weight_sum(a[0]!, a[1]!));
      case 'resizeRange':
        return invoke('xent_resize_cross_entropy_range', () =>
          x.xent_resize_cross_entropy_range(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!),
        );
      case 'resizeWeightSum':
        return invoke('xent_resize_weight_sum', () => x.xent_resize_weight_sum(a[0]!, a[1]!, a[2]!));
    }
  }

  /** Runs task 0 here and task j on worker j - 1, blocking until all are done; their statuses. */
  #roundSync(tasks: Task[]): number[] {
    const ctl = new Int32Array(this.#rt.memory.buffer, this.#ctl, 1 + this.size);
    const others = tasks.slice(1);
    Atomics.store(ctl, 0, others.length);
    others.forEach((t, j) => {
      Atomics.store(ctl, 1 + j, STATUS_TRAPPED);
      this.#workers[j]!.post({ type: 'call', id: 0, fn: t.fn, args: t.args, ctl: this.#ctl, slot: j, sync: true });
    });
    let first: number;
    try {
      first = this.#runHere(tasks[0]!);
    } finally {
      // Whatever happened here, the workers are writing: wait for them before returning.
      for (let v = Atomics.load(ctl, 0); v !== 0; v = Atomics.load(ctl, 0)) Atomics.wait(ctl, 0, v);
    }
    return [first, ...others.map((_, j) => Atomics.load(ctl, 1 + j))];
  }

  /** Runs task j on worker j; their statuses once all are done. */
  async #roundAsync(tasks: Task[]): Promise<number[]> {
    const rt = this.#rt;
    const jobs = tasks.map((t, j) => {
      const w = this.#workers[j]!;
      const id = this.#nextId++;
      return new Promise<void>((resolve, reject) => {
        if (this.#terminated) throw this.#reason;
        this.#waiters.set(id, { resolve, reject });
        Atomics.store(new Int32Array(rt.memory.buffer, this.#ctl, 1 + this.size), 1 + j, STATUS_TRAPPED);
        w.ref();
        w.post({ type: 'call', id, fn: t.fn, args: t.args, ctl: this.#ctl, slot: j, sync: false });
      }).finally(() => w.unref());
    });
    // Every task must be over before the caller's buffers are released, even if one failed.
    const settled = await Promise.allSettled(jobs);
    if (this.#terminated) throw this.#reason;
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    // The atomic loads order the workers' writes before what this thread reads next.
    const ctl = new Int32Array(rt.memory.buffer, this.#ctl, 1 + this.size);
    return tasks.map((_, j) => Atomics.load(ctl, 1 + j));
  }

  /** Checks the range statuses, merges the sums (in participant order) and reduces. */
  #finish(call: SplitCall, ws: number, statuses: number[], places: Place[], sync: boolean): KernelOutcome {
    for (let j = 0; j < statuses.length; j++) {
      const status = checkTrap(statuses[j]!);
      if (status !== Status.Ok) return { status, out: readOut(this.#rt.memory.buffer, places[j]!.out) };
    }
    const x = this.#x;
    const total = this.#here.acc;
    // In a sync round this thread's range is already in its ExactSum.
    if (!sync) x.xent_exact_sum_clear(total);
    for (const p of places) if (p.acc !== total) x.xent_exact_sum_merge(total, p.acc);
    const sum = x.xent_exact_sum_value(total);
    // (With probability targets the weight sum is the sample count: 0 only when the sum is.)
    const loss = call.reduction === REDUCTION_CODE.mean ? meanOf(sum, ws) : sum;
    return { status: Status.Ok, out: [loss, sum, ws, 0] };
  }

  #shutdown(reason: Error): Promise<void> {
    if (this.#terminated) return this.#exited;
    this.#terminated = true;
    this.#reason = reason;
    this.#exited = Promise.all(this.#workers.map((w) => w.terminate())).then(() => undefined);
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    // Only once every worker has exited: a worker that is still running may be writing the
    // call's tensors and scratch, whose blocks the rejected call frees (after a worker failure
    // the instance goes on, and would give that memory to new tensors).
    void this.#exited.then(() => {
      for (const w of waiters) w.reject(reason);
    });
    return this.#exited;
  }

  #onMessage(m: FromWorker): void {
    if ((m.type !== 'done' && m.type !== 'fail') || m.id === undefined) return;
    const w = this.#waiters.get(m.id);
    if (!w) return;
    this.#waiters.delete(m.id);
    if (m.type === 'done') w.resolve();
    else w.reject(new XentError(`a kernel call trapped in a worker thread (${m.message}): this is a bug in xent-wasm`));
  }

  /**
   * A worker died (it cannot, short of a crash or running out of memory): the calls in flight
   * reject with an XentError naming it (once the other workers have exited), and the owner is
   * told. (During start, start() handles it.)
   */
  #onFailure(index: number, message: string): void {
    if (!this.#started || this.#terminated) return;
    this.#shutdown(new XentError(`worker thread ${index} failed: ${message}`));
    this.#onFailed(index, message);
  }
}

/** The ranges of a split call: of samples (aligned to 16), or of a resized call's source rows. */
function rangesOf(call: SplitCall, k: number): SampleRange[] {
  return call.resize ? splitRanges(call.resize.rows, k, 1) : splitRanges(call.samples, k);
}

function checkTrap(status: number): number {
  if (status === STATUS_TRAPPED)
    throw new XentError('a kernel call trapped in a worker thread: this is a bug in xent-wasm');
  return status >>> 0;
}

function disposedError(): XentDisposedError {
  return new XentDisposedError('crossEntropyAsync: the Xent instance was disposed before the call finished');
}
