// PNG mask -> uint8 tensor, in Node 20+ (ESM). npm i xent-wasm fast-png
//   node png-mask.mjs <mask.png> <logits.bin>   (logits: float32 little-endian, NCHW [1, C, H, W])
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decode } from 'fast-png';
import { Xent } from 'xent-wasm';

/** An 8-bit gray or palette PNG of class ids as a new uint8 tensor [1, H, W]. */
export function readMask(xent, file) {
  const png = decode(readFileSync(file)); // palette PNGs decode to their indices: the class ids
  if (png.channels !== 1 || png.depth !== 8)
    throw new Error(`${file}: need an 8-bit gray or palette PNG, got ${png.channels} channel(s) of ${png.depth} bits`);
  const mask = xent.tensor('uint8', [1, png.height, png.width]);
  mask.data.set(png.data); // the one copy: fast-png cannot decode into a given buffer
  return mask;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [maskFile, logitsFile] = process.argv.slice(2);
  const xent = await Xent.create();
  let mask;
  let logits;
  try {
    mask = readMask(xent, maskFile);
    const [, H, W] = mask.shape;
    const bytes = readFileSync(logitsFile);
    logits = xent.tensor('float32', [1, bytes.length / 4 / (H * W), H, W]); // throws unless C is whole
    new Uint8Array(logits.data.buffer, logits.data.byteOffset, logits.data.byteLength).set(bytes);
    const { loss, weightSum } = xent.crossEntropy(logits, mask, { ignoreIndex: 255 });
    console.log(`${maskFile}: ${W}×${H}, ${weightSum} pixels scored, mean loss ${loss}`);
  } finally {
    mask?.dispose();
    logits?.dispose();
    xent.dispose();
  }
}
