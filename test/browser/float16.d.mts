// Types of test/browser/float16.mjs.
export interface Summary {
  crossEntropy: { loss: string; sum: string; weightSum: string; grad: string; lossMap: string; confidence: string };
  score?: { loss: string; sum: string; pred: string; lossMap: string; predConfidence: string; confusion: number[] };
  scorer?: { updates: string[]; loss: string; meanIoU: string; confusion: number[] };
}
export interface Conversion {
  file: string;
  status: number;
  same: number;
  nans: number;
  wrong: { half: number; kernel: string; engine: string }[];
}
export interface PageCase {
  roundingDiffers: number;
  halves: number[];
  tensor: { dtype: string; shape: number[]; dataIsUint16Array: boolean; sameBits: boolean };
  float32: Summary;
  float16Array: Summary;
  tensorFrom: Summary;
  uint16: Summary;
}
export interface PageResult {
  float16Array: boolean;
  f16round: boolean;
  simd: boolean;
  conversion: Conversion[];
  cases: PageCase[];
  liveTensors: number;
}
export const CASES: { dims: number[]; layout: 'NCHW' | 'NHWC'; prob: boolean }[];
export function caseData(i: number): { shape: number[]; logits: Float32Array; c: number };
export function summarize(xent: unknown, i: number, logits: unknown): Summary;
export function float16InPage(lib: unknown, options: { base: string; simd: boolean }): Promise<PageResult>;
