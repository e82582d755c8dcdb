// Types of demo/make-samples.mjs (for the TypeScript tests that import it).
export const CLASSES: ReadonlyArray<{ name: string; color: [number, number, number] }>;
export const IGNORE: number;
export const WIDTH: number;
export const HEIGHT: number;
export const SAMPLES: ReadonlyArray<{ id: string; title: string; seed: number }>;
export function encodePng(width: number, height: number, channels: 1 | 3, pixels: Uint8Array): Uint8Array;
export function makeSample(
  seed: number,
  width?: number,
  height?: number,
): { width: number; height: number; rgb: Uint8Array; mask: Uint8Array; logits: Float32Array };
export function sampleFiles(): Record<string, Uint8Array>;
