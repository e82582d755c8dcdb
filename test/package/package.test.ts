/**
 * The published package, as a user gets it: `npm pack` of this repository installed from the
 * tarball into a fresh temporary project (test/package/install.ts: once per test run, shared
 * with the docs' snippets, test/docs/snippets.test.ts), then, in that project:
 *   - an ESM script (`import`) and a CommonJS script (`require`) compute the seed example;
 *   - the `xent-wasm/inline` entry computes it too, in ESM and CommonJS;
 *   - the `xent-wasm/tfjs` entry computes it through TF.js;
 *   - the bin (`npx xent-wasm`) prints its help and walks through the seed example;
 *   - a strict `tsc` type-checks a TypeScript user file against the shipped types, with
 *     moduleResolution node16 (an ESM .mts and a CommonJS .cts file) and bundler.
 * The expected loss is PyTorch's, read from test/fixtures/cross_entropy_index.json (case "seed").
 * The tarball's file list is checked too: the code, types, .wasm files and licences, nothing else.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { lossMismatch } from '../reference/compare.js';
import { installedPackage, run } from './install.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

interface FixtureCase {
  name: string;
  logits: number[];
  logitsShape: number[];
  target: number[];
  targetShape: number[];
  loss: number;
}
const fixtures = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/cross_entropy_index.json'), 'utf8')) as {
  cases: FixtureCase[];
};
const SEED = fixtures.cases.find((c) => c.name === 'seed');
if (!SEED) throw new Error('test/fixtures/cross_entropy_index.json has no case "seed"');
/** What the user scripts read (argv[2]): the seed example's inputs. */
const INPUT = JSON.stringify({
  logits: SEED.logits,
  logitsShape: SEED.logitsShape,
  target: SEED.target,
  targetShape: SEED.targetShape,
});

let project: string;

/** Runs a script of the project with node; it prints one JSON line with the loss. */
async function runScript(file: string): Promise<{ loss: number }> {
  const out = await run(process.execPath, [file, INPUT], project);
  const last = out.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as { loss: number };
  } catch {
    throw new Error(`${file} printed no JSON result:\n${out}`);
  }
}

const expectSeedLoss = (loss: number) => expect(lossMismatch(loss, SEED.loss)).toBeUndefined();

// ---- The user's files --------------------------------------------------------------------
const ESM = `import { Xent } from 'xent-wasm';
const input = JSON.parse(process.argv[2]);
const xent = await Xent.create();
try {
  const logits = xent.tensorFrom(new Float32Array(input.logits), input.logitsShape);
  const target = xent.tensorFrom(new Uint8Array(input.target), input.targetShape);
  const grad = xent.tensor('float32', input.logitsShape);
  const r = xent.crossEntropy(logits, target, { grad });
  console.log(JSON.stringify({ loss: r.loss, simd: xent.simd }));
} finally {
  xent.dispose();
}
`;
const CJS = `const { Xent } = require('xent-wasm');
const input = JSON.parse(process.argv[2]);
Xent.create().then((xent) => {
  try {
    const logits = xent.tensorFrom(new Float32Array(input.logits), input.logitsShape);
    const target = xent.tensorFrom(new Uint8Array(input.target), input.targetShape);
    console.log(JSON.stringify({ loss: xent.crossEntropy(logits, target).loss }));
  } finally {
    xent.dispose();
  }
});
`;
const INLINE_ESM = ESM.replace("from 'xent-wasm'", "from 'xent-wasm/inline'");
const INLINE_CJS = CJS.replace("require('xent-wasm')", "require('xent-wasm/inline')");
const TFJS = `import * as tf from '@tensorflow/tfjs';
import { Xent } from 'xent-wasm';
import { crossEntropyLoss } from 'xent-wasm/tfjs';
const input = JSON.parse(process.argv[2]);
const xent = await Xent.create();
const loss = crossEntropyLoss(xent, { layout: 'NCHW' });
try {
  const logits = tf.tensor(input.logits, input.logitsShape);
  const labels = tf.tensor(input.target, input.targetShape, 'int32');
  const value = loss(labels, logits);
  console.log(JSON.stringify({ loss: value.dataSync()[0], last: loss.last }));
  tf.dispose([logits, labels, value]);
} finally {
  loss.dispose();
  xent.dispose();
}
`;
/** Type-checked only: every entry, its types used the way users do. */
const USER_TS = `import { Xent, XentOptionError, type Tensor } from 'xent-wasm';
import { Xent as InlineXent } from 'xent-wasm/inline';
import { crossEntropyLoss, type TfCrossEntropyStats } from 'xent-wasm/tfjs';

export async function seedLoss(logits: Float32Array, target: Uint8Array): Promise<number> {
  const xent: Xent = await Xent.create({ simd: true });
  try {
    const l: Tensor<'float32'> = xent.tensorFrom(logits, [1, 2, 2, 2]);
    const t = xent.tensorFrom(target, [1, 2, 2]);
    const grad = xent.tensor('float32', l.shape);
    const r = xent.crossEntropy(l, t, { ignoreIndex: 255, grad });
    const loss: number = r.loss;
    const data: Float32Array = grad.data;
    return loss + data.length * 0;
  } catch (e) {
    if (e instanceof XentOptionError) throw new Error(e.message);
    throw e;
  } finally {
    xent.dispose();
  }
}

export function float16(xent: Xent, bits: Uint16Array): number {
  const h: Tensor<'float16'> = xent.tensor('float16', [1, 2, 2, 2]);
  const data: Uint16Array = h.data;
  data.set(bits);
  const target = { data: new Uint8Array([1, 0, 0, 1]), shape: [1, 2, 2] };
  const plain = xent.crossEntropy({ data: bits, shape: [1, 2, 2, 2], dtype: 'float16' }, target).loss;
  return xent.crossEntropy(h, target).loss + plain;
}

export async function inline(): Promise<boolean> {
  const x = await InlineXent.create();
  const simd: boolean = x.simd;
  x.dispose();
  return simd;
}

export function tfLoss(xent: Xent): TfCrossEntropyStats | undefined {
  const loss = crossEntropyLoss(xent, { layout: 'NCHW', ignoreIndex: 255 });
  const last = loss.last;
  loss.dispose();
  return last;
}
`;
const USER_CTS = `import { Xent, type Tensor } from 'xent-wasm';
import { Xent as InlineXent } from 'xent-wasm/inline';
import { crossEntropyLoss } from 'xent-wasm/tfjs';

export async function seedLoss(logits: Float32Array, target: Uint8Array): Promise<number> {
  const xent = await Xent.create();
  try {
    const l: Tensor<'float32'> = xent.tensorFrom(logits, [1, 2, 2, 2]);
    return xent.crossEntropy(l, xent.tensorFrom(target, [1, 2, 2])).loss;
  } finally {
    xent.dispose();
  }
}
export const both = [InlineXent, crossEntropyLoss] as const;
`;
const tsconfig = (options: Record<string, unknown>, files: string[]) =>
  JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      lib: ['ES2022', 'DOM'],
      // The shipped .d.mts/.d.cts are checked too. `types` is left at its default, as in a user's
      // project: TF.js's declarations need the @types packages it installs (@types/long).
      skipLibCheck: false,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      ...options,
    },
    files,
  });

beforeAll(async () => {
  ({ project, files } = await installedPackage());
  for (const [name, text] of Object.entries({
    'esm.mjs': ESM,
    'cjs.cjs': CJS,
    'inline-esm.mjs': INLINE_ESM,
    'inline-cjs.cjs': INLINE_CJS,
    'tfjs.mjs': TFJS,
    'user.mts': USER_TS,
    'user.cts': USER_CTS,
    'user.ts': USER_TS,
    'tsconfig.node16.json': tsconfig({ module: 'node16', moduleResolution: 'node16' }, ['user.mts', 'user.cts']),
    'tsconfig.bundler.json': tsconfig({ module: 'esnext', moduleResolution: 'bundler' }, ['user.ts']),
  }))
    writeFileSync(join(project, name), text);
}, 600_000);

let files: string[] = [];

describe('npm pack', () => {
  it('packs the code, its types, the four .wasm files and the licences, and nothing else', () => {
    const dist = [
      'cli.mjs',
      'worker.mjs',
      ...['index', 'inline', 'tfjs'].flatMap((e) => [`${e}.mjs`, `${e}.cjs`, `${e}.d.mts`, `${e}.d.cts`]),
      ...['xent-simd.wasm', 'xent.wasm', 'xent-simd-threads.wasm', 'xent-simd-relaxed.wasm'],
    ];
    const expected = ['LICENSE-APACHE', 'LICENSE-MIT', 'README.md', 'package.json', ...dist.map((f) => `dist/${f}`)];
    expect(files).toEqual(expected.sort());
  });
});

describe('the tarball installed into a fresh project', () => {
  it('ESM: import { Xent } from "xent-wasm" computes the seed example (PyTorch 1.0066)', async () => {
    const r = await runScript('esm.mjs');
    expectSeedLoss(r.loss);
  });

  it('CommonJS: require("xent-wasm") computes the seed example', async () => {
    expectSeedLoss((await runScript('cjs.cjs')).loss);
  });

  it('xent-wasm/inline computes the seed example, in ESM and CommonJS', async () => {
    expectSeedLoss((await runScript('inline-esm.mjs')).loss);
    expectSeedLoss((await runScript('inline-cjs.cjs')).loss);
  });

  it('xent-wasm/tfjs computes the seed example with TF.js installed', async () => {
    expectSeedLoss((await runScript('tfjs.mjs')).loss);
  });

  it('the bin: npx xent-wasm --help prints the usage; --no-bench runs the seed example', async () => {
    expect(await run(join(project, 'node_modules/.bin/xent-wasm'), ['--help'], project)).toMatch(/^Usage: xent-wasm /);
    const out = await run(join(project, 'node_modules/.bin/xent-wasm'), ['--no-bench'], project);
    expectSeedLoss(Number(/loss += ([0-9.]+)/.exec(out)?.[1]));
  });

  it('a strict tsc type-checks a user file: moduleResolution node16 (ESM .mts and CommonJS .cts)', async () => {
    await run(process.execPath, [TSC, '-p', 'tsconfig.node16.json'], project);
  });

  it('a strict tsc type-checks a user file: moduleResolution bundler', async () => {
    await run(process.execPath, [TSC, '-p', 'tsconfig.bundler.json'], project);
  });
});
