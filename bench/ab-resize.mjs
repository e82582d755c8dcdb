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

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commandLine } from './cli.mjs';
import { IGNORE_INDEX, rng, seedOf } from './data.mjs';
import { timeInterleaved } from './interleaved.mjs';
import { machineInfo, machineLine } from './report.mjs';

const WORKLOADS = {
  city: { name: 'city-resize', shape: [2, 19, 128, 256], size: [512, 1024] },
  ade: { name: 'ade-resize', shape: [2, 150, 128, 128], size: [512, 512] },
};
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
if (!args.a) {
  console.error(USAGE);
  process.exit(2);
}
const dirs = { A: resolve(args.a), B: resolve(args.b) };
for (const d of Object.values(dirs)) {
  if (!existsSync(`${d}/index.mjs`)) throw new Error(`${d}/index.mjs not found (a built dist/?)`);
}
const libs = {
  A: await import(pathToFileURL(`${dirs.A}/index.mjs`).href),
  B: await import(pathToFileURL(`${dirs.B}/index.mjs`).href),
};
const gc = globalThis.gc ?? (() => {});
const RESIZE = { mode: 'bilinear', alignCorners: false };

/** bench/resize.mjs's data: logits uniform in [-4, 4), labels at the full size, 5 % ignored. */
function makeData(w) {
  const [N, C, h, wd] = w.shape;
  const [H, W] = w.size;
  const next = rng(seedOf(w.name));
  const logits = new Float32Array(N * C * h * wd);
  for (let i = 0; i < logits.length; i++) logits[i] = (next() >>> 8) * 2 ** -21 - 4;
  const target = new Uint8Array(N * H * W);
  for (let i = 0; i < target.length; i++)
    target[i] = next() < 0.05 * 2 ** 32 ? IGNORE_INDEX : Math.floor(((next() >>> 8) * C) / 2 ** 24);
  return { logits, target, shape: w.shape, labelShape: [N, H, W] };
}

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
  const d = makeData(w);
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
