// The demo page: loads a sample (or the user's image, mask and logits), has the worker score it
// with xent-wasm, and draws the ground truth and the prediction over the image, the per-pixel
// loss and the confidence side by side, with the metrics table and the confusion matrix. One file
// over 400 lines: it is the page's one script, and its parts share the page's state.

/**
 * @typedef {{ name: string, color: number[] }} ClassInfo
 * @typedef {{ id: string, title: string, width: number, height: number, image: string, mask: string,
 *   logits: string, logitsShape: number[], layout: string,
 *   quarter?: { logits: string, logitsShape: number[] } }} SampleEntry
 * @typedef {{ classes: ClassInfo[], ignoreIndex: number, samples: SampleEntry[] }} SamplesIndex samples.json
 * @typedef {{ width: number, height: number, rgba: Uint8ClampedArray }} DecodedImage
 * @typedef {{ id: string, title: string, width: number, height: number, image: DecodedImage | undefined,
 *   mask: Uint8Array, logits: Float32Array, logitsShape: number[], layout: string, ignoreIndex: number,
 *   quarter?: { logits: Float32Array, logitsShape: number[] } }} Item
 */

/** The page's element with this id (index.html has every id this file asks for). @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id */
const $canvas = (id) => /** @type {HTMLCanvasElement} */ ($(id));
/** @param {string} id of an input or a select */
const $input = (id) => /** @type {HTMLInputElement} */ ($(id));
const state = {
  index: /** @type {SamplesIndex} */ (/** @type {unknown} */ (null)), // set by main() before anything reads it
  palette: /** @type {number[][]} */ ([]),
  names: /** @type {string[]} */ ([]),
  /** The item shown and the worker's answer for it. @type {{ item: Item, res: any } | null} */
  current: null,
  cache: /** @type {Map<string, Item>} */ (new Map()),
  seq: 0,
  own: /** @type {{ image?: File, mask?: File, logits?: File }} */ ({}),
  simd: /** @type {boolean | undefined} */ (undefined),
};

// ---- The worker --------------------------------------------------------------------------
const worker = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
const pending = new Map();
worker.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'ready') {
    state.simd = m.simd;
    return;
  }
  const p = pending.get(m.id);
  if (!p) return;
  pending.delete(m.id);
  if (m.type === 'error') p.reject(Object.assign(new Error(m.message), { name: m.name }));
  else p.resolve(m);
};
worker.onerror = (e) =>
  setStatus(`worker failed to start: ${e.message ?? 'see the console'} (is dist/ built? run npm run build)`, true);
function ask(msg, transfer = []) {
  const id = ++state.seq;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ ...msg, id }, transfer);
  });
}

function setStatus(text, error = false) {
  const s = $('status');
  s.textContent = text;
  s.className = error ? 'error' : '';
  if (error) document.body.dataset.state = 'error';
}

// ---- Colours -----------------------------------------------------------------------------
const INFERNO = [
  [0, 0, 4],
  [40, 11, 84],
  [101, 21, 110],
  [159, 42, 99],
  [212, 72, 66],
  [245, 125, 21],
  [250, 193, 39],
  [252, 255, 164],
];
const VIRIDIS = [
  [68, 1, 84],
  [65, 68, 135],
  [42, 120, 142],
  [34, 168, 132],
  [122, 209, 81],
  [253, 231, 37],
];
function ramp(stops, t) {
  const x = Math.min(1, Math.max(0, Number.isNaN(t) ? 0 : t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}
function drawBar(id, stops) {
  const ctx = /** @type {CanvasRenderingContext2D} */ ($canvas(id).getContext('2d'));
  const img = ctx.createImageData(256, 1);
  for (let x = 0; x < 256; x++) {
    const [r, g, b] = ramp(stops, x / 255);
    img.data.set([r, g, b, 255], 4 * x);
  }
  ctx.putImageData(img, 0, 0);
}
/** Distinct colours for classes beyond the sample palette (user data with more classes). */
function extraColor(k) {
  const h = ((k * 137.508) % 360) / 60;
  const c = 0.6; // chroma at saturation 0.6, lightness 0.5
  const x = c * (1 - Math.abs((h % 2) - 1));
  const m = 0.5 - c / 2;
  const [r, g, b] =
    h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  return [r + m, g + m, b + m].map((v) => Math.round(v * 255));
}
const LOSS_MAX = 4;
const lossScale = (l) => Math.log1p(l) / Math.log1p(LOSS_MAX);

// ---- Decoding ------------------------------------------------------------------------------
async function decodeImage(blob) {
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (c.getContext('2d', { willReadFrequently: true }));
  ctx.drawImage(bmp, 0, 0);
  const { data } = ctx.getImageData(0, 0, bmp.width, bmp.height);
  return { width: bmp.width, height: bmp.height, rgba: data };
}
async function fetchBlob(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`could not fetch ${url}: HTTP ${r.status}`);
  return r.blob();
}

async function loadSample(s) {
  const cached = state.cache.get(s.id);
  if (cached) return cached;
  const base = new URL('./samples/', import.meta.url);
  const [image, maskImg, logitsBuf, quarterBuf] = await Promise.all([
    fetchBlob(new URL(s.image, base)).then(decodeImage),
    fetchBlob(new URL(s.mask, base)).then(decodeImage),
    fetchBlob(new URL(s.logits, base)).then((b) => b.arrayBuffer()),
    s.quarter ? fetchBlob(new URL(s.quarter.logits, base)).then((b) => b.arrayBuffer()) : undefined,
  ]);
  const mask = new Uint8Array(maskImg.width * maskImg.height);
  for (let i = 0; i < mask.length; i++) mask[i] = maskImg.rgba[4 * i];
  /** @type {Item} */
  const item = {
    id: s.id,
    title: s.title,
    width: s.width,
    height: s.height,
    image,
    mask,
    logits: new Float32Array(logitsBuf),
    logitsShape: s.logitsShape,
    layout: s.layout,
    ignoreIndex: state.index.ignoreIndex,
    quarter: s.quarter && quarterBuf && { logits: new Float32Array(quarterBuf), logitsShape: s.quarter.logitsShape },
  };
  state.cache.set(s.id, item);
  return item;
}

// ---- Drawing -------------------------------------------------------------------------------
function scaleFor(w) {
  return Math.max(1, Math.min(8, Math.floor(640 / w)));
}
/**
 * Paints a canvas block by block: `color(i)` for source pixel i, `edge(i, j)` true draws the edge between neighbours i and j.
 * @param {HTMLCanvasElement} canvas
 * @param {number} W
 * @param {number} H
 * @param {(i: number) => number[]} color
 * @param {(i: number, j: number) => boolean} [edge]
 */
function paint(canvas, W, H, color, edge) {
  const S = scaleFor(W);
  canvas.width = W * S;
  canvas.height = H * S;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  const img = ctx.createImageData(W * S, H * S);
  const d = img.data;
  const put = (x, y, c) => {
    const o = 4 * (y * W * S + x);
    d[o] = c[0];
    d[o + 1] = c[1];
    d[o + 2] = c[2];
    d[o + 3] = 255;
  };
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const c = color(i);
      for (let dy = 0; dy < S; dy++) for (let dx = 0; dx < S; dx++) put(x * S + dx, y * S + dy, c);
      if (edge && S >= 3) {
        const white = [255, 255, 255];
        if (x > 0 && edge(i, i - 1)) for (let k = 0; k < S; k++) put(x * S, y * S + k, white);
        if (x < W - 1 && edge(i, i + 1)) for (let k = 0; k < S; k++) put(x * S + S - 1, y * S + k, white);
        if (y > 0 && edge(i, i - W)) for (let k = 0; k < S; k++) put(x * S + k, y * S, white);
        if (y < H - 1 && edge(i, i + W)) for (let k = 0; k < S; k++) put(x * S + k, y * S + S - 1, white);
      }
    }
  }
  ctx.putImageData(img, 0, 0);
}

function render() {
  const cur = state.current;
  if (!cur) return;
  const { item, res } = cur;
  const W = item.width;
  const H = item.height;
  const alpha = Number($input('alpha').value) / 100;
  const rgba = item.image?.rgba;
  const base = (i) => (rgba ? [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]] : [128, 128, 128]);
  const colorOf = (k) => state.palette[k] ?? extraColor(k);
  const blend = (a, b, t) => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
  const ign = item.ignoreIndex;
  const gt = item.mask;
  paint($canvas('c-gt'), W, H, (i) =>
    gt[i] === ign ? blend(base(i), [0, 0, 0], 0.65) : blend(base(i), colorOf(gt[i]), alpha),
  );
  const wrong = (i) => gt[i] !== ign && res.pred[i] !== gt[i];
  paint(
    $canvas('c-pred'),
    W,
    H,
    (i) => blend(base(i), colorOf(res.pred[i]), alpha),
    (i, j) => wrong(i) && !wrong(j),
  );
  paint($canvas('c-loss'), W, H, (i) =>
    gt[i] === ign
      ? ((i % W) + Math.floor(i / W)) % 2
        ? [60, 60, 66]
        : [84, 84, 90]
      : ramp(INFERNO, lossScale(res.lossMap[i])),
  );
  const C = res.metrics.classes;
  paint($canvas('c-conf'), W, H, (i) => ramp(VIRIDIS, (res.predConfidence[i] - 1 / C) / (1 - 1 / C)));
  $('conf-min').textContent = `1/C = ${(1 / C).toFixed(2)}`;
  renderQuarter(item, res, { base, colorOf, blend, alpha });
}

/** The 1/4-resolution panels: the low-resolution argmax, and the prediction and loss at the mask's size. */
function renderQuarter(item, res, { base, colorOf, blend, alpha }) {
  const q = res.quarter;
  for (const el of document.querySelectorAll('#quarter-title, #quarter-title + .panels')) {
    const e = /** @type {HTMLElement} */ (el);
    e.style.display = q && item.quarter ? '' : 'none';
  }
  if (!q || !item.quarter) return;
  const [, C, h, w] = item.quarter.logitsShape;
  const low = item.quarter.logits;
  const argmax = (i) => {
    let best = 0;
    for (let c = 1; c < C; c++) if (low[c * h * w + i] > low[best * h * w + i]) best = c;
    return best;
  };
  // The low-resolution argmax, drawn over the image's pixel at each block's top-left corner.
  const f = item.width / w;
  paint($canvas('c-q-low'), w, h, (i) =>
    blend(base(Math.floor(i / w) * f * item.width + (i % w) * f), colorOf(argmax(i)), alpha),
  );
  $('cap-q-low').textContent = `${w}×${h}`;
  const gt = item.mask;
  const ign = item.ignoreIndex;
  const W = item.width;
  const wrong = (i) => gt[i] !== ign && q.pred[i] !== gt[i];
  paint(
    $canvas('c-q-pred'),
    W,
    item.height,
    (i) => blend(base(i), colorOf(q.pred[i]), alpha),
    (i, j) => wrong(i) && !wrong(j),
  );
  paint($canvas('c-q-loss'), W, item.height, (i) =>
    gt[i] === ign
      ? ((i % W) + Math.floor(i / W)) % 2
        ? [60, 60, 66]
        : [84, 84, 90]
      : ramp(INFERNO, lossScale(q.lossMap[i])),
  );
  $('cap-q-pred').textContent = `${fmt(q.metrics.pixelAccuracy)} % right`;
  $('cap-q-loss').textContent = `mean ${q.loss.toFixed(3)}`;
  const rows = [
    ['logits', `${item.logitsShape.slice(1).join('×')}`, `${item.quarter.logitsShape.slice(1).join('×')}`],
    ['mIoU', `${fmt(res.metrics.meanIoU)} %`, `${fmt(q.metrics.meanIoU)} %`],
    ['pixel accuracy', `${fmt(res.metrics.pixelAccuracy)} %`, `${fmt(q.metrics.pixelAccuracy)} %`],
    ['mean loss', res.loss.toFixed(4), q.loss.toFixed(4)],
    ['pixels scored', fmtN(res.weightSum), fmtN(q.weightSum)],
    ['time (xent.score)', `${res.ms.toFixed(1)} ms`, `${q.ms.toFixed(1)} ms`],
  ];
  $('quarter').innerHTML =
    `<thead><tr><th></th><th>full resolution</th><th>1/4 + resize</th></tr></thead><tbody>` +
    rows.map(([k, a, b]) => `<tr><td>${k}</td><td>${a}</td><td>${b}</td></tr>`).join('') +
    `</tbody>`;
}

const fmt = (v, digits = 1) => (Number.isFinite(v) ? (100 * v).toFixed(digits) : '—');
const fmtN = (v) => (Number.isFinite(v) ? v.toLocaleString('en-US') : '—');

function showMetrics(item, res) {
  const m = res.metrics;
  const C = m.classes;
  const name = (k) => state.names[k] ?? `class ${k}`;
  const sw = (k) => `<i style="background: rgb(${(state.palette[k] ?? extraColor(k)).join(',')})"></i>`;
  $('metrics-title').textContent = `Metrics — ${item.title}`;
  const px = pixelCounts(item, res);
  $('summary').innerHTML = [
    ['mIoU', `${fmt(m.meanIoU)} %`],
    ['pixel accuracy (aAcc)', `${fmt(m.pixelAccuracy)} %`],
    ['mean class accuracy (mAcc)', `${fmt(m.meanClassAccuracy)} %`],
    ['frequency-weighted IoU', `${fmt(m.frequencyWeightedIoU)} %`],
    ['mean loss', res.loss.toFixed(4)],
    [`pixels scored, of ${fmtN(px.total)} (${fmtN(px.ignored)} ignored)`, fmtN(px.scored)],
    ['time (xent.score)', `${res.ms.toFixed(1)} ms`],
    [threadsNote(res), `${res.threads} thread${res.threads === 1 ? '' : 's'}`],
  ]
    .map(([k, v]) => `<div><b>${v}</b><span>${k}</span></div>`)
    .join('');
  const rows = [];
  for (let k = 0; k < C; k++) {
    const iou = m.iou[k];
    rows.push(
      `<tr data-class="${k}"><td>${sw(k)}${name(k)}</td><td class="bar-cell"><b style="width: ${Number.isFinite(iou) ? 100 * iou : 0}%"></b><span>${fmt(iou)}</span></td>` +
        `<td>${fmt(m.classAccuracy[k])}</td><td>${fmtN(m.areaLabel[k])}</td><td>${fmtN(m.areaPredLabel[k])}</td></tr>`,
    );
  }
  /** @type {HTMLElement} */ ($('metrics').querySelector('tbody')).innerHTML = rows.join('');
  /** @type {HTMLElement} */ ($('metrics').querySelector('tfoot')).innerHTML =
    `<tr><td>mean (nanmean)</td><td>${fmt(m.meanIoU)}</td><td>${fmt(m.meanClassAccuracy)}</td><td>${fmtN(m.pixels)}</td><td></td></tr>`;
  // The confusion matrix, each row shaded by its share.
  const short = (k) => name(k).slice(0, 4);
  let html = `<tr><th></th>${Array.from({ length: C }, (_, k) => `<th title="${name(k)}">${sw(k)}${short(k)}</th>`).join('')}</tr>`;
  for (let t = 0; t < C; t++) {
    const total = m.areaLabel[t];
    html += `<tr><th title="${name(t)}" style="text-align: left">${sw(t)}${name(t)}</th>`;
    for (let p = 0; p < C; p++) {
      const v = m.confusion[t * C + p];
      const share = total > 0 ? v / total : 0;
      const bg =
        t === p
          ? `rgba(46, 160, 67, ${0.12 + 0.6 * share})`
          : `rgba(207, 34, 46, ${share > 0 ? 0.08 + 0.9 * share : 0})`;
      html += `<td style="background: ${bg}">${v ? fmtN(v) : ''}</td>`;
    }
    html += '</tr>';
  }
  $('confusion').innerHTML = html;
  $('cap-gt').textContent = `${item.width}×${item.height}`;
  $('cap-pred').textContent = `${fmt(m.pixelAccuracy)} % right`;
  $('cap-loss').textContent = `mean ${res.loss.toFixed(3)}`;
}

function legend() {
  const swatches = state.names.map(
    (n, k) => `<span><i style="background: rgb(${state.palette[k].join(',')})"></i>${n}</span>`,
  );
  $('legend').innerHTML = `${swatches.join('')}<span><i style="background: #222"></i>void (ignored)</span>`;
}

/**
 * The image's pixels, those scored and those ignored (the mask's ignore index). The loss's
 * denominator (weightSum) and the metrics' pixel count are the scored ones, which must add up.
 */
function pixelCounts(item, res) {
  const total = item.width * item.height;
  const scored = res.metrics.pixels;
  if (scored !== res.weightSum) throw new Error(`scored ${res.weightSum} pixels but the metrics count ${scored}`);
  return { total, scored, ignored: total - scored };
}

/** Where the loss ran: on the threads (the same bits as score's, checked), or 1 thread and why. */
function threadsNote(res) {
  if (res.threads > 1)
    return Object.is(res.threadsLoss, res.loss)
      ? 'crossEntropyAsync on them: the same loss bits'
      : `crossEntropyAsync on them: loss ${res.threadsLoss}`;
  return res.isolated ? 'cross-origin isolated, but no threads' : 'not cross-origin isolated';
}

// ---- Scoring -------------------------------------------------------------------------------
async function score(item) {
  document.body.dataset.state = 'scoring';
  setStatus(`Scoring ${item.title} in the worker…`);
  const res = await ask({
    type: 'score',
    logits: item.logits.slice(),
    logitsShape: item.logitsShape,
    layout: item.layout,
    mask: item.mask,
    ignoreIndex: item.ignoreIndex,
    quarter: item.quarter && { logits: item.quarter.logits.slice(), logitsShape: item.quarter.logitsShape },
  });
  state.current = { item, res };
  render();
  showMetrics(item, res);
  const px = pixelCounts(item, res);
  const threads =
    res.threads > 1
      ? `${res.threads} threads (cross-origin isolated)`
      : `1 thread, ${threadsNote(res)}${res.isolated ? '' : ': node demo/serve.mjs --isolate for threads'}`;
  setStatus(
    `${item.title}: ${res.metrics.classes} classes, ${fmtN(px.total)} pixels, ${fmtN(px.scored)} scored ` +
      `(${fmtN(px.ignored)} ignored), in ${res.ms.toFixed(1)} ms: ${res.simd ? 'SIMD' : 'portable'} build, ` +
      `in a Web Worker, ${threads}.`,
  );
  document.body.dataset.threads = String(res.threads);
  window.__demo = {
    id: item.id,
    threads: res.threads,
    isolated: res.isolated,
    threadsLoss: res.threadsLoss,
    pixels: px,
    loss: res.loss,
    sum: res.sum,
    weightSum: res.weightSum,
    metrics: res.metrics,
    simd: res.simd,
    pred: res.pred,
    quarter: res.quarter && { loss: res.quarter.loss, weightSum: res.quarter.weightSum, metrics: res.quarter.metrics },
  };
  document.body.dataset.state = 'done';
}

async function scoreAll() {
  const items = await Promise.all(state.index.samples.map(loadSample));
  document.body.dataset.state = 'scoring';
  const res = await ask({
    type: 'scoreAll',
    classes: state.index.classes.length,
    layout: 'NCHW',
    ignoreIndex: state.index.ignoreIndex,
    items: items.map((it) => ({ logits: it.logits.slice(), logitsShape: it.logitsShape, mask: it.mask })),
  });
  const r = res.result;
  const card = $('all');
  card.style.display = '';
  card.innerHTML =
    `<h2>All ${items.length} samples (xent.scorer, ${res.ms.toFixed(1)} ms)</h2>` +
    `<div class="summary"><div><b>${fmt(r.meanIoU)} %</b><span>mIoU</span></div><div><b>${fmt(r.pixelAccuracy)} %</b><span>aAcc</span></div>` +
    `<div><b>${r.loss.toFixed(4)}</b><span>mean loss (Σ sum / Σ weightSum)</span></div></div>` +
    `<table><thead><tr><th>Class</th><th>IoU</th><th>Acc</th></tr></thead><tbody>` +
    state.names
      .map(
        (n, k) =>
          `<tr><td><i style="background: rgb(${state.palette[k].join(',')})"></i>${n}</td><td>${fmt(r.iou[k])}</td><td>${fmt(r.classAccuracy[k])}</td></tr>`,
      )
      .join('') +
    `</tbody></table>`;
  window.__demoAll = r;
  document.body.dataset.state = 'done';
}

async function scoreOwn() {
  const { image, mask, logits } = state.own;
  if (!mask || !logits) throw new Error('give at least a mask (PNG of class ids) and logits (float32 .bin)');
  const m = await decodeImage(mask);
  const W = m.width;
  const H = m.height;
  const img = image ? await decodeImage(image) : undefined;
  if (img && (img.width !== W || img.height !== H))
    throw new Error(`the image is ${img.width}×${img.height} but the mask is ${W}×${H}`);
  const buf = await logits.arrayBuffer();
  const n = buf.byteLength / 4;
  if (!Number.isInteger(n) || n % (W * H) !== 0) {
    throw new Error(
      `the logits file has ${buf.byteLength} bytes: not float32 × C × ${H} × ${W} for any C (expected a multiple of ${4 * W * H})`,
    );
  }
  const C = n / (W * H);
  const layout = $input('layout').value;
  const maskIds = new Uint8Array(W * H);
  for (let i = 0; i < maskIds.length; i++) maskIds[i] = m.rgba[4 * i];
  /** @type {Item} */
  const item = {
    id: 'own',
    title: mask.name,
    width: W,
    height: H,
    image: img,
    mask: maskIds,
    logits: new Float32Array(buf),
    logitsShape: layout === 'NHWC' ? [1, H, W, C] : [1, C, H, W],
    layout,
    ignoreIndex: Number($input('ignore').value),
  };
  await score(item);
}

function fail(e) {
  setStatus(`${e.name ?? 'Error'}: ${e.message}`, true);
  console.error(e);
}

// ---- Wiring --------------------------------------------------------------------------------
async function main() {
  drawBar('bar-loss', INFERNO);
  drawBar('bar-q-loss', INFERNO);
  drawBar('bar-conf', VIRIDIS);
  $('loss-max').textContent = `≥ ${LOSS_MAX} (log scale)`;
  const r = await fetch(new URL('./samples/samples.json', import.meta.url));
  if (!r.ok) throw new Error(`could not load samples/samples.json (HTTP ${r.status}): run node demo/make-samples.mjs`);
  state.index = await r.json();
  state.palette = state.index.classes.map((c) => c.color);
  state.names = state.index.classes.map((c) => c.name);
  legend();
  const sel = /** @type {HTMLSelectElement} */ ($('sample'));
  sel.innerHTML = state.index.samples.map((s, i) => `<option value="${i}">${s.title}</option>`).join('');
  const chosen = Number(new URLSearchParams(location.search).get('sample') ?? 0);
  sel.value = String(Math.min(state.index.samples.length - 1, Math.max(0, chosen)));
  sel.onchange = () => loadSample(state.index.samples[Number(sel.value)]).then(score).catch(fail);
  $('alpha').oninput = render;
  $('run-all').onclick = () => scoreAll().catch(fail);
  $('run-own').onclick = () => scoreOwn().catch(fail);
  for (const [id, key] of /** @type {const} */ ([
    ['f-image', 'image'],
    ['f-mask', 'mask'],
    ['f-logits', 'logits'],
  ])) {
    $input(id).onchange = () => (state.own[key] = /** @type {FileList} */ ($input(id).files)[0]);
  }
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    const files = /** @type {DataTransfer} */ (e.dataTransfer).files;
    for (const f of files) {
      if (/\.bin$/i.test(f.name)) state.own.logits = f;
      else if (/mask|label|gt/i.test(f.name)) state.own.mask = f;
      else if (f.type.startsWith('image/')) state.own.image = f;
    }
    if (state.own.mask && state.own.logits) scoreOwn().catch(fail);
    else
      setStatus(
        `got ${[...files].map((f) => f.name).join(', ')}; still need ${!state.own.mask ? 'a mask' : 'the logits'}`,
      );
  });
  await score(await loadSample(state.index.samples[Number(sel.value)]));
}

main().catch(fail);
