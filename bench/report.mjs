// Reporting: machine description, the stdout tables, and the JSON results file.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** CPU model, cores, memory, Node/V8 versions, date and git commit. */
export function machineInfo() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    /* not Linux */
  }
  let commit;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    commit = undefined;
  }
  return {
    cpu,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    commit,
  };
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
  if (parts.length && String(byOp.fwd?.check ?? byOp.fwdbwd?.check).startsWith('reference;'))
    parts[0] = `vs JS f64: ${parts[0]}`;
  if (parts.length === 0) return byOp.fwd?.check === 'baseline' || byOp.fwdbwd?.check === 'baseline' ? 'baseline' : '';
  return parts.join('; ');
}

/** The stdout table of one workload. */
export function workloadTable(w, peers) {
  const rows = [];
  for (const peer of peers) {
    const byOp = w.results[peer.id] ?? {};
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
