#!/usr/bin/env node
// Worker-thread scaling of xent-wasm: city fwdbwd ([2, 19, 512, 1024] NCHW logits, uint8
// targets with 5 % ignore index 255, reduction mean, gradient) on 1..T threads, with the
// synchronous crossEntropy (this thread + T-1 workers, Atomics.wait) and crossEntropyAsync
// (T workers), and the threads build on one thread (no split). Reports min and median per thread count and the speed-up over the
// single-thread SIMD build. No thresholds: this reports, it does not judge.
//
//   node bench/threads.mjs [--threads=2,3,4] [--reps=15] [--workload=city] [--op=fwdbwd|fwd]
//
// Needs dist/ (npm run build). Every result is checked bit for bit against the single-thread
// build (loss and gradient) before its time counts.

import { IGNORE_INDEX, makeData } from './data.mjs';
import { commandLine } from './cli.mjs';
import { timeInterleaved } from './interleaved.mjs';
import { machineInfo, machineLine } from './report.mjs';

const args = commandLine(
  {
    threads: { type: 'string', default: '2' },
    reps: { type: 'string', default: '15' },
    workload: { type: 'string', default: 'city' },
    op: { type: 'string', default: 'fwdbwd' },
  },
  'usage: node bench/threads.mjs [--threads=2,3,4] [--reps=15] [--workload=city] [--op=fwdbwd|fwd]',
);
const THREADS = args.threads.split(',').map(Number);
const REPS = Number(args.reps);
const WORKLOAD = args.workload;
const OP = args.op;

const { Xent } = await import(new URL('../dist/index.mjs', import.meta.url).href);
const d = makeData(WORKLOAD);
const tshape = [d.N, d.H, d.W];

async function setup(threads, options = {}) {
  const xent = await Xent.create(threads > 1 ? { threads, ...options } : {});
  if (xent.threads !== threads) throw new Error(`asked for ${threads} threads, got ${xent.threads}`);
  const logits = xent.tensorFrom(d.logits, d.shape);
  const target = xent.tensorFrom(d.target, tshape);
  const grad = OP === 'fwdbwd' ? xent.tensor('float32', d.shape) : undefined;
  const opts = { ignoreIndex: IGNORE_INDEX, reduction: 'mean', ...(grad ? { grad } : {}) };
  return {
    xent,
    grad,
    sync: () => xent.crossEntropy(logits, target, opts),
    async: () => xent.crossEntropyAsync(logits, target, opts),
  };
}

const ref = await setup(1);
const refLoss = ref.sync().loss;
const refGrad = ref.grad
  ? new Uint32Array(ref.grad.data.buffer, ref.grad.data.byteOffset, ref.grad.data.length).slice()
  : undefined;

function check(s, loss, what) {
  if (!Object.is(loss, refLoss)) throw new Error(`${what}: loss ${loss} != ${refLoss}`);
  if (refGrad) {
    const g = new Uint32Array(s.grad.data.buffer, s.grad.data.byteOffset, s.grad.data.length);
    for (let i = 0; i < g.length; i++)
      if (g[i] !== refGrad[i]) throw new Error(`${what}: gradient bit difference at ${i}`);
  }
}

// Every configuration is set up first, then timed in interleaved rounds.
const configs = [{ mode: 'single-thread build', threads: 1, f: ref.sync }];
const instances = [ref.xent];
{
  // The threads build on this thread alone (no split: every call is below minElementsPerThread).
  const s = await setup(2, { minElementsPerThread: 2 ** 40 });
  instances.push(s.xent);
  check(s, s.sync().loss, 'threads build, 1 thread');
  configs.push({ mode: 'threads build, no split', threads: 1, f: s.sync });
}
for (const t of THREADS) {
  const s = await setup(t);
  instances.push(s.xent);
  check(s, s.sync().loss, `sync, ${t} threads`);
  check(s, (await s.async()).loss, `async, ${t} threads`);
  configs.push({ mode: 'crossEntropy (sync)', threads: t, f: s.sync });
  configs.push({ mode: 'crossEntropyAsync', threads: t, f: s.async });
}
const rows = await timeInterleaved(configs, REPS);
for (const x of instances) x.dispose();
const single = rows[0];

const f = (x) => x.toFixed(2).padStart(8);
console.log(`# ${machineLine(machineInfo())}`);
console.log(
  `${WORKLOAD} ${OP} [${d.shape.join(', ')}], ${REPS} runs each, node ${process.version}; speed-up = single-thread build / this`,
);
console.log('mode                  threads   min ms  median ms  speed-up(min)  speed-up(median)');
for (const r of rows) {
  console.log(
    `${r.mode.padEnd(22)}${String(r.threads).padStart(7)} ${f(r.min)}   ${f(r.median)}   ${f(single.min / r.min)}x       ${f(single.median / r.median)}x`,
  );
}
