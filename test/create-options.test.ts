/**
 * Xent.create checks its options as strictly as the ops: an unknown name is a XentOptionError
 * with a did-you-mean and the valid names, a non-boolean `simd` or `autoFree`, or an `onWarning`
 * that is neither a function nor null, a XentOptionError naming the value; nothing is loaded
 * then. Both entries (main and inline) share the check.
 */
import { describe, expect, it } from 'vitest';
import * as inline from '../dist/inline.mjs';
import { lib } from './reference/dist.js';

const { Xent, XentOptionError } = lib;
const VALID = 'Valid options: wasm, simd, relaxed, memory, threads, minElementsPerThread, autoFree, onWarning.';

async function rejection(options: unknown): Promise<Error> {
  try {
    (await Xent.create(options as never)).dispose();
  } catch (e) {
    return e as Error;
  }
  throw new Error(`Xent.create(${JSON.stringify(options)}) did not throw`);
}

describe('Xent.create options', () => {
  it.each([
    [{ thread: 2 }, 'unknown option "thread"; did you mean "threads"?'],
    [{ Simd: true }, 'unknown option "Simd"; did you mean "simd"?'],
    [{ auto_free: true }, 'unknown option "auto_free"; did you mean "autoFree"?'],
    [{ minElements: 1 }, 'unknown option "minElements"'],
    [{ ignoreIndex: 255 }, 'unknown option "ignoreIndex"'],
  ])('%j: a XentOptionError with a did-you-mean and the valid names', async (options, message) => {
    const e = await rejection(options);
    expect(e).toBeInstanceOf(XentOptionError);
    expect(e.message).toContain(`Xent.create: ${message}`);
    expect(e.message).toContain(VALID);
  });

  it.each([
    [{ simd: 'yes' }, 'Xent.create: options.simd must be a boolean, got'],
    [{ simd: 1 }, 'Xent.create: options.simd must be a boolean, got'],
    [{ autoFree: 'true' }, 'Xent.create: options.autoFree must be a boolean, got'],
  ])('%j: a XentOptionError naming the option', async (options, message) => {
    const e = await rejection(options);
    expect(e).toBeInstanceOf(XentOptionError);
    expect(e.message).toContain(message);
  });

  it.each([[{ onWarning: 'loud' }], [{ onWarning: true }], [{ onWarning: 0 }], [{ onWarning: {} }]])(
    '%j: a XentOptionError naming onWarning and what it may be',
    async (options) => {
      const e = await rejection(options);
      expect(e).toBeInstanceOf(XentOptionError);
      expect(e.message).toMatch(
        /^Xent\.create: options\.onWarning must be a function \(warning\) => void, or null to silence warnings; got /,
      );
    },
  );

  it.each([[[1]], ['simd'], [42]])('%j as the options: a XentOptionError', async (options) => {
    const e = await rejection(options);
    expect(e).toBeInstanceOf(XentOptionError);
    expect(e.message).toMatch(/^Xent\.create: options must be an object, got /);
  });

  it('accepts every valid option, undefined values included', async () => {
    const x = await Xent.create({ simd: undefined, autoFree: false, threads: 1, relaxed: false, onWarning: null });
    expect(x.threads).toBe(1);
    x.dispose();
    (await Xent.create()).dispose();
    (await Xent.create({})).dispose();
  });

  it('the inline entry checks them too', async () => {
    await expect(inline.Xent.create({ thread: 2 } as never)).rejects.toThrow(
      /^Xent\.create: unknown option "thread"; did you mean "threads"\?/,
    );
    await expect(inline.Xent.create({ simd: 'yes' } as never)).rejects.toBeInstanceOf(inline.XentOptionError);
  });
});
