/**
 * Which live {@link Xent} instance owns a `WebAssembly.Memory`. Each instance's allocator
 * (`heap.ts`) assumes it alone hands out the memory above the module's `__heap_base`: two
 * instances on one memory would give out the same addresses and overwrite each other's
 * tensors. So an instance claims its memory when it is created, and a second claim while the
 * first owner is alive is refused with {@link XentMemoryInUseError}.
 *
 * The registry is a `WeakMap` keyed by the Memory object, kept on `globalThis` under a
 * registered symbol so that every copy of xent-wasm in this JavaScript realm (the main entry,
 * its CommonJS build, `xent-wasm/inline`) shares it. It holds its owners weakly: an instance
 * that was garbage-collected without `dispose()` no longer blocks its memory. A memory posted
 * to another realm (a worker) is another object there: the registry cannot see across realms.
 * @module
 */

import { XentMemoryInUseError } from '../errors.js';

const KEY = Symbol.for('xent-wasm.memoryOwners');

/** An instance's claim on its memory, held strongly by its owner (the registry holds it weakly). */
export class MemoryClaim {
  readonly memory: WebAssembly.Memory;
  /** Settles when the owner is gone for good (its worker threads have exited). */
  #released: Promise<void> | undefined;
  #live = true;

  /** @internal Use {@link claimMemory}. */
  constructor(memory: WebAssembly.Memory) {
    this.memory = memory;
  }

  /** True until {@link MemoryClaim.release}. */
  get live(): boolean {
    return this.#live;
  }

  /**
   * Gives the memory up, once `gone` settles (at once without it): until then a new claim on
   * the memory waits (the owner's worker threads may still be writing).
   */
  release(gone?: Promise<unknown>): void {
    if (!this.#live) return;
    this.#live = false;
    const done = () => {
      const r = registry();
      if (r.get(this.memory)?.deref() === this) r.delete(this.memory);
    };
    if (gone === undefined) done();
    else this.#released = gone.then(done, done);
  }

  /** @internal Settles when a released claim is really over (undefined: over already or live). */
  get released(): Promise<void> | undefined {
    return this.#released;
  }
}

interface WeakRefLike<T> {
  deref(): T | undefined;
}

type Registry = WeakMap<WebAssembly.Memory, WeakRefLike<MemoryClaim>>;

function registry(): Registry {
  const g = globalThis as { [KEY]?: Registry };
  g[KEY] ??= new WeakMap();
  return g[KEY];
}

function weakRef(claim: MemoryClaim): WeakRefLike<MemoryClaim> {
  // Engines without WeakRef (none that runs this module's other parts) hold it strongly.
  if (typeof WeakRef === 'function') return new WeakRef(claim);
  return { deref: () => claim };
}

/**
 * @internal Claims `memory` for a new instance: waits for a previous owner that is shutting
 * down, and refuses one that is alive.
 * @throws {@link XentMemoryInUseError} when another live instance owns it.
 */
export async function claimMemory(memory: WebAssembly.Memory): Promise<MemoryClaim> {
  const r = registry();
  for (;;) {
    const prev = r.get(memory)?.deref();
    if (prev === undefined) break;
    if (prev.live) {
      throw new XentMemoryInUseError(
        'Xent.create: options.memory is the memory of another Xent instance that is still alive (not disposed): two ' +
          "instances on one memory would hand out the same addresses and overwrite each other's tensors. Dispose " +
          'that instance first (xent.dispose()), or give each instance its own WebAssembly.Memory',
      );
    }
    const released = prev.released;
    if (released === undefined) break;
    await released;
  }
  const claim = new MemoryClaim(memory);
  r.set(memory, weakRef(claim));
  return claim;
}
