// pipelines.js - #/pipelines: triggers with "Run now", recent pipeline runs
// (refreshed every 2 s while any is running) and the DAG of a chosen run.
// A trigger run's MLflow parent run carries its id in the tag
// cairn.trigger_run (the scheduler passes it to `cairn pipeline run`); runs
// made before that tag existed are matched by time instead, the first
// pipeline run that started inside the trigger run's span. Its stage
// runs are the runs whose mlflow.parentRunId is that run. Edges come from
// the lineage tags: stage A -> B when a path in A's cairn.outs is, or
// contains, a path in B's cairn.deps. Stages the cache answered have no run
// of their own: the pipeline's run lists them (tag cairn.cached_stages, with
// their deps and outs), and they are drawn as cached nodes.

import { api, h, fmtTime, fmtNum } from '../app.js';
import { dagChart } from '../charts.js';

const POLL_MS = 2000;

function enc(s) {
  return encodeURIComponent(s);
}

function dur(a, b) {
  if (!a) return '';
  const ms = (b || Date.now()) - a;
  return ms < 60000 ? `${fmtNum(ms / 1000)} s` : `${Math.floor(ms / 60000)}m ${Math.round((ms % 60000) / 1000)}s`;
}

function tagsOf(run) {
  const t = {};
  for (const x of run.data?.tags ?? []) t[x.key] = x.value;
  return t;
}

function parseJson(s) {
  try {
    const v = JSON.parse(s);
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

/** Whether path `out` produces `dep` (the same path or a directory holding it). */
function produces(out, dep) {
  const o = out.replace(/\/+$/, '');
  return dep === o || dep.startsWith(`${o}/`);
}

/** DAG nodes and edges from stage runs (their lineage tags). */
export function stageGraph(runs, cached = []) {
  const keysOf = (x) => (Array.isArray(x) ? x : Object.keys(x ?? {}));
  const fromCache = (Array.isArray(cached) ? cached : []).map((c, i) => ({
    id: `cached-${i}`, stage: c.stage, status: 'cached', start: -1, end: null, deps: keysOf(c.deps), outs: keysOf(c.outs),
  }));
  const stages = runs.map((r) => {
    const t = tagsOf(r);
    const st = r.info.status;
    const status = st === 'FINISHED' ? (t['cairn.cached'] === 'true' ? 'cached' : 'ok') : st === 'RUNNING' || st === 'SCHEDULED' ? 'running' : 'failed';
    return {
      id: r.info.run_id, stage: t['cairn.stage'], status, start: Number(r.info.start_time), end: Number(r.info.end_time) || null,
      deps: Object.keys(parseJson(t['cairn.deps'])), outs: Object.keys(parseJson(t['cairn.outs'])),
    };
  }).concat(fromCache).sort((a, b) => a.start - b.start);
  const edges = [];
  for (const a of stages) {
    for (const b of stages) {
      if (a !== b && a.outs.some((o) => b.deps.some((d) => produces(o, d)))) edges.push([a.id, b.id]);
    }
  }
  return { stages, edges };
}

async function allExperimentIds() {
  const ids = [];
  let token = '';
  do {
    const q = new URLSearchParams({ max_results: '1000', view_type: 'ALL' });
    if (token) q.set('page_token', token);
    const r = await api(`/api/2.0/mlflow/experiments/search?${q}`);
    ids.push(...(r.experiments ?? []).map((e) => e.experiment_id));
    token = r.next_page_token ?? '';
  } while (token);
  return ids;
}

async function searchRuns(experimentIds, filter, orderBy = ['attributes.start_time ASC']) {
  const out = [];
  let token = '';
  do {
    const body = { experiment_ids: experimentIds, filter, max_results: 1000, order_by: orderBy };
    if (token) body.page_token = token;
    const r = await api('/api/2.0/mlflow/runs/search', { method: 'POST', body });
    out.push(...(r.runs ?? []));
    token = r.next_page_token ?? '';
  } while (token && out.length < 5000);
  return out;
}

/** The MLflow parent run of a trigger run: tagged with its id, else a
 * pipeline run started within its span. */
async function parentRunOf(run, expIds) {
  const tagged = await searchRuns(expIds, `tags.cairn.trigger_run = '${String(run.id).replace(/'/g, '')}'`);
  if (tagged.length) return tagged[0];
  const from = Number(run.started) - 1000;
  const to = run.finished ? Number(run.finished) + 1000 : Date.now() + 1000;
  const runs = await searchRuns(expIds, `tags.cairn.kind = 'pipeline' and attributes.start_time >= ${from} and attributes.start_time <= ${to}`);
  return runs.find((r) => Number(r.info.start_time) >= Number(run.started) - 1000) ?? null;
}

export async function render(root, params = {}) {
  root.append(h('h1', {}, 'Pipelines'));
  const trigBox = h('section', { id: 'triggers', 'aria-labelledby': 'triggers-h' });
  const runsBox = h('section', { id: 'pipeline-runs', 'aria-labelledby': 'pruns-h' });
  const dagBox = h('section', { id: 'pipeline-dag', 'aria-labelledby': 'dag-h', 'aria-live': 'polite' });
  const msg = h('p', { id: 'pipeline-result', role: 'status', 'aria-live': 'polite' });
  root.append(trigBox, msg, runsBox, dagBox);
  let selected = params.run ?? null;
  let stopped = false;
  let timer = null;
  let expIds = null;
  let dagKey = '';

  const showDag = async (run) => {
    const key = `${run.id}:${run.status}`;
    if (key === dagKey && run.status !== 'running') return;
    dagKey = key;
    expIds = expIds ?? (await allExperimentIds());
    const parent = await parentRunOf(run, expIds);
    const head = h('h2', { id: 'dag-h' }, `Run ${run.id.slice(0, 8)} (${run.trigger}, ${run.status})`);
    if (!parent) {
      dagBox.replaceChildren(head, h('p', {}, run.status === 'running'
        ? 'Waiting for the pipeline to start tracking…'
        : 'No tracked MLflow run for this pipeline run (every stage was up to date, or tracking was off).'));
      return;
    }
    const stageRuns = await searchRuns(expIds, `tags.mlflow.parentRunId = '${parent.info.run_id}'`);
    const { stages, edges } = stageGraph(stageRuns.filter((r) => tagsOf(r)['cairn.stage']),
      parseJson(tagsOf(parent)['cairn.cached_stages']));
    const nodes = stages.map((s) => ({ id: s.id, label: s.status === 'cached' ? `${s.stage} (cached)` : `${s.stage} ${dur(s.start, s.end)}`, status: s.status }));
    const svg = dagChart({ nodes, edges });
    // each node links to its stage's run
    const groups = [...svg.querySelectorAll('g.node')];
    groups.forEach((g, i) => {
      if (!stages[i] || stages[i].status === 'cached') return; /* the cache answered: no run */
      const a = document.createElementNS('http://www.w3.org/2000/svg', 'a');
      a.setAttribute('href', `#/run/${enc(stages[i].id)}`);
      a.setAttribute('aria-label', `stage ${stages[i].stage}: ${stages[i].status}, open its run`);
      g.replaceWith(a);
      a.append(g);
    });
    dagBox.replaceChildren(head,
      h('p', {}, 'Pipeline run: ', h('a', { href: `#/run/${enc(parent.info.run_id)}` }, parent.info.run_name || parent.info.run_id),
        ` — ${stages.length} tracked stage${stages.length === 1 ? '' : 's'}${edges.length ? '' : ' (no dependency between them in the lineage tags: laid out in start order)'}. Stages the cache answered are drawn as cached.`),
      h('figure', { id: 'dag-figure' }, svg, h('figcaption', {}, 'Stages (left to right along outs → deps), coloured by status')),
      h('ul', { class: 'stage-list' }, ...stages.map((s) => h('li', {},
        h('a', { href: `#/run/${enc(s.id)}` }, s.stage), ` — ${s.status}, ${dur(s.start, s.end)}`,
        s.deps.length ? `; deps: ${s.deps.join(', ')}` : '', s.outs.length ? `; outs: ${s.outs.join(', ')}` : ''))));
  };

  const refresh = async () => {
    const [tr, rr] = await Promise.all([api('/api/2.0/cairn/pipelines/triggers/list'), api('/api/2.0/cairn/pipelines/runs/list?max_results=50')]);
    const triggers = tr.triggers ?? [];
    const runs = (rr.runs ?? []).sort((a, b) => b.started - a.started);
    trigBox.replaceChildren(h('h2', { id: 'triggers-h' }, 'Triggers'), triggers.length
      ? h('div', { class: 'table-wrap' }, h('table', { id: 'triggers-table' },
        h('thead', {}, h('tr', {}, ...['Name', 'Directory', 'Stage', 'Schedule', 'Watch', 'Next run', 'Running', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...triggers.map((t) => h('tr', { 'data-trigger': t.name },
          h('td', {}, t.name), h('td', {}, t.directory), h('td', {}, t.stage ?? 'all'), h('td', {}, t.schedule ?? '—'),
          h('td', {}, t.watch ?? '—'), h('td', {}, t.next_run ? fmtTime(t.next_run) : '—'), h('td', {}, t.running ? 'yes' : 'no'),
          h('td', {}, h('button', { type: 'button', class: 'run-now', 'aria-label': `Run ${t.name} now`, disabled: t.running ? 'disabled' : null,
            onclick: async (e) => {
              e.target.disabled = true;
              msg.className = '';
              msg.textContent = `Starting ${t.name}…`;
              try {
                const r = await api('/api/2.0/cairn/pipelines/run', { method: 'POST', body: { trigger: t.name } });
                msg.textContent = `Started ${t.name}: run ${r.run_id}`;
                msg.className = 'ok';
                selected = r.run_id;
                dagKey = '';
              } catch (err) {
                msg.textContent = `Could not start ${t.name}: ${err.message}`;
                msg.className = 'bad';
              }
              await tick(true);
            } }, 'Run now')))))))
      : h('p', {}, 'No triggers. Create one with ', h('code', {}, 'cairn trigger create NAME --dir DIR'), '.'));
    runsBox.replaceChildren(h('h2', { id: 'pruns-h' }, 'Recent runs'), runs.length
      ? h('div', { class: 'table-wrap' }, h('table', { id: 'pipeline-runs-table' },
        h('thead', {}, h('tr', {}, ...['Run', 'Trigger', 'Reason', 'Status', 'Exit code', 'Started', 'Duration'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...runs.map((r) => h('tr', { 'data-run': r.id, class: r.id === selected ? 'selected' : null, 'aria-current': r.id === selected ? 'true' : null },
          h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => { selected = r.id; dagKey = ''; tick(true); } }, r.id.slice(0, 8))),
          h('td', {}, r.trigger), h('td', {}, r.reason), h('td', { class: r.status === 'failed' ? 'bad' : r.status === 'succeeded' ? 'ok' : '' }, r.status),
          h('td', { class: 'num' }, r.exit_code ?? '—'), h('td', {}, fmtTime(r.started)), h('td', {}, dur(r.started, r.finished)))))))
      : h('p', {}, 'No pipeline runs yet.'));
    if (!selected && runs.length) selected = runs[0].id;
    const run = runs.find((r) => r.id === selected);
    if (run) await showDag(run);
    return runs.some((r) => r.status === 'running') || triggers.some((t) => t.running);
  };

  let busy = false;
  const tick = async (force) => {
    if (stopped || (busy && !force)) return;
    busy = true;
    clearTimeout(timer);
    let live = false;
    try {
      live = await refresh();
    } catch (err) {
      msg.textContent = `Could not refresh: ${err.message}`;
      msg.className = 'bad';
    }
    busy = false;
    if (!stopped && live) timer = setTimeout(() => tick(false), POLL_MS);
  };
  await tick(true);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
