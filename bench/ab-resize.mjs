#!/usr/bin/env node
// A/B of the fused resize (crossEntropy with `resize: 'bilinear'`) in two builds of xent-wasm in
// one process: the SIMD builds of two dist/ directories on bench/resize.mjs's workloads, timed in
// interleaved rounds (bench/interleaved.mjs). Before timing, prints how far apart the two builds'
// results are (loss, and the largest gradient difference relative to the largest gradient).
//
//   node --expose-gc bench/ab-resize.mjs --a=/tmp/main-dist [--b=dist] [--workloads=city,ade]
//                                        [--reps=9] [--ops=fwd,fwdbwd]
//
// Prints per workload and op: median (min) ms of each build, and B/A of the medians and mins.

import { commandLine, loadBuilds } from './cli.mjs';
import { IGNORE_INDEX, RESIZE_WORKLOADS as WORKLOADS, makeResizeData } from './data.mjs';
import { timeInterleaved } from './interleaved.mjs';
import { machineInfo, machineLine } from './report.mjs';

const USAGE = `usage: node --expose-gc bench/ab-resize.mjs --a=DIR [--b=dist] [--workloads=city,ade] [--reps=9] [--ops=fwd,fwdbwd]
DIR: a built package (a dist/ directory).`;
const args = commandLine(
  {
    a: { type: 'string' },
    b: { type: 'string', default: 'dist' },
    workloads: { type: 'string', default: 'city,ade' },
    reps: { type: 'string', default: '9' },
    ops: { type: 'string', default: 'fwd,fwdbwd' },
  },
  USAGE,
);
const { dirs, libs } = await loadBuilds(args.a, args.b, USAGE);
const gc = globalThis.gc ?? (() => {});
const RESIZE = { mode: 'bilinear', alignCorners: false };

async function prepare(lib, d) {
  const xent = await lib.Xent.create({ simd: true });
  const logits = xent.tensorFrom(d.logits, d.shape);
  const labels = xent.tensorFrom(d.target, d.labelShape);
  const grad = xent.tensor('float32', d.shape);
  const opts = { ignoreIndex: IGNORE_INDEX, resize: RESIZE };
  return {
    fwd: () => xent.crossEntropy(logits, labels, opts).loss,
    fwdbwd: () => xent.crossEntropy(logits, labels, { ...opts, grad }).loss,
    grad,
    dispose: () => xent.dispose(),
  };
}

console.log(`${machineLine(machineInfo())}\nA = ${dirs.A}\nB = ${dirs.B}\n${args.reps} interleaved rounds`);
console.log('\n| workload | op | A ms | B ms | B/A | B/A (min) |');
console.log('|---|---|--:|--:|--:|--:|');
const notes = [];
for (const key of args.workloads.split(',')) {
  const w = WORKLOADS[key];
  if (!w) throw new Error(`unknown workload ${key} (city, ade)`);
  const d = makeResizeData(w);
  const A = await prepare(libs.A, d);
  const B = await prepare(libs.B, d);
  const [la, lb] = [A.fwdbwd(), B.fwdbwd()];
  let gmax = 0;
  let dmax = 0;
  for (let i = 0; i < A.grad.data.length; i++) {
    gmax = Math.max(gmax, Math.abs(A.grad.data[i]));
    dmax = Math.max(dmax, Math.abs(A.grad.data[i] - B.grad.data[i]));
  }
  notes.push(
    `${key}: loss A ${la}, B ${lb} (rel. ${(Math.abs(la - lb) / Math.abs(la)).toExponential(2)}); grad max|A-B|/max|A| ${(dmax / gmax).toExponential(2)}`,
  );
  for (const op of args.ops.split(',')) {
    gc();
    const [ra, rb] = await timeInterleaved([{ f: A[op] }, { f: B[op] }], Number(args.reps));
    const f = (r) => `${r.median.toFixed(1)} (${r.min.toFixed(1)})`;
    console.log(
      `| ${key} | ${op} | ${f(ra)} | ${f(rb)} | ${(rb.median / ra.median).toFixed(3)} | ${(rb.min / ra.min).toFixed(3)} |`,
    );
  }
  A.dispose();
  B.dispose();
}
console.log(`\n${notes.join('\n')}`);
