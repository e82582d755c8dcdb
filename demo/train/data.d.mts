// Types of demo/train/data.mjs (for the TypeScript tests that import it).
export interface ClassInfo {
  name: string;
  color: [number, number, number];
}
export interface Dataset {
  count: number;
  size: number;
  /** NHWC uint8 RGB, count × size × size × 3. */
  images: Uint8Array;
  /** class ids, count × size × size; 255 = unlabelled. */
  masks: Uint8Array;
  classes: readonly ClassInfo[];
  ignoreIndex: number;
  source: string;
}
export const IGNORE: 255;
export const CLASSES: readonly ClassInfo[];
export function rng(seed: number): {
  next(): number;
  range(lo: number, hi: number): number;
  int(lo: number, hi: number): number;
  pick<T>(a: readonly T[]): T;
};
export function makeScene(seed: number, size?: number): { rgb: Uint8Array; mask: Uint8Array };
export function syntheticDataset(options?: { count?: number; size?: number }): Dataset;
/** A PNG decoded by fast-png, one value per sample (1/2/4-bit rows unpacked; 16-bit as Uint16Array). */
export function readPng(path: string): {
  width: number;
  height: number;
  channels: number;
  depth: number;
  data: Uint8Array | Uint16Array;
  palette?: number[][];
};
export function loadFolder(dir: string, options?: { size?: number }): Dataset;
