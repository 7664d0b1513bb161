// charts.js - small SVG chart builders for the Cairn UI (no library).
//
// Every builder returns an <svg> sized only by its viewBox (it scales to its
// container's width), with a <title> naming what it shows, and takes colours
// from CSS variables (--c1..--c10 for series, --st-* for statuses) through
// style attributes so the stylesheet stays the one place colours live.

const NS = 'http://www.w3.org/2000/svg';
const W = 600;

/** Series colour i (cycles through --c1..--c10). */
export function colour(i) {
  return `var(--c${(i % 10) + 1})`;
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function svgRoot(width, height, title) {
  const s = el('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', role: 'img', preserveAspectRatio: 'xMidYMid meet' });
  s.append(el('title', {}, title));
  return s;
}

/** A short label for a number on an axis. */
function tickLabel(v) {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e6 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** About n "nice" ticks covering [lo, hi]. */
export function niceTicks(lo, hi, n = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo === hi) return [lo];
  const span = hi - lo;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= n) ?? 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - (lo === 0 ? 1 : Math.abs(lo) * 0.1), hi + (hi === 0 ? 1 : Math.abs(hi) * 0.1)];
  return [lo, hi];
}

function axes(s, { x0, x1, y0, y1, xs, ys, xTicks, yTicks, xLabel, yLabel, xFmt = tickLabel }) {
  const g = el('g', { class: 'axis' });
  for (const t of yTicks) {
    const y = ys(t);
    g.append(el('line', { class: 'gridline', x1: x0, x2: x1, y1: y, y2: y }));
    g.append(el('text', { x: x0 - 4, y: y + 4, 'text-anchor': 'end' }, tickLabel(t)));
  }
  for (const t of xTicks) {
    const x = xs(t);
    g.append(el('line', { x1: x, x2: x, y1: y0, y2: y0 + 4 }));
    g.append(el('text', { x, y: y0 + 16, 'text-anchor': 'middle' }, xFmt(t)));
  }
  g.append(el('line', { x1: x0, x2: x1, y1: y0, y2: y0 }));
  g.append(el('line', { x1: x0, x2: x0, y1: y0, y2: y1 }));
  if (xLabel) g.append(el('text', { x: (x0 + x1) / 2, y: y0 + 32, 'text-anchor': 'middle', class: 'label' }, xLabel));
  if (yLabel) g.append(el('text', { x: 12, y: (y0 + y1) / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${(y0 + y1) / 2})`, class: 'label' }, yLabel));
  s.append(g);
}

function legend(s, names, x, y) {
  names.forEach((n, i) => {
    const yy = y + i * 14;
    s.append(el('rect', { x, y: yy - 8, width: 10, height: 10, style: `fill:${colour(i)}` }));
    s.append(el('text', { x: x + 14, y: yy + 1 }, n.length > 28 ? `${n.slice(0, 27)}…` : n));
  });
}

/**
 * Line chart: series [{name, points: [[x, y], ...]}]. Points are drawn in the
 * given order; a single point becomes a dot. Legend below the plot.
 */
export function lineChart({ series = [], xLabel = '', yLabel = '', height = 260 } = {}) {
  const legendH = series.length > 1 ? series.length * 14 + 6 : 0;
  const H = height + legendH;
  const s = svgRoot(W, H, `Line chart of ${yLabel || 'values'} over ${xLabel || 'x'}: ${series.map((x) => x.name).join(', ')}`);
  const x0 = 56;
  const x1 = W - 12;
  const y0 = height - 38;
  const y1 = 10;
  const allX = series.flatMap((sr) => sr.points.map((p) => Number(p[0])));
  const allY = series.flatMap((sr) => sr.points.map((p) => Number(p[1])));
  const [xlo, xhi] = extent(allX);
  const [ylo, yhi] = extent(allY);
  const xs = (v) => x0 + ((v - xlo) / (xhi - xlo)) * (x1 - x0);
  const ys = (v) => y0 - ((v - ylo) / (yhi - ylo)) * (y0 - y1);
  axes(s, { x0, x1, y0, y1, xs, ys, xTicks: niceTicks(xlo, xhi, 6), yTicks: niceTicks(ylo, yhi, 5), xLabel, yLabel });
  series.forEach((sr, i) => {
    const pts = sr.points.filter((p) => Number.isFinite(Number(p[0])) && Number.isFinite(Number(p[1])));
    const g = el('g', { class: 'series' }, el('title', {}, sr.name));
    if (pts.length === 1) {
      g.append(el('circle', { cx: xs(+pts[0][0]), cy: ys(+pts[0][1]), r: 3.5, style: `fill:${colour(i)}` }));
    }
    if (pts.length >= 1) {
      const d = pts.map((p, j) => `${j ? 'L' : 'M'}${xs(+p[0]).toFixed(2)},${ys(+p[1]).toFixed(2)}`).join('');
      g.append(el('path', { d, style: `fill:none;stroke:${colour(i)};stroke-width:2` }));
    }
    s.append(g);
  });
  if (legendH) legend(s, series.map((x) => x.name), x0, height + 6);
  return s;
}

/** Vertical bar chart: bars [{label, value}]. */
export function barChart({ bars = [], yLabel = '', height = 240 } = {}) {
  const s = svgRoot(W, height, `Bar chart of ${yLabel || 'values'}: ${bars.map((b) => `${b.label} ${b.value}`).join(', ')}`);
  const x0 = 56;
  const x1 = W - 12;
  const y0 = height - 40;
  const y1 = 10;
  const vals = bars.map((b) => Number(b.value));
  let [lo, hi] = extent([0, ...vals]);
  if (lo > 0) lo = 0;
  if (hi < 0) hi = 0;
  const ys = (v) => y0 - ((v - lo) / (hi - lo)) * (y0 - y1);
  const bw = (x1 - x0) / Math.max(1, bars.length);
  axes(s, { x0, x1, y0, y1, xs: () => x0, ys, xTicks: [], yTicks: niceTicks(lo, hi, 5), yLabel });
  bars.forEach((b, i) => {
    const v = Number(b.value);
    if (!Number.isFinite(v)) return;
    const x = x0 + i * bw + bw * 0.1;
    const top = ys(Math.max(v, 0));
    const r = el('rect', { x, y: top, width: bw * 0.8, height: Math.max(0.5, Math.abs(ys(v) - ys(0))), style: `fill:${colour(i)}` });
    r.append(el('title', {}, `${b.label}: ${v}`));
    s.append(r);
    const lbl = String(b.label);
    s.append(el('text', { x: x + bw * 0.4, y: y0 + 14, 'text-anchor': 'middle' }, lbl.length > 14 ? `${lbl.slice(0, 13)}…` : lbl));
  });
  return s;
}

/** One horizontal bar split into parts [{label, value}] (e.g. a traffic split). */
export function stackedBar({ parts = [] } = {}) {
  const total = parts.reduce((a, p) => a + Math.max(0, Number(p.value) || 0), 0);
  const H = 44 + Math.ceil(parts.length / 3) * 16;
  const s = svgRoot(W, H, `Split: ${parts.map((p) => `${p.label} ${p.value}`).join(', ')}`);
  let x = 0;
  parts.forEach((p, i) => {
    const v = Math.max(0, Number(p.value) || 0);
    const w = total > 0 ? (v / total) * W : 0;
    const r = el('rect', { x, y: 0, width: w, height: 24, style: `fill:${colour(i)}` });
    r.append(el('title', {}, `${p.label}: ${p.value}`));
    s.append(r);
    if (w > 40) s.append(el('text', { x: x + w / 2, y: 16, 'text-anchor': 'middle', style: 'fill:#fff' }, `${Math.round((v / total) * 100)}%`));
    x += w;
  });
  parts.forEach((p, i) => {
    const lx = (i % 3) * (W / 3);
    const ly = 40 + Math.floor(i / 3) * 16;
    s.append(el('rect', { x: lx, y: ly - 9, width: 10, height: 10, style: `fill:${colour(i)}` }));
    s.append(el('text', { x: lx + 14, y: ly }, `${p.label} (${p.value})`));
  });
  return s;
}

/** Heatmap: rows x cols grid of values (null = no data, drawn hatched grey). */
export function heatmap({ rows = [], cols = [], values = [], min, max, height } = {}) {
  const flat = values.flat().filter((v) => v !== null && v !== undefined && Number.isFinite(Number(v))).map(Number);
  const [elo, ehi] = extent(flat);
  const lo = min ?? elo;
  const hi = max ?? ehi;
  const left = 110;
  const top = 6;
  const bottom = 40;
  const H = height ?? Math.max(80, rows.length * 22 + top + bottom);
  const cw = (W - left - 8) / Math.max(1, cols.length);
  const ch = (H - top - bottom) / Math.max(1, rows.length);
  const s = svgRoot(W, H, `Heatmap of ${rows.length} rows by ${cols.length} columns`);
  rows.forEach((rn, i) => {
    const name = String(rn);
    s.append(el('text', { x: left - 4, y: top + i * ch + ch / 2 + 4, 'text-anchor': 'end' }, name.length > 16 ? `${name.slice(0, 15)}…` : name));
    cols.forEach((cn, j) => {
      const v = values[i]?.[j];
      const has = v !== null && v !== undefined && Number.isFinite(Number(v));
      const t = has ? Math.min(1, Math.max(0, (Number(v) - lo) / (hi - lo || 1))) : 0;
      const style = has ? `fill:var(--st-failed);fill-opacity:${(0.08 + 0.92 * t).toFixed(3)}` : 'fill:var(--grid)';
      const r = el('rect', { x: left + j * cw, y: top + i * ch, width: Math.max(0.5, cw - 1), height: Math.max(0.5, ch - 1), style });
      r.append(el('title', {}, `${name} @ ${cn}: ${has ? v : 'no data'}`));
      s.append(r);
    });
  });
  const every = Math.max(1, Math.ceil(cols.length / 8));
  cols.forEach((cn, j) => {
    if (j % every) return;
    s.append(el('text', { x: left + j * cw + cw / 2, y: H - bottom + 14, 'text-anchor': 'middle' }, String(cn)));
  });
  s.append(el('text', { x: left, y: H - 6 }, `scale ${tickLabel(lo)} (light) to ${tickLabel(hi)} (dark)`));
  return s;
}

/** Two histograms over the same bin edges, drawn as overlaid step outlines/bars. */
export function histOverlay({ edges = [], a = [], b = [], aLabel = 'reference', bLabel = 'current', height = 240 } = {}) {
  const H = height + 20;
  const s = svgRoot(W, H, `Histogram of ${aLabel} against ${bLabel} over ${Math.max(0, edges.length - 1)} bins`);
  const x0 = 56;
  const x1 = W - 12;
  const y0 = height - 38;
  const y1 = 10;
  const sa = a.reduce((p, v) => p + (Number(v) || 0), 0) || 1;
  const sb = b.reduce((p, v) => p + (Number(v) || 0), 0) || 1;
  const fa = a.map((v) => (Number(v) || 0) / sa);
  const fb = b.map((v) => (Number(v) || 0) / sb);
  const nb = Math.max(fa.length, fb.length, 1);
  const hi = Math.max(1e-12, ...fa, ...fb);
  const ys = (v) => y0 - (v / hi) * (y0 - y1);
  const bw = (x1 - x0) / nb;
  const ed = edges.map(Number);
  const xTicks = [];
  const every = Math.max(1, Math.ceil((nb + 1) / 7));
  for (let i = 0; i <= nb; i += every) xTicks.push(i);
  axes(s, { x0, x1, y0, y1, xs: (i) => x0 + i * bw, ys, xTicks, yTicks: niceTicks(0, hi, 4), yLabel: 'fraction',
    xFmt: (i) => (Number.isFinite(ed[i]) ? tickLabel(ed[i]) : '') });
  [[fa, 0, aLabel], [fb, 1, bLabel]].forEach(([f, ci, name]) => {
    const g = el('g', { class: 'series' }, el('title', {}, name));
    f.forEach((v, i) => {
      const r = el('rect', { x: x0 + i * bw + (ci ? bw / 2 : 0) + 0.5, y: ys(v), width: Math.max(0.5, bw / 2 - 1), height: Math.max(0, y0 - ys(v)), style: `fill:${colour(ci)};fill-opacity:.75` });
      r.append(el('title', {}, `${name} bin ${i}: ${(v * 100).toFixed(1)}%`));
      g.append(r);
    });
    const d = f.map((v, i) => `${i ? 'L' : 'M'}${(x0 + i * bw + bw / 2).toFixed(2)},${ys(v).toFixed(2)}`).join('');
    if (f.length) g.append(el('path', { d, style: `fill:none;stroke:${colour(ci)};stroke-width:1.5` }));
    s.append(g);
  });
  legend(s, [aLabel, bLabel].map(String), x0, height + 2);
  return s;
}

/**
 * Parallel coordinates: one vertical axis per name, one polyline per line.
 * Each axis is scaled to its own range; a missing value breaks the line.
 */
export function parallelCoords({ axes: names = [], lines = [] } = {}) {
  const legendH = lines.length * 14 + 6;
  const top = 24;
  const plotH = 220;
  const H = top + plotH + 30 + legendH;
  const s = svgRoot(W, H, `Parallel coordinates over ${names.join(', ')} for ${lines.length} runs`);
  const x0 = 40;
  const x1 = W - 40;
  const ax = (i) => (names.length <= 1 ? (x0 + x1) / 2 : x0 + (i / (names.length - 1)) * (x1 - x0));
  const ranges = names.map((_, i) => extent(lines.map((l) => Number(l.values[i]))));
  const ys = (i, v) => top + plotH - ((v - ranges[i][0]) / (ranges[i][1] - ranges[i][0])) * plotH;
  names.forEach((n, i) => {
    const x = ax(i);
    s.append(el('line', { x1: x, x2: x, y1: top, y2: top + plotH, style: 'stroke:var(--muted)' }));
    const nm = String(n);
    s.append(el('text', { x, y: top - 8, 'text-anchor': 'middle' }, nm.length > 18 ? `${nm.slice(0, 17)}…` : nm));
    s.append(el('text', { x: x + 3, y: top + 10 }, tickLabel(ranges[i][1])));
    s.append(el('text', { x: x + 3, y: top + plotH }, tickLabel(ranges[i][0])));
  });
  lines.forEach((l, li) => {
    let d = '';
    let pen = false;
    names.forEach((_, i) => {
      const v = Number(l.values[i]);
      if (l.values[i] === null || l.values[i] === undefined || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${ax(i).toFixed(2)},${ys(i, v).toFixed(2)}`;
      pen = true;
    });
    const p = el('path', { d: d || 'M0,0', style: `fill:none;stroke:${colour(li)};stroke-width:2;stroke-opacity:.85` });
    p.append(el('title', {}, l.name));
    s.append(p);
  });
  legend(s, lines.map((l) => String(l.name)), x0, top + plotH + 30);
  return s;
}

const STATUS = { ok: 'var(--st-ok)', running: 'var(--st-running)', failed: 'var(--st-failed)', cached: 'var(--st-cached)', stale: 'var(--st-stale)' };

/**
 * DAG, layered left to right: a node's layer is the longest path from a
 * source; nodes in a layer are stacked in input order. Edges are cubic curves
 * with an arrow head. Node fill by status (ok, running, failed, cached, stale).
 */
export function dagChart({ nodes = [], edges = [] } = {}) {
  const idx = new Map(nodes.map((n, i) => [n.id, i]));
  const layer = nodes.map(() => 0);
  for (let pass = 0; pass < nodes.length; pass++) {
    let changed = false;
    for (const [f, t] of edges) {
      const a = idx.get(f);
      const b = idx.get(t);
      if (a === undefined || b === undefined) continue;
      if (layer[b] < layer[a] + 1 && layer[a] + 1 < nodes.length) {
        layer[b] = layer[a] + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const nl = Math.max(0, ...layer) + 1;
  const rowsIn = Array.from({ length: nl }, () => []);
  nodes.forEach((n, i) => rowsIn[layer[i]].push(i));
  const maxRows = Math.max(1, ...rowsIn.map((r) => r.length));
  const nw = 120;
  const nh = 34;
  const gapX = 50;
  const gapY = 18;
  const width = Math.max(W, nl * (nw + gapX) + 20);
  const H = maxRows * (nh + gapY) + 40;
  const s = svgRoot(width, H, `Pipeline graph of ${nodes.length} stages: ${nodes.map((n) => `${n.label ?? n.id} ${n.status ?? ''}`).join(', ')}`);
  const defs = el('defs');
  const marker = el('marker', { id: 'dag-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' });
  marker.append(el('path', { d: 'M0,0L10,5L0,10z', style: 'fill:var(--muted)' }));
  defs.append(marker);
  s.append(defs);
  const pos = new Map();
  rowsIn.forEach((r, L) => r.forEach((i, k) => {
    const offset = ((maxRows - r.length) * (nh + gapY)) / 2;
    pos.set(i, { x: 10 + L * (nw + gapX), y: 10 + offset + k * (nh + gapY) });
  }));
  for (const [f, t] of edges) {
    const a = pos.get(idx.get(f));
    const b = pos.get(idx.get(t));
    if (!a || !b) continue;
    const sx = a.x + nw;
    const sy = a.y + nh / 2;
    const tx = b.x;
    const ty = b.y + nh / 2;
    const mx = (sx + tx) / 2;
    s.append(el('path', { d: `M${sx},${sy}C${mx},${sy} ${mx},${ty} ${tx},${ty}`, 'marker-end': 'url(#dag-arrow)', style: 'fill:none;stroke:var(--muted);stroke-width:1.5' }));
  }
  nodes.forEach((n, i) => {
    const p = pos.get(i);
    const st = String(n.status ?? '').toLowerCase();
    const g = el('g', { class: `node ${st}` });
    g.append(el('title', {}, `${n.label ?? n.id}: ${st || 'unknown'}`));
    g.append(el('rect', { x: p.x, y: p.y, width: nw, height: nh, rx: 6, style: `fill:${STATUS[st] ?? 'var(--c9)'};fill-opacity:.2;stroke:${STATUS[st] ?? 'var(--c9)'};stroke-width:2` }));
    const label = String(n.label ?? n.id);
    g.append(el('text', { x: p.x + nw / 2, y: p.y + 15, 'text-anchor': 'middle' }, label.length > 17 ? `${label.slice(0, 16)}…` : label));
    g.append(el('text', { x: p.x + nw / 2, y: p.y + 28, 'text-anchor': 'middle', style: 'font-size:9px;fill:var(--muted)' }, st));
    s.append(g);
  });
  return s;
}
