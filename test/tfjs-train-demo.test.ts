// The training demo (demo/train/): its PNG codec, its generated dataset, the --data loader, and
// a short end-to-end run (TF.js wasm backend + xent-wasm/tfjs) that must raise the mIoU.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CLASSES, IGNORE, loadFolder, syntheticDataset } from '../demo/train/data.mjs';
import { decodePng, encodePng } from '../demo/train/png.mjs';

const TRAIN = resolve(__dirname, '../demo/train/train.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'xent-train-demo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function rand(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a >>> 24;
  };
}

/** A PNG built by hand (filter 0 rows), for what the encoder does not write. */
function rawPng(
  width: number,
  height: number,
  depth: number,
  type: number,
  rows: Uint8Array,
  interlace = 0,
): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const chunk = (kind: string, body: Uint8Array) => {
    const out = new Uint8Array(12 + body.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, body.length);
    for (let i = 0; i < 4; i++) out[4 + i] = kind.charCodeAt(i);
    out.set(body, 8);
    let c = 0xffffffff;
    for (let i = 4; i < 8 + body.length; i++) c = crcTable[(c ^ out[i]!) & 0xff]! ^ (c >>> 8);
    dv.setUint32(8 + body.length, (c ^ 0xffffffff) >>> 0);
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([depth, type, 0, 0, interlace], 8);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

describe('demo/train/png.mjs', () => {
  it('round-trips gray, RGB, RGBA and palette images, using every row filter', () => {
    const filters = new Set<number>();
    for (const [w, h] of [
      [1, 1],
      [7, 5],
      [33, 17],
    ] as const) {
      for (const channels of [1, 3, 4] as const) {
        const r = rand(w * 100 + channels);
        // Smooth gradients plus noise, so that different rows prefer different filters.
        const data = Uint8Array.from(
          { length: w * h * channels },
          (_, i) => (((i % (w * channels)) * 3 + Math.floor(i / (w * channels)) * 5) & 0xff) ^ (r() & 3),
        );
        const png = encodePng(w, h, channels, data);
        const d = decodePng(png);
        expect([d.width, d.height, d.channels]).toEqual([w, h, channels]);
        expect(d.data).toEqual(data);
        // Filter bytes of the rows.
        const idat = png.subarray(33 + 8, png.length - 12 - 4); // IHDR is 25 bytes after the signature; one IDAT
        const raw = inflateSync(idat);
        for (let y = 0; y < h; y++) filters.add(raw[y * (w * channels + 1)]!);
      }
    }
    // An image that the Average filter predicts exactly: v = (left + up) >> 1 inside, random edges.
    const r = rand(99);
    const avg = new Uint8Array(20 * 20);
    for (let y = 0; y < 20; y++)
      for (let x = 0; x < 20; x++)
        avg[y * 20 + x] = x === 0 || y === 0 ? r() : (avg[y * 20 + x - 1]! + avg[(y - 1) * 20 + x]!) >> 1;
    const png = encodePng(20, 20, 1, avg);
    expect(decodePng(png).data).toEqual(avg);
    const raw = inflateSync(png.subarray(41, png.length - 16));
    for (let y = 0; y < 20; y++) filters.add(raw[y * 21]!);
    expect([...filters].sort()).toEqual([0, 1, 2, 3, 4]);
    const palette = new Uint8Array(256 * 3).map((_, i) => (i * 7) & 0xff);
    const ids = Uint8Array.from({ length: 40 * 30 }, (_, i) => (i % 9 === 0 ? 255 : i % 6));
    const d = decodePng(encodePng(40, 30, 1, ids, { palette }));
    expect(d.channels).toBe(1);
    expect(d.data).toEqual(ids); // palette images decode to their indices
    expect(d.palette).toEqual(palette);
  });

  it('reads 16-bit and gray+alpha images, and rejects interlaced, truncated or corrupt files', () => {
    // 2x2 16-bit RGB: each sample's high byte is kept.
    const rows16 = Uint8Array.from([
      0, 10, 1, 20, 2, 30, 3, 40, 4, 50, 5, 60, 6, 0, 70, 7, 80, 8, 90, 9, 100, 10, 110, 11, 120, 12,
    ]);
    const d16 = decodePng(rawPng(2, 2, 16, 2, rows16));
    expect(d16.channels).toBe(3);
    expect(Array.from(d16.data)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]);
    const ga = decodePng(rawPng(2, 1, 8, 4, Uint8Array.from([0, 5, 255, 6, 128])));
    expect([ga.channels, ...ga.data]).toEqual([2, 5, 255, 6, 128]);
    expect(() => decodePng(rawPng(1, 1, 8, 0, Uint8Array.from([0, 1]), 1))).toThrow(/interlaced/);
    expect(() => decodePng(rawPng(1, 1, 4, 0, Uint8Array.from([0, 1])))).toThrow(/bit depth 4/);
    const ok = encodePng(3, 3, 3, new Uint8Array(27));
    const bad = ok.slice();
    bad[bad.length - 20]! ^= 0xff;
    expect(() => decodePng(bad)).toThrow(/CRC|data/);
    expect(() => decodePng(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(/not a PNG/);
  });
});

describe('demo/train/data.mjs', () => {
  it('generates the default dataset deterministically, unbalanced, with unlabelled pixels', () => {
    const a = syntheticDataset();
    const b = syntheticDataset();
    expect(Buffer.compare(b.images, a.images)).toBe(0);
    expect(Buffer.compare(b.masks, a.masks)).toBe(0);
    expect(a.count).toBe(384);
    const counts = new Float64Array(256);
    for (const v of a.masks) counts[v]!++;
    const frac = (c: number) => counts[c]! / a.masks.length;
    for (let c = 0; c < CLASSES.length; c++) expect(frac(c), CLASSES[c]!.name).toBeGreaterThan(0.01);
    expect(frac(IGNORE)).toBeGreaterThan(0.02);
    expect(frac(5)).toBeLessThan(0.05); // people are rare
    expect(Math.max(...CLASSES.map((_, c) => frac(c))) / frac(5)).toBeGreaterThan(5); // imbalance
    expect(a.masks.every((v) => v < CLASSES.length || v === IGNORE)).toBe(true);
  });

  it('--export-data writes PNGs (palette masks) that --data reads back exactly; flat <name>.png + <name>.mask.png too', () => {
    const dir = join(tmp, 'exported');
    execFileSync(process.execPath, [TRAIN, '--export-data', dir, '--count', '12'], { encoding: 'utf8' });
    const back = loadFolder(dir);
    const orig = syntheticDataset({ count: 12 });
    expect(back.count).toBe(12);
    expect(back.images).toEqual(orig.images);
    expect(back.masks).toEqual(orig.masks);
    expect(back.classes.map((c) => c.name)).toEqual(CLASSES.map((c) => c.name));
    expect(decodePng(readFileSync(join(dir, 'masks', '0000.png'))).palette).toBeDefined();

    // Flat pairs, 2x larger gray masks and RGBA images: resized to 64 (nearest for masks).
    const flat = join(tmp, 'flat');
    execFileSync('mkdir', ['-p', flat]);
    for (let i = 0; i < 3; i++) {
      const rgba = new Uint8Array(128 * 128 * 4).fill(200);
      const mask = Uint8Array.from({ length: 128 * 128 }, (_, k) =>
        Math.floor(k / 128) < 64 ? 0 : k % 128 < 64 ? 1 : IGNORE,
      );
      writeFileSync(join(flat, `s${i}.png`), encodePng(128, 128, 4, rgba));
      writeFileSync(join(flat, `s${i}.mask.png`), encodePng(128, 128, 1, mask));
    }
    const f = loadFolder(flat);
    expect(f.count).toBe(3);
    expect(f.classes.length).toBe(2);
    expect(f.masks[0]).toBe(0);
    expect(f.masks[31 * 64 + 63]).toBe(0);
    expect(f.masks[32 * 64 + 31]).toBe(1);
    expect(f.masks[63 * 64 + 32]).toBe(IGNORE);
    expect(new Set(f.masks.subarray(32 * 64, 64 * 64))).toEqual(new Set([1, IGNORE]));
    expect(f.images[0]).toBe(200);
  });
});

describe('demo/train/train.mjs (end to end)', () => {
  it('trains on a small generated set: one line per epoch without a TTY, mIoU rises, grid.png written', () => {
    const out = join(tmp, 'out');
    const stdout = execFileSync(process.execPath, [TRAIN, '--count', '48', '--epochs', '3', '--out', out], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/TF\.js 4\.\d+\.\d+ \((wasm|cpu) backend\)/);
    expect(stdout).not.toContain('\r'); // not a TTY: no progress bar
    expect(lines.filter((l) => /^epoch \d\/3 {2}train loss/.test(l))).toHaveLength(3);
    const m = /mIoU: first epoch ([\d.]+)% → last epoch ([\d.]+)%/.exec(stdout);
    expect(m, stdout).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(Number(m![1]));
    expect(stdout).toMatch(/the loss \(xent-wasm via the TF\.js adapter.*\) [\d.]+ s = [\d.]+%/);
    const grid = decodePng(readFileSync(join(out, 'grid.png')));
    expect([grid.width, grid.height, grid.channels]).toEqual([3 * 128 + 4 * 4, 6 * 128 + 7 * 4, 3]);
  });
});
