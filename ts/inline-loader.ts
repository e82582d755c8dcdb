/**
 * The loader of the `xent-wasm/inline` entry: the normal loader ({@link load} of `loader.ts`),
 * whose default module is the bytes embedded in the bundle (base64 of `xent-simd.wasm` and
 * `xent.wasm`, decoded at load) instead of a file beside the bundle. Nothing is fetched or read,
 * so it works where there is no file to fetch: edge runtimes, pages and modules loaded from
 * `data:` or `blob:` URLs, single-file bundles.
 *
 * Only the inline build uses this file: `scripts/rollup-inline.mjs` resolves every `./loader.js` import
 * of the library to it (so `Xent.create` and the `defaultWasmUrl` export come from here), and
 * provides `./inline-bytes.js` (the base64 strings) as a virtual module. The main entry never
 * contains the bytes.
 * @module
 */

import { XentLoadError } from './errors.js';
import { SIMD_WASM_BASE64, PORTABLE_WASM_BASE64 } from './inline-bytes.js';
import { load as loadModule, simdSupported, type LoadOptions, type Loaded } from './loader.js';

export * from './loader.js';

const NAMES = { simd: 'xent-simd.wasm', portable: 'xent.wasm' } as const;
const decoded: { simd?: Uint8Array; portable?: Uint8Array } = {};

/** Decodes standard base64 (no whitespace; `=` padding optional); independent of `atob`/`Buffer`. */
function decodeBase64(s: string): Uint8Array {
  const table = new Uint8Array(128).fill(255);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = i;
  let n = s.length;
  while (n > 0 && s.charCodeAt(n - 1) === 61 /* = */) n--;
  const out = new Uint8Array(Math.floor((n * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? table[c]! : 255;
    if (v === 255) throw new XentLoadError(`xent-wasm/inline: the embedded module is corrupt (bad base64 at ${i})`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** The embedded bytes of the SIMD (`true`) or portable (`false`) build (decoded once, then shared). */
export function inlineWasmBytes(simd: boolean): Uint8Array {
  const key = simd ? 'simd' : 'portable';
  decoded[key] ??= decodeBase64(simd ? SIMD_WASM_BASE64 : PORTABLE_WASM_BASE64);
  return decoded[key];
}

/**
 * The default module as a URL: in the inline build, a `data:application/wasm;base64,…` URL of
 * the embedded SIMD or portable build (there is no file beside the bundle).
 */
export function defaultWasmUrl(simd: boolean): URL {
  return new URL(`data:application/wasm;base64,${simd ? SIMD_WASM_BASE64 : PORTABLE_WASM_BASE64}`);
}

/** @internal {@link load} of `loader.ts`, with the embedded bytes as the default module. */
export async function load(options: LoadOptions = {}): Promise<Loaded> {
  if (options.wasm !== undefined) return loadModule(options);
  const simd = options.simd ?? simdSupported();
  // A copy: the engine may keep the bytes it was given, and the cache must stay intact.
  const bytes = inlineWasmBytes(simd).slice();
  const name = `the embedded ${simd ? NAMES.simd : NAMES.portable}`;
  try {
    const loaded = await loadModule({ ...options, wasm: bytes });
    return { ...loaded, source: name };
  } catch (e) {
    if (e instanceof XentLoadError)
      throw new XentLoadError(e.message.split('the given Uint8Array').join(name), { cause: e.cause ?? e });
    throw e;
  }
}
