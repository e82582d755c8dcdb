/**
 * Did-you-mean for option names: PyTorch's spellings and common habits (`ignore_index`,
 * `weights`, `axis`), case and separator slips, then the nearest name by edit distance.
 * @module
 */

/** Names people type from PyTorch or by habit, and what they mean here. */
const ALIASES: Readonly<Record<string, string>> = {
  ignore_index: 'ignoreIndex',
  label_smoothing: 'labelSmoothing',
  grad_output: 'gradOutput',
  loss_map: 'lossMap',
  weights: 'weight',
  class_weight: 'weight',
  classWeight: 'weight',
  classWeights: 'weight',
  size_average: 'reduction',
  sizeAverage: 'reduction',
  reduce: 'reduction',
  smoothing: 'labelSmoothing',
  ignore: 'ignoreIndex',
  gradient: 'grad',
  output: 'out',
  data_format: 'layout',
  dataFormat: 'layout',
  format: 'layout',
  memory_format: 'layout',
  memoryFormat: 'layout',
  losses: 'lossMap',
  probability: 'confidence',
  probabilities: 'confidence',
  axis: 'dim',
  interpolate: 'resize',
  interpolation: 'resize',
  upsample: 'resize',
  align_corners: 'resize',
  alignCorners: 'resize',
};

/** @internal The option a mistyped name most likely meant, if any. */
export function suggestOption(key: string, names: readonly string[]): string | undefined {
  const alias = ALIASES[key];
  if (alias && names.includes(alias)) return alias;
  const norm = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, '');
  const k = norm(key);
  for (const name of names) if (norm(name) === k) return name;
  for (const [a, name] of Object.entries(ALIASES)) if (norm(a) === k && names.includes(name)) return name;
  let best: string | undefined;
  let bestD = Infinity;
  for (const name of names) {
    const d = levenshtein(k, norm(name));
    if (d < bestD) {
      bestD = d;
      best = name;
    }
  }
  return bestD <= Math.max(1, Math.min(3, Math.floor(k.length / 3))) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
