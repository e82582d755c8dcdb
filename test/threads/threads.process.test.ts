/**
 * Worker threads and the environment: falling back to one thread with one warning (no shared
 * memory, no threads build, no worker script, a plain memory or module given, the inline
 * entry), the threads option, and Node processes that exit by themselves (after dispose, and
 * even without it) — in child processes where the environment must differ.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DIST, lib } from '../reference/dist.js';

const INDEX = pathToFileURL(`${DIST}index.mjs`).href;
const tmp = mkdtempSync(join(tmpdir(), 'xent-threads-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A small problem and its loss on one thread, computed in a child process by `body`. */
const PRELUDE = `
const N = 2, C = 5, S = 4000;
const logits = Float32Array.from({ length: N * C * S }, (_, i) => Math.sin(i * 0.37) * 3);
const target = Uint8Array.from({ length: N * S }, (_, i) => (i % 11 === 0 ? 255 : i % C));
async function loss(x, mode = 'sync') {
  const l = x.tensorFrom(logits, [N, C, S]), t = x.tensorFrom(target, [N, S]), g = x.tensor('float32', [N, C, S]);
  const r = mode === 'sync' ? x.crossEntropy(l, t, { ignoreIndex: 255, grad: g }) : await x.crossEntropyAsync(l, t, { ignoreIndex: 255, grad: g });
  let h = 0; for (const v of new Uint32Array(g.data.buffer, g.data.byteOffset, g.data.length)) h = (Math.imul(h, 31) + v) | 0;
  l.dispose(); t.dispose(); g.dispose();
  return r.loss + ':' + h;
}
`;

interface Child {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs an ES module script in a new Node process (killed after `timeout` ms). */
function node(name: string, script: string, args: string[] = [], timeout = 30_000): Promise<Child> {
  const file = join(tmp, name);
  writeFileSync(file, script);
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [...args, file], { timeout, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (((err as { code?: unknown }).code as number | null) ?? null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

describe('a Node process exits by itself', () => {
  it('after dispose(), having used the workers (sync and async)', async () => {
    const r = await node(
      'dispose.mjs',
      `import { Xent } from ${JSON.stringify(INDEX)};
${PRELUDE}
const one = await Xent.create();
const x = await Xent.create({ threads: 2, minElementsPerThread: 1 });
const a = await loss(one), b = await loss(x), c = await loss(x, 'async');
const pending = loss(x, 'async');
console.log(x.threads, a === b && b === c, b === (await pending));
x.dispose(); one.dispose();
`,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('2 true true');
    expect(r.code).toBe(0);
  });

  it('even without dispose() (idle workers do not keep it alive), and an async call still completes', async () => {
    const r = await node(
      'forgotten.mjs',
      `import { Xent } from ${JSON.stringify(INDEX)};
${PRELUDE}
const x = await Xent.create({ threads: 3, minElementsPerThread: 1 });
const one = await Xent.create();
// Nothing else keeps the event loop alive while this call runs on the workers.
console.log(x.threads, (await loss(x, 'async')) === (await loss(one)));
`,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('3 true');
    expect(r.code).toBe(0);
  });
});

describe('CommonJS', () => {
  it('dist/index.cjs finds worker.mjs beside it too', async () => {
    const r = await node(
      'cjs.cjs',
      `const { Xent } = require(${JSON.stringify(`${DIST}index.cjs`)});
(async () => {
  const x = await Xent.create({ threads: 2, minElementsPerThread: 1 });
  const one = await Xent.create();
  const args = [{ data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] }, { data: new Int32Array([0, 2]), shape: [2] }];
  console.log(x.threads, (await x.crossEntropyAsync(...args)).loss === one.crossEntropy(...args).loss, x.crossEntropy(...args).loss === one.crossEntropy(...args).loss);
  x.dispose(); one.dispose();
})();
`,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('2 true true');
    expect(r.code).toBe(0);
  });
});

describe('falling back to one thread, with one warning', () => {
  it('without SharedArrayBuffer (node --no-harmony-sharedarraybuffer): the plain build, the same result', async () => {
    const r = await node(
      'nosab.mjs',
      `import { Xent } from ${JSON.stringify(INDEX)};
${PRELUDE}
const x = await Xent.create({ threads: 4 });
const y = await Xent.create({ threads: 2 });
console.log(x.threads, y.threads, x.simd, x.memory.buffer instanceof ArrayBuffer, await loss(x) === await loss(y), await loss(x, 'async') === await loss(y));
x.dispose(); y.dispose();
`,
      ['--no-harmony-sharedarraybuffer'],
    );
    expect(r.stdout.trim()).toBe('1 1 true true true true');
    const warnings = r.stderr.trim().split('\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^xent-wasm: threads: 4 was asked for, but this instance runs on 1 thread: SharedArrayBuffer is not available/,
    );
    expect(r.code).toBe(0);
  });

  it('when worker.mjs is missing beside the bundle (the threads build then runs on this thread)', async () => {
    const dir = mkdtempSync(join(tmp, 'noworker-'));
    for (const f of ['index.mjs', 'xent-simd.wasm', 'xent.wasm', 'xent-simd-threads.wasm'])
      copyFileSync(`${DIST}${f}`, join(dir, f));
    const r = await node(
      'noworker.mjs',
      `import { Xent } from ${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)};
import { Xent as Ref } from ${JSON.stringify(INDEX)};
${PRELUDE}
const x = await Xent.create({ threads: 2 });
const one = await Ref.create();
console.log(x.threads, x.memory.buffer instanceof SharedArrayBuffer, await loss(x) === await loss(one), await loss(x, 'async') === await loss(one));
x.dispose(); one.dispose();
`,
    );
    expect(r.stdout.trim()).toBe('1 true true true');
    expect(r.stderr).toMatch(
      /^xent-wasm: threads: 2 was asked for, but this instance runs on 1 thread: the worker threads could not be started \(.*worker\.mjs/,
    );
    expect(r.code).toBe(0);
  });

  it('simd: false, a plain memory or a plain module given; warns once per process', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      using a = await lib.Xent.create({ threads: 2, simd: false });
      expect([a.threads, a.simd]).toEqual([1, false]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(
        /threads: 2 was asked for, .*1 thread: the threads build needs WebAssembly SIMD, and simd: false/,
      );
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 1000 });
      using b = await lib.Xent.create({ threads: 2, memory });
      expect([b.threads, b.memory]).toEqual([1, memory]);
      using c = await lib.Xent.create({ threads: 3, wasm: `${DIST}xent-simd.wasm` });
      expect([c.threads, c.simd]).toEqual([1, true]);
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
  });

  it('the inline entry has no threads build', async () => {
    const inline = (await import('../../dist/inline.mjs')) as typeof lib;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      using x = await inline.Xent.create({ threads: 2 });
      expect(x.threads).toBe(1);
      expect(warn.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/inline embeds no threads build/);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('the threads option', () => {
  it('a shared memory or the threads build may be given', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
    using a = await lib.Xent.create({ threads: 2, memory });
    expect([a.threads, a.memory]).toEqual([2, memory]);
    using b = await lib.Xent.create({ threads: 2, wasm: `${DIST}xent-simd-threads.wasm` });
    expect(b.threads).toBe(2);
    expect(lib.defaultThreadsWasmUrl().href).toBe(pathToFileURL(`${DIST}xent-simd-threads.wasm`).href);
  });
  it('threads: 1 (the default) is the plain build on a plain memory; the threads build needs threads > 1', async () => {
    using x = await lib.Xent.create({ threads: 1 });
    expect(x.threads).toBe(1);
    expect(x.memory.buffer).toBeInstanceOf(ArrayBuffer);
    await expect(lib.Xent.create({ wasm: `${DIST}xent-simd-threads.wasm` })).rejects.toThrow(
      /shared memory.*threads > 1/,
    );
  });
  it('bad values are XentOptionErrors', async () => {
    for (const threads of [0, -1, 1.5, 257, NaN, '2']) {
      await expect(lib.Xent.create({ threads } as never)).rejects.toBeInstanceOf(lib.XentOptionError);
    }
    await expect(lib.Xent.create({ threads: 2, minElementsPerThread: 0 })).rejects.toBeInstanceOf(lib.XentOptionError);
  });
});
