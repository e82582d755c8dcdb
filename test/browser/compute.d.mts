// Types of test/browser/compute.mjs.
export interface ComputeResult {
  simd: boolean;
  crossEntropy: { loss: string; sum: string; weightSum: string; grad: string; lossMap: string };
  score: { loss: string; pred: string; predConfidence: string; confusion: string };
  scorer: {
    updates: string[];
    loss: string;
    sum: string;
    meanIoU: string;
    pixelAccuracy: string;
    frequencyWeightedIoU: string;
    iou: string[];
    confusion: number[];
  };
}
export function makeData(
  seed: number,
  n?: number,
  c?: number,
  h?: number,
  w?: number,
): { logits: Float32Array; target: Uint8Array; weight: Float32Array; shape: number[]; targetShape: number[] };
export function compute(lib: unknown, options: { seed: number; simd: boolean }): Promise<ComputeResult>;
export function crossEntropySummary(
  ce: { loss: number; sum: number; weightSum: number; lossMap: { data: Float32Array } },
  grad: { data: Float32Array },
): { loss: string; sum: string; weightSum: string; grad: string; lossMap: string };
