#!/usr/bin/env node
// A/B of two builds of xent-wasm in one process: the SIMD builds of two dist/ directories (say a
// copy of main's dist/ saved before a kernel change, and the working tree's) on the same data,
// timed in interleaved rounds (bench/interleaved.mjs) so that drift on a shared machine hits
// both alike. Before timing, checks that both give the same bits (loss, and the whole gradient).
//
//   node --expose-gc bench/ab.mjs --a=/tmp/main-dist [--b=dist] [--workloads=voc,city,...]
//                                 [--reps=15] [--ops=fwd,fwdbwd]
//
// Prints per workload: median (min) ms of each build and op, B/A of the medians and of the mins
// (the min is the least disturbed by other work on the machine), and fwdbwd/fwd per build. Workloads: those of data.mjs, plus city1000 ([2, 19, 512, 1000]: city at a row
// stride that is not a power of two), nc2d ([65536, 21] 2-D logits: one sample a row) and
// strip256 ([1, 21, 16, 16]: a small call, as the fused resize makes them). No thresholds.

import { commandLine, loadBuilds } from './cli.mjs';
import { IGNORE_INDEX, WORKLOADS, makeData } from './data.mjs';
import { timeInterleaved } from './interleaved.mjs';
import { machineInfo, machineLine } from './report.mjs';

const EXTRA = {
  city1000: { name: 'city1000', shape: [2, 19, 512, 1000] },
  nc2d: { name: 'nc2d', shape: [65536, 21, 1, 1], flat: true },
  strip256: { name: 'strip256', shape: [1, 21, 16, 16] },
};
const DEFAULT = ['voc', 'city', 'city1000', 'ade512', 'bin', 'cocostuff'];
const USAGE = `usage: node --expose-gc bench/ab.mjs --a=DIR [--b=dist] [--workloads=${DEFAULT.join(',')}]
                        [--reps=15] [--ops=fwd,fwdbwd]
DIR: a built package (a dist/ directory). A workload NxCxHxW is that shape. Extra workloads: ${Object.keys(EXTRA).join(', ')}.`;

const args = commandLine(
  {
    a: { type: 'string' },
    b: { type: 'string', default: 'dist' },
    workloads: { type: 'string', default: DEFAULT.join(',') },
    reps: { type: 'string', default: '15' },
    ops: { type: 'string', default: 'fwd,fwdbwd' },
  },
  USAGE,
);
const reps = Number(args.reps);
const ops = args.ops.split(',');
const { dirs, libs } = await loadBuilds(args.a, args.b, USAGE);
const gc = globalThis.gc ?? (() => {});

console.log(`${machineLine(machineInfo())}\nA = ${dirs.A}\nB = ${dirs.B}\n${reps} interleaved rounds`);
console.log('\n| workload | op | A ms | B ms | B/A | B/A (min) | A fwdbwd/fwd | B fwdbwd/fwd | bits |');
console.log('|---|---|--:|--:|--:|--:|--:|--:|---|');

/** One build's tensors and calls on the workload's data. */
async function prepare(lib, data, w) {
  const xent = await lib.Xent.create({ simd: true });
  const [N, C, H, W] = data.shape;
  const shape = w.flat ? [N, C] : data.shape;
  const logits = xent.tensor('float32', shape);
  logits.data.set(data.logits);
  const target = xent.tensorFrom(data.target, w.flat ? [N] : [N, H, W]);
  const grad = xent.tensor('float32', shape);
  const base = { ignoreIndex: IGNORE_INDEX, reduction: 'mean' };
  return {
    fwd: () => xent.crossEntropy(logits, target, base).loss,
    fwdbwd: () => xent.crossEntropy(logits, target, { ...base, grad }).loss,
    grad,
    dispose: () => xent.dispose(),
  };
}

for (const name of args.workloads.split(',')) {
  const dims = /^\d+(x\d+){3}$/.test(name) ? name.split('x').map(Number) : undefined;
  const w = dims ? { name, shape: dims } : (EXTRA[name] ?? WORKLOADS[name]);
  if (!w) throw new Error(`unknown workload ${name}`);
  const data = makeData(w);
  const a = await prepare(libs.A, data, w);
  const b = await prepare(libs.B, data, w);
  // Same bits: the loss, and every byte of the gradient.
  const la = a.fwdbwd();
  const lb = b.fwdbwd();
  const ga = new Uint8Array(a.grad.data.buffer, a.grad.data.byteOffset, a.grad.data.byteLength);
  const gb = new Uint8Array(b.grad.data.buffer, b.grad.data.byteOffset, b.grad.data.byteLength);
  const same = Object.is(la, lb) && Buffer.compare(ga, gb) === 0 && Object.is(a.fwd(), b.fwd());
  const configs = ops.flatMap((op) => [
    { build: 'A', op, f: a[op] },
    { build: 'B', op, f: b[op] },
  ]);
  const r = await timeInterleaved(configs, reps);
  const get = (build, op) => r.find((x) => x.build === build && x.op === op);
  const ratio = (build) =>
    ops.includes('fwd') && ops.includes('fwdbwd')
      ? (get(build, 'fwdbwd').median / get(build, 'fwd').median).toFixed(2)
      : '';
  const fmt = (x) => `${x.median.toFixed(2)} (${x.min.toFixed(2)})`;
  for (const op of ops) {
    const [ra, rb] = [get('A', op), get('B', op)];
    console.log(
      `| ${name} ${w.shape.join('x')} | ${op} | ${fmt(ra)} | ${fmt(rb)} | ${(rb.median / ra.median).toFixed(3)} | ${(rb.min / ra.min).toFixed(3)} | ${ratio('A')} | ${ratio('B')} | ${same ? 'same' : 'DIFFER'} |`,
    );
  }
  a.dispose();
  b.dispose();
  gc();
}
