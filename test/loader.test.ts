/** Loading the module every way a user can, and the errors when it goes wrong. */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkExports } from '../ts/kernel/abi.js';
import { memoryImportLimits } from '../ts/memory/import-limits.js';
import { runNode } from './reference/child.js';
import { DIST, lib } from './reference/dist.js';

const SEED = {
  logits: new Float32Array([0.12, 0.36, 0.22, 0.66, 0.13, 0.34, 0.52, -0.96]),
  target: new Uint8Array([1, 0, 0, 1]),
  torch: 1.0065702579739924, // PyTorch float64, fixture case "seed"
};

async function seedLoss(x: lib.Xent): Promise<number> {
  return x.crossEntropy({ data: SEED.logits, shape: [1, 2, 2, 2] }, { data: SEED.target, shape: [1, 2, 2] }).loss;
}

async function expectLoads(options: lib.XentOptions, simd?: boolean): Promise<void> {
  const x = await lib.Xent.create(options);
  try {
    if (simd !== undefined) expect(x.simd).toBe(simd);
    expect(Math.abs((await seedLoss(x)) - SEED.torch)).toBeLessThan(2e-6);
  } finally {
    x.dispose();
  }
}

const simdBytes = readFileSync(`${DIST}xent-simd.wasm`);
const portableBytes = readFileSync(`${DIST}xent.wasm`);

describe('choosing the build', () => {
  it('detects SIMD (Node 20 has it) and picks the SIMD build by default', async () => {
    expect(lib.simdSupported()).toBe(true);
    await expectLoads({}, true);
  });
  it('simd: false forces the portable build, simd: true the SIMD one', async () => {
    await expectLoads({ simd: false }, false);
    await expectLoads({ simd: true }, true);
  });
  it('the default URLs sit beside the bundle', () => {
    expect(lib.defaultWasmUrl(true).href).toBe(pathToFileURL(`${DIST}xent-simd.wasm`).href);
    expect(lib.defaultWasmUrl(false).href).toBe(pathToFileURL(`${DIST}xent.wasm`).href);
  });
});

describe('wasm sources', () => {
  it('a file path, a file: URL and a file: URL string', async () => {
    await expectLoads({ wasm: `${DIST}xent.wasm` }, false);
    await expectLoads({ wasm: pathToFileURL(`${DIST}xent-simd.wasm`) }, true);
    await expectLoads({ wasm: pathToFileURL(`${DIST}xent.wasm`).href }, false);
  });
  it('bytes: Buffer, Uint8Array, ArrayBuffer, DataView', async () => {
    await expectLoads({ wasm: simdBytes }, true);
    await expectLoads({ wasm: new Uint8Array(portableBytes) }, false);
    await expectLoads({ wasm: new Uint8Array(portableBytes).buffer }, false);
    const u = new Uint8Array(simdBytes);
    await expectLoads({ wasm: new DataView(u.buffer, u.byteOffset, u.byteLength) }, true);
  });
  it('a compiled WebAssembly.Module', async () => {
    await expectLoads({ wasm: new WebAssembly.Module(portableBytes) }, false);
  });
  it('a data: URL (fetch)', async () => {
    await expectLoads({ wasm: `data:application/wasm;base64,${portableBytes.toString('base64')}` }, false);
  });

  describe('over http (loopback)', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === '/streaming.wasm') res.writeHead(200, { 'content-type': 'application/wasm' }).end(simdBytes);
        else if (req.url === '/octet.wasm')
          res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(portableBytes);
        else res.writeHead(404).end('not here');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((r) => server.close(r));
    });
    it('application/wasm (compileStreaming) and another content type (arrayBuffer fallback)', async () => {
      await expectLoads({ wasm: new URL(`${base}/streaming.wasm`) }, true);
      await expectLoads({ wasm: `${base}/octet.wasm` }, false);
    });
    it('HTTP errors are XentLoadError', async () => {
      await expect(lib.Xent.create({ wasm: `${base}/missing.wasm` })).rejects.toThrow(
        /could not fetch the wasm module .*missing\.wasm: HTTP 404/,
      );
    });
  });
});

describe('memory', () => {
  it('uses the memory it is given, and owns it above __heap_base', async () => {
    const memory = new WebAssembly.Memory({ initial: 3, maximum: 1000 });
    const x = await lib.Xent.create({ memory });
    expect(x.memory).toBe(memory);
    const t = x.tensor('float32', [10]);
    expect(t.data.buffer).toBe(memory.buffer);
    expect(Math.abs((await seedLoss(x)) - SEED.torch)).toBeLessThan(2e-6);
    x.dispose();
  });
  it('a memory that is too small is a XentLoadError', async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    await expect(lib.Xent.create({ memory })).rejects.toThrow(lib.XentLoadError);
    await expect(lib.Xent.create({ memory })).rejects.toThrow(/could not link .* with options\.memory/);
  });
  it('the modules ask for 2 pages of imported memory, as the loader provides', () => {
    for (const bytes of [simdBytes, portableBytes]) {
      const l = memoryImportLimits(new Uint8Array(bytes));
      expect(l).toBeDefined();
      expect(l!.min).toBeLessThanOrEqual(2);
      expect(l!.shared).toBe(false);
      expect(l!.memory64).toBe(false);
    }
  });
});

describe('load errors', () => {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  it('a missing file', async () => {
    await expect(lib.Xent.create({ wasm: '/nonexistent/xent.wasm' })).rejects.toThrow(
      /could not read the wasm module \/nonexistent\/xent\.wasm/,
    );
  });
  it('bytes that are not wasm', async () => {
    await expect(lib.Xent.create({ wasm: new Uint8Array([1, 2, 3, 4]) })).rejects.toThrow(
      /could not compile the wasm module from the given Uint8Array/,
    );
  });
  it('a module without env.memory, or with other imports', async () => {
    await expect(lib.Xent.create({ wasm: new Uint8Array(header) })).rejects.toThrow(/does not import env\.memory/);
    // (import "env" "foo" (func))
    const importsFunc = [...header, 1, 4, 1, 0x60, 0, 0, 2, 11, 1, 3, 0x65, 0x6e, 0x76, 3, 0x66, 0x6f, 0x6f, 0, 0];
    await expect(lib.Xent.create({ wasm: new Uint8Array(importsFunc) })).rejects.toThrow(
      /is not an xent module: it imports env\.foo \(function\)/,
    );
  });
  it('a module with env.memory but not the exports', async () => {
    // (import "env" "memory" (memory 1))
    const onlyMemory = [...header, 2, 15, 1, 3, 0x65, 0x6e, 0x76, 6, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 2, 0, 1];
    expect(memoryImportLimits(new Uint8Array(onlyMemory))).toEqual({
      min: 1,
      max: undefined,
      shared: false,
      memory64: false,
    });
    await expect(lib.Xent.create({ wasm: new Uint8Array(onlyMemory) })).rejects.toThrow(
      /does not export the function xent_abi_version/,
    );
  });
  it('an unsupported source type', async () => {
    await expect(lib.Xent.create({ wasm: 42 as never })).rejects.toThrow(lib.XentLoadError);
  });
  it('checkExports: ABI version, arity and the LossArgs size', () => {
    const heapBase = new WebAssembly.Global({ value: 'i32', mutable: false }, 1024);
    const ok = {
      xent_abi_version: () => 2,
      xent_simd: () => 0,
      xent_loss_args_size: () => 76,
      xent_cross_entropy: Object.defineProperty(() => 0, 'length', { value: 2 }),
      xent_softmax: Object.defineProperty(() => 0, 'length', { value: 7 }),
      xent_softmax_backward: Object.defineProperty(() => 0, 'length', { value: 8 }),
      xent_nll_loss: Object.defineProperty(() => 0, 'length', { value: 2 }),
      xent_cross_entropy_weight_sum: Object.defineProperty(() => 0, 'length', { value: 2 }),
      xent_cross_entropy_range: Object.defineProperty(() => 0, 'length', { value: 6 }),
      xent_exact_sum_size: () => 2052,
      xent_exact_sum_clear: (_p: number) => undefined,
      xent_exact_sum_merge: (_d: number, _s: number) => undefined,
      xent_exact_sum_value: (_p: number) => 0,
      xent_cross_entropy_f16: Object.defineProperty(() => 0, 'length', { value: 4 }),
      xent_cross_entropy_f16_weight_sum: Object.defineProperty(() => 0, 'length', { value: 2 }),
      xent_cross_entropy_f16_range: Object.defineProperty(() => 0, 'length', { value: 8 }),
      xent_f16_to_f32: Object.defineProperty(() => 0, 'length', { value: 3 }),
      xent_resize_args_size: () => 20,
      xent_resize_scratch_size: (_c: number) => 131072,
      xent_resize_cross_entropy: Object.defineProperty(() => 0, 'length', { value: 5 }),
      xent_resize_weight_sum: Object.defineProperty(() => 0, 'length', { value: 3 }),
      xent_resize_cross_entropy_range: Object.defineProperty(() => 0, 'length', { value: 9 }),
      __heap_base: heapBase,
    };
    expect(() => checkExports(ok as unknown as WebAssembly.Exports)).not.toThrow();
    // A module of ABI version 1 (16-argument exports) gets the version message, not an arity one.
    const v1 = {
      ...ok,
      xent_abi_version: () => 1,
      xent_cross_entropy: Object.defineProperty(() => 0, 'length', { value: 16 }),
    };
    expect(() => checkExports(v1 as unknown as WebAssembly.Exports)).toThrow(
      /ABI version 1, but this xent-wasm TypeScript code needs version 2/,
    );
    expect(() =>
      checkExports({ ...ok, xent_cross_entropy: (_a: number) => 0 } as unknown as WebAssembly.Exports),
    ).toThrow(/takes 1 arguments, expected 2/);
    expect(() =>
      checkExports({
        ...ok,
        xent_nll_loss: Object.defineProperty(() => 0, 'length', { value: 14 }),
      } as unknown as WebAssembly.Exports),
    ).toThrow(/xent_nll_loss takes 14 arguments, expected 2/);
    for (const f of [
      'xent_loss_args_size',
      'xent_softmax',
      'xent_softmax_backward',
      'xent_nll_loss',
      'xent_cross_entropy_range',
      'xent_exact_sum_merge',
      'xent_cross_entropy_f16',
      'xent_cross_entropy_f16_range',
      'xent_resize_cross_entropy',
      'xent_resize_cross_entropy_range',
    ]) {
      expect(() => checkExports({ ...ok, [f]: undefined } as unknown as WebAssembly.Exports)).toThrow(
        `does not export the function ${f}`,
      );
    }
    expect(() => checkExports({ ...ok, xent_loss_args_size: () => 80 } as unknown as WebAssembly.Exports)).toThrow(
      /LossArgs has 80 bytes, this TypeScript code writes 76/,
    );
    expect(() => checkExports({ ...ok, xent_resize_args_size: () => 24 } as unknown as WebAssembly.Exports)).toThrow(
      /ResizeArgs has 24 bytes, this TypeScript code writes 20/,
    );
    expect(() => checkExports({ ...ok, __heap_base: undefined } as unknown as WebAssembly.Exports)).toThrow(
      /__heap_base/,
    );
  });
});

describe('the CommonJS build and the CLI', () => {
  it('require(dist/index.cjs) loads the wasm beside it and computes the seed', async () => {
    const require = createRequire(import.meta.url);
    const cjs = require(`${DIST}index.cjs`) as typeof lib;
    expect(cjs.Xent).not.toBe(lib.Xent); // really the CommonJS file
    const x = await cjs.Xent.create();
    expect(Math.abs((await seedLoss(x as unknown as lib.Xent)) - SEED.torch)).toBeLessThan(2e-6);
    expect(new cjs.XentTargetError(7, 0, [0], 3, -100)).toBeInstanceOf(cjs.XentError);
    x.dispose();
  });
  it('a plain node process can require it (no bundler, no vitest)', async () => {
    const script = `const { Xent } = require(${JSON.stringify(`${DIST}index.cjs`)});
      Xent.create({ simd: false }).then((x) => {
        const r = x.crossEntropy({ data: new Float32Array([0.12,0.36,0.22,0.66,0.13,0.34,0.52,-0.96]), shape: [1,2,2,2] },
                                 { data: new Uint8Array([1,0,0,1]), shape: [1,2,2] });
        console.log(JSON.stringify({ loss: r.loss, simd: x.simd }));
      });`;
    const child = await runNode(['-e', script], { cwd: '/' });
    expect(child.status, child.stderr).toBe(0);
    const out = JSON.parse(child.stdout) as {
      loss: number;
      simd: boolean;
    };
    expect(out.simd).toBe(false);
    expect(Math.abs(out.loss - SEED.torch)).toBeLessThan(2e-6);
  });
  it('npm start (dist/cli.mjs --no-bench) walks through the seed example', async () => {
    const child = await runNode([`${DIST}cli.mjs`, '--no-bench']);
    expect(child.status, child.stderr).toBe(0);
    const out = child.stdout;
    expect(out).toContain('Step 1');
    expect(out).toContain('Step 4 — mean over the 4 pixels: 1.00657025797399');
    const loss = Number(/loss += ([0-9.]+)/.exec(out)?.[1]);
    expect(Math.abs(loss - SEED.torch)).toBeLessThan(2e-6);
    expect(out).toContain('PyTorch float64 = 1.0065702579739924');
  });
});
