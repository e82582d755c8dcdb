#!/usr/bin/env node
// Float16 logits against float32 logits of the same values, with xent-wasm (one thread): the
// loss (fwd), the loss and gradient (fwdbwd) and score (loss, prediction map, confusion
// matrix), on the workloads of run.mjs with their logits rounded to half precision. Both forms
// live in wasm memory (tensors), so the float16 calls convert on load and the float32 calls
// read as they are. Timed in interleaved rounds; ratio = float16 median / float32 median. First,
// the conversion alone (ns per half). No thresholds: this reports, it does not judge.
//
//   node bench/float16.mjs [--workloads=voc] [--reps=15] [--portable]
//
// Needs dist/ (npm run build). Checked before timing: the float16 calls give the bits of the
// float32 calls (loss, sum, gradient, prediction map, confusion matrix).

import { IGNORE_INDEX, makeData, rng, seedOf } from './data.mjs';
import { commandLine } from './cli.mjs';
import { timeInterleaved } from './interleaved.mjs';
import { machineInfo, machineLine } from './report.mjs';

const args = commandLine(
  {
    workloads: { type: 'string', default: 'voc' },
    reps: { type: 'string', default: '15' },
    portable: { type: 'boolean', default: false },
  },
  'usage: node bench/float16.mjs [--workloads=voc,ade,city,bin] [--reps=15] [--portable]',
);
const WORKLOADS = args.workloads.split(',');
const REPS = Number(args.reps);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The half (bits) nearest to `v`, ties to even (what Float16Array and Math.f16round do). */
export function toHalf(v) {
  f32[0] = v;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  let m = b & 0x7fffff;
  if (e === 255) return sign | 0x7c00 | (m ? 0x200 | (m >>> 13) : 0);
  const he = e - 127 + 15;
  if (he >= 31) return sign | 0x7c00;
  let q;
  let shift;
  if (he <= 0) {
    // A subnormal half (or zero): the f32 significand with its leading 1, in units of 2^-24.
    if (he < -10) return sign;
    m |= 0x800000;
    shift = 14 - he;
    q = m >>> shift;
  } else {
    shift = 13;
    q = (he << 10) | (m >>> 13);
  }
  const rem = m & ((1 << shift) - 1);
  const mid = 1 << (shift - 1);
  // A carry out of the mantissa rounds up into the exponent (and to infinity): what it should.
  return sign | (q + (rem > mid || (rem === mid && q & 1) ? 1 : 0));
}

/** The value of half bits `h`, exactly (every half is a float32). */
export function fromHalf(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return m ? Number.NaN : s * Infinity;
  return s * (e === 0 ? 2 ** -14 * (m / 1024) : 2 ** (e - 15) * (1 + m / 1024));
}

const { Xent } = await import(new URL('../dist/index.mjs', import.meta.url).href);
const xent = await Xent.create({ simd: !args.portable });
const fmt = (x) => x.toFixed(2).padStart(8);
const same = (a, b) => Object.is(a, b);
const sameArrays = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
console.log(`# ${machineLine(machineInfo())}`);
console.log(
  `xent-wasm, float16 against float32 logits of the same values (${xent.simd ? 'SIMD' : 'portable'} build, 1 thread), ` +
    `node ${process.version}; ${REPS} interleaved rounds; ratio = float16 median / float32 median`,
);

// The conversion alone: the raw export xent_f16_to_f32 of the same build on a strip's worth of
// halves (64 KiB, 128 KiB of f32: in cache, as the kernel's strips are), 100 calls a round.
{
  const { readFileSync } = await import('node:fs');
  const file = xent.simd ? 'xent-simd.wasm' : 'xent.wasm';
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
  const wasm = readFileSync(new URL(`../dist/${file}`, import.meta.url));
  const e = /** @type {any} */ ((await WebAssembly.instantiate(wasm, { env: { memory } })).instance.exports);
  const base = Math.ceil(Number(e.__heap_base.value) / 64) * 64;
  const n = 1 << 15;
  memory.grow(8);
  const next = rng(seedOf('float16'));
  const h = new Uint16Array(memory.buffer, base, n);
  for (let i = 0; i < n; i++) h[i] = next() & 0xffff;
  const [row] = await timeInterleaved(
    [
      {
        f: () => {
          for (let r = 0; r < 100; r++) e.xent_f16_to_f32(base, base + 2 * n, n);
        },
      },
    ],
    REPS,
  );
  const ns = (ms) => ((ms * 1e6) / (100 * n)).toFixed(3);
  console.log(
    `\nconversion alone (${file} xent_f16_to_f32, ${n} halves): ${ns(row.min)} ns/half (min), ${ns(row.median)} (median)`,
  );
}

for (const name of WORKLOADS) {
  const d = makeData(name);
  const halves = Uint16Array.from(d.logits, toHalf);
  const l32 = xent.tensorFrom(Float32Array.from(halves, fromHalf), d.shape);
  const l16 = xent.tensor('float16', d.shape);
  l16.data.set(halves);
  const target = xent.tensorFrom(d.target, [d.N, d.H, d.W]);
  const g32 = xent.tensor('float32', d.shape);
  const g16 = xent.tensor('float32', d.shape);
  const opts = { ignoreIndex: IGNORE_INDEX };
  const disposeAll = (r) => {
    for (const v of Object.values(r)) v?.dispose?.();
  };

  // The check: every bit of the float32 calls' results.
  const a = xent.crossEntropy(l32, target, { ...opts, grad: g32 });
  const b = xent.crossEntropy(l16, target, { ...opts, grad: g16 });
  if (!same(a.loss, b.loss) || !same(a.sum, b.sum) || !sameArrays(g32.data, g16.data))
    throw new Error(`${name}: float16 fwdbwd differs from float32 (loss ${b.loss} vs ${a.loss})`);
  if (!same(xent.crossEntropy(l16, target, opts).loss, a.loss)) throw new Error(`${name}: float16 fwd differs`);
  const s32 = xent.score(l32, target, opts);
  const s16 = xent.score(l16, target, opts);
  if (
    !same(s32.loss, s16.loss) ||
    !sameArrays(s32.pred.data, s16.pred.data) ||
    !sameArrays(s32.confusion, s16.confusion)
  )
    throw new Error(`${name}: float16 score differs from float32`);
  disposeAll(s32);
  disposeAll(s16);

  /** @type {Array<[string, (l: any, g: any) => unknown]>} */
  const pairs = [
    ['fwd', (l) => xent.crossEntropy(l, target, opts)],
    ['fwdbwd', (l, g) => xent.crossEntropy(l, target, { ...opts, grad: g })],
    ['score', (l) => disposeAll(xent.score(l, target, opts))],
  ];
  const configs = pairs.flatMap(([op, call]) => [
    { op, dtype: 'float32', f: () => call(l32, g32) },
    { op, dtype: 'float16', f: () => call(l16, g16) },
  ]);
  const rows = await timeInterleaved(configs, REPS);
  console.log(`\n${name} [${d.shape.join(', ')}]`);
  console.log('op       float32 min  median   float16 min  median   ratio (median)  ratio (min)');
  for (const [op] of pairs) {
    const [r32, r16] = [
      rows.find((r) => r.op === op && r.dtype === 'float32'),
      rows.find((r) => r.op === op && r.dtype === 'float16'),
    ];
    console.log(
      `${op.padEnd(8)} ${fmt(r32.min)} ${fmt(r32.median)}   ${fmt(r16.min)} ${fmt(r16.median)}   ${fmt(r16.median / r32.median)}x       ${fmt(r16.min / r32.min)}x`,
    );
  }
  for (const t of [l32, l16, target, g32, g16]) t.dispose();
}
xent.dispose();
