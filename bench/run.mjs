#!/usr/bin/env node
// xent-wasm benchmark: softmax cross-entropy (PyTorch nn.CrossEntropyLoss semantics, NCHW,
// ignore index 255, mean reduction) against TF.js wasm, ONNX Runtime (web and node), PyTorch,
// a plain JS loop and memory-wall baselines, on the same data. One file over 400 lines: the run
// reads top to bottom (peers, checks, the timed loop, the report); the peers, statistics and
// report writers have files of their own.
//
//   node bench/run.mjs            full run: every workload, results in bench/results/<cpu>.*
//   node bench/run.mjs --quick    voc + bin, few repetitions: bench/results/<cpu>.quick.*
//   options: --workloads=voc,city  --ops=fwd  --peers=xent-simd,tfjs-wasm  --out=NAME
//   (a run with --workloads, --ops or --peers writes bench/results/<cpu>.partial.*)
//
// <cpu> is the CPU model's slug (report.mjs: cpuSlug), e.g. amd-epyc or intel-xeon-platinum-8375c:
// results are kept per machine. xent-wasm SIMD is checked against a float64 reference, then
// every other peer's loss (and gradient, on a sample of indices) against xent-wasm SIMD, before
// its time counts; a mismatch or a failure is reported, never fatal; a peer too slow or too big
// for a workload is skipped with its reason. One thread everywhere. No timing thresholds: this
// reports, it does not judge.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { renderChart } from './chart.mjs';
import { commandLine, rerunWithRelaxedSimd } from './cli.mjs';
import { FULL_WORKLOADS, IGNORE_INDEX, OPS, QUICK_WORKLOADS, WORKLOADS, logitsBytes, makeData } from './data.mjs';
import * as jsLoop from './peers/js-loop.mjs';
import { crossEntropyF32Sequential, referenceF64 } from './peers/js-loop.mjs';
import * as memwall from './peers/memwall.mjs';
import * as ortNode from './peers/ort-node.mjs';
import * as ortWeb from './peers/ort-web.mjs';
import * as tfjs from './peers/tfjs-wasm.mjs';
import * as torch from './peers/torch.mjs';
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
  workloadTable,
} from './report.mjs';
import { POLICIES, TOLERANCE, gradAt, gradErr, measure, relErr, sampleIndices, summarize } from './stats.mjs';

/**
 * @typedef {object} Peer
 * @property {string} id
 * @property {string} label
 * @property {string} precision
 * @property {string[]} [ops] the ops it runs (default: all)
 * @property {{ logitsBytes: number, why: string }} [limit] not run on larger workloads (skipped, with `why`)
 * @property {() => Promise<any>} load
 */
/** Display order. The reference (xent-simd) and the float64 JS loop run first. @type {Peer[]} */
const ALL_PEERS = [
  xent.simd,
  xent.portable,
  xent.relaxed,
  xent.nhwc,
  tfjs,
  ortWeb,
  ortNode,
  torch,
  jsLoop,
  memwall.read,
  memwall.copy,
];
const REFERENCE = 'xent-simd';
const FALLBACK_REFERENCE = 'js-loop';

const log = (...a) => console.error(...a);

// Node 20 runs relaxed SIMD (the xent-relaxed peer) only with a V8 flag: run again with it.
rerunWithRelaxedSimd(import.meta.url);

const HELP = `usage: node bench/run.mjs [--quick] [--workloads=${Object.keys(WORKLOADS).join(',')}] [--ops=${OPS.join(',')}]
                        [--peers=${ALL_PEERS.map((p) => p.id).join(',')}] [--out=NAME]
Workloads: ${Object.values(WORKLOADS)
  .map((w) => `${w.name} ${w.shape.join('x')}`)
  .join(', ')}.
Default: ${FULL_WORKLOADS.join(', ')} (--quick: ${QUICK_WORKLOADS.join(', ')}).
Writes bench/results/NAME.json and NAME.svg; NAME is the CPU's slug (${machineInfo().cpuSlug} here),
plus .quick with --quick and .partial with --workloads, --ops or --peers.`;

/** Loads every selected peer; a failure makes it "n/a (reason)". */
async function loadPeers(selected) {
  const peers = [];
  for (const p of ALL_PEERS) {
    const entry = {
      id: p.id,
      label: p.label,
      precision: p.precision,
      ops: p.ops ?? OPS,
      limit: p.limit,
      status: 'ok',
    };
    if (!selected.includes(p.id)) {
      Object.assign(entry, { status: 'n/a', reason: 'not selected' });
    } else {
      try {
        entry.instance = await p.load();
        entry.version = entry.instance.version;
        log(`loaded ${p.id}: ${entry.version}`);
      } catch (caught) {
        const e = /** @type {{ message?: string, code?: string } | undefined} */ (caught);
        let msg = String(e?.message ?? e).split('\n')[0];
        if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') {
          const pkg = /Cannot find (?:package|module) '([^']+)'/.exec(msg)?.[1] ?? msg;
          msg = `not installed: ${pkg} (run \`npm ci --prefix bench\`)`;
        }
        Object.assign(entry, { status: 'n/a', reason: msg.length > 160 ? `${msg.slice(0, 157)}...` : msg });
        log(`n/a ${p.id}: ${entry.reason}`);
      }
    }
    peers.push(entry);
  }
  return peers;
}

const short = (e) => {
  const m = String(e?.message ?? e).split('\n')[0];
  return m.length > 160 ? `${m.slice(0, 157)}...` : m;
};

/**
 * Compares a peer's first result with the reference; returns a result stub (ok or mismatch).
 * A float32 peer whose loss is off by more than the tolerance, but equals (to 1e-5) what a
 * sequential float32 sum of the per-pixel losses gives, is accepted and flagged `f32sum`: its
 * deviation is that accumulation error, not different semantics (the gradient still has to match).
 */
function check(peer, op, loss, gradSample, ref, data) {
  if (peer.precision === 'baseline') return { status: 'ok', check: 'baseline' };
  if (!ref) return { status: 'ok', check: 'reference', loss };
  const out = { status: 'ok', check: ref.peer, loss, lossErr: relErr(loss, ref.loss) };
  if (op === 'fwdbwd' && gradSample && ref.grad) out.gradErr = gradErr(gradSample, ref.grad);
  if (!(out.lossErr <= TOLERANCE.loss) && peer.precision === 'float32' && out.lossErr <= 1e-2) {
    data.f32Sequential ??= crossEntropyF32Sequential(
      data.logits,
      data.target,
      data.N,
      data.C,
      data.S,
      data.ignoreIndex,
    );
    if (relErr(loss, data.f32Sequential) <= 1e-5) out.f32sum = true;
  }
  if (!(out.lossErr <= TOLERANCE.loss) && !out.f32sum) {
    return {
      ...out,
      status: 'mismatch',
      reason: `loss ${loss} vs ${ref.loss} (rel. err. ${fmtErr(out.lossErr)} > ${TOLERANCE.loss})`,
    };
  }
  if (out.gradErr !== undefined && !(out.gradErr <= TOLERANCE.grad)) {
    return {
      ...out,
      status: 'mismatch',
      reason: `gradient off by ${fmtErr(out.gradErr)} of max |grad| (> ${TOLERANCE.grad})`,
    };
  }
  return out;
}

async function runWorkload(name, peers, ops, policy) {
  const t0 = performance.now();
  const data = { ...makeData(name), ignoreIndex: IGNORE_INDEX };
  const sample = sampleIndices(data);
  const w = {
    name,
    shape: data.shape,
    logitsBytes: logitsBytes(name),
    pixels: data.N * data.S,
    ignored: data.ignored,
    results: {},
  };
  log(`\n${name} ${data.shape.join('x')}: data in ${(performance.now() - t0).toFixed(0)} ms`);
  const refs = {}; // op -> { peer, loss, grad (sampled) }
  // The float64 reference xent-wasm SIMD is checked against before it is timed (and any peer
  // when neither xent-wasm SIMD nor the JS loop has given a result to compare with).
  /** @type {Record<string, { peer: string, loss: number, grad?: Float64Array }>} */
  const f64 = {};
  if (peers.some((p) => p.status === 'ok' && p.precision !== 'baseline')) {
    const t1 = performance.now();
    for (const op of ops) {
      const r = referenceF64(data, sample, op === 'fwdbwd');
      f64[op] = { peer: 'float64 reference', loss: r.loss, grad: r.gradSample };
    }
    log(`  float64 reference (loss, sampled gradient) in ${(performance.now() - t1).toFixed(0)} ms`);
  }

  const order = [...peers].sort((a, b) => rank(a.id) - rank(b.id));
  for (const peer of order) {
    if (peer.status !== 'ok') continue;
    const res = {};
    w.results[peer.id] = res;
    if (peer.limit && w.logitsBytes > peer.limit.logitsBytes) {
      for (const op of ops) res[op] = { status: 'skipped', reason: peer.limit.why };
      res.skipped = peer.limit.why;
      log(`  ${peer.id}: skipped: ${peer.limit.why}`);
      continue;
    }
    const runOps = ops.filter((op) => peer.ops.includes(op));
    for (const op of ops) if (!runOps.includes(op)) res[op] = { status: 'skipped' };
    const isRefCandidate = (op) => !refs[op] && (peer.id === REFERENCE || peer.id === FALLBACK_REFERENCE);

    if (peer.instance.external) {
      try {
        const ext = peer.instance.run(data, runOps, policy, sample);
        for (const op of runOps) {
          const r = ext[op];
          const c = check(
            peer,
            op,
            r.loss,
            r.gradSample ? Float64Array.from(r.gradSample) : undefined,
            refs[op] ?? f64[op],
            data,
          );
          res[op] = c.status === 'ok' ? { ...c, times: r.times.map(round), stats: summarize(r.times) } : c;
          progress(op, peer, res[op]);
        }
      } catch (e) {
        res.error = short(e);
        log(`  ${peer.id}: error: ${res.error}`);
      }
      continue;
    }

    let prepared;
    try {
      prepared = await peer.instance.prepare(data);
    } catch (e) {
      res.error = `prepare: ${short(e)}`;
      log(`  ${peer.id}: ${res.error}`);
      continue;
    }
    for (const op of runOps) {
      try {
        const fn = prepared[op];
        const first = await fn(true);
        const loss = op === 'fwd' ? first : first.loss;
        const grad = op === 'fwdbwd' && first.grad ? gradAt(first.grad, sample) : undefined;
        // xent-wasm SIMD against float64; the others against xent-wasm SIMD (or, when it failed
        // or is absent, the JS loop; without either, against float64).
        const against = peer.id === REFERENCE ? f64[op] : (refs[op] ?? f64[op]);
        const c = check(peer, op, loss, grad, against, data);
        if (isRefCandidate(op) && c.status === 'ok') {
          if (!Number.isFinite(loss)) throw new Error(`reference loss is ${loss}`);
          refs[op] = { peer: peer.id, loss, grad };
        }
        if (c.status !== 'ok') {
          res[op] = c;
        } else {
          const times = await measure(() => fn(false), policy);
          res[op] = { ...c, times: times.map(round), stats: summarize(times) };
        }
        if (peer.id === REFERENCE && op === 'fwdbwd' && prepared.memory) w.xentMemory = prepared.memory();
      } catch (e) {
        res[op] = { status: 'error', reason: short(e) };
      }
      progress(op, peer, res[op]);
    }
    try {
      await prepared.dispose?.();
    } catch {
      /* ignore */
    }
    prepared = undefined;
    globalThis.gc?.();
  }

  const ref = w.results[REFERENCE];
  // Ratios to xent-wasm SIMD.
  for (const op of ops) {
    const base = ref?.[op]?.status === 'ok' ? ref[op].stats.median : NaN;
    for (const r of Object.values(w.results)) if (r[op]?.status === 'ok') r[op].ratio = r[op].stats.median / base;
  }
  // Memory wall.
  const med = (id, op) => (w.results[id]?.[op]?.status === 'ok' ? w.results[id][op].stats.median : NaN);
  w.memoryWall = {
    readMs: med('memwall-read', 'fwd'),
    copyMs: med('memwall-copy', 'fwdbwd'),
    readGBps: w.logitsBytes / (med('memwall-read', 'fwd') * 1e6),
    copyGBps: (2 * w.logitsBytes) / (med('memwall-copy', 'fwdbwd') * 1e6),
    fwdOverRead: med(REFERENCE, 'fwd') / med('memwall-read', 'fwd'),
    fwdbwdOverCopy: med(REFERENCE, 'fwdbwd') / med('memwall-copy', 'fwdbwd'),
  };
  return w;
}

/** Times are kept to 0.1 µs in the JSON. */
const round = (ms) => Math.round(ms * 1e4) / 1e4;

function rank(id) {
  return id === REFERENCE ? 0 : id === FALLBACK_REFERENCE ? 1 : 2;
}

function progress(op, peer, r) {
  if (r.status === 'ok') {
    log(
      `  ${op.padEnd(6)} ${peer.id.padEnd(14)} ${fmtMs(r.stats.median).padStart(8)} ms  (min ${fmtMs(r.stats.min)}, p90 ${fmtMs(r.stats.p90)}, n=${r.stats.n})`,
    );
  } else log(`  ${op.padEnd(6)} ${peer.id.padEnd(14)} ${r.status}: ${r.reason ?? ''}`);
}

/** The command line: --quick, and the comma-separated lists (empty items dropped). */
function options() {
  const values = commandLine(
    {
      quick: { type: 'boolean', default: false },
      workloads: { type: 'string' },
      ops: { type: 'string' },
      peers: { type: 'string' },
      out: { type: 'string' },
    },
    HELP,
  );
  /** @param {string | undefined} v */
  const list = (v) => v?.split(',').filter(Boolean);
  return { ...values, workloads: list(values.workloads), ops: list(values.ops), peers: list(values.peers) };
}

async function main() {
  const args = options();
  const policy = args.quick ? POLICIES.quick : POLICIES.full;
  const workloadNames = args.workloads ?? [...(args.quick ? QUICK_WORKLOADS : FULL_WORKLOADS)];
  for (const n of workloadNames)
    if (!WORKLOADS[n]) throw new Error(`unknown workload ${n}; known: ${Object.keys(WORKLOADS).join(', ')}`);
  const ops = args.ops ?? [...OPS];
  for (const o of ops) if (!OPS.includes(o)) throw new Error(`unknown op ${o}; known: ${OPS.join(', ')}`);
  const selected = args.peers ?? ALL_PEERS.map((p) => p.id);
  for (const s of selected) if (!ALL_PEERS.some((p) => p.id === s)) throw new Error(`unknown peer ${s}`);
  const machine = machineInfo();
  // Results are kept per machine; a quick or partial run never overwrites a full one.
  const partial = Boolean(args.workloads || args.ops || args.peers);
  const outName = args.out ?? `${machine.cpuSlug}${args.quick ? '.quick' : ''}${partial ? '.partial' : ''}`;
  const kind = `${args.quick ? 'quick' : 'full'}${partial ? ', partial' : ''}`;
  log(`${machineLine(machine)}; ${kind} run`);
  const peers = await loadPeers(selected);
  // Only the peers that were asked for appear in the output.
  const shown = peers.filter((p) => selected.includes(p.id));

  const workloads = [];
  for (const name of workloadNames) workloads.push(await runWorkload(name, shown, ops, policy));

  // ---- stdout ----
  const lines = [];
  lines.push(
    `# xent-wasm benchmark on ${machine.cpu} (${machine.cores} cores), ${machine.date.slice(0, 10)}${args.quick || partial ? ` (${kind} run)` : ''}`,
  );
  lines.push('');
  lines.push(machineLine(machine));
  lines.push(
    `NCHW float32 logits uniform in [-4, 4), uint8 targets uniform in [0, C) with 5 % = ignore index ${IGNORE_INDEX}, mean reduction; 1 thread everywhere.`,
  );
  lines.push(
    `Times per call in ms: median (min–p90) of n runs after warm-up; "× SIMD" = peer median / xent-wasm SIMD median (lower is faster).`,
  );
  lines.push(
    `Check: relative loss error and gradient error (max abs diff / max |grad| over ~8k sampled entries) vs xent-wasm SIMD (tolerances ${TOLERANCE.loss} / ${TOLERANCE.grad}); xent-wasm SIMD's own row: vs a float64 reference (the JS loop's formulas), before it is timed.`,
  );
  lines.push(
    `"(f32 sum)": the loss is off by more than ${TOLERANCE.loss} but equals a sequential float32 sum of the per-pixel losses (accumulation error, not different semantics), so it is timed.`,
  );
  lines.push('');
  lines.push('Peers:');
  for (const p of shown)
    lines.push(`- ${p.id}: ${p.label}${p.status === 'ok' ? ` — ${p.version}` : ` — n/a (${p.reason})`}`);
  for (const w of workloads) {
    lines.push('');
    lines.push(
      `## ${w.name} [${w.shape.join(', ')}] — ${fmtBytes(w.logitsBytes)} of logits, ${w.pixels} pixels (${w.ignored} ignored)`,
    );
    lines.push('');
    lines.push(workloadTable(w, shown));
  }
  lines.push('');
  lines.push('## Memory wall and memory (xent-wasm SIMD)');
  lines.push('');
  lines.push(
    markdownTable(
      [
        'workload',
        'SIMD read ms (GB/s)',
        'fwd / read',
        'SIMD copy ms (GB/s)',
        'fwdbwd / copy',
        'xent wasm memory (in use / reserved)',
      ],
      workloads.map((w) => {
        const m = w.memoryWall;
        const mem = w.xentMemory
          ? `${fmtBytes(w.xentMemory.bytesInUse)} / ${fmtBytes(w.xentMemory.bytesReserved)}`
          : '-';
        return [
          w.name,
          Number.isFinite(m.readMs) ? `${fmtMs(m.readMs)} (${m.readGBps.toFixed(1)})` : '-',
          fmtRatio(m.fwdOverRead),
          Number.isFinite(m.copyMs) ? `${fmtMs(m.copyMs)} (${m.copyGBps.toFixed(1)})` : '-',
          fmtRatio(m.fwdbwdOverCopy),
          mem,
        ];
      }),
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  const city = workloads.find((w) => w.name === 'city');
  if (city) {
    const m = city.memoryWall;
    lines.push('');
    lines.push(
      `city: xent-wasm SIMD fwdbwd = ${fmtRatio(m.fwdbwdOverCopy)} × the SIMD copy of the logits; fwd = ${fmtRatio(m.fwdOverRead)} × the SIMD read; ` +
        `peak wasm memory for city fwdbwd: ${city.xentMemory ? `${fmtBytes(city.xentMemory.bytesReserved)} reserved (${fmtBytes(city.xentMemory.bytesInUse)} in use)` : 'n/a'}.`,
    );
  }
  console.log(lines.join('\n'));

  // ---- files ----
  const results = {
    machine,
    quick: args.quick,
    policy,
    tolerance: TOLERANCE,
    ops,
    ignoreIndex: IGNORE_INDEX,
    peers: shown.map(({ instance, ...p }) => p),
    workloads,
  };
  mkdirSync(dirname(resultsPath(outName, 'json')), { recursive: true });
  writeFileSync(resultsPath(outName, 'json'), `${JSON.stringify(results, jsonReplacer, 1)}\n`);
  writeFileSync(resultsPath(outName, 'svg'), renderChart(results));
  log(`\nwrote bench/results/${outName}.json and bench/results/${outName}.svg`);
}

process.on('unhandledRejection', (e) => log(`unhandled rejection (ignored): ${short(e)}`));

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
