// The training demo (demo/train/): its generated dataset, the --data loader (PNGs of every kind
// fast-png reads), and a short end-to-end run (TF.js wasm backend + xent-wasm/tfjs) that must
// raise the mIoU.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { decode as decodePng, encode as encodePng } from 'fast-png';
import { afterAll, describe, expect, it } from 'vitest';
import { CLASSES, IGNORE, loadFolder, syntheticDataset } from '../demo/train/data.mjs';

const TRAIN = resolve(__dirname, '../demo/train/train.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'xent-train-demo-'));
// Child processes run asynchronously (not execFileSync), so that the test worker's event loop
// stays free for vitest's RPC while a training run takes half a minute on a loaded machine.
const run = promisify(execFile);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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

  it('--export-data writes PNGs (palette masks) that --data reads back exactly; flat <name>.png + <name>.mask.png too', async () => {
    const dir = join(tmp, 'exported');
    await run(process.execPath, [TRAIN, '--export-data', dir, '--count', '12'], { encoding: 'utf8' });
    const back = loadFolder(dir);
    const orig = syntheticDataset({ count: 12 });
    expect(back.count).toBe(12);
    expect(back.images).toEqual(orig.images);
    expect(back.masks).toEqual(orig.masks);
    expect(back.classes.map((c) => c.name)).toEqual(CLASSES.map((c) => c.name));
    const exported = decodePng(readFileSync(join(dir, 'masks', '0000.png')));
    expect(exported.palette?.length).toBe(256);
    expect(exported.data).toEqual(orig.masks.subarray(0, 64 * 64)); // the indices are the class ids

    // Flat pairs, 2x larger gray masks and RGBA images: resized to 64 (nearest for masks).
    const flat = join(tmp, 'flat');
    mkdirSync(flat, { recursive: true });
    for (let i = 0; i < 3; i++) {
      const rgba = new Uint8Array(128 * 128 * 4).fill(200);
      const mask = Uint8Array.from({ length: 128 * 128 }, (_, k) =>
        Math.floor(k / 128) < 64 ? 0 : k % 128 < 64 ? 1 : IGNORE,
      );
      writeFileSync(join(flat, `s${i}.png`), encodePng({ width: 128, height: 128, channels: 4, data: rgba }));
      writeFileSync(join(flat, `s${i}.mask.png`), encodePng({ width: 128, height: 128, channels: 1, data: mask }));
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

  it('--data reads 1/2/4/8-bit palette and 16-bit gray masks as class ids, and gray, gray+alpha, 16-bit and palette images as RGB', () => {
    const W = 64;
    const ids = Uint8Array.from({ length: W * W }, (_, k) => (k * 7 + Math.floor(k / W)) % 3); // ids 0..2
    const pack = (v: Uint8Array, depth: number) => {
      const row = Math.ceil((W * depth) / 8);
      const out = new Uint8Array(row * W);
      for (let y = 0; y < W; y++)
        for (let x = 0; x < W; x++) {
          const bit = x * depth;
          out[y * row + (bit >> 3)]! |= v[y * W + x]! << (8 - depth - (bit & 7));
        }
      return out;
    };
    const palette = [
      [10, 20, 30],
      [40, 50, 60],
      [70, 80, 90],
      [100, 110, 120],
    ];
    const gray = Uint8Array.from(ids, (v) => 40 * v);
    const cases: { mask: Parameters<typeof encodePng>[0]; image: Parameters<typeof encodePng>[0]; rgb0: number[] }[] = [
      {
        mask: {
          width: W,
          height: W,
          channels: 1,
          depth: 1,
          palette,
          data: pack(
            ids.map((v) => v & 1),
            1,
          ),
        },
        image: { width: W, height: W, channels: 1, data: gray },
        rgb0: [0, 0, 0],
      },
      {
        mask: { width: W, height: W, channels: 1, depth: 2, palette, data: pack(ids, 2) },
        image: {
          width: W,
          height: W,
          channels: 2,
          data: Uint8Array.from({ length: 2 * W * W }, (_, i) => (i % 2 ? 9 : 77)),
        },
        rgb0: [77, 77, 77],
      },
      {
        mask: { width: W, height: W, channels: 1, depth: 4, palette, data: pack(ids, 4) },
        image: { width: W, height: W, channels: 1, depth: 8, palette, data: ids.map((v) => v + 1) },
        rgb0: palette[ids[0]! + 1]!,
      },
      {
        mask: { width: W, height: W, channels: 1, depth: 16, data: Uint16Array.from(ids) },
        image: { width: W, height: W, channels: 3, depth: 16, data: new Uint16Array(3 * W * W).fill(0xff00) },
        rgb0: [254, 254, 254], // 0xff00 / 257, rounded
      },
    ];
    for (const [i, c] of cases.entries()) {
      const dir = join(tmp, `kinds-${i}`);
      mkdirSync(dir, { recursive: true });
      for (const n of [0, 1]) {
        writeFileSync(join(dir, `s${n}.png`), encodePng(c.image));
        writeFileSync(join(dir, `s${n}.mask.png`), encodePng(c.mask));
      }
      const d = loadFolder(dir, { size: W });
      const want = c.mask.depth === 1 ? ids.map((v) => v & 1) : ids;
      expect(d.masks.subarray(0, W * W), `case ${i}`).toEqual(want);
      expect(Array.from(d.images.subarray(0, 3)), `case ${i}`).toEqual(c.rgb0);
    }
    // An RGB "mask" is refused.
    const bad = join(tmp, 'kinds-bad');
    mkdirSync(bad, { recursive: true });
    for (const n of [0, 1]) {
      writeFileSync(join(bad, `s${n}.png`), encodePng(cases[0]!.image));
      writeFileSync(
        join(bad, `s${n}.mask.png`),
        encodePng({ width: W, height: W, channels: 3, data: new Uint8Array(3 * W * W) }),
      );
    }
    expect(() => loadFolder(bad)).toThrow(/a mask must be a gray or palette PNG of class ids \(it has 3 channels\)/);
    writeFileSync(join(bad, 's0.mask.png'), new Uint8Array([1, 2, 3]));
    expect(() => loadFolder(bad)).toThrow(/s0\.mask\.png: cannot decode this PNG/);
  });
});

describe('demo/train/train.mjs (end to end)', () => {
  it('trains on a small generated set: one line per epoch without a TTY, mIoU rises, grid.png written', async () => {
    const out = join(tmp, 'out');
    const { stdout } = await run(process.execPath, [TRAIN, '--count', '48', '--epochs', '3', '--out', out], {
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
