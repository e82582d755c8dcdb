// Types of demo/train/png.mjs (for the TypeScript tests that import it).
export interface DecodedPng {
  width: number;
  height: number;
  /** 1 (gray or palette indices), 2 (gray+alpha), 3 (RGB) or 4 (RGBA). */
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
  /** RGB triples, for palette images. */
  palette?: Uint8Array;
}
export function decodePng(bytes: Uint8Array, name?: string): DecodedPng;
export function encodePng(
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  data: Uint8Array,
  options?: { palette?: Uint8Array | number[][]; filter?: 0 | 1 | 2 | 3 | 4 },
): Uint8Array;
