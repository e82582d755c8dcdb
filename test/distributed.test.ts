// Data-parallel training across processes: the exact mean of a batch split over 3 Node child
// processes, with very uneven ignored pixels per shard. Each process calls crossEntropy with
// reduction 'sum' (and 'mean', to show its sum/weightSum are the same numbers); the parent
// all-reduces sum and weightSum and divides. That equals the single-process mean bit for bit;
// the mean of the shards' means does not. (The recipe in docs/training.md, "Beyond one machine".)
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Xent } from '../dist/index.mjs';

const DIST = pathToFileURL(resolve(__dirname, '../dist/index.mjs')).href;

// The worker: a real process (node -e, ES module), talking to the parent over IPC.
const WORKER = `
const { Xent } = await import(${JSON.stringify(DIST)});
const xent = await Xent.create();
process.once('message', ({ logits, target, shape, weight, ignoreIndex }) => {
  const targetShape = [shape[0], ...shape.slice(2)];
  const grad = xent.tensor('float32', shape);
  const opts = { ignoreIndex, weight, layout: 'NCHW' };
  const s = xent.crossEntropy({ data: logits, shape }, { data: target, shape: targetShape }, { ...opts, reduction: 'sum', grad, lossMap: true });
  const m = xent.crossEntropy({ data: logits, shape }, { data: target, shape: targetShape }, { ...opts, reduction: 'mean' });
  process.send({
    pid: process.pid, sum: s.sum, weightSum: s.weightSum, lossMap: s.lossMap.data.slice(), grad: grad.data.slice(),
    mean: m.loss, meanSum: m.sum, meanWeightSum: m.weightSum,
  }, () => process.exit(0));
});
`;

interface ShardResult {
  pid: number;
  sum: number;
  weightSum: number;
  lossMap: Float32Array;
  grad: Float32Array;
  mean: number;
  meanSum: number;
  meanWeightSum: number;
}

function runShard(msg: object): Promise<ShardResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WORKER], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced', // typed arrays over IPC, as they are
    });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.once('message', (m) => res(m as ShardResult));
    child.once('exit', (code) => code !== 0 && rej(new Error(`shard process exited with ${code}: ${err}`)));
    child.send(msg);
  });
}

/** mulberry32 */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The exact value of Σ x (float32 values) as a BigInt in units of 2^-149 (every float32 is a whole number of them). */
function exactSum(xs: Float32Array): bigint {
  let s = 0n;
  for (const x of xs) s += BigInt(x * 2 ** 149); // x · 2^149 is an integer, exactly representable
  return s;
}
const units = (x: number) => BigInt(x * 2 ** 149); // a float64 that is a multiple of 2^-149, in those units

const N = 6; // images: 2 per shard
const C = 5;
const H = 24;
const W = 32;
const P = H * W;
const IGNORE = 255;
// Ignored fraction per image: shard 0 almost fully labelled, shard 1 half, shard 2 almost all void.
const IGNORED = [0, 0.05, 0.5, 0.5, 0.95, 0.97];
const EASY = [3, 3, 1, 1, 0, 0];
const SHARDS = [
  [0, 2],
  [2, 4],
  [4, 6],
];

let xent: Xent;
let logits: Float32Array;
let target: Uint8Array;
const weight = new Float32Array([0.5, 1, 2, 4, 0.8]);

beforeAll(async () => {
  xent = await Xent.create();
  const r = rng(2024);
  logits = Float32Array.from({ length: N * C * P }, () => r() * 8 - 4);
  target = new Uint8Array(N * P);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < P; i++) target[n * P + i] = r() < IGNORED[n]! ? IGNORE : Math.floor(r() * C);
  // The well-labelled images are also the easy ones (a margin for the target class), as when
  // the hard, cluttered scenes are the ones with the most void.
  for (let n = 0; n < N; n++)
    for (let i = 0; i < P; i++) {
      const t = target[n * P + i]!;
      if (t !== IGNORE) logits[(n * C + t) * P + i]! += EASY[n]!;
    }
});
afterAll(() => xent.dispose());

describe('distributed mean: all-reduce sum and weightSum, then divide', () => {
  for (const weighted of [false, true]) {
    it(`3 processes, uneven ignored pixels${weighted ? ', class weights' : ''}: bit-identical to one process; the mean of shard means is not`, async () => {
      const w = weighted ? weight : undefined;
      const shards = await Promise.all(
        SHARDS.map(([a, b]) =>
          runShard({
            logits: logits.slice(a! * C * P, b! * C * P),
            target: target.slice(a! * P, b! * P),
            shape: [b! - a!, C, H, W],
            weight: w,
            ignoreIndex: IGNORE,
          }),
        ),
      );
      expect(new Set(shards.map((s) => s.pid)).size).toBe(3); // three separate processes

      // The single-process reference, on the whole batch.
      const grad = xent.tensor('float32', [N, C, H, W]);
      const one = xent.crossEntropy(
        { data: logits, shape: [N, C, H, W] },
        { data: target, shape: [N, H, W] },
        { ignoreIndex: IGNORE, weight: w, grad, lossMap: true },
      );

      // The recipe: all-reduce both numbers, then divide.
      const sum = shards.reduce((a, s) => a + s.sum, 0);
      const weightSum = shards.reduce((a, s) => a + s.weightSum, 0);
      const distributed = sum / weightSum;
      expect(Object.is(distributed, one.loss)).toBe(true); // bit for bit
      expect(sum).toBe(one.sum);
      expect(weightSum).toBe(one.weightSum);
      // Any order of the all-reduce gives the same bits.
      expect(
        (shards[2]!.sum + shards[0]!.sum + shards[1]!.sum) /
          (shards[1]!.weightSum + shards[2]!.weightSum + shards[0]!.weightSum),
      ).toBe(one.loss);
      // 'mean' carries the same numerator and denominator.
      for (const s of shards) {
        expect(s.meanSum).toBe(s.sum);
        expect(s.meanWeightSum).toBe(s.weightSum);
        expect(s.mean).toBe(s.sum / s.weightSum);
      }

      // Why it is exact: each shard's sum is the exact sum of its float32 per-pixel losses (no
      // rounding at all here), so adding the shards in float64 is exact too.
      const exact = shards.map((s) => exactSum(s.lossMap));
      for (const [i, s] of shards.entries()) expect(units(s.sum)).toBe(exact[i]);
      expect(units(one.sum)).toBe(exact.reduce((a, b) => a + b, 0n));

      // The wrong way: the mean of the shards' means weighs the nearly void shard as much as the
      // fully labelled one.
      const meanOfMeans = shards.reduce((a, s) => a + s.mean, 0) / shards.length;
      const rel = Math.abs(meanOfMeans - one.loss) / one.loss;
      console.log(
        `distributed${weighted ? ' (weighted)' : ''}: shard weightSums ${shards.map((s) => s.weightSum).join(', ')}; ` +
          `exact mean ${one.loss} (all-reduced: ${distributed}); mean of shard means ${meanOfMeans} (off by ${(100 * rel).toFixed(2)} %)`,
      );
      expect(rel).toBeGreaterThan(1e-3);

      // The gradient of the global mean: each shard's 'sum' gradient / the global weightSum
      // (what an all-reduce of gradients does), equal to the single process's to float32 rounding.
      const g = grad.data;
      let worst = 0;
      let scale = 0;
      shards.forEach((s, i) => {
        const off = SHARDS[i]![0]! * C * P;
        for (let k = 0; k < s.grad.length; k++) {
          worst = Math.max(worst, Math.abs(s.grad[k]! / weightSum - g[off + k]!));
          scale = Math.max(scale, Math.abs(g[off + k]!));
        }
      });
      expect(worst).toBeLessThanOrEqual(2 ** -23 * scale);
      one.lossMap.dispose();
      grad.dispose();
    });
  }
});
