/**
 * xent-wasm/inline: the whole API of `xent-wasm`, with both wasm builds embedded in the bundle
 * (base64, decoded at load; the SIMD build where `WebAssembly.validate` accepts SIMD, as in the
 * main entry). Nothing is fetched: for edge runtimes without file access, modules loaded from
 * `data:`/`blob:` URLs and single-file bundles. About 290 KB larger than the main entry.
 *
 * ```ts
 * import { Xent } from 'xent-wasm/inline';
 * const xent = await Xent.create();            // no .wasm file needed
 * ```
 *
 * Built by scripts/rollup-inline.mjs, which swaps the library's loader for ts/inline-loader.ts.
 * `options.wasm` still overrides the embedded module. Its classes are its own: a tensor of an
 * `xent-wasm/inline` instance is not an `instanceof` the main entry's `Tensor`.
 * @packageDocumentation
 */

export * from './index.js';
