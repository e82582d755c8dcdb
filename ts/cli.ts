/**
 * `npx xent-wasm` (dist/cli.mjs; `npm run seed` in the repository): walks through the seed example
 * step by step, checks the fused kernel against a plain float64 computation and PyTorch, then times
 * a Cityscapes-sized batch. Its options are parsed strictly (node:util parseArgs): `--help` prints
 * the usage; an unknown option or a bad value prints the error and the usage, exit status 2.
 * @module
 */

import { parseArgs } from 'node:util';
import { Xent } from './index.js';

const USAGE = `Usage: xent-wasm [options]

Walks through the seed example of softmax cross-entropy (logits [1, 2, 2, 2], target [1, 2, 2])
step by step: softmax, log-softmax, NLL, mean; checks the fused wasm kernel against that float64
computation and PyTorch's value (1.0066), then times a Cityscapes-sized batch.

Options:
  --portable      use the portable build (no wasm SIMD)
  --simd          use the SIMD build (default: SIMD where the engine supports it)
  --runs <n>      timed runs of the batch, a positive integer (default: 5)
  --no-bench      skip the timing of the batch
  -h, --help      print this help and exit`;

/** The CLI's options, or the exit status when it must stop (0: --help, 2: a usage error). */
interface CliOptions {
  simd: boolean | undefined;
  runs: number;
  bench: boolean;
}

/** Parses the command line; prints the help or the usage error itself. */
function parseCli(argv: readonly string[]): CliOptions | number {
  let values: { portable?: boolean; simd?: boolean; runs?: string; 'no-bench'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        portable: { type: 'boolean' },
        simd: { type: 'boolean' },
        runs: { type: 'string' },
        'no-bench': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return usageError((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.portable && values.simd) return usageError('--portable and --simd exclude each other');
  let runs = 5;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!/^[0-9]+$/.test(values.runs) || !Number.isSafeInteger(runs) || runs < 1)
      return usageError(`--runs must be a positive integer, got ${JSON.stringify(values.runs)}`);
  }
  return {
    simd: values.portable ? false : values.simd ? true : undefined,
    runs,
    bench: !values['no-bench'],
  };
}

function usageError(message: string): number {
  console.error(`xent-wasm: error: ${message}\n\n${USAGE}`);
  return 2;
}

const fmt = (v: number, d = 6) => (Number.isNaN(v) ? 'NaN' : v.toFixed(d).padStart(d + 4));
const row = (xs: ArrayLike<number>, d = 6) => Array.from(xs, (v) => fmt(v, d)).join(' ');

async function main({ simd, runs: RUNS, bench }: CliOptions): Promise<void> {
  using xent = await Xent.create({ simd });
  console.log(`xent-wasm — ${xent.simd ? 'SIMD (simd128)' : 'portable'} build\n`);

  // ---- the seed example -------------------------------------------------------------------
  const N = 1,
    C = 2,
    H = 2,
    W = 2;
  const logitsNested = [
    [
      [
        [0.12, 0.36],
        [0.22, 0.66],
      ],
      [
        [0.13, 0.34],
        [0.52, -0.96],
      ],
    ],
  ];
  const targetNested = [
    [
      [1, 0],
      [0, 1],
    ],
  ];
  const logits = new Float32Array(logitsNested.flat(3));
  const target = new Uint8Array(targetNested.flat(2));
  const S = H * W;
  console.log('Seed example: logits shape [1, 2, 2, 2] (N, C, H, W), target shape [1, 2, 2] (N, H, W)');
  console.log(`  logits  = ${JSON.stringify(logitsNested)}`);
  console.log(`  target  = ${JSON.stringify(targetNested)}\n`);

  // Plain float64 arithmetic on the float32 logits (what the kernel sees), for display.
  const z = (c: number, p: number) => logits[c * S + p]!;
  const pixels = Array.from({ length: S }, (_, p) => p);
  const maxz = pixels.map((p) => Math.max(...Array.from({ length: C }, (_, c) => z(c, p))));
  const lse = pixels.map(
    (p) =>
      maxz[p]! + Math.log(Array.from({ length: C }, (_, c) => Math.exp(z(c, p) - maxz[p]!)).reduce((a, b) => a + b)),
  );
  console.log('Step 1 — softmax over the class dim, per pixel (pixel order (h, w) = (0,0) (0,1) (1,0) (1,1)):');
  for (let c = 0; c < C; c++)
    console.log(`  p[class ${c}]      = ${row(pixels.map((p) => Math.exp(z(c, p) - lse[p]!)))}`);
  console.log('Step 2 — log-softmax = z − logsumexp(z):');
  for (let c = 0; c < C; c++) console.log(`  logp[class ${c}]   = ${row(pixels.map((p) => z(c, p) - lse[p]!))}`);
  const nll = pixels.map((p) => -(z(target[p]!, p) - lse[p]!));
  console.log('Step 3 — NLL per pixel = −logp[target]:');
  console.log(`  target          = ${row(Array.from(target), 0)}`);
  console.log(`  nll             = ${row(nll)}`);
  const mean = nll.reduce((a, b) => a + b) / nll.length;
  console.log(`Step 4 — mean over the ${nll.length} pixels: ${mean.toPrecision(17)}\n`);

  using lt = xent.tensorFrom(logits, [N, C, H, W]);
  using tt = xent.tensorFrom(target, [N, H, W]);
  using grad = xent.tensor('float32', lt.shape);
  const r = xent.crossEntropy(lt, tt, { grad });
  console.log('xent-wasm, fused forward + backward in one pass (float32 kernel):');
  console.log(`  loss            = ${r.loss.toPrecision(17)}`);
  console.log(`  sum, weightSum  = ${r.sum.toPrecision(17)}, ${r.weightSum}`);
  console.log('  dLoss/dLogits (shape [1, 2, 2, 2]):');
  for (let c = 0; c < C; c++) console.log(`    class ${c}       = ${row(grad.data.subarray(c * S, (c + 1) * S), 7)}`);
  // PyTorch 1.13 in float64 on the float32-rounded logits:
  //   F.cross_entropy(x.float().double(), t) — case "seed" of test/fixtures/cross_entropy_index.json.
  const torchValue = 1.0065702579739924;
  console.log(
    `  PyTorch float64 = ${torchValue.toPrecision(17)}  (|Δ| = ${Math.abs(r.loss - torchValue).toExponential(2)})\n`,
  );

  if (!bench) return;

  // ---- a Cityscapes-sized batch -------------------------------------------------------------
  const shape = [2, 19, 512, 1024];
  const [bn, bc, bh, bw] = shape as [number, number, number, number];
  const npx = bn * bh * bw;
  console.log(
    `Timing a Cityscapes-sized batch: logits ${JSON.stringify(shape)} float32 ` +
      `(${((bn * bc * bh * bw * 4) / 2 ** 20).toFixed(0)} MiB), ` +
      `uint8 targets with 5 % = 255 (ignoreIndex: 255); median of ${RUNS} runs`,
  );
  using bl = xent.tensor('float32', shape);
  using bt = xent.tensor('uint8', [bn, bh, bw]);
  using bg = xent.tensor('float32', shape);
  let seed = 0x9e3779b9;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const ld = bl.data;
  for (let i = 0; i < ld.length; i++) ld[i] = (rand() + rand() + rand() - 1.5) * 4;
  const td = bt.data;
  for (let i = 0; i < td.length; i++) td[i] = rand() < 0.05 ? 255 : Math.floor(rand() * bc);

  const time = (f: () => void) => {
    f(); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      f();
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    return ms[Math.floor(ms.length / 2)]!;
  };
  let loss = 0;
  const fwd = time(() => {
    loss = xent.crossEntropy(bl, bt, { ignoreIndex: 255 }).loss;
  });
  const bwd = time(() => {
    loss = xent.crossEntropy(bl, bt, { ignoreIndex: 255, grad: bg }).loss;
  });
  const mpx = (ms: number) => (npx / 1e6 / (ms / 1e3)).toFixed(1);
  console.log(`  forward          ${fwd.toFixed(1).padStart(8)} ms  ${mpx(fwd).padStart(7)} Mpixel/s`);
  console.log(`  forward+backward ${bwd.toFixed(1).padStart(8)} ms  ${mpx(bwd).padStart(7)} Mpixel/s`);
  console.log(
    `  (loss ${loss.toFixed(6)}, ${xent.simd ? 'SIMD' : 'portable'} build, wasm memory ` +
      `${(xent.memoryStats().bytesReserved / 2 ** 20).toFixed(0)} MiB)`,
  );
}

const options = parseCli(process.argv.slice(2));
if (typeof options === 'number') {
  process.exitCode = options;
} else {
  main(options).catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
