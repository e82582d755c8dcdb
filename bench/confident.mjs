#!/usr/bin/env node
// How xent-wasm's time depends on the logits: run.mjs's uniform logits (losses around log C)
// against a trained model's kind, where each pixel's target logit stands MARGIN above the
// uniform rest (most losses then tiny, down to 1e-12: the exact sum's small-loss window), and
// against class weights up to 64 (weighted losses past 128: tiles the exact sum takes value by
// value). Same shapes and targets as run.mjs, SIMD build, one thread, the configurations timed
// in interleaved rounds. No thresholds: this reports, it does not judge.
//
//   node bench/confident.mjs [--workloads=voc,ade,city,bin] [--margins=8,20] [--reps=15]
//
// Needs dist/ (npm run build).

import { IGNORE_INDEX, makeData } from './data.mjs';
import { commandLine } from './cli.mjs';
import { timeInterleaved } from './interleaved.mjs';
import { machineInfo, machineLine } from './report.mjs';

const args = commandLine(
  {
    workloads: { type: 'string', default: 'voc,ade,city,bin' },
    margins: { type: 'string', default: '8,20' },
    reps: { type: 'string', default: '15' },
  },
  'usage: node bench/confident.mjs [--workloads=voc,ade,city,bin] [--margins=8,20] [--reps=15]',
);
const WORKLOADS = args.workloads.split(',');
const MARGINS = args.margins.split(',').map(Number);
const REPS = Number(args.reps);

const { Xent } = await import(new URL('../dist/index.mjs', import.meta.url).href);
const xent = await Xent.create();
const f = (x) => x.toFixed(2).padStart(8);
console.log(`# ${machineLine(machineInfo())}`);
console.log(
  `xent-wasm on uniform and confident logits (${xent.simd ? 'SIMD' : 'portable'} build), node ${process.version}; ${REPS} interleaved rounds; ratio = median / the uniform logits' median`,
);

for (const name of WORKLOADS) {
  const d = makeData(name);
  const [N, C] = d.shape;
  const target = xent.tensorFrom(d.target, [N, d.H, d.W]);
  const grad = xent.tensor('float32', d.shape);
  const inputs = [{ what: 'uniform logits in [-4, 4)', logits: xent.tensorFrom(d.logits, d.shape) }];
  for (const margin of MARGINS) {
    const logits = xent.tensorFrom(d.logits, d.shape);
    for (let b = 0; b < N; b++) {
      for (let p = 0; p < d.S; p++) {
        const t = d.target[b * d.S + p];
        if (t !== IGNORE_INDEX) logits.data[(b * C + t) * d.S + p] += margin;
      }
    }
    inputs.push({ what: `target logit +${margin}`, logits });
  }
  // Class weights 1..64 (a rare class weighted up), on the uniform logits.
  const weight = Float32Array.from({ length: C }, (_, c) => 2 ** ((6 * c) / Math.max(C - 1, 1)));
  const configs = [];
  for (const op of ['fwd', 'fwdbwd']) {
    for (const { what, logits } of inputs) {
      const opts = { ignoreIndex: IGNORE_INDEX, ...(op === 'fwdbwd' ? { grad } : {}) };
      configs.push({
        op,
        what,
        loss: xent.crossEntropy(logits, target, opts).loss,
        f: () => xent.crossEntropy(logits, target, opts),
      });
    }
    const opts = { ignoreIndex: IGNORE_INDEX, weight, ...(op === 'fwdbwd' ? { grad } : {}) };
    const logits = inputs[0].logits;
    configs.push({
      op,
      what: 'class weights 1..64',
      loss: xent.crossEntropy(logits, target, opts).loss,
      f: () => xent.crossEntropy(logits, target, opts),
    });
  }
  for (const c of configs) if (!Number.isFinite(c.loss)) throw new Error(`${name} ${c.op} ${c.what}: loss ${c.loss}`);
  console.log(`\n${name} [${d.shape.join(', ')}]`);
  console.log('op      logits                          mean loss     min ms  median ms   ratio');
  for (const op of ['fwd', 'fwdbwd']) {
    const rows = await timeInterleaved(
      configs.filter((c) => c.op === op),
      REPS,
    );
    for (const row of rows) {
      console.log(
        `${op.padEnd(7)} ${row.what.padEnd(30)} ${row.loss.toExponential(2).padStart(10)} ${f(row.min)}   ${f(row.median)}  ${f(row.median / rows[0].median)}x`,
      );
    }
  }
  for (const { logits } of inputs) logits.dispose();
  target.dispose();
  grad.dispose();
}
xent.dispose();
