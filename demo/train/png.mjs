// A tiny PNG codec on node:zlib, no dependencies: what the training demo needs to read a user's
// images and masks and to write its grid.
//
//   decodePng(bytes) -> { width, height, channels, data, palette? }
//     8-bit (and 16-bit, kept to the high byte) gray, gray+alpha, RGB, RGBA and 8-bit palette
//     images, not interlaced, every row filter. Palette images decode to their indices
//     (channels 1) with the palette beside them: a palette mask is read as class ids.
//   encodePng(width, height, channels, data, { palette, filter }) -> bytes
//     8-bit gray (1), RGB (3), RGBA (4), or palette indices (1 + palette); each row gets the
//     filter with the smallest sum of |bytes| (the usual heuristic), or `filter` for every row.
// (demo/make-samples.mjs writes its samples with this encoder, filter "Up".)
import { deflateSync, inflateSync } from 'node:zlib';

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes, start, end) {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Samples per pixel of each PNG colour type. */
const SAMPLES = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes a PNG. Returns `{ width, height, channels, data: Uint8Array (H*W*channels), palette }`
 * where channels is 1 (gray or palette indices), 2 (gray+alpha), 3 (RGB) or 4 (RGBA), and
 * `palette` (Uint8Array of RGB triples) is set for palette images.
 * @param {Uint8Array} bytes
 * @param {string} [name] for error messages
 */
export function decodePng(bytes, name = 'PNG') {
  for (let i = 0; i < 8; i++) if (bytes[i] !== SIGNATURE[i]) throw new Error(`${name}: not a PNG file (bad signature)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let depth = 0;
  let type = -1;
  let palette;
  const idat = [];
  for (let o = 8; o + 12 <= bytes.length; ) {
    const len = dv.getUint32(o);
    const kind = String.fromCharCode(bytes[o + 4], bytes[o + 5], bytes[o + 6], bytes[o + 7]);
    const body = bytes.subarray(o + 8, o + 8 + len);
    if (o + 12 + len > bytes.length) throw new Error(`${name}: truncated ${kind} chunk`);
    if (dv.getUint32(o + 8 + len) !== crc32(bytes, o + 4, o + 8 + len))
      throw new Error(`${name}: bad CRC in ${kind} chunk`);
    if (kind === 'IHDR') {
      const h = new DataView(body.buffer, body.byteOffset, 13);
      width = h.getUint32(0);
      height = h.getUint32(4);
      depth = body[8];
      type = body[9];
      if (body[12] !== 0) throw new Error(`${name}: interlaced PNGs are not supported (save it without interlacing)`);
      if (!(type in SAMPLES)) throw new Error(`${name}: unknown colour type ${type}`);
      const ok = type === 3 ? depth === 8 : depth === 8 || depth === 16;
      if (!ok)
        throw new Error(
          `${name}: bit depth ${depth} of colour type ${type} is not supported (8-bit images, 8-bit palettes, 16-bit gray/RGB)`,
        );
    } else if (kind === 'PLTE') {
      palette = Uint8Array.from(body);
    } else if (kind === 'IDAT') {
      idat.push(body);
    } else if (kind === 'IEND') {
      break;
    }
    o += 12 + len;
  }
  if (type < 0) throw new Error(`${name}: no IHDR chunk`);
  if (type === 3 && !palette) throw new Error(`${name}: palette image without a PLTE chunk`);
  const spp = SAMPLES[type];
  const bpp = (spp * depth) / 8; // bytes per pixel (filter unit)
  const stride = width * bpp;
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length < height * (stride + 1)) throw new Error(`${name}: image data too short`);
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const up = dst - stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? rows[dst + i - bpp] : 0;
      const b = y > 0 ? rows[up + i] : 0;
      const c = y > 0 && i >= bpp ? rows[up + i - bpp] : 0;
      const x = raw[src + i];
      let v;
      switch (f) {
        case 0:
          v = x;
          break;
        case 1:
          v = x + a;
          break;
        case 2:
          v = x + b;
          break;
        case 3:
          v = x + ((a + b) >> 1);
          break;
        case 4:
          v = x + paeth(a, b, c);
          break;
        default:
          throw new Error(`${name}: bad filter type ${f} in row ${y}`);
      }
      rows[dst + i] = v & 0xff;
    }
  }
  const n = width * height * spp;
  const data = depth === 8 ? rows : Uint8Array.from({ length: n }, (_, i) => rows[2 * i]); // 16-bit: high byte
  return { width, height, channels: spp, data, palette };
}

function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/**
 * Encodes 8-bit pixels as a PNG.
 * @param {number} width
 * @param {number} height
 * @param {1|3|4} channels 1 = gray (or palette indices with options.palette), 3 = RGB, 4 = RGBA
 * @param {Uint8Array} data H*W*channels bytes, rows top to bottom
 * @param {{ palette?: Uint8Array | number[][], filter?: 0 | 1 | 2 | 3 | 4 }} [options] `palette`:
 *   RGB triples, writes a palette image; `filter`: that row filter for every row (default: per
 *   row, the one with the smallest sum of |bytes|)
 */
export function encodePng(width, height, channels, data, options = {}) {
  const type = options.palette ? 3 : { 1: 0, 3: 2, 4: 6 }[channels];
  if (type === undefined || (options.palette && channels !== 1))
    throw new Error('encodePng: channels must be 1, 3 or 4 (1 with a palette)');
  if (data.length !== width * height * channels)
    throw new Error(`encodePng: ${data.length} bytes for ${width}x${height}x${channels}`);
  const bpp = channels;
  const stride = width * bpp;
  const raw = new Uint8Array(height * (stride + 1));
  const cand = Array.from({ length: 5 }, () => new Uint8Array(stride));
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    let best = options.filter ?? 0;
    let bestCost = Infinity;
    for (let f = options.filter ?? 0; f <= (options.filter ?? 4); f++) {
      const out = cand[f];
      let cost = 0;
      for (let i = 0; i < stride; i++) {
        const x = data[row + i];
        const a = i >= bpp ? data[row + i - bpp] : 0;
        const b = y > 0 ? data[row - stride + i] : 0;
        const c = y > 0 && i >= bpp ? data[row - stride + i - bpp] : 0;
        const p = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
        const v = (x - p) & 0xff;
        out[i] = v;
        cost += v < 128 ? v : 256 - v;
      }
      if (cost < bestCost) {
        bestCost = cost;
        best = f;
      }
    }
    raw[y * (stride + 1)] = best;
    raw.set(cand[best], y * (stride + 1) + 1);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, type, 0, 0, 0], 8);
  const parts = [Uint8Array.from(SIGNATURE), chunk('IHDR', ihdr)];
  if (options.palette) {
    const p = options.palette instanceof Uint8Array ? options.palette : Uint8Array.from(options.palette.flat());
    parts.push(chunk('PLTE', p));
  }
  parts.push(chunk('IDAT', new Uint8Array(deflateSync(raw, { level: 9 }))), chunk('IEND', new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
