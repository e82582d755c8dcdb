/**
 * The allocator of wasm memory above `__heap_base`.
 *
 * Block metadata lives in JavaScript (never in wasm memory), so nothing written through a
 * tensor's view can corrupt it. Free blocks are kept sorted by address; allocation is best-fit
 * (smallest block that fits, lowest address on ties) and freeing coalesces with both
 * neighbours. Every block is a multiple of the alignment (64 bytes, a cache line) and starts on
 * it; a zero-byte request still gets its own block, so every allocation has a distinct,
 * non-zero address. When nothing fits the memory is grown (`memory.grow`) up to 4 GiB.
 * @module
 */

import { XentOutOfMemoryError } from '../errors.js';

/** Bytes in a wasm page. */
export const PAGE_BYTES = 65536;
/** The largest wasm32 memory: 65536 pages = 4 GiB. */
export const MAX_MEMORY_BYTES = 2 ** 32;
/** Default alignment of every block (a cache line; the kernel needs at least 16). */
export const DEFAULT_ALIGNMENT = 64;

/** A block of wasm memory: `[offset, offset + size)`. */
export interface HeapBlock {
  readonly offset: number;
  readonly size: number;
}

/** Options of a {@link Heap}. */
export interface HeapOptions {
  /** Alignment of every block, a power of two ≥ 16. Default 64. */
  alignment?: number;
  /** Upper bound of the heap's end address (default and maximum 4 GiB). */
  maxBytes?: number;
  /** Smallest growth step in bytes, to amortise `memory.grow` (default 1 MiB). */
  minGrowBytes?: number;
  /**
   * Address from which the memory is known to hold only zeros (used to skip zeroing fresh
   * memory). Default: the current end of memory, i.e. nothing is assumed zero except pages
   * that the heap grows itself.
   */
  zeroFrom?: number;
}

interface FreeBlock {
  offset: number;
  size: number;
}

/** A best-fit, coalescing allocator over `[align(heapBase), memory end)`. */
export class Heap {
  /** Alignment of every block. */
  readonly alignment: number;
  /** First address the heap hands out (`__heap_base` rounded up to the alignment). */
  readonly base: number;
  readonly #memory: WebAssembly.Memory;
  readonly #maxBytes: number;
  readonly #minGrowBytes: number;
  #end: number;
  #free: FreeBlock[] = [];
  #used = new Map<number, number>();
  #inUse = 0;
  #clean: number;

  constructor(memory: WebAssembly.Memory, heapBase: number, options: HeapOptions = {}) {
    const alignment = options.alignment ?? DEFAULT_ALIGNMENT;
    if (
      !Number.isInteger(alignment) ||
      alignment < 16 ||
      (alignment & (alignment - 1)) !== 0 ||
      alignment > PAGE_BYTES
    ) {
      throw new RangeError(`heap alignment must be a power of two in [16, 65536], got ${alignment}`);
    }
    this.alignment = alignment;
    this.#memory = memory;
    this.#maxBytes = Math.min(options.maxBytes ?? MAX_MEMORY_BYTES, MAX_MEMORY_BYTES);
    this.#minGrowBytes = Math.max(0, options.minGrowBytes ?? 1 << 20);
    // Address 0 means "absent" in the ABI: never hand it out.
    this.base = roundUp(Math.max(heapBase, alignment), alignment);
    this.#end = this.base;
    this.#clean = Math.max(this.base, options.zeroFrom ?? memory.buffer.byteLength);
    this.#sync();
  }

  /** Bytes held by live blocks (rounded up to the alignment). */
  get bytesInUse(): number {
    return this.#inUse;
  }

  /** Number of live blocks. */
  get liveBlocks(): number {
    return this.#used.size;
  }

  /** Current size of the wasm memory in bytes. */
  get bytesReserved(): number {
    return this.#memory.buffer.byteLength;
  }

  /** Size of the block at `offset`, or `undefined` if no live block starts there. */
  sizeOf(offset: number): number | undefined {
    return this.#used.get(offset);
  }

  /** A snapshot of the free list, sorted by address (for tests and diagnostics). */
  freeBlocks(): HeapBlock[] {
    this.#sync();
    return this.#free.map((b) => ({ offset: b.offset, size: b.size }));
  }

  /** A snapshot of the live blocks, sorted by address (for tests and diagnostics). */
  usedBlocks(): HeapBlock[] {
    return [...this.#used].map(([offset, size]) => ({ offset, size })).sort((a, b) => a.offset - b.offset);
  }

  /**
   * Allocates `bytes` bytes and returns the block's address (a non-zero multiple of the
   * alignment). With `zero`, the block's first `bytes` bytes are zero on return (only memory
   * that may have been written before is cleared). With `exactGrowth`, a memory too small grows
   * by just the pages the block needs, not the usual step of at least `minGrowBytes`: for a
   * call's transient scratch, which is freed when the call returns and then reused, so that
   * the call's peak memory is its tensors plus its scratch.
   * @throws {@link XentOutOfMemoryError} when the memory cannot grow enough.
   */
  alloc(bytes: number, zero = false, exactGrowth = false): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new RangeError(`allocation size must be a non-negative integer, got ${bytes}`);
    }
    const size = Math.max(this.alignment, roundUp(bytes, this.alignment));
    if (size > this.#maxBytes - this.base) {
      throw new XentOutOfMemoryError(bytes, this.#inUse, this.bytesReserved, 'larger than the whole heap can ever be');
    }
    this.#sync();
    let i = this.#bestFit(size);
    if (i < 0) {
      this.#grow(size, bytes, exactGrowth);
      i = this.#bestFit(size);
      if (i < 0) throw new XentOutOfMemoryError(bytes, this.#inUse, this.bytesReserved);
    }
    const block = this.#free[i]!;
    const offset = block.offset;
    if (block.size === size) this.#free.splice(i, 1);
    else {
      block.offset += size;
      block.size -= size;
    }
    this.#used.set(offset, size);
    this.#inUse += size;
    if (zero && offset < this.#clean && bytes > 0) {
      new Uint8Array(this.#memory.buffer, offset, Math.min(bytes, this.#clean - offset)).fill(0);
    }
    if (offset + size > this.#clean) this.#clean = offset + size;
    return offset;
  }

  /**
   * Frees the block at `offset`.
   * @throws RangeError if no live block starts at `offset` (double free or a foreign address).
   */
  free(offset: number): void {
    const size = this.#used.get(offset);
    if (size === undefined) throw new RangeError(`heap: no live block at ${offset} (double free?)`);
    this.#used.delete(offset);
    this.#inUse -= size;
    this.#insertFree(offset, size);
  }

  /** Frees every block. */
  reset(): void {
    this.#used.clear();
    this.#inUse = 0;
    this.#free = [];
    this.#end = this.base;
    this.#sync();
  }

  #bestFit(size: number): number {
    let best = -1;
    let bestSize = Infinity;
    const free = this.#free;
    for (let i = 0; i < free.length; i++) {
      const s = free[i]!.size;
      if (s >= size && s < bestSize) {
        best = i;
        bestSize = s;
        if (s === size) break;
      }
    }
    return best;
  }

  #insertFree(offset: number, size: number): void {
    const free = this.#free;
    // First block after `offset`.
    let lo = 0;
    let hi = free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (free[mid]!.offset < offset) lo = mid + 1;
      else hi = mid;
    }
    const prev = lo > 0 ? free[lo - 1]! : undefined;
    const next = lo < free.length ? free[lo]! : undefined;
    if (prev && prev.offset + prev.size > offset) throw new Error('heap corrupted: freed block overlaps a free block');
    if (next && offset + size > next.offset) throw new Error('heap corrupted: freed block overlaps a free block');
    if (prev && prev.offset + prev.size === offset) {
      prev.size += size;
      if (next && prev.offset + prev.size === next.offset) {
        prev.size += next.size;
        free.splice(lo, 1);
      }
    } else if (next && offset + size === next.offset) {
      next.offset = offset;
      next.size += size;
    } else {
      free.splice(lo, 0, { offset, size });
    }
  }

  /** Picks up memory growth (ours or anybody's) as a free block at the end. */
  #sync(): void {
    const limit = Math.min(this.#memory.buffer.byteLength, this.#maxBytes);
    const end = limit - (limit % this.alignment);
    if (end > this.#end) {
      this.#insertFree(this.#end, end - this.#end);
      this.#end = end;
    }
  }

  #grow(size: number, requested: number, exact: boolean): void {
    const memBytes = this.#memory.buffer.byteLength;
    const last = this.#free[this.#free.length - 1];
    const start = last && last.offset + last.size === this.#end ? last.offset : this.#end;
    const needEnd = start + size;
    if (needEnd > this.#maxBytes) {
      throw new XentOutOfMemoryError(requested, this.#inUse, memBytes);
    }
    const needPages = Math.ceil(Math.max(0, needEnd - memBytes) / PAGE_BYTES);
    const maxPages = Math.floor((this.#maxBytes - memBytes) / PAGE_BYTES);
    const step = exact ? 0 : Math.ceil(this.#minGrowBytes / PAGE_BYTES);
    const generous = Math.min(maxPages, Math.max(needPages, step));
    if (!this.#tryGrow(generous) && !(generous !== needPages && this.#tryGrow(needPages))) {
      throw new XentOutOfMemoryError(requested, this.#inUse, memBytes, `memory.grow(${needPages} pages) failed`);
    }
    // Pages added by memory.grow are zero, and #clean <= memBytes: nothing to update.
    this.#sync();
  }

  #tryGrow(pages: number): boolean {
    if (pages <= 0) return true;
    try {
      this.#memory.grow(pages);
      return true;
    } catch {
      return false;
    }
  }
}

/** Rounds `n` up to a multiple of `a` (a power of two), exactly for any n < 2^53. */
export function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
