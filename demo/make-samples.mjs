#!/usr/bin/env node
// Generates the demo's samples, deterministically: synthetic street scenes (road, sidewalk,
// buildings, trees, sky, people, cars, and unlabelled poles/signs), each as
//
//   <id>.png          the RGB image (8-bit PNG)
//   <id>.mask.png     the ground truth: class ids as an 8-bit grayscale PNG (255 = void/ignored)
//   <id>.logits.bin   a "model's" logits: float32 little-endian, NCHW [1, C, H, W]
//   <id>.logits-quarter.bin  the same at 1/4 of the resolution, NCHW [1, C, H/4, W/4]: the mean
//                     of each 4×4 block (SegFormer-like models output logits at 1/4 and the
//                     page scores them against the full-resolution mask with `resize`)
//
// plus samples.json (classes, palette, files). The logits are mostly right, with the errors a
// real segmentation model makes: soft boundaries, thin and far objects lost, sidewalk patches
// taken for road, and a class for the unlabelled poles (which are ignored in the scores).
//
//   node demo/make-samples.mjs [outDir]     (default demo/samples)
//
// Only +, -, *, /, sqrt and floor are used on floats (no Math.sin/exp/...), so the bytes are
// the same on every JavaScript engine; test/browser/demo-samples.test.ts checks the committed
// files against this generator. The PNGs are written by fast-png (a devDependency).
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encode } from 'fast-png';

/** Cityscapes' names and colours for the classes of the demo. */
export const CLASSES = Object.freeze([
  { name: 'road', color: [128, 64, 128] },
  { name: 'sidewalk', color: [244, 35, 232] },
  { name: 'building', color: [70, 70, 70] },
  { name: 'vegetation', color: [107, 142, 35] },
  { name: 'sky', color: [70, 130, 180] },
  { name: 'person', color: [220, 20, 60] },
  { name: 'car', color: [0, 0, 142] },
]);
export const IGNORE = 255;
const [ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, PERSON, CAR] = [0, 1, 2, 3, 4, 5, 6];
const C = CLASSES.length;

export const WIDTH = 128;
export const HEIGHT = 72;

/** The samples: id, title and seed. */
export const SAMPLES = Object.freeze([
  { id: 'street-1', title: 'Street, two cars', seed: 11 },
  { id: 'street-2', title: 'Busy street, pedestrians', seed: 23 },
  { id: 'street-3', title: 'Avenue with trees', seed: 47 },
]);

// ---- PNG -------------------------------------------------------------------------------
/**
 * An 8-bit PNG of `channels` 1 (grayscale) or 3 (RGB), rows top to bottom, written by fast-png
 * (deflate level 9).
 */
export function encodePng(width, height, channels, pixels) {
  if (channels !== 1 && channels !== 3) throw new Error('encodePng: channels must be 1 or 3');
  if (pixels.length !== width * height * channels) throw new Error('encodePng: pixels has the wrong length');
  return encode({ width, height, channels, depth: 8, data: pixels }, { zlib: { level: 9 } });
}

// ---- Deterministic randomness -------------------------------------------------------------
function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    range: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
  };
}

/** Smooth value noise in [-1, 1]: random values on a grid of `cell` pixels, smoothstep-interpolated. */
function valueNoise(r, width, height, cell) {
  const gw = Math.floor(width / cell) + 2;
  const gh = Math.floor(height / cell) + 2;
  const g = Float64Array.from({ length: gw * gh }, () => r.next() * 2 - 1);
  const out = new Float64Array(width * height);
  const smooth = (t) => t * t * (3 - 2 * t);
  for (let y = 0; y < height; y++) {
    const gy = y / cell;
    const y0 = Math.floor(gy);
    const ty = smooth(gy - y0);
    for (let x = 0; x < width; x++) {
      const gx = x / cell;
      const x0 = Math.floor(gx);
      const tx = smooth(gx - x0);
      const a = g[y0 * gw + x0] + (g[y0 * gw + x0 + 1] - g[y0 * gw + x0]) * tx;
      const b = g[(y0 + 1) * gw + x0] + (g[(y0 + 1) * gw + x0 + 1] - g[(y0 + 1) * gw + x0]) * tx;
      out[y * width + x] = a + (b - a) * ty;
    }
  }
  return out;
}

/** Box blur of radius `r` (clamped at the borders), in place over a width×height plane. */
function boxBlur(plane, width, height, r) {
  const tmp = new Float64Array(plane.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let d = -r; d <= r; d++) s += plane[y * width + Math.min(width - 1, Math.max(0, x + d))];
      tmp[y * width + x] = s / (2 * r + 1);
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let d = -r; d <= r; d++) s += tmp[Math.min(height - 1, Math.max(0, y + d)) * width + x];
      plane[y * width + x] = s / (2 * r + 1);
    }
  }
}

const clamp255 = (v) => Math.max(0, Math.min(255, Math.round(v)));

// ---- The scene ------------------------------------------------------------------------------

/**
 * One sample: `{ width, height, rgb (H*W*3), mask (H*W class ids, 255 void), logits (float32,
 * NCHW [1, C, H, W]) }`, from `seed`.
 */
export function makeSample(seed, width = WIDTH, height = HEIGHT) {
  const r = rng(seed);
  const W = width;
  const H = height;
  const mask = new Uint8Array(W * H);
  const rgb = new Float64Array(W * H * 3);
  // What the pixel looks like to the "model" (void pixels look like something).
  const looks = new Uint8Array(W * H);
  const paint = (x, y, cls, color, looksLike = cls) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const i = y * W + x;
    mask[i] = cls;
    looks[i] = looksLike;
    rgb[3 * i] = color[0];
    rgb[3 * i + 1] = color[1];
    rgb[3 * i + 2] = color[2];
  };
  const texture = valueNoise(r, W, H, 3);
  const fine = Float64Array.from({ length: W * H }, () => r.next() * 2 - 1);

  const yh = Math.floor(H * r.range(0.4, 0.48)); // horizon
  const vx = W * r.range(0.42, 0.58); // vanishing point
  const depth = (y) => Math.max(0, (y - yh) / (H - yh)); // 0 at the horizon, 1 at the bottom
  const roadHalf = (y) => depth(y) * W * r0;
  const walk = (y) => depth(y) * W * w0;
  const r0 = r.range(0.36, 0.46);
  const w0 = r.range(0.18, 0.26);

  // Sky and buildings (skyline in blocks, taller towards the sides).
  const skyline = new Float64Array(W);
  const blockColor = new Array(W);
  const windowsOn = new Array(W);
  for (let x = 0; x < W; ) {
    const bw = r.int(8, 22);
    const side = Math.abs(x + bw / 2 - vx) / (W / 2);
    const top = yh - (0.25 + 0.75 * side) * r.range(0.5, 1) * yh * 0.95;
    const base = r.pick([
      [112, 108, 104],
      [150, 132, 112],
      [128, 84, 70],
      [96, 100, 108],
      [170, 160, 140],
    ]);
    for (let k = x; k < Math.min(W, x + bw); k++) {
      skyline[k] = top;
      blockColor[k] = base;
      windowsOn[k] = (k - x) % 4 !== 0 && k - x > 0 && k - x < bw - 1;
    }
    x += bw;
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const t = y / H;
      if (y < skyline[x]) {
        const cloud = Math.max(0, texture[i] * 0.8 + fine[i] * 0.05) * 50;
        paint(x, y, SKY, [105 + 90 * t + cloud, 150 + 60 * t + cloud, 215 + 15 * t + cloud]);
      } else {
        const b = blockColor[x];
        const win = windowsOn[x] && (y - Math.floor(skyline[x])) % 4 >= 2 && y < yh + 2;
        const shade = 1 - (0.25 * Math.abs(x - vx)) / W + texture[i] * 0.06;
        const c = win ? [48, 60, 78] : [b[0] * shade, b[1] * shade, b[2] * shade];
        paint(x, y, BUILDING, c);
      }
    }
  }
  // Road and sidewalks (below the horizon).
  for (let y = yh; y < H; y++) {
    const half = roadHalf(y);
    const wk = walk(y);
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const dx = x - vx;
      if (Math.abs(dx) <= half) {
        const lane = Math.abs(dx) < 0.02 * W * depth(y) + 0.4 && Math.floor((y - yh) * (1 + 3 * depth(y))) % 8 < 4;
        const g = 82 + texture[i] * 8 + fine[i] * 6;
        paint(x, y, ROAD, lane ? [215, 215, 205] : [g, g, g + 4]);
      } else if (Math.abs(dx) <= half + wk) {
        const tile = (x + y) % 6 === 0 || (x - y + 600) % 6 === 0;
        const g = 158 + texture[i] * 10 + fine[i] * 5 - (tile ? 18 : 0);
        paint(x, y, SIDEWALK, [g + 4, g, g - 6]);
      }
    }
  }
  // Things on the street, far to near.
  const things = [];
  for (let k = r.int(2, 4); k > 0; k--)
    things.push({ kind: 'car', y: r.range(yh + 6, H + 4), u: r.range(-0.75, 0.75) });
  for (let k = r.int(1, 4); k > 0; k--)
    things.push({ kind: 'person', y: r.range(yh + 8, H + 2), side: r.pick([-1, 1]), u: r.range(0.15, 0.8) });
  for (let k = r.int(1, 3); k > 0; k--)
    things.push({ kind: 'tree', y: r.range(yh + 4, H - 4), side: r.pick([-1, 1]), u: r.range(0.3, 0.9) });
  things.push({ kind: 'pole', y: r.range(yh + 10, H - 6), side: r.pick([-1, 1]), u: r.range(0.4, 0.7) });
  things.sort((a, b) => a.y - b.y);
  for (const t of things) {
    const s = depth(Math.min(H - 1, t.y)) + 0.08;
    const yb = Math.floor(t.y);
    if (t.kind === 'car') {
      const cw = 44 * s;
      const ch = cw * 0.5;
      const cx = vx + t.u * roadHalf(Math.min(H - 1, t.y)) * 0.8;
      const body = r.pick([
        [170, 30, 30],
        [30, 60, 150],
        [225, 225, 225],
        [40, 40, 44],
        [150, 155, 160],
      ]);
      for (let y = Math.floor(yb - ch); y <= yb; y++) {
        const f = (yb - y) / ch; // 0 at the bottom, 1 at the roof
        const half = f < 0.55 ? cw / 2 : (cw / 2) * (1 - (f - 0.55) * 0.9);
        for (let x = Math.floor(cx - half); x <= cx + half; x++) {
          const wheel = f < 0.18 && Math.abs(Math.abs(x - cx) - cw * 0.32) < cw * 0.1;
          const glass = f > 0.6 && f < 0.92 && Math.abs(x - cx) < half - 1;
          const c = wheel ? [20, 20, 20] : glass ? [60, 80, 100] : body.map((v) => v * (0.85 + 0.15 * f));
          paint(x, y, CAR, c);
        }
      }
    } else if (t.kind === 'person') {
      const ph = 30 * s;
      const px = vx + t.side * (roadHalf(Math.min(H - 1, t.y)) + walk(Math.min(H - 1, t.y)) * t.u);
      const cloth = r.pick([
        [40, 40, 60],
        [120, 30, 30],
        [30, 90, 60],
        [80, 70, 60],
      ]);
      for (let y = Math.floor(yb - ph); y <= yb; y++) {
        const f = (yb - y) / ph;
        const head = f > 0.82;
        const half = head ? ph * 0.09 : f < 0.45 ? ph * 0.09 : ph * 0.14;
        for (let x = Math.floor(px - half); x <= px + half; x++) {
          if (!head && f < 0.45 && Math.abs(x - px) < half * 0.35 && half > 1) continue; // between the legs
          paint(x, y, PERSON, head ? [224, 180, 150] : cloth);
        }
      }
    } else if (t.kind === 'tree') {
      const th = 46 * s;
      const tx = vx + t.side * (roadHalf(Math.min(H - 1, t.y)) + walk(Math.min(H - 1, t.y)) * t.u);
      const rad = th * 0.32;
      const cy = yb - th + rad;
      for (let y = Math.floor(cy - rad); y <= yb; y++) {
        for (let x = Math.floor(tx - rad); x <= tx + rad; x++) {
          const dx = x - tx;
          const dy = y - cy;
          const inCrown =
            dx * dx + dy * dy * 1.3 <=
            rad *
              rad *
              (0.85 + 0.3 * (texture[Math.max(0, Math.min(H - 1, y)) * W + Math.max(0, Math.min(W - 1, x))] + 0.5));
          const inTrunk = y > cy && Math.abs(dx) <= Math.max(0.6, th * 0.04);
          if (inCrown) {
            const i = Math.max(0, Math.min(H - 1, y)) * W + Math.max(0, Math.min(W - 1, x));
            const g = 0.75 + texture[i] * 0.2 + fine[i] * 0.12;
            paint(x, y, VEGETATION, [60 * g, 110 * g, 40 * g]);
          } else if (inTrunk) paint(x, y, VEGETATION, [90, 64, 40]);
        }
      }
    } else {
      // An unlabelled pole with a sign: void in the ground truth (ignored), looks like a building.
      const ph = 48 * s;
      const px = Math.floor(vx + t.side * (roadHalf(Math.min(H - 1, t.y)) + walk(Math.min(H - 1, t.y)) * t.u));
      for (let y = Math.floor(yb - ph); y <= yb; y++) paint(px, y, IGNORE, [120, 120, 124], BUILDING);
      const sw = Math.max(2, Math.floor(8 * s));
      for (let y = Math.floor(yb - ph); y < yb - ph + sw; y++) {
        for (let x = px - Math.floor(sw / 2); x <= px + Math.floor(sw / 2); x++)
          paint(x, y, IGNORE, [30, 70, 170], BUILDING);
      }
    }
  }

  // ---- The "model": soft class maps, correlated noise, typical confusions ----
  const logits = new Float32Array(C * W * H);
  const soft = [];
  for (let c = 0; c < C; c++) {
    const p = new Float64Array(W * H);
    for (let i = 0; i < W * H; i++) p[i] = looks[i] === c ? 1 : 0;
    boxBlur(p, W, H, 2);
    boxBlur(p, W, H, 1);
    soft.push(p);
  }
  const confuse = valueNoise(r, W, H, 10); // where sidewalk looks like road
  for (let c = 0; c < C; c++) {
    const noise = valueNoise(r, W, H, 6);
    for (let y = 0; y < H; y++) {
      const far = y < yh ? 0.45 : 1 - depth(y); // errors grow with distance along the street
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        let z = 6 * soft[c][i] + (1.5 + 2.0 * far) * noise[i] + 0.12 * fine[(i * 7 + c * 13) % (W * H)];
        if (c === ROAD) z += 7 * soft[SIDEWALK][i] * Math.max(0, confuse[i] + 0.15);
        if (c === BUILDING) z += 5 * (soft[VEGETATION][i] + soft[PERSON][i]) * Math.max(0, -confuse[i] - 0.1);
        if (c === SKY) z += 3 * soft[BUILDING][i] * Math.max(0, confuse[i] - 0.3) * far;
        logits[c * W * H + i] = z * 1.4 - 2;
      }
    }
  }
  return { width: W, height: H, rgb: Uint8Array.from(rgb, clamp255), mask, logits };
}

/** The scale of the low-resolution logits: 1/4, as SegFormer's decode head outputs them. */
export const QUARTER = 4;

/**
 * Average-pools NCHW [1, C, H, W] logits by QUARTER × QUARTER blocks (H and W multiples of it):
 * [1, C, H/4, W/4]. The 16 values are added in a fixed order and multiplied by 1/16 (exact), so
 * the bytes are the same on every engine.
 * @param {Float32Array} logits
 * @param {number} W
 * @param {number} H
 */
export function quarterLogits(logits, W, H) {
  const [w, h] = [W / QUARTER, H / QUARTER];
  const out = new Float32Array(C * w * h);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let dy = 0; dy < QUARTER; dy++)
          for (let dx = 0; dx < QUARTER; dx++) s += logits[(c * H + y * QUARTER + dy) * W + x * QUARTER + dx];
        out[(c * h + y) * w + x] = s * (1 / (QUARTER * QUARTER));
      }
  return out;
}

/** The files of every sample and samples.json, as `{ name: bytes }`. */
export function sampleFiles() {
  const files = {};
  const index = {
    generator: 'demo/make-samples.mjs',
    classes: CLASSES.map((c) => ({ name: c.name, color: c.color })),
    ignoreIndex: IGNORE,
    samples: /** @type {object[]} */ ([]),
  };
  for (const s of SAMPLES) {
    const m = makeSample(s.seed);
    files[`${s.id}.png`] = encodePng(m.width, m.height, 3, m.rgb);
    files[`${s.id}.mask.png`] = encodePng(m.width, m.height, 1, m.mask);
    files[`${s.id}.logits.bin`] = new Uint8Array(m.logits.buffer.slice(0));
    files[`${s.id}.logits-quarter.bin`] = new Uint8Array(quarterLogits(m.logits, m.width, m.height).buffer);
    index.samples.push({
      id: s.id,
      title: s.title,
      width: m.width,
      height: m.height,
      image: `${s.id}.png`,
      mask: `${s.id}.mask.png`,
      logits: `${s.id}.logits.bin`,
      logitsShape: [1, C, m.height, m.width],
      layout: 'NCHW',
      quarter: {
        logits: `${s.id}.logits-quarter.bin`,
        logitsShape: [1, C, m.height / QUARTER, m.width / QUARTER],
      },
    });
  }
  files['samples.json'] = new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`);
  return files;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = resolve(process.argv[2] ?? fileURLToPath(new URL('./samples/', import.meta.url)));
  mkdirSync(out, { recursive: true });
  let total = 0;
  for (const [name, bytes] of Object.entries(sampleFiles())) {
    writeFileSync(resolve(out, name), bytes);
    total += bytes.length;
    console.log(`make-samples: ${name} (${bytes.length} bytes)`);
  }
  console.log(`make-samples: ${total} bytes in ${out}`);
}
