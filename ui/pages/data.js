// data.js - #/data: data versions as the tracking store knows them. The
// server has no data-pointer API, so this page reads the lineage tags that
// pipelines and `cairn train` write on runs (cairn.deps / cairn.outs: JSON
// objects path -> content hash), groups them by path and hash with the runs
// that read or wrote each hash, and compares two runs path by path. Only
// hashes travel over REST, so a comparison says "same" or "changed" per
// path; file-level diffs of directory manifests are not available here.

import { api, h, fmtTime } from '../app.js';

function enc(s) {
  return encodeURIComponent(s);
}

function tagsOf(run) {
  const t = {};
  for (const x of run.data?.tags ?? []) t[x.key] = x.value;
  return t;
}

function parseJson(s) {
  try {
    const v = JSON.parse(s ?? '');
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

/** {path: Map(hash -> [{run, role}])} from runs' lineage tags. */
export function lineageIndex(runs) {
  const paths = new Map();
  for (const r of runs) {
    const t = tagsOf(r);
    for (const [role, key] of [['dep', 'cairn.deps'], ['out', 'cairn.outs']]) {
      for (const [p, hash] of Object.entries(parseJson(t[key]))) {
        if (!paths.has(p)) paths.set(p, new Map());
        const byHash = paths.get(p);
        if (!byHash.has(hash)) byHash.set(hash, []);
        byHash.get(hash).push({ run: r, role });
      }
    }
  }
  return paths;
}

/** path -> hash of every path a run read or wrote (outs win over deps). */
export function runPaths(run) {
  const t = tagsOf(run);
  return { ...parseJson(t['cairn.deps']), ...parseJson(t['cairn.outs']) };
}

/** Per-path comparison of two runs: [{path, a, b, state: same|changed|only-a|only-b}]. */
export function comparePaths(runA, runB) {
  const a = runPaths(runA);
  const b = runPaths(runB);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().map((p) => ({
    path: p, a: a[p] ?? null, b: b[p] ?? null,
    state: a[p] === undefined ? 'only-b' : b[p] === undefined ? 'only-a' : a[p] === b[p] ? 'same' : 'changed',
  }));
}

function runLabel(r) {
  const t = tagsOf(r);
  return `${t['cairn.stage'] ?? r.info.run_name ?? r.info.run_id.slice(0, 8)} (${r.info.run_id.slice(0, 8)}, ${fmtTime(r.info.start_time)})`;
}

export async function render(root) {
  root.append(h('h1', {}, 'Data'),
    h('p', { class: 'muted' }, 'Data versions recorded as lineage on runs (cairn.deps / cairn.outs tags: path → content hash). ',
      'Pointer files themselves are not served over REST, so only hashes are shown and compared.'));
  const exps = [];
  let token = '';
  do {
    const q = new URLSearchParams({ max_results: '1000', view_type: 'ALL' });
    if (token) q.set('page_token', token);
    const r = await api(`/api/2.0/mlflow/experiments/search?${q}`);
    exps.push(...(r.experiments ?? []));
    token = r.next_page_token ?? '';
  } while (token);
  const ids = exps.map((e) => e.experiment_id);
  const runs = [];
  for (const filter of ["tags.cairn.deps != ''", "tags.cairn.outs != ''"]) {
    token = '';
    do {
      const body = { experiment_ids: ids, filter, max_results: 1000, order_by: ['attributes.start_time DESC'] };
      if (token) body.page_token = token;
      const r = ids.length ? await api('/api/2.0/mlflow/runs/search', { method: 'POST', body }) : {};
      for (const run of r.runs ?? []) if (!runs.some((x) => x.info.run_id === run.info.run_id)) runs.push(run);
      token = r.next_page_token ?? '';
    } while (token && runs.length < 5000);
  }
  runs.sort((a, b) => Number(b.info.start_time) - Number(a.info.start_time));
  if (!runs.length) {
    root.append(h('p', { id: 'data-empty' }, 'No run records data lineage yet. Pipelines (cairn pipeline run) tag their stage runs with the hashes of their deps and outs.'));
    return;
  }
  const index = lineageIndex(runs);
  const paths = [...index.keys()].sort();
  root.append(h('h2', {}, `Paths (${paths.length})`),
    h('div', { class: 'table-wrap' }, h('table', { id: 'data-paths' },
      h('thead', {}, h('tr', {}, ...['Path', 'Versions', 'Hash', 'Runs (role)'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...paths.flatMap((p) => {
        const byHash = [...index.get(p)].sort((x, y) => Math.max(...y[1].map((u) => Number(u.run.info.start_time))) - Math.max(...x[1].map((u) => Number(u.run.info.start_time))));
        return byHash.map(([hash, uses], i) => h('tr', { 'data-path': p },
          i === 0 ? h('th', { scope: 'row', rowspan: String(byHash.length) }, p) : null,
          i === 0 ? h('td', { class: 'num', rowspan: String(byHash.length) }, String(byHash.length)) : null,
          h('td', {}, h('code', { title: hash }, hash.slice(0, 12))),
          h('td', {}, ...uses.flatMap((u, k) => [k ? ', ' : '', h('a', { href: `#/run/${enc(u.run.info.run_id)}` }, runLabel(u.run)), ` (${u.role === 'dep' ? 'read' : 'wrote'})`]))));
      })))));

  // compare two runs
  const opts = () => runs.map((r) => h('option', { value: r.info.run_id }, runLabel(r)));
  const selA = h('select', { id: 'data-run-a' }, ...opts());
  const selB = h('select', { id: 'data-run-b' }, ...opts());
  if (runs.length > 1) selB.value = runs[1].info.run_id;
  const out = h('div', { id: 'data-diff', 'aria-live': 'polite' });
  const show = () => {
    const a = runs.find((r) => r.info.run_id === selA.value);
    const b = runs.find((r) => r.info.run_id === selB.value);
    const rows = comparePaths(a, b);
    const words = { same: 'same', changed: 'changed', 'only-a': 'only in A', 'only-b': 'only in B' };
    out.replaceChildren(h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ...['Path', 'A', 'B', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...rows.map((r) => h('tr', { class: r.state },
        h('td', {}, r.path), h('td', {}, r.a ? h('code', { title: r.a }, r.a.slice(0, 12)) : '—'),
        h('td', {}, r.b ? h('code', { title: r.b }, r.b.slice(0, 12)) : '—'),
        h('td', { class: r.state === 'same' ? 'ok' : 'bad' }, words[r.state])))))),
    h('p', { class: 'muted' }, `${rows.filter((r) => r.state === 'same').length} same, ${rows.filter((r) => r.state !== 'same').length} different. Hashes only: which files inside a changed directory differ is not known over REST.`));
  };
  selA.addEventListener('change', show);
  selB.addEventListener('change', show);
  root.append(h('h2', {}, 'Compare two runs'),
    h('form', { class: 'form', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'data-run-a' }, 'Run A'), selA, h('label', { for: 'data-run-b' }, 'Run B'), selB),
    out);
  show();
}
