// The training demo's data: a deterministic synthetic street-scene dataset generated in memory
// (no files), and a loader for a user's folder of images and PNG masks.
//
// Scenes (64x64 by default): sky with clouds, a skyline of buildings with windows, trees, a road
// with lane marks and grass verges, cars and people. Poles with signs are "unlabelled"
// (IGNORE = 255), like Cityscapes' void, and so is the camera's own hood at the bottom of some
// frames. The classes are as unbalanced as in real street scenes (people ~1 % of the pixels),
// so class weights matter. Only integer arithmetic and +-*/ on floats, from a seeded generator:
// the same bytes on every machine.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { decode as decodePng } from 'fast-png';

export const IGNORE = 255;
export const CLASSES = Object.freeze([
  { name: 'sky', color: [70, 130, 180] },
  { name: 'building', color: [70, 70, 70] },
  { name: 'road', color: [128, 64, 128] },
  { name: 'vegetation', color: [107, 142, 35] },
  { name: 'car', color: [0, 0, 142] },
  { name: 'person', color: [220, 20, 60] },
]);
const [SKY, BUILDING, ROAD, VEGETATION, CAR, PERSON] = [0, 1, 2, 3, 4, 5];

/** mulberry32: a small seeded generator with next(), range(a, b), int(a, b) (inclusive), pick(array). */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    range: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor((hi - lo + 1) * next()),
    pick: (arr) => arr[Math.floor(arr.length * next())],
  };
}

const CAR_COLORS = [
  [180, 30, 30],
  [30, 60, 170],
  [225, 225, 225],
  [30, 30, 35],
  [210, 180, 40],
  [120, 120, 130],
];
const SHIRTS = [
  [200, 40, 40],
  [40, 70, 160],
  [230, 230, 230],
  [40, 40, 40],
  [60, 140, 60],
  [230, 150, 40],
];
const SKIN = [
  [230, 190, 160],
  [190, 140, 100],
  [120, 80, 55],
];
const FACADES = [
  [150, 150, 150],
  [120, 110, 100],
  [170, 150, 120],
  [100, 100, 110],
  [140, 90, 70],
];

/**
 * One scene: `{ rgb: Uint8Array(H*W*3), mask: Uint8Array(H*W) }` (class ids, 255 = unlabelled).
 * @param {number} seed
 * @param {number} [size] width = height
 */
export function makeScene(seed, size = 64) {
  const W = size;
  const H = size;
  const s = size / 64; // sizes below are for 64 px
  const r = rng(seed);
  const rgb = new Float32Array(W * H * 3);
  const mask = new Uint8Array(W * H);
  const put = (x, y, cls, c) => {
    x = Math.floor(x);
    y = Math.floor(y);
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const i = y * W + x;
    mask[i] = cls;
    rgb[3 * i] = c[0];
    rgb[3 * i + 1] = c[1];
    rgb[3 * i + 2] = c[2];
  };
  const rect = (x0, y0, x1, y1, cls, c) => {
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(H, Math.ceil(y1)); y++)
      for (let x = Math.max(0, Math.floor(x0)); x < Math.min(W, Math.ceil(x1)); x++) put(x, y, cls, c);
  };
  const disc = (cx, cy, rad, cls, c, jitter = 0) => {
    for (let y = Math.floor(cy - rad); y <= cy + rad; y++)
      for (let x = Math.floor(cx - rad); x <= cx + rad; x++) {
        const dx = x - cx;
        const dy = y - cy;
        if (dx * dx + dy * dy <= rad * rad * (1 - jitter * r.next())) put(x, y, cls, c);
      }
  };
  const shade = (c, k) => [c[0] * k, c[1] * k, c[2] * k];

  // Sky: a vertical gradient and a few clouds.
  const horizon = Math.floor(H * r.range(0.4, 0.55));
  const skyTop = [r.int(40, 90), r.int(100, 150), r.int(170, 230)];
  for (let y = 0; y < horizon; y++) {
    const t = y / horizon;
    for (let x = 0; x < W; x++) put(x, y, SKY, [skyTop[0] + 90 * t, skyTop[1] + 70 * t, skyTop[2] + 20 * t]);
  }
  for (let k = r.int(0, 3); k > 0; k--) {
    const cx = r.range(0, W);
    const cy = r.range(2 * s, horizon * 0.5);
    for (let j = 0; j < 4; j++)
      disc(cx + r.range(-5, 5) * s, cy + r.range(-1.5, 1.5) * s, r.range(2, 4) * s, SKY, [235, 238, 245], 0.3);
  }
  // Buildings: a skyline of rectangles with windows.
  for (let x = r.range(-6, 0) * s; x < W; ) {
    const w = r.range(7, 18) * s;
    const top = r.range(0.1, 0.85) * horizon;
    const facade = shade(r.pick(FACADES), r.range(0.8, 1.15));
    rect(x, top, x + w, horizon + 1, BUILDING, facade);
    const lit = r.next() < 0.3;
    for (let wy = top + 2 * s; wy < horizon - 2 * s; wy += 4 * s)
      for (let wx = x + 2 * s; wx < x + w - 2 * s; wx += 4 * s)
        rect(wx, wy, wx + 2 * s, wy + 2 * s, BUILDING, lit && r.next() < 0.5 ? [230, 210, 120] : shade(facade, 0.45));
    x += w + (r.next() < 0.3 ? r.range(1, 6) * s : 0);
  }
  // Road, with grass verges that narrow towards the horizon and dashed lane marks.
  const vx = W * r.range(0.35, 0.65);
  const roadGray = r.int(70, 110);
  for (let y = horizon; y < H; y++) {
    const d = (y - horizon + 1) / (H - horizon);
    const half = d * W * r.range(0.55, 0.56);
    for (let x = 0; x < W; x++) {
      if (Math.abs(x - vx) <= half) put(x, y, ROAD, [roadGray, roadGray, roadGray + 4]);
      else put(x, y, VEGETATION, [60 + 20 * d, 110 + 30 * d, 40]);
    }
    if (Math.floor((y - horizon) / (2 + 3 * d)) % 2 === 0) rect(vx - d, y, vx + d + 0.5, y + 1, ROAD, [230, 230, 220]);
  }
  // Trees along the skyline.
  for (let k = r.int(0, 4); k > 0; k--) {
    const tx = r.range(0, W);
    const rad = r.range(3, 7) * s;
    rect(tx - 0.6 * s, horizon - rad, tx + 0.6 * s, horizon + 1, VEGETATION, [90, 60, 30]);
    disc(tx, horizon - rad - rad * 0.6, rad, VEGETATION, shade([50, 120, 40], r.range(0.7, 1.2)), 0.25);
  }
  // Cars and people, far to near (nearer ones drawn over farther ones).
  const things = [];
  for (let k = r.int(1, 4); k > 0; k--) things.push({ kind: CAR, y: r.range(horizon + 3 * s, H - 2 * s) });
  for (let k = r.int(0, 4); k > 0; k--) things.push({ kind: PERSON, y: r.range(horizon + 2 * s, H - 1 * s) });
  things.sort((a, b) => a.y - b.y);
  for (const t of things) {
    const d = (t.y - horizon + 1) / (H - horizon); // 0 far .. 1 near
    if (t.kind === CAR) {
      const w = (6 + 18 * d) * s;
      const h = w * 0.55;
      const half = d * W * 0.55;
      const x = vx + r.range(-half, half - w);
      const body = shade(r.pick(CAR_COLORS), r.range(0.85, 1.1));
      rect(x, t.y - h * 0.6, x + w, t.y, CAR, body);
      rect(x + w * 0.18, t.y - h, x + w * 0.82, t.y - h * 0.55, CAR, shade(body, 0.8));
      rect(x + w * 0.25, t.y - h * 0.95, x + w * 0.75, t.y - h * 0.62, CAR, [40, 50, 60]); // windows
      rect(x + w * 0.08, t.y - h * 0.15, x + w * 0.3, t.y + 0.6 * s, CAR, [15, 15, 15]); // wheels
      rect(x + w * 0.7, t.y - h * 0.15, x + w * 0.92, t.y + 0.6 * s, CAR, [15, 15, 15]);
    } else {
      const h = (5 + 12 * d) * s;
      const w = Math.max(1.2, h * 0.28);
      const x = r.range(0, W - w);
      const shirt = r.pick(SHIRTS);
      rect(x, t.y - h * 0.45, x + w, t.y, PERSON, [35, 35, 50]); // legs
      rect(x - 0.1 * w, t.y - h * 0.82, x + w * 1.1, t.y - h * 0.42, PERSON, shirt);
      disc(x + w / 2, t.y - h * 0.9, Math.max(0.7, w * 0.42), PERSON, r.pick(SKIN));
    }
  }
  // Unlabelled: poles with signs, and in some frames the camera car's hood.
  for (let k = r.int(0, 2); k > 0; k--) {
    const px = r.range(0, W);
    const top = r.range(0.2, 0.6) * H;
    const bottom = r.range(horizon + 2 * s, H);
    rect(px, top, px + Math.max(1, 1.2 * s), bottom, IGNORE, [110, 110, 110]);
    rect(
      px - 3 * s,
      top,
      px + 4 * s,
      top + 4 * s,
      IGNORE,
      r.pick([
        [30, 90, 200],
        [200, 40, 40],
        [240, 200, 30],
      ]),
    );
  }
  if (r.next() < 0.4) {
    const hood = r.range(4, 9) * s;
    for (let y = Math.floor(H - hood); y < H; y++) {
      const inset = ((y - (H - hood)) / hood) * -6 * s + 6 * s;
      rect(inset, y, W - inset, y + 1, IGNORE, [25, 25, 30]);
    }
  }
  // Lighting and sensor noise.
  const gain = r.range(0.75, 1.2);
  const out = new Uint8Array(W * H * 3);
  for (let i = 0; i < out.length; i++)
    out[i] = Math.max(0, Math.min(255, Math.round(rgb[i] * gain + (r.next() + r.next() - 1) * 24)));
  return { rgb: out, mask };
}

/**
 * The default dataset: `count` scenes of `size`² pixels, as one NHWC uint8 image array and
 * one mask array. Deterministic (scene i has seed 1000 + i).
 */
export function syntheticDataset({ count = 384, size = 64 } = {}) {
  const images = new Uint8Array(count * size * size * 3);
  const masks = new Uint8Array(count * size * size);
  for (let i = 0; i < count; i++) {
    const { rgb, mask } = makeScene(1000 + i, size);
    images.set(rgb, i * rgb.length);
    masks.set(mask, i * mask.length);
  }
  return {
    count,
    size,
    images,
    masks,
    classes: CLASSES,
    ignoreIndex: IGNORE,
    source: `synthetic street scenes (${count} × ${size}x${size}, generated)`,
  };
}

/** Nearest-neighbour resize of `channels`-plane pixels (masks: exact ids; images: area average below). */
function resizeNearest(src, w, h, channels, size) {
  const out = new Uint8Array(size * size * channels);
  for (let y = 0; y < size; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / size));
    for (let x = 0; x < size; x++) {
      const sx = Math.min(w - 1, Math.floor(((x + 0.5) * w) / size));
      for (let c = 0; c < channels; c++) out[(y * size + x) * channels + c] = src[(sy * w + sx) * channels + c];
    }
  }
  return out;
}

/** Box-filter (area) resize of an RGB image to size×size. */
function resizeArea(src, w, h, size) {
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const y0 = Math.floor((y * h) / size);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * h) / size));
    for (let x = 0; x < size; x++) {
      const x0 = Math.floor((x * w) / size);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * w) / size));
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) sum += src[(yy * w + xx) * 3 + c];
        out[(y * size + x) * 3 + c] = Math.round(sum / ((y1 - y0) * (x1 - x0)));
      }
    }
  }
  return out;
}

/**
 * A PNG file decoded by fast-png, with every sample as one value: 1/2/4-bit rows (gray or palette)
 * unpacked, 16-bit samples kept as they are (a Uint16Array).
 * @param {string} path
 * @returns {{ width: number, height: number, channels: number, depth: number,
 *   data: Uint8Array | Uint16Array, palette?: number[][] }}
 */
export function readPng(path) {
  let png;
  try {
    png = decodePng(readFileSync(path), { checkCrc: true });
  } catch (e) {
    throw new Error(`${path}: cannot decode this PNG: ${/** @type {Error} */ (e).message}`);
  }
  const { width, height, channels, depth, palette } = png;
  let data =
    png.data instanceof Uint16Array ? png.data : new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length);
  if (depth < 8) {
    // Gray or palette (one channel): each row is padded to a whole byte.
    const packed = data;
    const rowBytes = Math.ceil((width * depth) / 8);
    const perByte = 8 / depth;
    const max = (1 << depth) - 1;
    data = new Uint8Array(width * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const byte = packed[y * rowBytes + Math.floor(x / perByte)];
        data[y * width + x] = (byte >> (8 - depth * ((x % perByte) + 1))) & max;
      }
  }
  return { width, height, channels, depth, data, palette };
}

/** Any PNG from readPng as 8-bit RGB (palette expanded, gray replicated, alpha dropped). */
function toRgb(png) {
  const { width, height, channels, depth, data, palette } = png;
  const n = width * height;
  // 16-bit samples and 1/2/4-bit gray scaled to 0..255 (palette indices stay indices).
  const scale = palette || depth === 8 ? 1 : depth < 8 ? 255 / ((1 << depth) - 1) : 1 / 257;
  const v = (i) => Math.round(data[i] * scale);
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    if (palette)
      out.set((palette[data[i]] ?? [0, 0, 0]).slice(0, 3), 3 * i); // an index past the palette: black
    else if (channels >= 3) for (let c = 0; c < 3; c++) out[3 * i + c] = v(channels * i + c);
    else out.fill(v(channels * i), 3 * i, 3 * i + 3);
  }
  return out;
}

/** The class ids of a mask from readPng: one channel (gray or palette indices), each id < 256. */
function toIds(png, path) {
  if (png.channels !== 1)
    throw new Error(`${path}: a mask must be a gray or palette PNG of class ids (it has ${png.channels} channels)`);
  if (png.data instanceof Uint8Array) return png.data;
  const ids = new Uint8Array(png.data.length);
  for (let i = 0; i < ids.length; i++) {
    if (png.data[i] > 255)
      throw new Error(`${path}: class id ${png.data[i]} in a 16-bit mask; the demo takes ids up to 255`);
    ids[i] = png.data[i];
  }
  return ids;
}

/**
 * A user's dataset: a folder with `images/` and `masks/` (same file names), or flat
 * `<name>.png` + `<name>.mask.png` pairs (the layout of demo/samples/). Masks are gray or
 * palette PNGs (1 to 16 bits) of class ids (255 = unlabelled). Everything is resized to
 * size×size (images by area, masks by nearest neighbour). The number of classes is the largest id + 1, or the
 * `classes` of a samples.json beside the files (names and colours).
 */
export function loadFolder(dir, { size = 64 } = {}) {
  const pairs = [];
  if (existsSync(join(dir, 'images')) && existsSync(join(dir, 'masks'))) {
    const masks = new Set(readdirSync(join(dir, 'masks')));
    for (const f of readdirSync(join(dir, 'images')).sort()) {
      if (extname(f).toLowerCase() !== '.png') continue;
      if (!masks.has(f)) throw new Error(`--data: images/${f} has no masks/${f}`);
      pairs.push([join(dir, 'images', f), join(dir, 'masks', f)]);
    }
  } else {
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.mask.png')) continue;
      const img = join(dir, `${f.slice(0, -'.mask.png'.length)}.png`);
      if (!existsSync(img)) throw new Error(`--data: ${f} has no image ${basename(img)}`);
      pairs.push([img, join(dir, f)]);
    }
  }
  if (pairs.length < 2)
    throw new Error(
      `--data ${dir}: found ${pairs.length} image/mask pairs; need at least 2 (images/ + masks/, or <name>.png + <name>.mask.png)`,
    );
  const count = pairs.length;
  const images = new Uint8Array(count * size * size * 3);
  const masks = new Uint8Array(count * size * size);
  let maxId = -1;
  pairs.forEach(([ip, mp], i) => {
    const img = readPng(ip);
    const m = readPng(mp);
    const ids = toIds(m, mp);
    if (m.width * img.height !== img.width * m.height)
      throw new Error(`${mp}: ${m.width}x${m.height}, but its image is ${img.width}x${img.height}`);
    images.set(resizeArea(toRgb(img), img.width, img.height, size), i * size * size * 3);
    const mm = resizeNearest(ids, m.width, m.height, 1, size);
    masks.set(mm, i * size * size);
    for (const v of mm) if (v !== IGNORE && v > maxId) maxId = v;
  });
  let classes;
  const json = join(dir, 'samples.json');
  if (existsSync(json)) {
    const meta = JSON.parse(readFileSync(json, 'utf8'));
    if (Array.isArray(meta.classes) && meta.classes.length > maxId)
      classes = meta.classes.map((c) => ({ name: String(c.name), color: c.color }));
  }
  classes ??= Array.from({ length: maxId + 1 }, (_, c) => ({
    name: `class ${c}`,
    color: c < CLASSES.length ? CLASSES[c].color : hashColor(c),
  }));
  return {
    count,
    size,
    images,
    masks,
    classes,
    ignoreIndex: IGNORE,
    source: `${dir} (${count} image/mask pairs, resized to ${size}x${size})`,
  };
}

function hashColor(c) {
  const r = rng(c * 7919 + 17);
  return [r.int(30, 255), r.int(30, 255), r.int(30, 255)];
}
