// run.js - one run: info, params, tags, metric charts over steps, an
// artifacts browser with previews, and lineage (data hashes and parent run).
//
// Metric histories are fetched in parallel (metrics/get-history per key);
// the artifact tree is listed lazily, one artifacts/list per directory opened.
// Previews fetch the file through the artifact proxy and cap what they read
// (text 256 KiB, CSV first 200 rows); images are plain <img src> to the proxy,
// which sends SVG/HTML as text/plain so an artifact cannot run script here.

import { api, h, fmtTime, fmtNum, fmtDuration } from '../app.js';
import { lineChart } from '../charts.js';

const TEXT_LIMIT = 256 * 1024;
const CSV_ROWS = 200;
const IMG = /\.(png|jpe?g|gif|webp|bmp)$/i;
const TEXTY = /\.(txt|log|md|yaml|yml|py|csv|tsv|json|jsonl|toml|cfg|ini|sh|xml|html?|svg|js|sql)$|(^|\/)MLmodel$|(^|\/)[^./]+$/i;

/** Splits one CSV line (RFC 4180 quotes) into cells. */
export function csvLine(line) {
  const out = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; }
      else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') { out.push(cur); cur = ''; }
    else cur += c;
  }
  out.push(cur);
  return out;
}

/** The proxy URL of a run artifact: artifact_uri mlflow-artifacts:/X + path. */
function proxyUrl(artifactUri, path) {
  const base = String(artifactUri ?? '').replace(/^mlflow-artifacts:(\/\/[^/]*)?\/*/, '');
  return `/api/2.0/mlflow-artifacts/artifacts/${[...base.split('/'), ...path.split('/')].filter(Boolean).map(encodeURIComponent).join('/')}`;
}

function kvList(pairs) {
  if (!pairs.length) return h('p', { class: 'muted' }, 'None.');
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value'))),
    h('tbody', {}, pairs.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', { class: 'wrap' }, v))))));
}

function parseJsonTag(v) {
  try {
    return JSON.parse(v);
  } catch {
    return null;
  }
}

export async function render(root, params) {
  const id = params.id;
  root.append(h('p', { class: 'muted' }, 'Loading run…'));
  let run;
  try {
    run = (await api(`runs/get?run_id=${encodeURIComponent(id)}`)).run;
  } catch (e) {
    root.replaceChildren(h('h1', {}, 'Run'), h('p', { class: 'error' }, `Could not load run ${id}: ${e.message}`));
    return undefined;
  }
  const info = run.info;
  const tags = new Map((run.data?.tags ?? []).map((t) => [t.key, t.value]));
  const paramsList = (run.data?.params ?? []).map((p) => [p.key, p.value]).sort((a, b) => a[0].localeCompare(b[0]));
  const metrics = (run.data?.metrics ?? []).slice().sort((a, b) => a.key.localeCompare(b.key));
  const parent = tags.get('mlflow.parentRunId');
  const name = info.run_name || tags.get('mlflow.runName') || id;

  const infoPairs = [
    ['Run ID', h('code', {}, id)],
    ['Status', h('span', { class: `status ${info.status}` }, info.status)],
    ['Experiment', h('a', { href: `#/runs?experiment=${encodeURIComponent(info.experiment_id)}` }, info.experiment_id)],
    ['Started', fmtTime(info.start_time)],
    ['Ended', fmtTime(info.end_time) || '—'],
    ['Duration', info.end_time && info.start_time ? fmtDuration(info.end_time - info.start_time) : '—'],
    ['Source', tags.get('mlflow.source.name') ?? '—'],
    ['User', info.user_id || tags.get('mlflow.user') || '—'],
    ['Parent run', parent ? h('a', { href: `#/run/${encodeURIComponent(parent)}`, id: 'parent-link' }, parent) : '—'],
    ['Artifact URI', h('code', {}, info.artifact_uri ?? '')],
  ];
  const dl = h('dl', { class: 'kv' }, infoPairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));

  const chartsBox = h('div', { class: 'charts', id: 'metric-charts' });
  const metricTable = kvList(metrics.map((m) => [m.key, fmtNum(m.value)]));
  const treeBox = h('div', { class: 'tree', id: 'artifact-tree' });
  const preview = h('div', { class: 'preview panel', id: 'artifact-preview', 'aria-live': 'polite' },
    h('p', { class: 'muted' }, 'Choose a file to preview it.'));

  root.replaceChildren(
    h('p', {}, h('a', { href: `#/runs?experiment=${encodeURIComponent(info.experiment_id)}` }, '← Runs'),
      ' · ', h('a', { href: `#/compare?runs=${encodeURIComponent(id)}${parent ? `,${encodeURIComponent(parent)}` : ''}` }, 'Compare')),
    h('h1', {}, `Run ${name}`),
    h('section', { class: 'panel', 'aria-labelledby': 'h-info' }, h('h2', { id: 'h-info' }, 'Info'), dl),
    lineage(tags, parent),
    h('div', { class: 'grid2' },
      h('section', { 'aria-labelledby': 'h-params' }, h('h2', { id: 'h-params' }, `Params (${paramsList.length})`), kvList(paramsList)),
      h('section', { 'aria-labelledby': 'h-mt' }, h('h2', { id: 'h-mt' }, `Metrics (${metrics.length})`), metricTable)),
    h('section', { 'aria-labelledby': 'h-charts' }, h('h2', { id: 'h-charts' }, 'Metric history'), chartsBox),
    h('section', { 'aria-labelledby': 'h-art' }, h('h2', { id: 'h-art' }, 'Artifacts'),
      h('div', { class: 'artifacts' }, h('div', { class: 'panel' }, treeBox), preview)),
    h('section', { 'aria-labelledby': 'h-tags' }, h('h2', { id: 'h-tags' }, 'Tags'),
      kvList([...tags.entries()].sort((a, b) => a[0].localeCompare(b[0])))),
  );

  let alive = true;
  // Metric charts.
  (async () => {
    if (!metrics.length) {
      chartsBox.append(h('p', { class: 'muted' }, 'No metrics.'));
      return;
    }
    const hist = await Promise.all(metrics.map((m) =>
      api(`metrics/get-history?run_id=${encodeURIComponent(id)}&metric_key=${encodeURIComponent(m.key)}&max_results=25000`)
        .then((r) => r.metrics ?? []).catch((e) => e)));
    if (!alive) return;
    metrics.forEach((m, i) => {
      const hs = hist[i];
      const fig = h('figure', { class: 'chart', 'data-metric': m.key }, h('h3', {}, m.key));
      if (hs instanceof Error) fig.append(h('p', { class: 'error' }, hs.message));
      else {
        const pts = hs.slice().sort((a, b) => a.step - b.step || a.timestamp - b.timestamp).map((p) => [p.step ?? 0, p.value]);
        fig.append(lineChart({ series: [{ name: m.key, points: pts }], xLabel: 'step', yLabel: m.key, height: 220 }));
      }
      chartsBox.append(fig);
    });
  })();

  // Artifact tree.
  async function listDir(path, ul) {
    let r;
    try {
      r = await api(`artifacts/list?run_id=${encodeURIComponent(id)}${path ? `&path=${encodeURIComponent(path)}` : ''}`);
    } catch (e) {
      ul.append(h('li', { class: 'error' }, e.message));
      return;
    }
    const files = (r.files ?? []).slice().sort((a, b) => (b.is_dir - a.is_dir) || a.path.localeCompare(b.path));
    if (!files.length && !path) ul.append(h('li', { class: 'muted' }, 'No artifacts.'));
    for (const f of files) {
      const base = f.path.split('/').pop();
      if (f.is_dir) {
        const sub = h('ul', { hidden: true });
        let loaded = false;
        const btn = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false', 'data-path': f.path, onclick: async () => {
          const open = btn.getAttribute('aria-expanded') === 'true';
          btn.setAttribute('aria-expanded', String(!open));
          btn.firstChild.textContent = open ? '▸ ' : '▾ ';
          sub.hidden = open;
          if (!open && !loaded) {
            loaded = true;
            await listDir(f.path, sub);
          }
        } }, h('span', { 'aria-hidden': 'true' }, '▸ '), `${base}/`);
        ul.append(h('li', {}, btn, sub));
      } else {
        const btn = h('button', { type: 'button', class: 'link', 'data-path': f.path, onclick: () => {
          for (const b of treeBox.querySelectorAll('button[aria-current]')) b.removeAttribute('aria-current');
          btn.setAttribute('aria-current', 'true');
          show(f);
        } }, base);
        ul.append(h('li', {}, btn, f.file_size !== undefined ? h('span', { class: 'muted' }, ` ${fmtNum(f.file_size)} B`) : null));
      }
    }
  }

  async function show(f) {
    const url = proxyUrl(info.artifact_uri, f.path);
    const head = h('h3', {}, f.path, ' ', h('a', { href: url, download: f.path.split('/').pop() }, '(download)'));
    if (IMG.test(f.path)) {
      preview.replaceChildren(head, h('img', { src: url, alt: `artifact ${f.path}` }));
      return;
    }
    if (!TEXTY.test(f.path)) {
      preview.replaceChildren(head, h('p', { class: 'muted' }, 'Binary file: no preview.'));
      return;
    }
    preview.replaceChildren(head, h('p', { class: 'muted' }, 'Loading…'));
    let text;
    let truncated = false;
    try {
      const r = await fetch(url);
      if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
      const reader = r.body.getReader();
      const chunks = [];
      let n = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        n += value.length;
        if (n >= TEXT_LIMIT) {
          truncated = true;
          reader.cancel();
          break;
        }
      }
      const all = new Uint8Array(n);
      let o = 0;
      for (const c of chunks) { all.set(c, o); o += c.length; }
      text = new TextDecoder().decode(all.subarray(0, Math.min(n, TEXT_LIMIT)));
    } catch (e) {
      preview.replaceChildren(head, h('p', { class: 'error' }, `Could not read: ${e.message}`));
      return;
    }
    const note = truncated ? h('p', { class: 'muted' }, `Showing the first ${TEXT_LIMIT / 1024} KiB.`) : null;
    if (/\.json$/i.test(f.path) && !truncated) {
      let pretty = null;
      try {
        pretty = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        pretty = null;
      }
      if (pretty !== null) {
        preview.replaceChildren(head, h('pre', { class: 'json' }, h('code', {}, pretty)));
        return;
      }
    }
    if (/\.(csv|tsv)$/i.test(f.path)) {
      const lines = text.split(/\r?\n/).filter((l) => l.length);
      const split = /\.tsv$/i.test(f.path) ? (l) => l.split('\t') : csvLine;
      const [hdr, ...rows] = lines.slice(0, CSV_ROWS + 1).map(split);
      preview.replaceChildren(head,
        h('p', { class: 'muted' }, `First ${Math.min(rows.length, CSV_ROWS)} rows${lines.length > CSV_ROWS + 1 || truncated ? ' (more not shown)' : ''}.`),
        h('div', { class: 'table-wrap' }, h('table', { class: 'csv' },
          h('thead', {}, h('tr', {}, (hdr ?? []).map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))))));
      return;
    }
    preview.replaceChildren(head, note, h('pre', {}, text));
  }

  const rootUl = h('ul');
  treeBox.append(rootUl);
  listDir('', rootUl);
  return () => {
    alive = false;
  };
}

/** The lineage panel: stage, cache key, input/output hashes, parent pipeline run. */
function lineage(tags, parent) {
  const stage = tags.get('cairn.stage');
  const key = tags.get('cairn.cache_key');
  const deps = tags.get('cairn.deps');
  const outs = tags.get('cairn.outs');
  if (!stage && !key && !deps && !outs && !parent) return null;
  const hashTable = (title, raw) => {
    if (!raw) return null;
    const j = parseJsonTag(raw);
    const rows = j && typeof j === 'object' && !Array.isArray(j)
      ? Object.entries(j).map(([p, v]) => [p, typeof v === 'string' ? v : JSON.stringify(v)])
      : Array.isArray(j) ? j.map((v, i) => [String(i), typeof v === 'string' ? v : JSON.stringify(v)]) : [['', raw]];
    return h('div', {}, h('h3', {}, title), h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Path'), h('th', { scope: 'col' }, 'Hash'))),
      h('tbody', {}, rows.map(([p, v]) => h('tr', {}, h('td', {}, p), h('td', { class: 'hash' }, v)))))));
  };
  return h('section', { class: 'panel', id: 'lineage', 'aria-labelledby': 'h-lin' }, h('h2', { id: 'h-lin' }, 'Lineage'),
    h('dl', { class: 'kv' },
      stage ? [h('dt', {}, 'Pipeline stage'), h('dd', {}, stage)] : null,
      key ? [h('dt', {}, 'Cache key'), h('dd', { class: 'hash' }, key)] : null,
      parent ? [h('dt', {}, 'Pipeline run'), h('dd', {}, h('a', { href: `#/run/${encodeURIComponent(parent)}` }, parent))] : null),
    h('div', { class: 'grid2' }, hashTable('Inputs (cairn.deps)', deps), hashTable('Outputs (cairn.outs)', outs)));
}
