// A hand-written SVG chart (no dependencies): one panel per op, grouped bars per workload (one
// bar per peer = median time), log-scale y axis, whiskers from min to p90.

const COLORS = {
  'xent-simd': '#1f4e9c',
  'xent-portable': '#7aa6e0',
  'tfjs-wasm': '#f28e2b',
  'ort-web': '#59a14f',
  'ort-node': '#2b6e2b',
  torch: '#e15759',
  'js-loop': '#9c9c9c',
  'memwall-read': '#333333',
  'memwall-copy': '#333333',
};
const FALLBACK = ['#b07aa1', '#76b7b2', '#edc948', '#ff9da7'];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v) => Number(v.toFixed(2));

function fmtTick(ms) {
  if (ms >= 1000) return `${ms / 1000} s`;
  if (ms >= 1) return `${ms} ms`;
  return `${Number(ms.toPrecision(1))} ms`;
}

function fmtLabel(ms) {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}

/**
 * @param {object} results the JSON results (machine, peers, workloads, ops)
 * @returns {string} the SVG document
 */
export function renderChart(results) {
  const peers = results.peers.filter((p) => p.status === 'ok');
  const workloads = results.workloads;
  const ops = results.ops;
  const color = (id, i) => COLORS[id] ?? FALLBACK[i % FALLBACK.length];

  // Value range over every timed bar (whiskers included), widened to whole decades.
  let lo = Infinity;
  let hi = 0;
  for (const w of workloads) {
    for (const p of peers) {
      for (const op of ops) {
        const r = w.results[p.id]?.[op];
        if (r?.status !== 'ok') continue;
        lo = Math.min(lo, r.stats.min);
        hi = Math.max(hi, r.stats.max, r.stats.p90);
      }
    }
  }
  if (!Number.isFinite(lo)) {
    lo = 0.01;
    hi = 1;
  }
  const dLo = Math.floor(Math.log10(lo));
  const dHi = Math.max(dLo + 1, Math.ceil(Math.log10(hi) + 0.25)); // headroom for the labels

  // Per panel, only the peers with a bar in that op (the memory walls have one op each).
  const panelPeers = ops.map((op) =>
    peers.filter((p) => workloads.some((w) => w.results[p.id]?.[op] && w.results[p.id][op].status !== 'skipped')),
  );
  const maxBars = Math.max(1, ...panelPeers.map((pp) => pp.length));

  const barW = 18;
  const barGap = 3;
  const groupGap = 36;
  const groupW = maxBars * (barW + barGap) - barGap;
  const left = 70;
  const right = 20;
  const plotW = workloads.length * groupW + (workloads.length + 1) * groupGap;
  const width = Math.max(left + plotW + right, 980);
  const panelH = 300;
  const panelGap = 80;
  const legendCols = 3;
  const legendColW = Math.floor((width - left - right) / legendCols);
  const legendRows = Math.ceil(peers.length / legendCols);
  const top = 70 + legendRows * 18 + 24;
  const height = top + ops.length * (panelH + panelGap) - 20;

  const out = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`,
  );
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  const m = results.machine;
  out.push(
    `<text x="${left}" y="22" font-size="15" font-weight="bold">xent-wasm benchmark: softmax cross-entropy (NCHW, ignore index, mean)</text>`,
  );
  out.push(
    `<text x="${left}" y="40" fill="#444">${esc('Median time per call, log scale; whiskers: min to p90. Lower is faster. One thread everywhere.')}</text>`,
  );
  out.push(
    `<text x="${left}" y="56" fill="#666">${esc(`${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.date.slice(0, 10)}${m.commit ? `, commit ${m.commit}` : ''}${results.quick ? ', --quick' : ''}`)}</text>`,
  );

  // Legend.
  peers.forEach((p, i) => {
    const x = left + (i % legendCols) * legendColW;
    const y = 78 + Math.floor(i / legendCols) * 18;
    out.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${color(p.id, i)}"${p.id.startsWith('memwall') ? ' fill-opacity="0.35" stroke="#333"' : ''}/>`,
    );
    out.push(`<text x="${x + 18}" y="${y}">${esc(p.label)}</text>`);
  });

  ops.forEach((op, k) => {
    const y0 = top + k * (panelH + panelGap); // top of the plot area
    const yOf = (ms) => y0 + panelH - ((Math.log10(ms) - dLo) / (dHi - dLo)) * panelH;
    out.push(
      `<text x="${left}" y="${y0 - 10}" font-size="13" font-weight="bold">${op === 'fwd' ? 'fwd: loss only' : 'fwdbwd: loss and gradient w.r.t. the logits'}</text>`,
    );
    // Grid: decades (labelled) and 2×, 5× (light).
    for (let d = dLo; d <= dHi; d++) {
      const v = 10 ** d;
      const y = num(yOf(v));
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" stroke="#bbb"/>`);
      out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${fmtTick(Number(v.toPrecision(1)))}</text>`);
      if (d < dHi) {
        for (const f of [2, 5]) {
          const yy = num(yOf(f * v));
          out.push(`<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="#eee"/>`);
        }
      }
    }
    out.push(`<line x1="${left}" x2="${left}" y1="${y0}" y2="${y0 + panelH}" stroke="#333"/>`);
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y0 + panelH}" y2="${y0 + panelH}" stroke="#333"/>`);

    workloads.forEach((w, g) => {
      const gx = left + groupGap + g * (groupW + groupGap); // group start
      const bx = gx + ((maxBars - panelPeers[k].length) * (barW + barGap)) / 2; // bars centred in the group
      out.push(
        `<text x="${num(gx + groupW / 2)}" y="${y0 + panelH + 16}" text-anchor="middle" font-weight="bold">${esc(w.name)}</text>`,
      );
      out.push(
        `<text x="${num(gx + groupW / 2)}" y="${y0 + panelH + 30}" text-anchor="middle" fill="#555">${esc(w.shape.join('×'))}</text>`,
      );
      panelPeers[k].forEach((p, i) => {
        const r = w.results[p.id]?.[op];
        const x = bx + i * (barW + barGap);
        if (r?.status !== 'ok') {
          if (r && r.status !== 'skipped') {
            out.push(
              `<text x="${num(x + barW / 2)}" y="${y0 + panelH - 4}" text-anchor="middle" font-size="9" fill="#c00">×</text>`,
            );
          } else if (r?.reason) {
            // Skipped for the workload's size: say so where the bar would be.
            const cx = num(x + barW / 2 + 3);
            const ly = y0 + panelH - 4;
            out.push(
              `<text x="${cx}" y="${ly}" font-size="9" fill="#777" transform="rotate(-90 ${cx} ${ly})"><title>${esc(`${p.label}, ${w.name}: ${r.reason}`)}</title>skipped</text>`,
            );
          }
          return;
        }
        const s = r.stats;
        const yb = y0 + panelH;
        const ym = yOf(s.median);
        const tip = `${p.label}, ${w.name} ${op}: median ${fmtLabel(s.median)} ms (min ${fmtLabel(s.min)}, p90 ${fmtLabel(s.p90)}, n=${s.n})`;
        const memwall = p.id.startsWith('memwall');
        out.push(
          `<rect x="${num(x)}" y="${num(ym)}" width="${barW}" height="${num(Math.max(0.5, yb - ym))}" fill="${color(p.id, peers.indexOf(p))}"${memwall ? ' fill-opacity="0.35" stroke="#333"' : ''}><title>${esc(tip)}</title></rect>`,
        );
        const cx = num(x + barW / 2);
        const y1 = num(yOf(s.min));
        const y2 = num(yOf(s.p90));
        out.push(`<line x1="${cx}" x2="${cx}" y1="${y1}" y2="${y2}" stroke="#000" stroke-width="1"/>`);
        out.push(`<line x1="${cx - 3}" x2="${cx + 3}" y1="${y2}" y2="${y2}" stroke="#000"/>`);
        out.push(`<line x1="${cx - 3}" x2="${cx + 3}" y1="${y1}" y2="${y1}" stroke="#000"/>`);
        const ly = num(Math.min(ym, y2) - 4);
        out.push(
          `<text x="${cx + 3}" y="${ly}" font-size="9" transform="rotate(-90 ${cx + 3} ${ly})">${fmtLabel(s.median)}</text>`,
        );
      });
    });
  });

  out.push(`</svg>`);
  return `${out.join('\n')}\n`;
}
