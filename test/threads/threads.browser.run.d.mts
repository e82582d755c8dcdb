/** Types of threads.browser.run.mjs. */
export function run(
  lib: typeof import('../../dist/index.mjs'),
  options: { seed: number; threads: number; mode: 'sync' | 'async' },
): Promise<{
  threads: number;
  shared: boolean;
  loss: string;
  sum: string;
  weightSum: string;
  grad: string;
  lossMap: string;
}>;
