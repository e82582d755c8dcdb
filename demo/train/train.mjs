#!/usr/bin/env node
// xent-wasm's training demo: a small segmentation network trained in Node with TF.js (wasm
// backend) for the model and xent-wasm for the loss (the xent-wasm/tfjs adapter: PyTorch's
// CrossEntropyLoss with class weights and ignore_index, fused loss and gradient), scored each
// epoch with xent-wasm's streaming scorer (mIoU) on a held-out split. At the end it writes a
// PNG grid: inputs | ground truth | predictions.
//
//   node demo/train/train.mjs [--epochs 8] [--data <folder>] [--out <folder>]
//
// Options:
//   --epochs N          epochs (default 8)
//   --data <folder>     your own data instead of the generated scenes: images/ + masks/ (same
//                       names), or <name>.png + <name>.mask.png pairs (like demo/samples/);
//                       masks are gray or palette PNGs of class ids, 255 = unlabelled
//   --out <folder>      where grid.png goes (default demo/train/out/)
//   --batch N           batch size (default 16)        --lr X       Adam learning rate (0.003)
//   --size N            image side, pixels (default 64) --count N   generated scenes (384)
//   --unweighted        no class weights (to see what the weights do to the rare classes)
//   --backend cpu|wasm  TF.js backend (default wasm; falls back to cpu with a note)
//   --budget S          stop after the epoch that would overrun S seconds in all (default 105)
//   --export-data <dir> write the generated dataset as PNGs (images/, palette masks/) and exit
//
// Needs the built package (npm run build) and the devDependencies @tensorflow/tfjs,
// @tensorflow/tfjs-backend-wasm and fast-png (the PNGs).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encode as encodePng } from 'fast-png';
import { IGNORE, loadFolder, rng, syntheticDataset } from './data.mjs';
import { makeModel } from './model.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const t0 = performance.now();

// ---- options -------------------------------------------------------------------------------
const { values: opt } = parseArgs({
  options: {
    epochs: { type: 'string', default: '8' },
    data: { type: 'string' },
    out: { type: 'string', default: join(HERE, 'out') },
    batch: { type: 'string', default: '16' },
    lr: { type: 'string', default: '0.003' },
    size: { type: 'string', default: '64' },
    count: { type: 'string', default: '384' },
    unweighted: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'wasm' },
    budget: { type: 'string', default: '105' },
    'export-data': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  const src = (await import('node:fs')).readFileSync(fileURLToPath(import.meta.url), 'utf8');
  console.log(
    src
      .split('\n')
      .slice(1, 24)
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n'),
  );
  process.exit(0);
}
const int = (name, min) => {
  const v = Number(opt[name]);
  if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer ≥ ${min}, got ${opt[name]}`);
  return v;
};
const EPOCHS = int('epochs', 1);
const BATCH = int('batch', 1);
const SIZE = int('size', 8);
const COUNT = int('count', 8);
const LR = Number(opt.lr);
const BUDGET_MS = Number(opt.budget) * 1000;
if (!(BUDGET_MS > 0)) fail(`--budget must be a positive number of seconds, got ${opt.budget}`);
if (!(LR > 0)) fail(`--lr must be a positive number, got ${opt.lr}`);
if (SIZE % 4 !== 0) fail(`--size must be a multiple of 4 (the network downsamples twice), got ${SIZE}`);

function displayPath(p) {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
}

/** @param {string} msg @returns {never} */
function fail(msg) {
  console.error(`train: ${msg}`);
  process.exit(2);
}

// ---- data ----------------------------------------------------------------------------------
const tData = performance.now();
let data;
try {
  data = opt.data ? loadFolder(resolve(opt.data), { size: SIZE }) : syntheticDataset({ count: COUNT, size: SIZE });
} catch (e) {
  fail(/** @type {Error} */ (e).message);
}
const dataMs = performance.now() - tData;
const C = data.classes.length;
const P = SIZE * SIZE;

if (opt['export-data']) {
  const dir = resolve(opt['export-data']);
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  // 256 entries, so that every id (and 255, unlabelled: black) has one.
  const palette = Array.from({ length: 256 }, (_, i) => [...(data.classes[i]?.color ?? [0, 0, 0])]);
  for (let i = 0; i < data.count; i++) {
    const name = `${String(i).padStart(4, '0')}.png`;
    writeFileSync(
      join(dir, 'images', name),
      encodePng({ width: SIZE, height: SIZE, channels: 3, data: data.images.subarray(i * P * 3, (i + 1) * P * 3) }),
    );
    writeFileSync(
      join(dir, 'masks', name),
      encodePng({ width: SIZE, height: SIZE, channels: 1, data: data.masks.subarray(i * P, (i + 1) * P), palette }),
    );
  }
  writeFileSync(
    join(dir, 'samples.json'),
    `${JSON.stringify({ classes: data.classes, ignoreIndex: IGNORE }, null, 2)}\n`,
  );
  console.log(
    `train: wrote ${data.count} images and palette masks to ${dir} (train on them with --data ${displayPath(dir)})`,
  );
  process.exit(0);
}

// ---- TF.js and xent-wasm -------------------------------------------------------------------
const tf = await import('@tensorflow/tfjs');
tf.env().set('PROD', true); // no "install tfjs-node" banner, no debug checks
let backendNote = '';
if (opt.backend === 'wasm') {
  let ok = false;
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    ok = await tf.setBackend('wasm');
  } catch (e) {
    backendNote = e instanceof Error ? e.message : String(e);
  }
  if (!ok) {
    console.log(
      `note: the TF.js wasm backend is not available here${backendNote ? ` (${backendNote})` : ''}; falling back to the CPU backend (much slower: try --epochs 2)`,
    );
    await tf.setBackend('cpu');
  }
} else if (opt.backend === 'cpu') {
  await tf.setBackend('cpu');
} else {
  fail(`--backend must be wasm or cpu, got ${opt.backend}`);
}
await tf.ready();

let Xent;
let crossEntropyLoss;
try {
  ({ Xent } = await import('../../dist/index.mjs'));
  ({ crossEntropyLoss } = await import('../../dist/tfjs.mjs'));
} catch (e) {
  fail(
    `cannot load the built package from ${join(ROOT, 'dist')} (${/** @type {Error} */ (e).message}): run npm run build first`,
  );
}
const xent = await Xent.create();

// ---- split, class weights ------------------------------------------------------------------
const nVal = Math.max(1, Math.min(64, Math.round(data.count / 6)));
const nTrain = data.count - nVal;
if (nTrain < 1) fail(`need at least 2 images, got ${data.count}`);
const counts = new Float64Array(C);
for (let i = 0; i < nTrain * P; i++) {
  const t = data.masks[i];
  if (t !== IGNORE) counts[t]++;
}
const labelled = counts.reduce((a, b) => a + b, 0);
// Inverse frequency, normalised so that each class present gets the same total weight (and the
// weighted mean over the pixels stays ~1): w_c = N / (C' · n_c), capped at 20.
const present = counts.filter((n) => n > 0).length;
const weight = Float32Array.from(counts, (n) =>
  opt.unweighted ? 1 : n > 0 ? Math.min(20, labelled / (present * n)) : 0,
);

const tty = Boolean(process.stdout.isTTY);
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const sec = (ms) => `${(ms / 1000).toFixed(1)} s`;
console.log(
  `xent-wasm training demo — TF.js ${tf.version.tfjs} (${tf.getBackend()} backend), xent-wasm ${xent.simd ? 'SIMD' : 'portable'} build`,
);
console.log(
  `data: ${data.source}${opt.data ? '' : ` in ${sec(dataMs)}`}; ${nTrain} train, ${nVal} held out; ${C} classes + unlabelled (${IGNORE})`,
);
console.log(
  `class weights (${opt.unweighted ? 'none: --unweighted' : 'inverse frequency'}): ` +
    data.classes.map((c, i) => `${c.name} ${weight[i].toFixed(2)} (${pct(counts[i] / labelled)})`).join(', '),
);

// ---- model, loss, optimiser ----------------------------------------------------------------
const model = makeModel(tf, { classes: C, seed: 7 });
const loss = crossEntropyLoss(xent, { layout: 'NHWC', ignoreIndex: IGNORE, weight });
const optimizer = tf.train.adam(LR);
console.log(
  `model: a small U-Net, ${model.params.toLocaleString('en')} parameters; loss: xent-wasm crossEntropyLoss (NHWC, weight, ignoreIndex 255); Adam lr ${LR}; batch ${BATCH}; ${EPOCHS} epochs`,
);

/** Inputs [b, S, S, 3] in [-1, 1] and int32 labels [b, S, S] for the images `idx`, optionally flipped. */
function batchOf(idx, flips) {
  const b = idx.length;
  const x = new Float32Array(b * P * 3);
  const y = new Int32Array(b * P);
  idx.forEach((n, k) => {
    const flip = flips?.[k] ?? false;
    for (let r = 0; r < SIZE; r++)
      for (let c = 0; c < SIZE; c++) {
        const src = n * P + r * SIZE + (flip ? SIZE - 1 - c : c);
        const dst = k * P + r * SIZE + c;
        y[dst] = data.masks[src];
        for (let ch = 0; ch < 3; ch++) x[dst * 3 + ch] = data.images[src * 3 + ch] / 127.5 - 1;
      }
  });
  return { x: tf.tensor4d(x, [b, SIZE, SIZE, 3]), y: tf.tensor3d(y, [b, SIZE, SIZE], 'int32') };
}

const scorer = xent.scorer(C, { ignoreIndex: IGNORE, layout: 'NHWC', weight });
/** Scores the held-out split with xent-wasm's streaming scorer. */
function validate() {
  scorer.reset();
  for (let s = nTrain; s < data.count; s += 32) {
    const idx = Array.from({ length: Math.min(32, data.count - s) }, (_, k) => s + k);
    const { x, y } = batchOf(idx);
    const logits = tf.tidy(() => model.apply(x));
    scorer.update(
      { data: /** @type {Float32Array} */ (logits.dataSync()), shape: logits.shape },
      { data: data.masks.subarray(s * P, (s + idx.length) * P), shape: [idx.length, SIZE, SIZE] },
    );
    tf.dispose([x, y, logits]);
  }
  return scorer.result();
}

function bar(done, total, width = 24) {
  const full = Math.round((width * done) / total);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

// ---- training ------------------------------------------------------------------------------
const order = rng(42);
const history = [];
let lossMsTotal = 0;
let trainMsTotal = 0;
let valMsTotal = 0;
const steps = Math.ceil(nTrain / BATCH);
const ew = String(EPOCHS).length;
for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  const perm = Array.from({ length: nTrain }, (_, i) => i);
  for (let i = nTrain - 1; i > 0; i--) {
    const j = Math.floor(order.next() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const tEpoch = performance.now();
  let lossMs = 0;
  let sum = 0;
  let weightSum = 0;
  for (let step = 0; step < steps; step++) {
    const idx = perm.slice(step * BATCH, (step + 1) * BATCH);
    const { x, y } = batchOf(
      idx,
      idx.map(() => order.next() < 0.5),
    );
    optimizer.minimize(() => {
      const logits = model.apply(x);
      const t = performance.now();
      const l = loss(y, logits); // xent-wasm: loss and gradient in one pass
      lossMs += performance.now() - t;
      return l;
    });
    const last = /** @type {NonNullable<typeof loss.last>} */ (loss.last); // set by the call above
    sum += last.sum;
    weightSum += last.weightSum;
    tf.dispose([x, y]);
    if (tty) {
      const line = `epoch ${String(epoch).padStart(ew)}/${EPOCHS} ${bar(step + 1, steps)} ${step + 1}/${steps}  loss ${(sum / weightSum).toFixed(3)}  ${sec(performance.now() - tEpoch)}`;
      process.stdout.write(`\r${line}\x1b[K`);
    }
  }
  const trainMs = performance.now() - tEpoch;
  const tVal = performance.now();
  const v = validate();
  const valMs = performance.now() - tVal;
  lossMsTotal += lossMs;
  trainMsTotal += trainMs;
  valMsTotal += valMs;
  history.push({
    epoch,
    loss: sum / weightSum,
    valLoss: v.loss,
    mIoU: v.meanIoU,
    iou: Array.from(v.iou),
    acc: v.pixelAccuracy,
  });
  const line =
    `epoch ${String(epoch).padStart(ew)}/${EPOCHS}  train loss ${(sum / weightSum).toFixed(3)}  val loss ${v.loss.toFixed(3)}  ` +
    `mIoU ${pct(v.meanIoU)}  pixel acc ${pct(v.pixelAccuracy)}  |  ${sec(trainMs)}: loss ${(lossMs / 1000).toFixed(2)} s (${pct(lossMs / trainMs)}), rest ${sec(trainMs - lossMs)}; val ${sec(valMs)}`;
  process.stdout.write(tty ? `\r${line}\x1b[K\n` : `${line}\n`);
  const elapsed = performance.now() - t0;
  if (epoch < EPOCHS && elapsed + (trainMs + valMs) * 1.1 > BUDGET_MS) {
    console.log(
      `note: stopping after epoch ${epoch} of ${EPOCHS}: another would overrun the ${BUDGET_MS / 1000} s budget (this machine is slower or busier than expected; --budget to change)`,
    );
    break;
  }
}

// ---- summary -------------------------------------------------------------------------------
const first = history[0];
const last = history[history.length - 1];
const f1 = (x) => (Number.isNaN(x) ? '  –  ' : (100 * x).toFixed(1).padStart(5));
console.log('per-class IoU, first epoch → last:');
for (let c = 0; c < C; c++)
  console.log(`  ${data.classes[c].name.padEnd(12)} ${f1(first.iou[c])} → ${f1(last.iou[c])}`);
console.log(
  `mIoU: first epoch ${pct(first.mIoU)} → last epoch ${pct(last.mIoU)} (${last.mIoU > first.mIoU ? '+' : ''}${(100 * (last.mIoU - first.mIoU)).toFixed(1)} points)`,
);

// The fused kernel alone on one training batch (the adapter's time above includes copying the
// logits out of TF.js and the gradient back in).
{
  const b = Math.min(BATCH, nTrain);
  const logits = xent.tensor('float32', [b, SIZE, SIZE, C]);
  const target = xent.tensor('uint8', [b, SIZE, SIZE]);
  const grad = xent.tensor('float32', logits.shape);
  const r = rng(1);
  logits.data.set(Float32Array.from({ length: logits.size }, () => r.next() * 8 - 4));
  target.data.set(data.masks.subarray(0, b * P));
  const call = () => xent.crossEntropy(logits, target, { layout: 'NHWC', ignoreIndex: IGNORE, weight, grad });
  for (let i = 0; i < 3; i++) call();
  const reps = 20;
  const tk = performance.now();
  for (let i = 0; i < reps; i++) call();
  const kernelMs = (performance.now() - tk) / reps;
  for (const t of [logits, target, grad]) t.dispose();
  const totalMs = performance.now() - t0;
  console.log(
    `time: ${sec(totalMs)} in all; training ${sec(trainMsTotal)}, of which the loss (xent-wasm via the TF.js adapter, forward + gradient + copies) ` +
      `${sec(lossMsTotal)} = ${pct(lossMsTotal / trainMsTotal)} and the model (TF.js forward, backward, Adam) ${sec(trainMsTotal - lossMsTotal)}; ` +
      `validation ${sec(valMsTotal)}`,
  );
  console.log(
    `the fused kernel alone (loss + gradient, ${b}×${SIZE}×${SIZE}×${C} NHWC, weights, ignore): ${kernelMs.toFixed(2)} ms per batch`,
  );
}

// ---- the grid: inputs | ground truth | predictions ------------------------------------------
{
  const k = Math.min(6, nVal);
  const idx = Array.from({ length: k }, (_, i) => nTrain + i);
  const { x, y } = batchOf(idx);
  const logits = tf.tidy(() => model.apply(x));
  const { pred } = xent.score(
    { data: /** @type {Float32Array} */ (logits.dataSync()), shape: logits.shape },
    { data: data.masks.subarray(nTrain * P, (nTrain + k) * P), shape: [k, SIZE, SIZE] },
    { layout: 'NHWC', ignoreIndex: IGNORE },
  );
  const predIds = pred.data.slice();
  pred.dispose();
  tf.dispose([x, y, logits]);
  const scale = Math.max(1, Math.round(128 / SIZE));
  const tile = SIZE * scale;
  const gap = 4;
  const W = 3 * tile + 4 * gap;
  const H = k * tile + (k + 1) * gap;
  const img = new Uint8Array(W * H * 3).fill(255);
  const color = (id) => (id === IGNORE ? [0, 0, 0] : (data.classes[id]?.color ?? [255, 255, 255]));
  for (let n = 0; n < k; n++) {
    for (let r = 0; r < tile; r++)
      for (let c = 0; c < tile; c++) {
        const src = (nTrain + n) * P + Math.floor(r / scale) * SIZE + Math.floor(c / scale);
        const py = gap + n * (tile + gap) + r;
        const cols = [
          data.images.subarray(src * 3, src * 3 + 3),
          color(data.masks[src]),
          color(predIds[src - nTrain * P]),
        ];
        for (const [j, rgb] of cols.entries()) img.set(rgb, (py * W + gap + j * (tile + gap) + c) * 3);
      }
  }
  const outDir = resolve(opt.out);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'grid.png');
  writeFileSync(file, encodePng({ width: W, height: H, channels: 3, data: img }));
  console.log(
    `wrote ${displayPath(file)}: ${k} held-out images, columns input | ground truth | prediction (unlabelled = black)`,
  );
  console.log(`palette: ${data.classes.map((c) => `${c.name} rgb(${c.color.join(',')})`).join(', ')}`);
}

loss.dispose();
scorer.dispose();
xent.dispose();
if (history.length > 1 && !(last.mIoU > first.mIoU)) {
  console.log('train: mIoU did not rise — something is wrong');
  process.exitCode = 1;
}
