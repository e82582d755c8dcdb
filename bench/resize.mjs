#!/usr/bin/env node
// Low-resolution logits, full-resolution labels (issue 18): the loss of
// F.interpolate(logits, size=labels' size, mode='bilinear', align_corners=False) + cross_entropy
// (ignore index 255, mean), forward (fwd) and with the gradient w.r.t. the low-resolution logits
// (fwdbwd), on two workloads:
//   city: logits 2×19×128×256, labels 2×512×1024;  ade: logits 2×150×128×128, labels 2×512×512.
// Peers, one thread each, on the same data:
//   xent fused     crossEntropy(logits, labels, { resize: 'bilinear' }) (the full-resolution
//                  logits never exist);
//   xent unfused   the resize in JS (bench/resize-js.mjs) into a wasm tensor, crossEntropy, and
//                  for fwdbwd the gradient back to the low resolution through the adjoint in JS;
//   TF.js wasm     tf.image.resizeBilinear (halfPixelCenters: PyTorch's align_corners=False) on
//                  the NHWC logits + softmaxCrossEntropy, tf.valueAndGrad for fwdbwd (its
//                  gradient fails the check, so fwdbwd is not timed: TF.js 4.22's gradient of
//                  resizeBilinear ignores halfPixelCenters, in the cpu and wasm backends alike:
//                  it is the adjoint of the other coordinate mapping);
//   PyTorch        F.interpolate + F.cross_entropy (bench/peers/torch_peer.py, 1 thread), run
//                  before and after the JS peers (it times itself in its own process: its ratios
//                  are not interleaved, the two runs show the drift).
// Checked before timing: every peer's loss within 1e-4 (relative) of xent unfused (the float32
// resize, then xent-wasm's exactly summed loss), and its gradient on a sample of indices within
// 1e-3 · max|grad|. The xent and TF.js peers are timed in interleaved rounds. Then the peak wasm
// memory of fused and unfused fwdbwd, each on a fresh instance (wasm memory never shrinks: its
// size after the call is the peak). No thresholds: this reports, it does not judge.
//
//   node --expose-gc bench/resize.mjs [--workloads=city,ade] [--reps=7] [--peers=fused,unfused,tfjs,torch]
//
// Needs dist/ (npm run build). Results: printed, and bench/results/<cpu>.resize.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { commandLine } from './cli.mjs';
import { IGNORE_INDEX, RESIZE_WORKLOADS as WORKLOADS, makeResizeData } from './data.mjs';
import { timeInterleaved } from './interleaved.mjs';
import * as tfjsPeer from './peers/tfjs-wasm.mjs';
import * as torchPeer from './peers/torch.mjs';
import { machineInfo, machineLine, resultsPath } from './report.mjs';
import { resizeBilinear, resizeBilinearAdjoint } from './resize-js.mjs';
import { TOLERANCE, gradAt, gradErr, relErr } from './stats.mjs';

const args = commandLine(
  {
    workloads: { type: 'string', default: 'city,ade' },
    reps: { type: 'string', default: '7' },
    peers: { type: 'string', default: 'fused,unfused,tfjs,torch' },
  },
  'usage: node --expose-gc bench/resize.mjs [--workloads=city,ade] [--reps=7] [--peers=fused,unfused,tfjs,torch]',
);
const REPS = Number(args.reps);
const PEERS = new Set(args.peers.split(','));

const RESIZE = { mode: 'bilinear', alignCorners: false };
const MiB = 2 ** 20;

/** Every 97th gradient index and a few per class: the gradient check's sample. */
function sampleOf(d) {
  const total = d.logits.length;
  const s = [];
  for (let i = 0; i < total; i += 97) s.push(i);
  return Int32Array.from(s);
}

const gc = globalThis.gc ?? (() => {});
const { Xent } = await import(new URL('../dist/index.mjs', import.meta.url).href);
const xent = await Xent.create({ simd: true });
/** Whether this build has the resize option (issue 18). */
function hasResize(x) {
  try {
    x.crossEntropy(
      { data: new Float32Array(2), shape: [1, 2, 1, 1] },
      { data: new Uint8Array(4), shape: [1, 2, 2] },
      {
        resize: 'bilinear',
      },
    );
    return true;
  } catch {
    return false;
  }
}
const fusedOK = hasResize(xent);
if (!fusedOK) console.log('note: this dist/ has no resize option: the fused peer is left out');

const machine = machineInfo();
console.log(`# ${machineLine(machine)}`);
console.log(`xent-wasm ${xent.simd ? 'SIMD' : 'portable'} build, 1 thread; ${REPS} interleaved rounds; times in ms`);
const results = { machine, reps: REPS, workloads: {} };

for (const key of args.workloads.split(',')) {
  const w = WORKLOADS[key];
  if (!w) throw new Error(`unknown workload ${key} (city, ade)`);
  const d = makeResizeData(w);
  const fullShape = [d.N, d.C, d.H, d.W];
  const lowBytes = d.logits.byteLength;
  console.log(
    `\n## ${key}: logits [${d.shape.join(', ')}] (${(lowBytes / MiB).toFixed(1)} MiB), labels [${d.N}, ${d.H}, ${d.W}]; ` +
      `the full-resolution logits would be ${((lowBytes * d.H * d.W) / (d.h * d.w) / MiB).toFixed(0)} MiB`,
  );
  const sample = sampleOf(d);
  const opts = { ignoreIndex: IGNORE_INDEX };

  // xent unfused: the resize in JS into a wasm tensor.
  const up = xent.tensor('float32', fullShape);
  const gradUp = xent.tensor('float32', fullShape);
  const labels = xent.tensorFrom(d.target, [d.N, d.H, d.W]);
  const gradLowJs = new Float32Array(d.logits.length);
  const unfused = {
    fwd: () => {
      resizeBilinear(d.logits, d.shape, w.size, up.data);
      return xent.crossEntropy(up, labels, opts).loss;
    },
    fwdbwd: () => {
      resizeBilinear(d.logits, d.shape, w.size, up.data);
      const r = xent.crossEntropy(up, labels, { ...opts, grad: gradUp });
      resizeBilinearAdjoint(gradUp.data, d.shape, w.size, gradLowJs);
      return r.loss;
    },
  };
  const ref = { fwd: unfused.fwd(), fwdbwd: unfused.fwdbwd() };
  const refGrad = gradAt(gradLowJs, sample);
  const checks = [];
  const check = (peer, op, loss, grad) => {
    const le = relErr(loss, ref[op]);
    const ge = grad ? gradErr(grad, refGrad) : undefined;
    const ok = le <= TOLERANCE.loss && (ge === undefined || ge <= TOLERANCE.grad);
    checks.push({ peer, op, loss, lossErr: le, gradErr: ge, ok });
    console.log(
      `check ${peer} ${op}: loss ${loss} (rel. err ${le.toExponential(2)})` +
        (ge === undefined ? '' : `, grad err ${ge.toExponential(2)}`) +
        (ok ? '' : '  MISMATCH: not timed'),
    );
    return ok;
  };

  const configs = [];
  if (PEERS.has('unfused'))
    for (const op of ['fwd', 'fwdbwd']) configs.push({ peer: 'xent unfused', op, f: unfused[op] });

  let logits;
  let gradLow;
  if (fusedOK && PEERS.has('fused')) {
    logits = xent.tensorFrom(d.logits, d.shape);
    gradLow = xent.tensor('float32', d.shape);
    const fused = {
      fwd: () => xent.crossEntropy(logits, labels, { ...opts, resize: RESIZE }).loss,
      fwdbwd: () => xent.crossEntropy(logits, labels, { ...opts, resize: RESIZE, grad: gradLow }).loss,
    };
    const okF = check('xent fused', 'fwd', fused.fwd());
    const okB = check('xent fused', 'fwdbwd', fused.fwdbwd(), gradAt(gradLow.data, sample));
    if (okF) configs.unshift({ peer: 'xent fused', op: 'fwd', f: fused.fwd });
    if (okB) configs.splice(1, 0, { peer: 'xent fused', op: 'fwdbwd', f: fused.fwdbwd });
  }

  let tf;
  if (PEERS.has('tfjs')) {
    try {
      const lib = await tfjsPeer.load();
      const tfm = await import('@tensorflow/tfjs');
      const x = tfm.tensor4d(d.logits, d.shape, 'float32');
      const lab = tfm.tensor3d(Int32Array.from(d.target), [d.N, d.H, d.W], 'int32');
      const lossOf = (t) => {
        const nhwc = tfm.image.resizeBilinear(tfm.transpose(t, [0, 2, 3, 1]), w.size, false, true);
        const onehot = tfm.oneHot(lab, d.C);
        const weights = tfm.cast(tfm.notEqual(lab, tfm.scalar(IGNORE_INDEX, 'int32')), 'float32');
        return tfm.losses.softmaxCrossEntropy(onehot, nhwc, weights, 0, tfm.Reduction.SUM_BY_NONZERO_WEIGHTS);
      };
      const vg = tfm.valueAndGrad(lossOf);
      const fwd = () => {
        const l = tfm.tidy(() => lossOf(x));
        const v = l.dataSync()[0];
        l.dispose();
        return v;
      };
      const fwdbwd = (read = false) => {
        const { value, grad } = tfm.tidy(() => vg(x));
        const v = value.dataSync()[0];
        const g = read ? grad.dataSync() : undefined;
        value.dispose();
        grad.dispose();
        return read ? { v, g } : v;
      };
      tf = {
        dispose: () => {
          x.dispose();
          lab.dispose();
        },
      };
      console.log(`TF.js ${lib.version}`);
      /** @type {Array<{ op: string, run: () => [number, Float64Array | undefined] }>} */
      const runs = [
        { op: 'fwd', run: () => [fwd(), undefined] },
        {
          op: 'fwdbwd',
          run: () => {
            const r = /** @type {{ v: number, g: Float32Array }} */ (fwdbwd(true));
            return [r.v, gradAt(r.g, sample)];
          },
        },
      ];
      for (const { op, run } of runs) {
        try {
          const [loss, g] = run();
          if (check('TF.js wasm', op, loss, g))
            configs.push({ peer: 'TF.js wasm', op, f: op === 'fwd' ? fwd : () => fwdbwd() });
        } catch (e) {
          console.log(`TF.js wasm ${op}: failed (${String(e).split('\n')[0]}): not timed`);
          checks.push({ peer: 'TF.js wasm', op, error: String(e).split('\n')[0], ok: false });
        }
      }
    } catch (e) {
      console.log(`TF.js wasm: ${String(e).split('\n')[0]}`);
    }
  }

  const torchRuns = [];
  const runTorch = async () => {
    if (!PEERS.has('torch')) return;
    try {
      const t = await torchPeer.load();
      const policy = { warmup: 1, warmupSeconds: 0, maxReps: REPS, minReps: Math.min(3, REPS), targetSeconds: 0 };
      const r = t.run(
        { ...d, shape: d.shape, ignoreIndex: IGNORE_INDEX, resize: { size: w.size, ...RESIZE } },
        ['fwd', 'fwdbwd'],
        policy,
        sample,
      );
      const run = {};
      for (const op of ['fwd', 'fwdbwd']) {
        const times = r[op].times.slice().sort((a, b) => a - b);
        const ok = check(
          `PyTorch ${t.version}`,
          op,
          r[op].loss,
          r[op].gradSample && Float64Array.from(r[op].gradSample),
        );
        run[op] = { ok, min: times[0], median: times[times.length >> 1] };
      }
      torchRuns.push(run);
    } catch (e) {
      console.log(`PyTorch: ${String(e).split('\n')[0]}`);
    }
  };
  await runTorch();

  const rows = await timeInterleaved(configs, REPS);
  await runTorch();

  const fusedRow = (op) => rows.find((r) => r.peer === 'xent fused' && r.op === op);
  const f = (x) => (x === undefined ? '-' : x.toFixed(1)).padStart(9);
  const ratio = (x, base) => (x && base ? `${(x / base).toFixed(2)}x` : '-').padStart(9);
  console.log('\npeer             op          min    median  / fused');
  for (const r of rows)
    console.log(
      `${r.peer.padEnd(16)} ${r.op.padEnd(7)} ${f(r.min)} ${f(r.median)} ${ratio(r.median, fusedRow(r.op)?.median)}`,
    );
  torchRuns.forEach((run, i) => {
    for (const op of ['fwd', 'fwdbwd'])
      if (run[op].ok)
        console.log(
          `${`PyTorch (${i ? 'after' : 'before'})`.padEnd(16)} ${op.padEnd(7)} ${f(run[op].min)} ${f(run[op].median)} ${ratio(run[op].median, fusedRow(op)?.median)}`,
        );
  });

  tf?.dispose();
  up.dispose();
  gradUp.dispose();
  labels.dispose();
  logits?.dispose();
  gradLow?.dispose();
  gc();

  // Peak wasm memory of fwdbwd, each on a fresh instance.
  const memory = {};
  const measureMemory = async (label, run) => {
    const x = await Xent.create({ simd: true });
    try {
      const base = x.memoryStats().bytesReserved;
      const io = run(x);
      const peak = x.memoryStats().bytesReserved;
      memory[label] = { base, io, peak };
      console.log(
        `peak wasm memory, ${label} fwdbwd: ${(peak / MiB).toFixed(2)} MiB = the instance's initial ${(base / MiB).toFixed(2)} MiB` +
          ` + tensors ${(io / MiB).toFixed(2)} MiB + ${((peak - base - io) / MiB).toFixed(2)} MiB more`,
      );
    } finally {
      x.dispose();
      gc();
    }
  };
  if (fusedOK)
    await measureMemory('fused', (x) => {
      const l = x.tensorFrom(d.logits, d.shape);
      const t = x.tensorFrom(d.target, [d.N, d.H, d.W]);
      const g = x.tensor('float32', d.shape);
      x.crossEntropy(l, t, { ...opts, resize: RESIZE, grad: g });
      return l.byteLength + t.byteLength + g.byteLength;
    });
  await measureMemory('unfused', (x) => {
    const u = x.tensor('float32', fullShape);
    const t = x.tensorFrom(d.target, [d.N, d.H, d.W]);
    const g = x.tensor('float32', fullShape);
    resizeBilinear(d.logits, d.shape, w.size, u.data);
    x.crossEntropy(u, t, { ...opts, grad: g });
    return u.byteLength + t.byteLength + g.byteLength;
  });
  if (memory.fused)
    console.log(`unfused / fused peak wasm memory: ${(memory.unfused.peak / memory.fused.peak).toFixed(1)}x`);

  results.workloads[key] = {
    shape: d.shape,
    size: w.size,
    checks,
    timings: rows.map(({ peer, op, min, median }) => ({ peer, op, min, median })),
    torch: torchRuns,
    memory,
  };
}
xent.dispose();

const path = resultsPath(`${machine.cpuSlug}.resize`, 'json');
mkdirSync(dirname(path), { recursive: true });
writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote ${path}`);
