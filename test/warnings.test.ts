/**
 * Warnings (ts/warnings.ts): `Xent.create({ onWarning })` receives each warning with its code,
 * including those emitted while the instance is created (threads and relaxed-SIMD fallbacks);
 * `null` or a no-op silences them; without it, `console.warn` once per process for each code.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as inline from '../dist/inline.mjs';
import { warningSink } from '../ts/warnings.js';
import { lib } from './reference/dist.js';

const { Xent } = lib;
type Warning = lib.XentWarning;

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

/** A memory that is not shared: the threads build cannot use it, so `threads: 2` falls back. */
function plainMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: 2, maximum: 65536 });
}

describe('onWarning', () => {
  it('receives each warning with its code, before create resolves, and nothing is printed', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const got: Warning[] = [];
    const onWarning = (w: Warning) => got.push(w);
    using a = await Xent.create({ threads: 2, simd: false, onWarning });
    expect(a.threads).toBe(1);
    expect(got).toEqual([
      {
        code: 'threads-fallback',
        message:
          'threads: 2 was asked for, but this instance runs on 1 thread: the threads build needs WebAssembly SIMD, ' +
          'and simd: false was asked for',
      },
    ]);
    expect(Object.isFrozen(got[0])).toBe(true);
    // Every occurrence, not once per process: the callback belongs to the instance.
    using b = await Xent.create({ threads: 2, simd: false, onWarning });
    expect(b.threads).toBe(1);
    expect(got.map((w) => w.code)).toEqual(['threads-fallback', 'threads-fallback']);
    expect(warn).not.toHaveBeenCalled();
  });

  it('both fallbacks of one create, in order: threads, then relaxed', async () => {
    const got: Warning[] = [];
    using x = await Xent.create({ threads: 2, relaxed: true, memory: plainMemory(), onWarning: (w) => got.push(w) });
    expect([x.threads, x.relaxed]).toEqual([1, false]);
    expect(got.map((w) => w.code)).toEqual(['threads-fallback', 'relaxed-fallback']);
    expect(got[0]!.message).toMatch(/options\.memory is not a shared memory/);
    expect(got[1]!.message).toMatch(
      /^relaxed: true was asked for, but this instance runs the normal build: there is no relaxed-SIMD threads build/,
    );
  });

  it('the inline entry routes them too (no relaxed build embedded there)', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const got: inline.XentWarning[] = [];
    using x = await inline.Xent.create({ relaxed: true, onWarning: (w) => got.push(w) });
    expect(x.relaxed).toBe(false);
    expect(got).toHaveLength(1);
    expect(got[0]!.code).toBe('relaxed-fallback');
    expect(got[0]!.message).toMatch(/xent-wasm\/inline embeds no relaxed-SIMD build/);
    expect(warn).not.toHaveBeenCalled();
  });

  it('null or a no-op silences them; the instance still says what it got', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    using a = await Xent.create({ threads: 2, simd: false, onWarning: null });
    using b = await Xent.create({ threads: 2, relaxed: true, memory: plainMemory(), onWarning: () => undefined });
    expect([a.threads, b.threads, b.relaxed]).toEqual([1, 1, false]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('no warning when nothing falls back', async () => {
    const got: Warning[] = [];
    using x = await Xent.create({ threads: 2, onWarning: (w) => got.push(w) });
    expect(x.threads).toBe(2);
    expect(got).toEqual([]);
  });

  it('without onWarning: console.warn, prefixed, once per process for each code', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    using a = await Xent.create({ threads: 2, simd: false });
    using b = await Xent.create({ threads: 3, simd: false });
    expect([a.threads, b.threads]).toEqual([1, 1]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]).toEqual([
      'xent-wasm: threads: 2 was asked for, but this instance runs on 1 thread: the threads build needs ' +
        'WebAssembly SIMD, and simd: false was asked for',
    ]);
    // Another code is printed once too.
    using c = await Xent.create({ threads: 2, relaxed: true, memory: plainMemory() });
    expect(c.relaxed).toBe(false);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(String(warn.mock.calls[1]![0])).toMatch(/^xent-wasm: relaxed: true was asked for/);
  });
});

describe('warningSink (unit)', () => {
  it('a callback that throws: its error is reported (reportError), the code that warned goes on', () => {
    const reported: unknown[] = [];
    vi.stubGlobal('reportError', (e: unknown) => reported.push(e));
    const boom = new Error('from the callback');
    const sink = warningSink(() => {
      throw boom;
    });
    expect(() =>
      sink('worker-failed', 'worker thread 0 failed (x); this instance continues on one thread'),
    ).not.toThrow();
    expect(reported).toEqual([boom]);
  });

  it('every code reaches the callback; the default prints each code once; null prints nothing', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const got: Warning[] = [];
    const sink = warningSink((w) => got.push(w));
    for (const code of ['threads-fallback', 'relaxed-fallback', 'worker-failed'] as const) sink(code, `m ${code}`);
    expect(got).toEqual([
      { code: 'threads-fallback', message: 'm threads-fallback' },
      { code: 'relaxed-fallback', message: 'm relaxed-fallback' },
      { code: 'worker-failed', message: 'm worker-failed' },
    ]);
    warningSink(null)('worker-failed', 'silent');
    expect(warn).not.toHaveBeenCalled();
    const printing = warningSink(undefined);
    printing('worker-failed', 'first');
    printing('worker-failed', 'second');
    expect(warn.mock.calls).toEqual([['xent-wasm: first']]);
  });
});
