// Reporting: machine description, the stdout tables, and the JSON results file.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/..): where `git` is asked which commit was measured. */
const REPO = fileURLToPath(new URL('..', import.meta.url));

/** `git -C REPO ...args`, trimmed, or undefined (no git, not a checkout). */
function git(...args) {
  try {
    return execFileSync('git', ['-C', REPO, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/**
 * The CPU model as the OS names it: /proc/cpuinfo's first "model name" (Linux), else
 * os.cpus()[0].model, else "unknown".
 */
export function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1].trim()) return m[1].trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model?.trim() || 'unknown';
}

/**
 * A file-name slug of a CPU model: lower case, words joined by '-', without the trademark
 * marks, the clock ("@ 2.90GHz"), "CPU", "Processor" and "N-Core":
 * "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz" -> "intel-xeon-platinum-8375c",
 * "AMD EPYC 7763 64-Core Processor" -> "amd-epyc-7763", "Apple M2" -> "apple-m2".
 * @param {string} model
 */
export function cpuSlug(model) {
  const slug = model
    .replace(/\((?:R|TM|C)\)|®|™/gi, ' ')
    .replace(/@.*$/, ' ')
    .replace(/\b\d+-core\b/gi, ' ')
    .toLowerCase()
    .split(/[^a-z0-9.]+/)
    .map((w) => w.replace(/^\.+|\.+$/g, ''))
    .filter((w) => w && w !== 'cpu' && w !== 'processor')
    .join('-');
  return slug || 'unknown-cpu';
}

/**
 * What a result was measured on: CPU model (and its slug, the results file's name), cores,
 * memory, OS, Node and V8 versions, the date (ISO 8601, UTC), and the git commit of the
 * checkout whose dist/ was measured, with `dirty` when its tracked files (outside
 * bench/results) differ from that commit. dist/ is built from the working tree: the xent
 * peers' versions add each .wasm's hash and build time.
 */
export function machineInfo() {
  const cpu = cpuModel();
  const commit = git('rev-parse', '--short', 'HEAD');
  const status = commit === undefined ? undefined : git('status', '--porcelain', '--untracked-files=no');
  const dirty =
    status === undefined
      ? undefined
      : status
          .split('\n')
          .filter(Boolean)
          .some((line) => !line.slice(3).startsWith('bench/results/'));
  return {
    cpu,
    cpuSlug: cpuSlug(cpu),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    commit,
    dirty,
  };
}

/**
 * One line naming the machine, the software and the date of a result:
 * "AMD EPYC, 2 cores, 8 GiB, linux ... x64, Node v20.20.2 (V8 11.3), 2026-12-06T05:50:00.000Z, commit abc1234".
 * @param {ReturnType<typeof machineInfo>} m
 */
export function machineLine(m) {
  const commit = m.commit ? `, commit ${m.commit}${m.dirty ? ' + uncommitted changes' : ''}` : '';
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node} (V8 ${m.v8}), ${m.date}${commit}`;
}

/**
 * The path of a results file, bench/results/<cpu slug><suffix>.<ext>.
 * @param {string} name the file name without extension
 * @param {string} ext 'json' or 'svg'
 */
export function resultsPath(name, ext) {
  return fileURLToPath(new URL(`./results/${name}.${ext}`, import.meta.url));
}

/** A time in ms with 3 significant digits. */
export function fmtMs(ms) {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** A ratio like 12.3 or 0.45. */
export function fmtRatio(r) {
  if (!Number.isFinite(r)) return '-';
  return r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

export const fmtErr = (e) => (e === undefined ? '' : e === 0 ? '0' : e.toExponential(0));

export function fmtBytes(b) {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GiB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MiB`;
  return `${(b / 2 ** 10).toFixed(1)} KiB`;
}

/** Pads the cells of a table (array of rows of strings) into aligned Markdown. */
export function markdownTable(header, rows, align) {
  const all = [header, ...rows];
  const widths = header.map((_, j) => Math.max(3, ...all.map((r) => (r[j] ?? '').length)));
  const pad = (s, j) => (align[j] === 'r' ? s.padStart(widths[j]) : s.padEnd(widths[j]));
  const line = (r) => `| ${r.map((c, j) => pad(c ?? '', j)).join(' | ')} |`;
  const sep = `|${widths.map((w, j) => (align[j] === 'r' ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(header), sep, ...rows.map(line)].join('\n');
}

/** One cell of an op: "median (min–p90)" or the reason it was not timed. */
function timeCell(r) {
  if (!r) return '';
  if (r.status === 'ok') return `${fmtMs(r.stats.median)} (${fmtMs(r.stats.min)}–${fmtMs(r.stats.p90)})`;
  return r.status === 'skipped' ? '—' : `${r.status}`;
}

function checkCell(peer, byOp) {
  const parts = [];
  for (const op of ['fwd', 'fwdbwd']) {
    const r = byOp[op];
    if (!r || r.status === 'skipped') continue;
    if (r.status === 'ok') {
      if (r.check === 'baseline') continue;
      if (r.lossErr === undefined) {
        parts.push(`${op} reference`);
        continue;
      }
      const g = r.gradErr !== undefined ? `, grad ${fmtErr(r.gradErr)}` : '';
      parts.push(`${op} ${fmtErr(r.lossErr)}${r.f32sum ? ' (f32 sum)' : ''}${g}`);
    } else parts.push(`${op}: ${r.status} (${r.reason})`);
  }
  if (peer.status !== 'ok') return `n/a (${peer.reason})`;
  if (parts.length && (byOp.fwd?.check ?? byOp.fwdbwd?.check) === 'float64 reference')
    parts[0] = `vs float64: ${parts[0]}`;
  if (parts.length === 0) return byOp.fwd?.check === 'baseline' || byOp.fwdbwd?.check === 'baseline' ? 'baseline' : '';
  return parts.join('; ');
}

/** The stdout table of one workload. */
export function workloadTable(w, peers) {
  const rows = [];
  for (const peer of peers) {
    const byOp = w.results[peer.id] ?? {};
    if (byOp.skipped) {
      rows.push([peer.label, 'skipped', '', 'skipped', '', `skipped: ${byOp.skipped}`]);
      continue;
    }
    if (peer.status !== 'ok' || byOp.error) {
      rows.push([peer.label, 'n/a', '', 'n/a', '', `n/a (${peer.status !== 'ok' ? peer.reason : byOp.error})`]);
      continue;
    }
    rows.push([
      peer.label,
      timeCell(byOp.fwd),
      byOp.fwd?.status === 'ok' ? fmtRatio(byOp.fwd.ratio) : '',
      timeCell(byOp.fwdbwd),
      byOp.fwdbwd?.status === 'ok' ? fmtRatio(byOp.fwdbwd.ratio) : '',
      checkCell(peer, byOp),
    ]);
  }
  return markdownTable(
    [
      'peer',
      'fwd ms: median (min–p90)',
      '× SIMD',
      'fwdbwd ms: median (min–p90)',
      '× SIMD',
      'check: rel. error vs reference',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'l'],
  );
}

/** JSON replacer: typed arrays as plain arrays, no functions. */
export function jsonReplacer(_key, value) {
  // The results hold typed arrays, never a DataView.
  if (ArrayBuffer.isView(value)) return Array.from(/** @type {Float32Array} */ (value));
  if (typeof value === 'function') return undefined;
  return value;
}
