/**
 * Finds, fetches or reads, compiles and instantiates the xent `.wasm` module, in Node and in
 * browsers.
 * @module
 */

import { XentLoadError } from './errors.js';
import { errorMessage } from './error-message.js';
import { memoryImportLimits } from './memory/import-limits.js';

/** Where the module comes from: see {@link LoadOptions.wasm}. */
export type WasmSource = URL | string | BufferSource | WebAssembly.Module;

/** Options that choose and link the wasm module. */
export interface LoadOptions {
  /**
   * The module: a URL (`file:`, `http(s):`, `data:`, `blob:`), a URL string or (in Node) a file
   * path, the bytes, or a compiled `WebAssembly.Module`. Default: `xent-simd.wasm` or
   * `xent.wasm` next to the bundle (`new URL('./xent-simd.wasm', import.meta.url)`), chosen by
   * {@link LoadOptions.simd}.
   */
  wasm?: WasmSource;
  /**
   * Use the simd128 build (`true`) or the portable build (`false`). Default: the SIMD build when
   * the engine validates a tiny SIMD module ({@link simdSupported}). Only used to pick the
   * default file.
   */
  simd?: boolean;
  /**
   * Use the relaxed-SIMD build, `xent-simd-relaxed.wasm` (`+simd128,+relaxed-simd`), where the
   * engine supports relaxed SIMD ({@link relaxedSimdSupported}: Chrome ≥ 114, Node ≥ 22, Node 20
   * with `--experimental-wasm-relaxed-simd`). Its exp and log use `f32x4.relaxed_madd`, which
   * the engine may compile to a fused multiply-add (one rounding) or to a multiply then an add
   * (two roundings), depending on the CPU: it is faster (docs/performance.md has figures), and its
   * results stay within the same tolerances of PyTorch, but they are **not bit-identical** to
   * the SIMD and portable builds (nor necessarily across machines). Default `false`: the
   * default keeps the bit-identical-across-builds contract.
   *
   * Where relaxed SIMD is not supported, or with `threads` > 1 (there is no relaxed threads
   * build), or in `xent-wasm/inline` (which does not embed it), the instance runs the build it
   * would have run without `relaxed` and warns why (`'relaxed-fallback'`, see
   * {@link XentOptions.onWarning}); {@link Xent.relaxed} says which. `relaxed: true` with `simd: false` is a `XentOptionError`. With `wasm` given, that
   * module is used, whatever it is.
   */
  relaxed?: boolean;
  /**
   * The memory to link as `env.memory`. Default: a new
   * `WebAssembly.Memory({ initial: 2, maximum: 65536 })` (at least what the module asks for).
   * xent-wasm owns everything in it above the module's `__heap_base`, so one memory serves one
   * live instance: giving the memory of another live instance is a `XentMemoryInUseError`.
   */
  memory?: WebAssembly.Memory;
}

/** @internal What the loader produced. */
export interface Loaded {
  instance: WebAssembly.Instance;
  memory: WebAssembly.Memory;
  /** True when the loader created the memory (so memory above the module's data is zero). */
  createdMemory: boolean;
  /** Where the module came from, for messages. */
  source: string;
  /** The compiled module (the workers of the threads build instantiate it too). */
  module: WebAssembly.Module;
}

/**
 * The smallest module with a SIMD instruction (`i8x16.splat`, `i8x16.popcnt` returning a v128);
 * the same probe as the wasm-feature-detect package.
 */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** Whether this engine validates `probe`, asked once and remembered. */
function validates(probe: Uint8Array<ArrayBuffer>): () => boolean {
  let cached: boolean | undefined;
  return () => {
    if (cached === undefined) {
      try {
        cached = typeof WebAssembly === 'object' && WebAssembly.validate(probe);
      } catch {
        cached = false;
      }
    }
    return cached;
  };
}

const validatesSimd = validates(SIMD_PROBE);

/** Whether this engine supports WebAssembly fixed-width SIMD (simd128). */
export function simdSupported(): boolean {
  return validatesSimd();
}

/**
 * The smallest module with a relaxed-SIMD instruction, hand-written:
 *   (module (func (result v128)
 *     (f32x4.relaxed_madd (i8x16.splat (i32.const 0)) (i8x16.splat (i32.const 0)) (i8x16.splat (i32.const 0)))))
 * f32x4.relaxed_madd is the instruction the relaxed build uses (0xfd 0x105, LEB128 0x85 0x02).
 */
const RELAXED_SIMD_PROBE = new Uint8Array([
  ...[0, 97, 115, 109, 1, 0, 0, 0], // magic "\0asm", version 1
  ...[1, 5, 1, 96, 0, 1, 123], // type section: 1 type, func () -> (v128)
  ...[3, 2, 1, 0], // function section: 1 function of type 0
  ...[10, 19, 1, 17, 0], // code section (19 bytes): 1 body of 17 bytes, no locals
  ...[65, 0, 253, 15], // i32.const 0, i8x16.splat
  ...[65, 0, 253, 15], // i32.const 0, i8x16.splat
  ...[65, 0, 253, 15], // i32.const 0, i8x16.splat
  ...[253, 133, 2], // f32x4.relaxed_madd
  11, // end
]);

const validatesRelaxedSimd = validates(RELAXED_SIMD_PROBE);

/**
 * Whether this engine supports WebAssembly relaxed SIMD (validates `f32x4.relaxed_madd`):
 * Chrome ≥ 114, Node ≥ 22; Node 20 only with `--experimental-wasm-relaxed-simd`.
 */
export function relaxedSimdSupported(): boolean {
  return validatesRelaxedSimd();
}

/** The default URL of the relaxed-SIMD build (simd128 + relaxed-simd), beside this bundle. */
export function defaultRelaxedWasmUrl(): URL {
  return new URL('./xent-simd-relaxed.wasm', import.meta.url);
}

/** The default URL of the threads build (simd128 + atomics, shared memory), beside this bundle. */
export function defaultThreadsWasmUrl(): URL {
  return new URL('./xent-simd-threads.wasm', import.meta.url);
}

/** The default module URL for the SIMD or portable build, beside this bundle. */
export function defaultWasmUrl(simd: boolean): URL {
  // Written out literally so that bundlers (Vite, webpack 5, rollup) see and copy both assets.
  return simd ? new URL('./xent-simd.wasm', import.meta.url) : new URL('./xent.wasm', import.meta.url);
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

interface NodeFs {
  readFile(path: string | URL): Promise<Uint8Array>;
}

async function nodeFs(): Promise<NodeFs> {
  // A variable specifier keeps browser bundlers from trying to resolve a Node built-in.
  const name = 'node:fs/promises';
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as NodeFs;
}

interface Compiled {
  module: WebAssembly.Module;
  bytes?: Uint8Array;
  source: string;
}

async function compileBytes(bytes: Uint8Array, source: string): Promise<Compiled> {
  try {
    return { module: await WebAssembly.compile(bytes as BufferSource), bytes, source };
  } catch (e) {
    const simdHint =
      !simdSupported() && source.includes('simd')
        ? ' (this engine does not support WebAssembly SIMD: use simd: false)'
        : '';
    throw new XentLoadError(`could not compile the wasm module from ${source}: ${errorMessage(e)}${simdHint}`, {
      cause: e,
    });
  }
}

/** Reads a module from a file (Node) and compiles it. */
async function compileFile(file: URL | string, source: string): Promise<Compiled> {
  let bytes: Uint8Array;
  try {
    bytes = await (await nodeFs()).readFile(file);
  } catch (e) {
    throw new XentLoadError(`could not read the wasm module ${source}: ${errorMessage(e)}`, { cause: e });
  }
  return compileBytes(bytes, source);
}

async function fetchUrl(url: URL): Promise<Compiled> {
  const source = url.href.length > 200 ? `${url.href.slice(0, 200)}…` : url.href;
  if (url.protocol === 'file:') return compileFile(url, source);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new XentLoadError(`could not fetch the wasm module ${source}: ${errorMessage(e)}`, { cause: e });
  }
  if (!response.ok) {
    throw new XentLoadError(
      `could not fetch the wasm module ${source}: HTTP ${response.status} ${response.statusText}`,
    );
  }
  const type = response.headers.get('content-type') ?? '';
  if (typeof WebAssembly.compileStreaming === 'function' && type.split(';')[0]!.trim() === 'application/wasm') {
    try {
      return { module: await WebAssembly.compileStreaming(response.clone()), source };
    } catch {
      // Fall through to compiling the bytes, which reports the real error.
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    throw new XentLoadError(`could not read the wasm module ${source}: ${errorMessage(e)}`, { cause: e });
  }
  return compileBytes(bytes, source);
}

async function compileSource(options: LoadOptions, threads = false): Promise<Compiled> {
  const wasm = options.wasm;
  if (wasm === undefined)
    return fetchUrl(threads ? defaultThreadsWasmUrl() : defaultWasmUrl(options.simd ?? simdSupported()));
  if (wasm instanceof WebAssembly.Module) return { module: wasm, source: 'the given WebAssembly.Module' };
  if (wasm instanceof URL) return fetchUrl(wasm);
  if (typeof wasm === 'string') {
    const isWindowsPath = /^[a-zA-Z]:[\\/]/.test(wasm);
    if (!isWindowsPath && /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(wasm)) return fetchUrl(new URL(wasm));
    if (isNode()) return compileFile(wasm, wasm);
    const base =
      (globalThis as { document?: { baseURI?: string }; location?: { href?: string } }).document?.baseURI ??
      (globalThis as { location?: { href?: string } }).location?.href;
    return fetchUrl(new URL(wasm, base));
  }
  if (wasm instanceof ArrayBuffer) return compileBytes(new Uint8Array(wasm), 'the given ArrayBuffer');
  if (ArrayBuffer.isView(wasm)) {
    return compileBytes(
      new Uint8Array(wasm.buffer, wasm.byteOffset, wasm.byteLength),
      `the given ${wasm.constructor.name}`,
    );
  }
  throw new XentLoadError(
    `options.wasm must be a URL, a URL string or file path, an ArrayBuffer or typed array of the module's bytes, or ` +
      `a WebAssembly.Module; got ${typeof wasm}`,
  );
}

/**
 * @internal Compiles and instantiates the module with its memory; with `shared`, the threads
 * build (default `xent-simd-threads.wasm`) on a shared memory.
 */
export async function load(options: LoadOptions = {}, shared = false): Promise<Loaded> {
  if (typeof WebAssembly !== 'object') throw new XentLoadError('this JavaScript engine has no WebAssembly');
  const { module, bytes, source } = await compileSource(options, shared);

  const imports = WebAssembly.Module.imports(module);
  const unexpected = imports.filter((i) => !(i.module === 'env' && i.name === 'memory' && i.kind === 'memory'));
  if (unexpected.length > 0) {
    throw new XentLoadError(
      `${source} is not an xent module: it imports ` +
        `${unexpected.map((i) => `${i.module}.${i.name} (${i.kind})`).join(', ')}; ` +
        `an xent module imports only env.memory`,
    );
  }
  if (imports.length === 0) {
    throw new XentLoadError(
      `${source} is not an xent module: it does not import env.memory (build it with --import-memory)`,
    );
  }

  const limits = bytes ? memoryImportLimits(bytes) : undefined;
  if (limits?.memory64 || (limits && limits.shared !== shared)) {
    throw new XentLoadError(
      shared && !limits.memory64
        ? `${source} imports a memory that is not shared: it is not the threads build (xent-simd-threads.wasm)`
        : `${source} imports a ${limits.memory64 ? '64-bit' : 'shared'} memory; xent-wasm expects a plain ` +
            `32-bit memory` +
            (limits.shared ? ' (the threads build needs options.threads > 1)' : ''),
    );
  }

  let memory = options.memory;
  const createdMemory = memory === undefined;
  if (memory !== undefined && !(memory instanceof WebAssembly.Memory)) {
    throw new XentLoadError(`options.memory must be a WebAssembly.Memory, got ${typeof memory}`);
  }
  let pages = Math.max(2, limits?.min ?? 2);
  const maximum = Math.min(65536, limits?.max ?? 65536);
  for (let attempt = 0; ; attempt++) {
    memory ??= new WebAssembly.Memory({ initial: pages, maximum, shared });
    try {
      const instance = await WebAssembly.instantiate(module, { env: { memory } });
      return { instance, memory, createdMemory, source, module };
    } catch (e) {
      // Without the bytes the import's minimum is unknown: retry with a larger memory.
      if (createdMemory && e instanceof WebAssembly.LinkError && !limits && attempt < 12 && pages * 2 <= maximum) {
        pages *= 2;
        memory = undefined;
        continue;
      }
      const which = createdMemory ? 'the memory created for it' : 'options.memory';
      const what =
        e instanceof WebAssembly.LinkError
          ? `could not link ${source} with ${which}`
          : `could not instantiate ${source}`;
      throw new XentLoadError(
        `${what}: ${errorMessage(e)}` +
          (limits
            ? ` (the module asks for at least ${limits.min} pages` +
              `${limits.max !== undefined ? ` and at most ${limits.max}` : ''})`
            : ''),
        { cause: e },
      );
    }
  }
}
