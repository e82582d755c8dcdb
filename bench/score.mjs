#!/usr/bin/env node
// What scoring costs with xent-wasm, next to the loss alone, on the workloads of run.mjs (same
// data, SIMD build, one thread): crossEntropy (the loss), xent.score (loss, prediction map and
// confusion matrix), xent.score with the loss map and the predicted class's probability too, and
// scorer.update (loss and confusion: what a validation loop calls per batch). Reports min and
// median per call and the ratio to the loss alone. No thresholds: this reports, it does not judge.
//
//   node bench/score.mjs [--workloads=voc,ade,city,bin] [--reps=15]
//
// Needs dist/ (npm run build). Checked before timing: score's loss has the bits of
// crossEntropy's, and its confusion matrix counts every non-ignored pixel once.

import { IGNORE_INDEX, makeData } from './data.mjs';
import { commandLine } from './cli.mjs';
import { timeInterleaved } from './interleaved.mjs';
import { machineInfo, machineLine } from './report.mjs';

const args = commandLine(
  { workloads: { type: 'string', default: 'voc,ade,city,bin' }, reps: { type: 'string', default: '15' } },
  'usage: node bench/score.mjs [--workloads=voc,ade,city,bin] [--reps=15]',
);
const WORKLOADS = args.workloads.split(',');
const REPS = Number(args.reps);

const { Xent } = await import(new URL('../dist/index.mjs', import.meta.url).href);
const xent = await Xent.create();
const f = (x) => x.toFixed(2).padStart(8);
console.log(`# ${machineLine(machineInfo())}`);
console.log(
  `xent-wasm scoring (${xent.simd ? 'SIMD' : 'portable'} build), node ${process.version}; ${REPS} interleaved rounds; ratio = median / crossEntropy's median`,
);

for (const name of WORKLOADS) {
  const d = makeData(name);
  const C = d.shape[1];
  const logits = xent.tensorFrom(d.logits, d.shape);
  const target = xent.tensorFrom(d.target, [d.N, d.H, d.W]);
  const opts = { ignoreIndex: IGNORE_INDEX };
  const scorer = xent.scorer(C, opts);
  const disposeAll = (r) => {
    for (const v of Object.values(r)) v?.dispose?.();
  };

  const loss = xent.crossEntropy(logits, target, opts).loss;
  const r = xent.score(logits, target, opts);
  let live = 0;
  for (const t of d.target) if (t !== IGNORE_INDEX) live++;
  const counted = r.confusion.reduce((a, b) => a + b, 0);
  if (!Object.is(r.loss, loss)) throw new Error(`${name}: score's loss ${r.loss} != crossEntropy's ${loss}`);
  if (counted !== live) throw new Error(`${name}: the confusion matrix counts ${counted} pixels, not ${live}`);
  disposeAll(r);

  const configs = [
    { what: 'crossEntropy (loss)', f: () => xent.crossEntropy(logits, target, opts) },
    { what: 'score (loss, pred, confusion)', f: () => disposeAll(xent.score(logits, target, opts)) },
    {
      what: 'score + lossMap + predConfidence',
      f: () => disposeAll(xent.score(logits, target, { ...opts, lossMap: true, predConfidence: true })),
    },
    { what: 'scorer.update (loss, confusion)', f: () => scorer.update(logits, target) },
  ];
  const rows = await timeInterleaved(configs, REPS);
  console.log(`\n${name} [${d.shape.join(', ')}]`);
  console.log('call                                 min ms  median ms   ratio');
  for (const row of rows)
    console.log(`${row.what.padEnd(33)} ${f(row.min)}   ${f(row.median)}  ${f(row.median / rows[0].median)}x`);
  scorer.dispose();
  logits.dispose();
  target.dispose();
}
xent.dispose();
