/** Loading and decoding of the PyTorch fixtures in test/fixtures/. */
import { readFileSync } from 'node:fs';

export type Num = number; // NaN / ±Infinity decoded from the JSON strings

export interface FixtureCase {
  name: string;
  logitsShape: number[];
  logits: number[];
  targetShape: number[];
  target: number[];
  targetKind: 'index' | 'prob';
  weight: number[] | null;
  ignoreIndex: number;
  reduction: 'mean' | 'sum' | 'none';
  labelSmoothing: number;
  loss: Num | Num[];
  lossShape: number[];
  gradOutput: number[] | null;
  grad: Num[];
  expectError?: string;
  errorType?: string;
  note?: string;
}

export interface FixtureFile {
  torch: string;
  generator: string;
  cases: FixtureCase[];
}

/** "NaN" / "Infinity" / "-Infinity" → numbers, recursively. */
export function decode(v: unknown): unknown {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  return v;
}

export function loadFixtures(file: string): FixtureFile {
  const url = new URL(`../fixtures/${file}`, import.meta.url);
  const raw = JSON.parse(readFileSync(url, 'utf8')) as FixtureFile;
  return {
    ...raw,
    cases: raw.cases.map((c) => {
      const d = decode(c) as FixtureCase;
      return { ...d, targetKind: d.targetKind ?? 'index' };
    }),
  };
}

/** A case of test/fixtures/decomposition.json. */
export interface DecompositionCase {
  name: string;
  op: 'softmax' | 'log_softmax' | 'nll_loss';
  inputShape: number[];
  input: Num[];
  dim: number;
  outputShape: number[];
  /** softmax / log_softmax: the output tensor; nll_loss: the loss (a number, or per sample for 'none'). */
  output: Num | Num[];
  /** The upstream gradient (output's shape; null for nll_loss mean/sum). */
  gradOutput: Num[] | null;
  gradInput: Num[];
  // nll_loss only:
  targetShape?: number[];
  target?: number[];
  weight?: number[] | null;
  ignoreIndex?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

export interface DecompositionFile {
  torch: string;
  generator: string;
  cases: DecompositionCase[];
}

export function loadDecomposition(file = 'decomposition.json'): DecompositionFile {
  const url = new URL(`../fixtures/${file}`, import.meta.url);
  const raw = JSON.parse(readFileSync(url, 'utf8')) as DecompositionFile;
  return { ...raw, cases: raw.cases.map((c) => decode(c) as DecompositionCase) };
}

/** A case of test/fixtures/cross_entropy_resize.json (F.interpolate, then F.cross_entropy). */
export interface ResizeFixtureCase extends FixtureCase {
  resize: { mode: 'bilinear' | 'nearest'; alignCorners: boolean | null };
  /** Per-pixel losses at the target's resolution (PyTorch float32). */
  lossMap?: Num[];
  /** Softmax probability of the target class at the target's resolution (index targets). */
  confidence?: Num[];
  /** torch.argmax of PyTorch's float32 interpolated logits (index targets). */
  pred?: number[];
  /** Near-tie pixels (flat index) → the classes any of which is a correct prediction there. */
  predTies?: Record<string, number[]>;
}

export interface ResizeFixtureFile {
  torch: string;
  generator: string;
  cases: ResizeFixtureCase[];
}

export function loadResizeFixtures(file = 'cross_entropy_resize.json'): ResizeFixtureFile {
  return loadFixtures(file) as ResizeFixtureFile;
}
