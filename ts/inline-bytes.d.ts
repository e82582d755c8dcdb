/**
 * The base64 of build/wasm/xent-simd.wasm and build/wasm/xent.wasm: a virtual module that
 * scripts/rollup-inline.mjs provides when it builds the `xent-wasm/inline` entry (there is no
 * inline-bytes.js file). Only ts/inline-loader.ts imports it.
 */
export declare const SIMD_WASM_BASE64: string;
export declare const PORTABLE_WASM_BASE64: string;
