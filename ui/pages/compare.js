// compare.js - compares runs: overlaid metric charts (one per metric, one
// series per run), a param/metric table that highlights rows whose values
// differ, and parallel coordinates over the numeric params and metrics.
//
// Runs come from #/compare?runs=a,b,c (runs/get each, in parallel); metric
// histories are fetched per (run, metric) pair.

import { api, h, fmtNum } from '../app.js';
import { lineChart, parallelCoords, colour } from '../charts.js';

const isNum = (v) => v !== undefined && v !== null && v !== '' && Number.isFinite(Number(v));

export async function render(root, params) {
  const ids = (params.runs ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  root.append(h('p', {}, h('a', { href: '#/runs' }, '← Runs')), h('h1', {}, `Compare ${ids.length} runs`));
  if (!ids.length) {
    root.append(h('p', { class: 'muted' }, 'Select runs on the runs page, then choose "Compare selected".'));
    return undefined;
  }
  const got = await Promise.all(ids.map((id) => api(`runs/get?run_id=${encodeURIComponent(id)}`).then((r) => r.run).catch((e) => e)));
  const runs = [];
  got.forEach((r, i) => {
    if (r instanceof Error) root.append(h('p', { class: 'error' }, `Run ${ids[i]}: ${r.message}`));
    else runs.push(r);
  });
  if (!runs.length) return undefined;
  const names = runs.map((r) => r.info.run_name || r.info.run_id.slice(0, 8));
  const pmaps = runs.map((r) => new Map((r.data?.params ?? []).map((p) => [p.key, p.value])));
  const mmaps = runs.map((r) => new Map((r.data?.metrics ?? []).map((m) => [m.key, m.value])));
  const pkeys = [...new Set(pmaps.flatMap((m) => [...m.keys()]))].sort();
  const mkeys = [...new Set(mmaps.flatMap((m) => [...m.keys()]))].sort();

  const legend = h('p', { class: 'legend' }, runs.map((r, i) => h('span', {},
    h('span', { class: 'sw', style: { background: colour(i) }, 'aria-hidden': 'true' }),
    h('a', { href: `#/run/${encodeURIComponent(r.info.run_id)}` }, names[i]))));

  // Difference table.
  const onlyDiff = h('input', { type: 'checkbox', id: 'only-diff' });
  const tbody = h('tbody');
  const rowsFor = (kind, keys, maps, fmt) => keys.map((k) => {
    const vals = maps.map((m) => m.get(k));
    const differs = new Set(vals.map((v) => (v === undefined ? '\u0000' : String(v)))).size > 1;
    return h('tr', { class: differs ? 'diff' : null, 'data-differs': differs ? 'true' : 'false' },
      h('th', { scope: 'row' }, `${kind} ${k}`, differs ? h('span', { class: 'muted' }, ' (differs)') : null),
      vals.map((v) => h('td', { class: kind === 'metric' ? 'num' : null }, v === undefined ? '—' : fmt(v))));
  });
  tbody.append(...rowsFor('param', pkeys, pmaps, String), ...rowsFor('metric', mkeys, mmaps, fmtNum));
  onlyDiff.addEventListener('change', () => {
    for (const tr of tbody.rows) tr.hidden = onlyDiff.checked && tr.dataset.differs !== 'true';
  });
  const diffTable = h('table', { id: 'diff-table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), names.map((n) => h('th', { scope: 'col' }, n)))), tbody);

  // Parallel coordinates over numeric columns present in every run... or most:
  // a key is an axis when all values it has are numeric and at least 2 runs have it.
  const axes = [];
  const axisVals = [];
  for (const [kind, keys, maps] of [['param', pkeys, pmaps], ['metric', mkeys, mmaps]]) {
    for (const k of keys) {
      const vals = maps.map((m) => m.get(k));
      const present = vals.filter((v) => v !== undefined);
      if (present.length >= Math.min(2, runs.length) && present.every(isNum)) {
        axes.push(`${kind === 'param' ? 'p' : 'm'}:${k}`);
        axisVals.push(vals.map((v) => (v === undefined ? null : Number(v))));
      }
    }
  }
  const pc = axes.length >= 2
    ? parallelCoords({ axes, lines: runs.map((_, i) => ({ name: names[i], values: axisVals.map((col) => col[i]) })) })
    : h('p', { class: 'muted' }, 'Fewer than two numeric params/metrics in common.');

  const chartsBox = h('div', { class: 'charts', id: 'compare-charts' });
  root.append(legend,
    h('section', { 'aria-labelledby': 'h-cm' }, h('h2', { id: 'h-cm' }, 'Metrics'), chartsBox),
    h('section', { 'aria-labelledby': 'h-diff' }, h('h2', { id: 'h-diff' }, 'Params and metrics'),
      h('p', {}, h('label', {}, onlyDiff, ' Only rows that differ')),
      h('div', { class: 'table-wrap' }, diffTable)),
    h('section', { 'aria-labelledby': 'h-pc', class: 'chart', id: 'parallel' }, h('h2', { id: 'h-pc' }, 'Parallel coordinates'), pc));

  let alive = true;
  const hist = await Promise.all(mkeys.map((k) => Promise.all(runs.map((r, i) => (mmaps[i].has(k)
    ? api(`metrics/get-history?run_id=${encodeURIComponent(r.info.run_id)}&metric_key=${encodeURIComponent(k)}&max_results=25000`)
      .then((x) => x.metrics ?? []).catch(() => [])
    : Promise.resolve(null))))));
  if (!alive) return undefined;
  if (!mkeys.length) chartsBox.append(h('p', { class: 'muted' }, 'No metrics.'));
  mkeys.forEach((k, j) => {
    // Keep run i on colour i even when a run lacks this metric (empty series).
    const series = runs.map((_, i) => ({ name: names[i],
      points: (hist[j][i] ?? []).slice().sort((a, b) => a.step - b.step || a.timestamp - b.timestamp).map((p) => [p.step ?? 0, p.value]) }));
    chartsBox.append(h('figure', { class: 'chart', 'data-metric': k }, h('h3', {}, k),
      lineChart({ series, xLabel: 'step', yLabel: k, height: 220 })));
  });
  return () => {
    alive = false;
  };
}
