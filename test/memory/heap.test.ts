/** The allocator (ts/memory/heap.ts) on its own: invariants under random churn, coalescing, growth. */
import { describe, expect, it } from 'vitest';
import { XentOutOfMemoryError } from '../../ts/errors.js';
import { Heap, PAGE_BYTES, type HeapBlock } from '../../ts/memory/heap.js';
import { Rng } from '../reference/rng.js';

function checkInvariants(heap: Heap, memory: WebAssembly.Memory): void {
  const used = heap.usedBlocks();
  const free = heap.freeBlocks();
  const end = memory.buffer.byteLength;
  const all: Array<HeapBlock & { free: boolean }> = [
    ...used.map((b) => ({ ...b, free: false })),
    ...free.map((b) => ({ ...b, free: true })),
  ].sort((a, b) => a.offset - b.offset);
  let cursor = heap.base;
  for (let i = 0; i < all.length; i++) {
    const b = all[i]!;
    if (b.offset % heap.alignment !== 0) throw new Error(`block at ${b.offset} is not aligned`);
    if (b.size <= 0 || b.size % heap.alignment !== 0) throw new Error(`block at ${b.offset} has size ${b.size}`);
    if (b.offset !== cursor) throw new Error(`gap or overlap at ${cursor}: next block starts at ${b.offset}`);
    if (b.free && i > 0 && all[i - 1]!.free)
      throw new Error(`adjacent free blocks at ${all[i - 1]!.offset} and ${b.offset} were not coalesced`);
    cursor = b.offset + b.size;
  }
  if (cursor !== end && cursor !== heap.base) throw new Error(`blocks end at ${cursor}, memory at ${end}`);
  expect(heap.bytesInUse).toBe(used.reduce((a, b) => a + b.size, 0));
  expect(heap.liveBlocks).toBe(used.length);
}

describe('Heap', () => {
  it('rounds the base up to the alignment and never hands out 0', () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    expect(new Heap(memory, 66113).base).toBe(66176);
    expect(new Heap(memory, 0).base).toBe(64);
    expect(new Heap(memory, 0, { alignment: 16 }).base).toBe(16);
    expect(() => new Heap(memory, 0, { alignment: 8 })).toThrow(RangeError);
    expect(() => new Heap(memory, 0, { alignment: 48 })).toThrow(RangeError);
  });

  it('random alloc/free churn keeps blocks aligned, disjoint, covering the heap, and coalesced', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
    const heap = new Heap(memory, 1000, { minGrowBytes: 0 });
    const rng = new Rng(1234);
    const live = new Map<number, { size: number; fill: number }>();
    for (let step = 0; step < 4000; step++) {
      if (live.size > 0 && rng.chance(0.45)) {
        const keys = [...live.keys()];
        const off = keys[rng.int(0, keys.length - 1)]!;
        const { size, fill } = live.get(off)!;
        // The contents survived every other allocation, growth and free.
        const bytes = new Uint8Array(memory.buffer, off, size);
        if (size > 0 && (bytes[0] !== fill || bytes[size - 1] !== fill))
          throw new Error(`block ${off} was overwritten`);
        heap.free(off);
        live.delete(off);
      } else {
        const size = rng.chance(0.05) ? rng.int(50_000, 300_000) : rng.chance(0.1) ? 0 : rng.int(1, 3000);
        const off = heap.alloc(size, true);
        expect(off % 64).toBe(0);
        expect(off).toBeGreaterThanOrEqual(heap.base);
        const bytes = new Uint8Array(memory.buffer, off, size);
        if (bytes.some((b) => b !== 0)) throw new Error(`alloc(${size}, zero) returned dirty memory`);
        const fill = (step % 250) + 1;
        bytes.fill(fill);
        live.set(off, { size, fill });
      }
      if (step % 50 === 0) checkInvariants(heap, memory);
    }
    checkInvariants(heap, memory);
    for (const off of live.keys()) heap.free(off);
    checkInvariants(heap, memory);
    expect(heap.bytesInUse).toBe(0);
    expect(heap.freeBlocks()).toEqual([{ offset: heap.base, size: memory.buffer.byteLength - heap.base }]);
  });

  it('coalesces with both neighbours and reuses the hole (best fit)', () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    const heap = new Heap(memory, 64);
    const a = heap.alloc(100);
    const b = heap.alloc(200);
    const c = heap.alloc(300);
    const d = heap.alloc(64);
    expect([b - a, c - b, d - c]).toEqual([128, 256, 320]);
    heap.free(a);
    heap.free(c);
    expect(heap.freeBlocks().length).toBe(3); // a, c, tail
    heap.free(b);
    expect(heap.freeBlocks()[0]).toEqual({ offset: a, size: 128 + 256 + 320 });
    // Best fit: a 256-byte request goes to the smallest hole that fits, not the tail.
    const e = heap.alloc(256);
    expect(e).toBe(a);
    const f = heap.alloc(1);
    expect(f).toBe(a + 256);
    checkInvariants(heap, memory);
  });

  it('zero-size allocations get distinct non-zero blocks', () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const heap = new Heap(memory, 100);
    const offs = [heap.alloc(0), heap.alloc(0), heap.alloc(0)];
    expect(new Set(offs).size).toBe(3);
    expect(offs.every((o) => o > 0 && o % 64 === 0)).toBe(true);
  });

  it('grows the memory when nothing fits, using the free tail', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 100 });
    const heap = new Heap(memory, 65536, { minGrowBytes: 0 });
    const a = heap.alloc(40_000);
    expect(memory.buffer.byteLength).toBe(2 * PAGE_BYTES);
    const b = heap.alloc(40_000); // 65536 + 40000 + 40000 > 2 pages
    expect(b).toBe(a + 40_000);
    expect(memory.buffer.byteLength).toBe(3 * PAGE_BYTES);
    checkInvariants(heap, memory);
  });

  it('grows by at least minGrowBytes, or by just the pages needed with exactGrowth (a call scratch)', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 100 });
    const heap = new Heap(memory, 65536, { minGrowBytes: 16 * PAGE_BYTES });
    heap.alloc(60_000);
    const scratch = heap.alloc(3 * PAGE_BYTES, false, true); // 2 pages + 3 pages > 2 pages
    expect(memory.buffer.byteLength).toBe(5 * PAGE_BYTES);
    heap.free(scratch);
    heap.alloc(4 * PAGE_BYTES); // does not fit in the 3 free pages: the usual step
    expect(memory.buffer.byteLength).toBe(5 * PAGE_BYTES + 16 * PAGE_BYTES);
    checkInvariants(heap, memory);
  });

  it('throws XentOutOfMemoryError, with the sizes, and stays consistent', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 3 });
    const heap = new Heap(memory, 65536);
    heap.alloc(1000);
    let err: unknown;
    try {
      heap.alloc(200_000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XentOutOfMemoryError);
    expect((err as XentOutOfMemoryError).requestedBytes).toBe(200_000);
    expect((err as XentOutOfMemoryError).bytesInUse).toBe(1024);
    expect((err as Error).message).toMatch(/asked for 200000 bytes .* with 1024 bytes .* in use/);
    checkInvariants(heap, memory);
    expect(heap.alloc(60_000)).toBeGreaterThan(0); // 3 pages are still reachable
    expect(() => heap.alloc(2 ** 32)).toThrow(XentOutOfMemoryError);
  });

  it('picks up growth done by somebody else', () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const heap = new Heap(memory, 65536, { minGrowBytes: 0 });
    memory.grow(1);
    expect(heap.freeBlocks()).toEqual([{ offset: 65536, size: 2 * PAGE_BYTES }]);
  });

  it('free of an unknown offset throws', () => {
    const heap = new Heap(new WebAssembly.Memory({ initial: 2 }), 64);
    const a = heap.alloc(10);
    heap.free(a);
    expect(() => heap.free(a)).toThrow(RangeError);
    expect(() => heap.free(12345)).toThrow(RangeError);
  });

  it('reset frees everything', () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const heap = new Heap(memory, 64);
    for (let i = 0; i < 10; i++) heap.alloc(100 * i);
    heap.reset();
    expect(heap.bytesInUse).toBe(0);
    expect(heap.freeBlocks()).toEqual([{ offset: 64, size: memory.buffer.byteLength - 64 }]);
  });
});
