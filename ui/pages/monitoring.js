// monitoring.js - #/monitoring?deployment=X: drift, quality and alerts of
// one deployment. Drift history (monitor/drift/history) becomes one heatmap
// per served version: rows = monitored columns, columns = closed windows
// (oldest left), each cell the drift score divided by its threshold so 1
// means "at the threshold" whatever the statistic (for p-value statistics,
// KS and chi-square, where small means drift, the ratio is threshold/score);
// drifted cells get an outline. A feature's detail overlays the reference's
// and the latest window's distributions (the bins each result carries:
// the profile's quantile bins, or categories) and plots its score over
// windows against the threshold.

import { api, h, fmtTime, fmtNum } from '../app.js';
import { barChart, heatmap, histOverlay, lineChart } from '../charts.js';

const CAP = 3; // heatmap scale: 0 .. 3x the threshold

function enc(s) {
  return encodeURIComponent(s);
}

/** Whether a statistic reports a p-value (small = drift). */
export function isPValue(statistic) {
  return /^(ks|chi)/i.test(String(statistic ?? ''));
}

/** Drift score normalised by its threshold: >= 1 means drifted, capped at CAP. */
export function normalisedScore(r) {
  const s = Number(r.score);
  const t = Number(r.threshold);
  if (!Number.isFinite(s) || !Number.isFinite(t) || t <= 0) return null;
  const v = isPValue(r.statistic) ? (s > 0 ? t / s : CAP) : s / t;
  return Math.min(CAP, v);
}

function clock(ms) {
  return fmtTime(ms).slice(11) || '?';
}

/** Groups history windows (newest first) into series by model and version, oldest first. */
function bySeries(windows) {
  const m = new Map();
  for (const w of windows) {
    const key = `${w.model} v${w.version}`;
    if (!m.has(key)) m.set(key, []);
    m.get(key).push(w);
  }
  for (const list of m.values()) list.sort((a, b) => a.end - b.end);
  return m;
}

function driftSection(key, wins, uid) {
  const features = [...new Set(wins.flatMap((w) => (w.results ?? []).map((r) => r.feature)))].sort();
  const cols = wins.map((w, j) => `#${j + 1} ${clock(w.end)}`);
  const cell = (w, f) => (w.results ?? []).find((r) => r.feature === f);
  const values = features.map((f) => wins.map((w) => {
    const r = cell(w, f);
    return r ? normalisedScore(r) : null;
  }));
  const svg = heatmap({ rows: features, cols, values, min: 0, max: CAP });
  // outline drifted cells: the chart draws one titled rect per cell, row-major
  const rects = [...svg.querySelectorAll('rect')].filter((r) => r.querySelector('title'));
  if (rects.length === features.length * wins.length) {
    features.forEach((f, i) => wins.forEach((w, j) => {
      const r = cell(w, f);
      if (!r?.drift) return;
      const rect = rects[i * wins.length + j];
      rect.classList.add('drifted');
      rect.style.stroke = 'var(--fg, currentColor)';
      rect.style.strokeWidth = '2';
      const t = rect.querySelector('title');
      t.textContent += ' (drifted)';
    }));
  }
  const latest = wins[wins.length - 1];
  const drifted = (latest.results ?? []).filter((r) => r.drift).map((r) => r.feature);

  // reference vs latest window: numeric bins overlaid, categories as bars
  const binsFigure = (f, bins) => {
    if (!bins) return [];
    if (bins.edges) {
      return [h('figure', {}, histOverlay({ edges: bins.edges, a: bins.reference, b: bins.current,
        aLabel: 'reference', bLabel: 'latest window', height: 200 }),
      h('figcaption', {}, `${f}: reference and latest window over the profile's quantile bins (shares)`))];
    }
    const total = (xs) => xs.reduce((p, v) => p + Number(v), 0) || 1;
    const tr = total(bins.reference);
    const tc = total(bins.current);
    return [h('figure', {}, barChart({
      bars: bins.categories.flatMap((c, i) => [
        { label: `${c} (ref)`, value: bins.reference[i] / tr },
        { label: `${c} (now)`, value: bins.current[i] / tc }]),
      yLabel: 'share', height: 200 }),
    h('figcaption', {}, `${f}: category shares, reference against the latest window`))];
  };

  // per-feature detail
  const sel = h('select', { id: `feature-${uid}`, class: 'feature-select' },
    ...features.map((f) => h('option', { value: f }, f)));
  const worst = [...(latest.results ?? [])].sort((a, b) => (normalisedScore(b) ?? 0) - (normalisedScore(a) ?? 0))[0];
  if (worst) sel.value = worst.feature;
  const detail = h('div', { class: 'feature-detail', 'aria-live': 'polite' });
  const showFeature = () => {
    const f = sel.value;
    const r = cell(latest, f);
    const pts = wins.map((w, j) => [j + 1, cell(w, f)?.score]).filter(([, y]) => Number.isFinite(Number(y)));
    const thr = r ? Number(r.threshold) : null;
    detail.replaceChildren(
      r ? h('dl', { class: 'kv' },
        h('dt', {}, 'Latest window'), h('dd', {}, `${fmtTime(latest.start)} – ${clock(latest.end)} (${fmtNum(latest.rows)} rows)`),
        h('dt', {}, 'Statistic'), h('dd', {}, `${r.statistic}${isPValue(r.statistic) ? ' (score is a p-value: drift below the threshold)' : ''}`),
        h('dt', {}, 'Value / score'), h('dd', {}, `${fmtNum(r.value)} / ${fmtNum(r.score)}`),
        h('dt', {}, 'Threshold'), h('dd', {}, fmtNum(r.threshold)),
        h('dt', {}, 'Drift'), h('dd', { class: r.drift ? 'bad' : 'ok' }, r.drift ? 'yes' : 'no'),
        h('dt', {}, 'Count'), h('dd', {}, fmtNum(r.count)),
        h('dt', {}, 'Missing / out of range / new category'),
        h('dd', {}, `${fmtNum(100 * (r.missing_rate ?? 0))}% / ${fmtNum(100 * (r.out_of_range_rate ?? 0))}% / ${fmtNum(100 * (r.new_category_rate ?? 0))}%`),
        ...(r.approximate ? [h('dt', {}, 'Approximate'), h('dd', {}, 'yes (sketch)')] : []))
        : h('p', {}, `No result for ${f} in the latest window.`),
      ...binsFigure(f, r?.bins),
      h('figure', {},
        lineChart({
          series: [{ name: `${f} score`, points: pts },
            ...(thr !== null ? [{ name: 'threshold', points: pts.map(([x]) => [x, thr]) }] : [])],
          xLabel: 'window', yLabel: 'score', height: 180,
        }),
        h('figcaption', {}, `Score of ${f} over windows with its threshold.`)));
  };
  sel.addEventListener('change', showFeature);
  showFeature();

  const reqPts = (k, scale = 1) => wins.map((w, j) => [j + 1, w[k]]).filter(([, y]) => y !== null && y !== undefined && Number.isFinite(Number(y))).map(([x, y]) => [x, y * scale]);
  const agreement = reqPts('shadow_agreement', 100);
  return h('section', { class: 'drift-series', 'data-series': key },
    h('h3', {}, `Drift: ${key}`),
    h('p', {}, `${wins.length} closed windows; latest ${fmtTime(latest.end)}: ${latest.drifted ?? drifted.length} of ${latest.features ?? features.length} columns drifted${drifted.length ? ` (${drifted.join(', ')})` : ''}.`),
    h('figure', { class: 'drift-heatmap' }, svg,
      h('figcaption', {}, `Drift score / threshold per column and window (0 to ${CAP}, 1 = threshold; outlined = drifted). Columns are windows (number and end time), oldest first.`)),
    h('label', { for: `feature-${uid}` }, 'Feature detail'), sel, detail,
    ...(agreement.length ? [h('figure', {}, lineChart({ series: [{ name: 'shadow agreement %', points: agreement }], xLabel: 'window', yLabel: 'agreement (%)', height: 160 }),
      h('figcaption', {}, 'Shadow agreement per window'))] : []));
}

function qualitySection(series) {
  if (!series.length) return h('p', { id: 'quality-empty' }, 'No quality data: no labels have been posted for this deployment (cairn monitor feedback).');
  return h('div', {}, ...series.map((s) => {
    const names = [...new Set([...(s.windows ?? []).flatMap((w) => Object.keys(w.metrics ?? {})), ...Object.keys(s.current?.metrics ?? {})])];
    const wins = [...(s.windows ?? [])].sort((a, b) => a.seq - b.seq);
    return h('section', { class: 'quality-series' },
      h('h3', {}, `Quality: ${s.model} v${s.version} (${s.task ?? ''}, ${fmtNum(s.labels)} labels, ${fmtNum(s.windows_closed)} windows)`),
      wins.length ? null : h('p', {}, 'No closed window yet.'),
      ...names.map((m) => {
        const pts = wins.map((w) => {
          const v = w.metrics?.[m];
          return [w.seq, typeof v === 'object' && v !== null ? v.value : v];
        }).filter(([, y]) => Number.isFinite(Number(y)));
        const train = s.training?.[m];
        const series2 = [{ name: m, points: pts }];
        if (Number.isFinite(Number(train)) && pts.length) series2.push({ name: `training ${m}`, points: pts.map(([x]) => [x, Number(train)]) });
        const cur = s.current?.metrics?.[m];
        return h('figure', {},
          lineChart({ series: series2, xLabel: 'window', yLabel: m, height: 160 }),
          h('figcaption', {}, `${m} per window${Number.isFinite(Number(train)) ? `; training ${fmtNum(train)}` : ''}${cur ? `; open window ${fmtNum(cur.value)}` : ''}`));
      }));
  }));
}

function alertsSection(alerts) {
  if (!alerts.length) return h('p', { id: 'alerts-empty' }, 'No alerts.');
  const sorted = [...alerts].sort((a, b) => (a.state === 'firing' ? 0 : 1) - (b.state === 'firing' ? 0 : 1) || (b.updated ?? 0) - (a.updated ?? 0));
  return h('div', { class: 'table-wrap' }, h('table', { id: 'alerts-table' },
    h('thead', {}, h('tr', {}, ...['State', 'Rule', 'Kind', 'Subject', 'Value', 'Threshold', 'Started', 'Resolved', 'Reason'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...sorted.map((a) => h('tr', { class: a.state },
      h('td', { class: a.state === 'firing' ? 'bad' : 'ok' }, a.state), h('td', {}, a.rule), h('td', {}, a.kind),
      h('td', {}, a.subject ?? ''), h('td', { class: 'num' }, fmtNum(a.value)), h('td', { class: 'num' }, `${a.condition === 'below' ? '< ' : '> '}${fmtNum(a.threshold)}`),
      h('td', {}, fmtTime(a.started)), h('td', {}, a.resolved ? fmtTime(a.resolved) : '—'), h('td', {}, a.reason ?? ''))))));
}

export async function render(root, params = {}) {
  root.append(h('h1', {}, 'Monitoring'));
  const [deps, status] = await Promise.all([
    api('/api/2.0/cairn/deployments/list').catch(() => ({ deployments: [] })),
    api('/api/2.0/cairn/monitor/status').catch(() => ({ series: [] })),
  ]);
  const names = [...new Set([...(deps.deployments ?? []).map((d) => d.name), ...(status.series ?? []).map((s) => s.deployment).filter(Boolean)])].sort();
  const current = params.deployment ?? names[0];
  const sel = h('select', { id: 'monitor-deployment' }, ...names.map((n) => h('option', { value: n }, n)));
  if (current) sel.value = current;
  sel.addEventListener('change', () => { location.hash = `#/monitoring?deployment=${enc(sel.value)}`; });
  root.append(h('p', {}, h('label', { for: 'monitor-deployment' }, 'Deployment '), sel));
  if (!current) {
    root.append(h('p', {}, 'No deployments to monitor.'));
    return;
  }
  const [hist, quality, alerts] = await Promise.all([
    api(`/api/2.0/cairn/monitor/drift/history?deployment=${enc(current)}&max_results=100`).catch((e) => ({ error: e.message })),
    api(`/api/2.0/cairn/monitor/quality?deployment=${enc(current)}`).catch((e) => ({ error: e.message })),
    api(`/api/2.0/cairn/monitor/alerts/list?deployment=${enc(current)}&max_results=200`).catch((e) => ({ error: e.message })),
  ]);
  const drift = h('section', { id: 'drift', 'aria-labelledby': 'drift-h' }, h('h2', { id: 'drift-h' }, 'Drift'));
  if (hist.error) drift.append(h('p', { class: 'bad' }, `Drift history unavailable: ${hist.error}`));
  else if (!(hist.windows ?? []).length) drift.append(h('p', { id: 'drift-empty' }, 'No closed drift window yet (is a monitoring policy set and has traffic filled a window?).'));
  else {
    let uid = 0;
    for (const [key, wins] of bySeries(hist.windows)) drift.append(driftSection(key, wins, uid++));
  }
  const q = h('section', { id: 'quality', 'aria-labelledby': 'quality-h' }, h('h2', { id: 'quality-h' }, 'Quality'),
    quality.error ? h('p', { class: 'bad' }, `Quality unavailable: ${quality.error}`) : qualitySection(quality.series ?? []));
  const a = h('section', { id: 'alerts', 'aria-labelledby': 'alerts-h' }, h('h2', { id: 'alerts-h' }, 'Alerts'),
    alerts.error ? h('p', { class: 'bad' }, `Alerts unavailable: ${alerts.error}`) : alertsSection(alerts.alerts ?? []));
  root.append(drift, q, a);
}
