#!/usr/bin/env node
// The stride sweep: fwdbwd / fwd of xent-wasm over the class counts of real segmentation data
// sets at image widths 1000 and 1024. In NCHW a class row is H·W floats long, so the distance
// between a pixel's C logits (and gradient entries) is H·W·4 bytes: with W = 1024 and H a power
// of two it is a power of two too (city: exactly 2 MiB), and a pixel's C loads and C stores all
// map to the same cache sets. W = 1000 gives the same work at a stride that is not. A kernel whose
// fwdbwd costs much more than fwd at W = 1024 only, suffers from that aliasing.
//
//   node --expose-gc bench/strides.mjs [--quick] [--classes=2,19,21,150,171] [--widths=1000,1024]
//                                      [--peers=xent-simd,memwall] [--reps=15] [--out=NAME]
//
// Shapes: [1, C, H, W], H the largest power of two <= 512 that keeps the logits <= 96 MiB
// (C = 2, 19, 21: H = 512; C = 150, 171: H = 128); data as in run.mjs (data.mjs, seeded by the
// shape's name). Each build is checked against a float64 reference (loss over every pixel,
// gradient at ~8k sampled entries) before it is timed; fwd and fwdbwd (and the memory-wall read
// and copy of the same bytes) are timed in interleaved rounds so that drift on a shared machine
// hits them alike. Writes bench/results/<cpu slug>.strides.json (.quick / .partial as run.mjs).
// No thresholds: this reports, it does not judge.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { commandLine, rerunWithRelaxedSimd } from './cli.mjs';
import { IGNORE_INDEX, logitsBytes, makeData } from './data.mjs';
import { timeInterleaved } from './interleaved.mjs';
import { referenceF64 } from './peers/js-loop.mjs';
import * as memwall from './peers/memwall.mjs';
import * as xent from './peers/xent.mjs';
import {
  fmtBytes,
  fmtErr,
  fmtMs,
  fmtRatio,
  jsonReplacer,
  machineInfo,
  machineLine,
  markdownTable,
  resultsPath,
} from './report.mjs';
import { TOLERANCE, gradAt, gradErr, relErr, sampleIndices } from './stats.mjs';

const CLASSES = [2, 19, 21, 150, 171];
const WIDTHS = [1000, 1024];
const MAX_BYTES = 96 * 2 ** 20;
/** The xent builds this sweep can time (on Node 20 the script re-runs itself with the relaxed-SIMD flag). */
const BUILDS = { 'xent-simd': xent.simd, 'xent-relaxed': xent.relaxed, 'xent-portable': xent.portable };

const USAGE = `usage: node --expose-gc bench/strides.mjs [--quick] [--classes=${CLASSES.join(',')}] [--widths=${WIDTHS.join(',')}]
                        [--peers=xent-simd,memwall] [--reps=15] [--out=NAME]
Peers: ${Object.keys(BUILDS).join(', ')}, memwall (the SIMD read and copy of the same bytes).
Shapes [1, C, H, W]: H the largest power of two <= 512 with the logits <= ${MAX_BYTES / 2 ** 20} MiB.
--quick: 5 rounds instead of 15. Writes bench/results/NAME.json; NAME is the CPU's slug + .strides
(+ .quick with --quick, + .partial with --classes, --widths or --peers).`;

// Node 20 runs the relaxed-SIMD build only with a V8 flag: run again with it.
rerunWithRelaxedSimd(import.meta.url);

const args = commandLine(
  {
    quick: { type: 'boolean', default: false },
    classes: { type: 'string' },
    widths: { type: 'string' },
    peers: { type: 'string' },
    reps: { type: 'string' },
    out: { type: 'string' },
  },
  USAGE,
);

/** @param {string | undefined} v @param {string} what */
const numbers = (v, what) =>
  v?.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${what}: not a positive integer: ${x}`);
    return n;
  });
const classes = numbers(args.classes, 'classes') ?? CLASSES;
const widths = numbers(args.widths, 'widths') ?? WIDTHS;
const peerIds = args.peers?.split(',').filter(Boolean) ?? ['xent-simd', 'memwall'];
for (const id of peerIds)
  if (!(id in BUILDS) && id !== 'memwall')
    throw new Error(`unknown peer ${id}; known: ${Object.keys(BUILDS).join(', ')}, memwall`);
const reps = numbers(args.reps, 'reps')?.[0] ?? (args.quick ? 5 : 15);
for (const c of classes) if (c > 254) throw new Error(`--classes: ${c}: uint8 targets need C <= 254`);

/** A row stride exactly, in KiB, marked when it is a power of two: "2000 KiB", "2048 KiB = 2^21 B". */
function fmtStride(bytes) {
  const kib = `${+(bytes / 1024).toFixed(2)} KiB`;
  return Number.isInteger(Math.log2(bytes)) ? `${kib} = 2^${Math.log2(bytes)} B` : kib;
}

/** The sweep's shape for C classes at width W. */
function shapeOf(C, W) {
  let H = 512;
  while (H > 1 && C * H * W * 4 > MAX_BYTES) H /= 2;
  return [1, C, H, W];
}

const log = (...a) => console.error(...a);
const machine = machineInfo();
const partial = Boolean(args.classes || args.widths || args.peers);
const outName = args.out ?? `${machine.cpuSlug}.strides${args.quick ? '.quick' : ''}${partial ? '.partial' : ''}`;
log(`${machineLine(machine)}; stride sweep, ${reps} interleaved rounds per shape`);

// The peers, loaded once; one that fails to load is reported as skipped.
/** @type {{ id: string, label: string, version?: string, instance?: any, reason?: string }[]} */
const builds = [];
for (const id of peerIds.filter((p) => p in BUILDS)) {
  const peer = BUILDS[/** @type {keyof typeof BUILDS} */ (id)];
  try {
    const instance = await peer.load();
    builds.push({ id, label: peer.label, version: instance.version, instance });
  } catch (e) {
    const reason = String(/** @type {Error} */ (e)?.message ?? e).split('\n')[0];
    builds.push({ id, label: peer.label, reason });
    log(`skipped ${id}: ${reason}`);
  }
}
const wall = peerIds.includes('memwall') ? await memwall.copy.load() : undefined;

const rows = [];
for (const C of classes) {
  for (const W of widths) {
    const shape = shapeOf(C, W);
    const name = `strides-${shape.join('x')}`;
    const data = { ...makeData({ name, shape }), ignoreIndex: IGNORE_INDEX };
    const sample = sampleIndices(data);
    const ref = { fwd: referenceF64(data, sample, false), fwdbwd: referenceF64(data, sample, true) };
    const strideBytes = shape[2] * shape[3] * 4;
    const row = { shape, strideBytes, logitsBytes: logitsBytes({ shape }), results: {} };
    rows.push(row);

    /** @type {{ what: string, f: () => any }[]} */
    const configs = [];
    /** @type {(() => any)[]} */
    const disposers = [];
    for (const b of builds) {
      if (!b.instance) {
        row.results[b.id] = { status: 'skipped', reason: b.reason };
        continue;
      }
      const p = await b.instance.prepare(data);
      disposers.push(() => p.dispose());
      // The check, before any timing: loss (fwd and fwdbwd) and the sampled gradient vs float64.
      const lossFwd = p.fwd();
      const { loss, grad } = p.fwdbwd(true);
      const check = {
        fwdLossErr: relErr(lossFwd, ref.fwd.loss),
        lossErr: relErr(loss, ref.fwdbwd.loss),
        gradErr: gradErr(gradAt(grad, sample), /** @type {Float64Array} */ (ref.fwdbwd.gradSample)),
      };
      if (!(check.fwdLossErr <= TOLERANCE.loss && check.lossErr <= TOLERANCE.loss && check.gradErr <= TOLERANCE.grad)) {
        row.results[b.id] = { status: 'mismatch', ...check };
        log(`  ${b.id} ${shape.join('x')}: mismatch, not timed: ${JSON.stringify(check)}`);
        continue;
      }
      row.results[b.id] = { status: 'ok', ...check };
      configs.push({ what: `${b.id} fwd`, f: () => p.fwd() });
      configs.push({ what: `${b.id} fwdbwd`, f: () => p.fwdbwd(false) });
    }
    if (wall) {
      const w = await wall.prepare(data);
      configs.push({ what: 'memwall read', f: () => w.fwd() });
      configs.push({ what: 'memwall copy', f: () => w.fwdbwd(false) });
    }
    const timed = await timeInterleaved(configs, reps);
    const t = Object.fromEntries(timed.map((c) => [c.what, { min: c.min, median: c.median }]));
    for (const b of builds) {
      const r = row.results[b.id];
      if (r.status !== 'ok') continue;
      r.fwd = t[`${b.id} fwd`];
      r.fwdbwd = t[`${b.id} fwdbwd`];
      r.ratioMedian = r.fwdbwd.median / r.fwd.median;
      r.ratioMin = r.fwdbwd.min / r.fwd.min;
      if (wall) r.fwdbwdOverCopy = r.fwdbwd.median / t['memwall copy'].median;
      log(
        `  ${b.id} [${shape.join(', ')}] fwd ${fmtMs(r.fwd.median)} ms, fwdbwd ${fmtMs(r.fwdbwd.median)} ms: fwdbwd/fwd ${fmtRatio(r.ratioMedian)}`,
      );
    }
    if (wall) row.memwall = { read: t['memwall read'], copy: t['memwall copy'] };
    for (const d of disposers) d();
    globalThis.gc?.();
  }
}

// ---- stdout ----
const lines = [];
lines.push(
  `# xent-wasm stride sweep on ${machine.cpu} (${machine.cores} cores), ${machine.date.slice(0, 10)}${args.quick ? ' (quick)' : ''}`,
);
lines.push('');
lines.push(machineLine(machine));
lines.push(
  `Logits [1, C, H, W] NCHW float32 uniform in [-4, 4), uint8 targets with 5 % = ignore index ${IGNORE_INDEX}, mean reduction, 1 thread; ${reps} interleaved rounds (after 2 warm-up rounds) of every call of a shape.`,
);
lines.push(
  'Times in ms: median (min). fwdbwd/fwd: of the medians (of the mins). /copy: fwdbwd median over the SIMD copy of the same bytes. Check: vs float64, loss rel. error / gradient error.',
);
for (const b of builds) {
  lines.push('');
  lines.push(`## ${b.label}${b.version ? ` — ${b.version}` : ''}`);
  lines.push('');
  if (!b.instance) {
    lines.push(`skipped: ${b.reason}`);
    continue;
  }
  lines.push(
    markdownTable(
      ['C', 'W', 'H', 'row stride', 'logits', 'fwd', 'fwdbwd', 'fwdbwd/fwd', '/copy', 'check'],
      rows.map((row) => {
        const r = row.results[b.id];
        const [, C, H, W] = row.shape;
        const head = [String(C), String(W), String(H), fmtStride(row.strideBytes), fmtBytes(row.logitsBytes)];
        if (r.status !== 'ok') return [...head, '', '', r.status, '', ''];
        return [
          ...head,
          `${fmtMs(r.fwd.median)} (${fmtMs(r.fwd.min)})`,
          `${fmtMs(r.fwdbwd.median)} (${fmtMs(r.fwdbwd.min)})`,
          `${fmtRatio(r.ratioMedian)} (${fmtRatio(r.ratioMin)})`,
          r.fwdbwdOverCopy === undefined ? '' : fmtRatio(r.fwdbwdOverCopy),
          `${fmtErr(r.lossErr)} / ${fmtErr(r.gradErr)}`,
        ];
      }),
      ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
  );
}
if (wall) {
  lines.push('');
  lines.push('## Memory wall: SIMD read and copy of the logits');
  lines.push('');
  lines.push(
    markdownTable(
      ['C', 'W', 'H', 'read ms', 'copy ms'],
      rows.map((row) => [
        String(row.shape[1]),
        String(row.shape[3]),
        String(row.shape[2]),
        `${fmtMs(row.memwall.read.median)} (${fmtMs(row.memwall.read.min)})`,
        `${fmtMs(row.memwall.copy.median)} (${fmtMs(row.memwall.copy.min)})`,
      ]),
      ['r', 'r', 'r', 'r', 'r'],
    ),
  );
}
console.log(lines.join('\n'));

// ---- file ----
const results = {
  machine,
  quick: args.quick,
  reps,
  tolerance: TOLERANCE,
  ignoreIndex: IGNORE_INDEX,
  maxLogitsBytes: MAX_BYTES,
  peers: [
    ...builds.map(({ instance, ...b }) => b),
    ...(wall ? [{ id: 'memwall', label: 'SIMD read and copy of the logits', version: wall.version }] : []),
  ],
  shapes: rows,
};
mkdirSync(dirname(resultsPath(outName, 'json')), { recursive: true });
writeFileSync(resultsPath(outName, 'json'), `${JSON.stringify(results, jsonReplacer, 1)}\n`);
log(`\nwrote bench/results/${outName}.json`);
