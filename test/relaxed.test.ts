/**
 * The relaxed-SIMD build (`Xent.create({ relaxed: true })`, xent-simd-relaxed.wasm): it loads
 * where the engine supports relaxed SIMD (these test processes run with
 * --experimental-wasm-relaxed-simd where Node knows the flag: see vitest.config.ts), and since
 * `f32x4.relaxed_madd` may or may not fuse, it is held to PyTorch's values and the float64
 * reference with the usual tolerances — not to the other builds' bits:
 *
 * - every PyTorch fixture (index and probability targets): loss, sum, gradient, loss and
 *   confidence maps; NaN and ±inf in the same places; PyTorch's errors;
 * - a seeded subset of the crossEntropy fuzz (the first cases of test/ops/loss/cross-entropy.fuzz.test.ts)
 *   against the float64 reference;
 * - the fallbacks, with one warning: an engine without relaxed SIMD (a child process without the
 *   flag, on Node versions that need it), threads > 1, the inline entry; `wasm` given;
 * - option errors.
 */
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runNode } from './reference/child.js';
import { arrayMismatch, elementwiseMismatch, gradMismatch, lossMismatch } from './reference/compare.js';
import { referenceCrossEntropy } from './reference/cross-entropy.js';
import { DIST, lib } from './reference/dist.js';
import { loadFixtures, type FixtureCase } from './reference/fixtures.js';
import { runFixture } from './reference/fixture-run.js';
import { caseSeed, describeCase, expectedOf, makeCase, referenceMismatch, runKernel } from './reference/fuzz.js';

const INDEX = pathToFileURL(`${DIST}index.mjs`).href;

let relaxed: lib.Xent;
beforeAll(async () => {
  relaxed = await lib.Xent.create({ relaxed: true });
});
afterAll(() => relaxed?.dispose());

describe('loading', () => {
  it('this process validates relaxed SIMD, and relaxed: true loads xent-simd-relaxed.wasm beside the bundle', () => {
    expect(lib.relaxedSimdSupported()).toBe(true);
    expect(lib.defaultRelaxedWasmUrl().href).toBe(pathToFileURL(`${DIST}xent-simd-relaxed.wasm`).href);
    expect([relaxed.relaxed, relaxed.simd, relaxed.threads]).toEqual([true, true, 1]);
  });
  it('the default stays off; simd: true alone is the SIMD build', async () => {
    for (const options of [{}, { simd: true }, { relaxed: false }]) {
      using x = await lib.Xent.create(options);
      expect([x.relaxed, x.simd]).toEqual([false, true]);
    }
  });
  it('wasm given: that module, whatever it is (relaxed or not), without a warning', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      using a = await lib.Xent.create({ relaxed: true, wasm: `${DIST}xent.wasm` });
      expect([a.relaxed, a.simd]).toEqual([false, false]);
      using b = await lib.Xent.create({ wasm: `${DIST}xent-simd-relaxed.wasm` });
      expect([b.relaxed, b.simd]).toEqual([true, true]);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });
});

describe('option errors', () => {
  it('relaxed: true with simd: false contradicts itself; relaxed must be a boolean', async () => {
    await expect(lib.Xent.create({ relaxed: true, simd: false })).rejects.toThrow(lib.XentOptionError);
    await expect(lib.Xent.create({ relaxed: true, simd: false })).rejects.toThrow(
      /relaxed: true and options\.simd: false contradict/,
    );
    await expect(lib.Xent.create({ relaxed: true, simd: false, wasm: `${DIST}xent.wasm` })).rejects.toThrow(
      lib.XentOptionError,
    );
    for (const bad of ['yes', 1, {}]) {
      await expect(lib.Xent.create({ relaxed: bad as never })).rejects.toThrow(/options\.relaxed must be a boolean/);
    }
    using x = await lib.Xent.create({ relaxed: false, simd: false });
    expect([x.relaxed, x.simd]).toEqual([false, false]);
  });
});

// A child process without the flag (and without NODE_OPTIONS): Node 20 then has no relaxed SIMD.
const env = { ...process.env };
delete env.NODE_OPTIONS;
const childSupports = (
  await runNode(
    [
      '--input-type=module',
      '-e',
      `import { relaxedSimdSupported } from ${JSON.stringify(INDEX)}; console.log(relaxedSimdSupported());`,
    ],
    { env },
  )
).stdout.trim();

describe('falling back, with one warning', () => {
  it('threads > 1: the threads build (there is no relaxed threads build); warns once per process', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      using a = await lib.Xent.create({ relaxed: true, threads: 2 });
      expect([a.threads, a.relaxed, a.simd, a.memory.buffer instanceof SharedArrayBuffer]).toEqual([
        2,
        false,
        true,
        true,
      ]);
      using b = await lib.Xent.create({ relaxed: true, threads: 2 });
      expect(b.relaxed).toBe(false);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(
        /^xent-wasm: relaxed: true was asked for, but this instance runs the normal build: there is no relaxed-SIMD threads build/,
      );
    } finally {
      warn.mockRestore();
    }
  });
  it('xent-wasm/inline does not embed the relaxed build: its SIMD build, one warning', async () => {
    const inline = (await import(`${DIST}inline.mjs`)) as typeof lib;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      using a = await inline.Xent.create({ relaxed: true });
      using b = await inline.Xent.create({ relaxed: true });
      expect([a.relaxed, a.simd, b.relaxed]).toEqual([false, true, false]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/xent-wasm\/inline embeds no relaxed-SIMD build/);
    } finally {
      warn.mockRestore();
    }
  });

  it.skipIf(childSupports === 'true')(
    `an engine without relaxed SIMD (node ${process.version} without the flag): the SIMD build, one warning, the same loss`,
    async () => {
      const script = `import { Xent, relaxedSimdSupported } from ${JSON.stringify(INDEX)};
const logits = { data: Float32Array.from({ length: 2 * 5 * 300 }, (_, i) => Math.sin(i * 0.37) * 3), shape: [2, 5, 300] };
const target = { data: Uint8Array.from({ length: 600 }, (_, i) => i % 5), shape: [2, 300] };
const x = await Xent.create({ relaxed: true });
const y = await Xent.create({ relaxed: true });
const z = await Xent.create();
console.log(relaxedSimdSupported(), x.relaxed, x.simd, y.relaxed, x.crossEntropy(logits, target).loss === z.crossEntropy(logits, target).loss);
`;
      const r = await runNode(['--input-type=module', '-e', script], { env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('false false true false true');
      const stderr = r.stderr;
      const warnings = stderr.trim().split('\n');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /^xent-wasm: relaxed: true was asked for, but this instance runs the normal build: this engine does not support WebAssembly relaxed SIMD .*--experimental-wasm-relaxed-simd/,
      );
    },
  );
});

// ---------------------------------------------------------------------------------------------
// The PyTorch fixtures.

for (const file of [loadFixtures('cross_entropy_index.json'), loadFixtures('cross_entropy_prob.json')]) {
  const kind = file.cases[0]!.targetKind;
  describe(`PyTorch ${file.torch} fixtures, relaxed build: ${kind} targets (${file.cases.length} cases)`, () => {
    // (labelSmoothing < 0, which PyTorch 1.13 accepts, is rejected by xent-wasm: an error case here.)
    const isError = (c: FixtureCase) => c.expectError !== undefined || c.labelSmoothing < 0;
    const valid = file.cases.filter((c) => !isError(c));
    const errors = file.cases.filter(isError);
    it(`${valid.length} cases: loss, sum, gradient, maps within the tolerances of PyTorch and the float64 reference; non-finite values in place`, () => {
      expect(valid.length).toBeGreaterThan(0);
      const failures: string[] = [];
      for (const c of valid) {
        const r = runFixture(relaxed, c);
        const ref = referenceCrossEntropy(c);
        const m =
          (typeof r.loss === 'number'
            ? lossMismatch(r.loss, c.loss as number)
            : arrayMismatch(r.loss, c.loss as number[], 2e-6, 'loss')) ??
          lossMismatch(r.sum, ref.sum) ??
          (Math.abs(r.weightSum - ref.weightSum) <= 1e-6 * Math.max(1, Math.abs(ref.weightSum))
            ? undefined
            : `weightSum ${r.weightSum} vs ${ref.weightSum}`) ??
          (r.grad ? gradMismatch(r.grad, c.grad, ref.gradTerms) : undefined) ??
          (r.lossMap ? elementwiseMismatch(r.lossMap, ref.losses, 2e-6, 'lossMap') : undefined) ??
          (r.confidence ? elementwiseMismatch(r.confidence, ref.confidence!, 2e-6, 'confidence') : undefined);
        if (m) failures.push(`${c.name}: ${m}`);
      }
      expect(relaxed.memoryStats().liveTensors).toBe(0);
      expect(failures, failures.join('\n')).toEqual([]);
    });
    it.runIf(errors.length > 0)(
      `${errors.length} error cases: the same typed error as the SIMD build, memory as it was`,
      async () => {
        using simd = await lib.Xent.create({ simd: true });
        for (const c of errors) {
          let expected: unknown;
          try {
            runFixture(simd, c);
          } catch (e) {
            expected = e;
          }
          const before = relaxed.memoryStats();
          if (expected === undefined) {
            // int32 targets, which PyTorch rejects (it wants int64), are accepted: check the result.
            const r = runFixture(relaxed, c);
            const ref = referenceCrossEntropy(c);
            expect(lossMismatch(r.loss as number, ref.loss), c.name).toBeUndefined();
            continue;
          }
          expect(() => runFixture(relaxed, c), c.name).toThrow((expected as Error).constructor as new () => Error);
          expect(() => runFixture(relaxed, c), c.name).toThrow((expected as Error).message);
          expect(relaxed.memoryStats()).toEqual(before);
        }
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// A seeded subset of the fuzz.

/** The seeds of the first cases of test/ops/loss/cross-entropy.fuzz.test.ts (its default XENT_FUZZ_SEED). */
const FUZZ_BASE_SEED = 0x5eed;
const fuzzSeed = (i: number) => caseSeed(FUZZ_BASE_SEED, i, false);
const FUZZ_CASES = 8000;
const FUZZ_BATCH = 1000;

describe(`fuzz crossEntropy, relaxed build, against the float64 reference (the first ${FUZZ_CASES} cases of the fuzz)`, () => {
  for (let start = 0; start < FUZZ_CASES; start += FUZZ_BATCH) {
    it(`cases ${start}..${start + FUZZ_BATCH - 1}`, () => {
      const failures: string[] = [];
      for (let i = start; i < start + FUZZ_BATCH && failures.length < 5; i++) {
        const k = makeCase(fuzzSeed(i));
        const m = referenceMismatch(k, runKernel(relaxed, k), expectedOf(k));
        if (m) failures.push(`case ${i}, ${describeCase(k)}\n    ${m}`);
      }
      expect(relaxed.memoryStats().liveTensors).toBe(0);
      expect(failures, failures.join('\n')).toEqual([]);
    });
  }
});
