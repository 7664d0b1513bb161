// models.js - the model registry: #/models lists registered models,
// #/models/<name> shows one model's versions (stage, aliases, source run,
// the run's key metrics) and a promotion form. Promotion is gated: the user
// states a rule on the version run's metrics ("auc >= 0.9"); the form shows
// the rule's result for the chosen version and enables the button only when
// it holds, then moves the alias with registered-models/alias.

import { api, h, fmtTime, fmtNum } from '../app.js';

const KEY_METRICS = ['auc', 'accuracy', 'f1_macro', 'logloss', 'rmse', 'mae', 'r2'];

function enc(s) {
  return encodeURIComponent(s);
}

/** Renders the list of registered models. */
async function renderList(root) {
  root.append(h('h1', {}, 'Models'));
  const status = h('p', { class: 'muted' }, 'Loading…');
  root.append(status);
  const models = [];
  let token = '';
  do {
    const q = new URLSearchParams({ max_results: '100' });
    if (token) q.set('page_token', token);
    const r = await api(`/api/2.0/mlflow/registered-models/search?${q}`);
    models.push(...(r.registered_models ?? []));
    token = r.next_page_token ?? '';
  } while (token && models.length < 1000);
  status.remove();
  if (!models.length) {
    root.append(h('p', {}, 'No registered models yet. Register one with ', h('code', {}, 'cairn train --register NAME'), '.'));
    return;
  }
  const rows = models.map((m) => {
    const latest = (m.latest_versions ?? []).reduce((a, v) => Math.max(a, Number(v.version)), 0);
    const aliases = (m.aliases ?? []).map((a) => `${a.alias} → v${a.version}`).join(', ');
    return h('tr', {},
      h('td', {}, h('a', { href: `#/models/${enc(m.name)}` }, m.name)),
      h('td', {}, latest ? `v${latest}` : '—'),
      h('td', {}, aliases || '—'),
      h('td', {}, m.last_updated_timestamp ? fmtTime(Number(m.last_updated_timestamp)) : '—'),
      h('td', {}, m.description || ''));
  });
  root.append(h('div', { class: 'table-wrap' },
    h('table', { id: 'models-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Latest'),
        h('th', { scope: 'col' }, 'Aliases'), h('th', { scope: 'col' }, 'Updated'),
        h('th', { scope: 'col' }, 'Description'))),
      h('tbody', {}, ...rows))));
}

/** Latest metric values of a run as {key: value}; {} when the run is gone. */
async function runMetrics(runId) {
  if (!runId) return {};
  try {
    const r = await api(`/api/2.0/mlflow/runs/get?run_id=${enc(runId)}`);
    const out = {};
    for (const m of r.run?.data?.metrics ?? []) out[m.key] = Number(m.value);
    return out;
  } catch {
    return {};
  }
}

/** Parses "auc >= 0.9" into {metric, op, threshold}; null when malformed. */
export function parseGate(text) {
  const m = /^\s*([A-Za-z0-9_.\-/]+)\s*(>=|<=|>|<|==)\s*(-?[0-9.]+(?:e-?[0-9]+)?)\s*$/i.exec(text ?? '');
  if (!m) return null;
  const threshold = Number(m[3]);
  if (!Number.isFinite(threshold)) return null;
  return { metric: m[1], op: m[2], threshold };
}

/** Evaluates a parsed gate against a metrics object: {ok, value, reason}. */
export function evalGate(gate, metrics) {
  if (!gate) return { ok: false, value: null, reason: 'write the gate as METRIC OP NUMBER, e.g. auc >= 0.9' };
  const v = metrics[gate.metric];
  if (v === undefined || !Number.isFinite(v)) return { ok: false, value: null, reason: `the version's run has no metric ${gate.metric}` };
  const t = gate.threshold;
  const ok = { '>=': v >= t, '<=': v <= t, '>': v > t, '<': v < t, '==': v === t }[gate.op];
  return { ok, value: v, reason: `${gate.metric} = ${fmtNum(v)} ${ok ? 'satisfies' : 'fails'} ${gate.op} ${fmtNum(t)}` };
}

/** Renders one model: versions table and the gated promotion form. */
async function renderModel(root, name) {
  root.append(h('p', {}, h('a', { href: '#/models' }, '← All models')));
  root.append(h('h1', {}, `Model ${name}`));
  const status = h('p', { class: 'muted' }, 'Loading…');
  root.append(status);
  const [model, vs] = await Promise.all([
    api(`/api/2.0/mlflow/registered-models/get?name=${enc(name)}`),
    api(`/api/2.0/mlflow/model-versions/search?${new URLSearchParams({ filter: `name='${name.replace(/'/g, "''")}'`, max_results: '1000' })}`),
  ]);
  const versions = (vs.model_versions ?? []).sort((a, b) => Number(b.version) - Number(a.version));
  const metrics = new Map(await Promise.all(versions.map(async (v) => [v.version, await runMetrics(v.run_id)])));
  status.remove();
  const rm = model.registered_model ?? {};
  if (rm.description) root.append(h('p', {}, rm.description));

  const aliasOf = new Map();
  for (const a of rm.aliases ?? []) {
    if (!aliasOf.has(a.version)) aliasOf.set(a.version, []);
    aliasOf.get(a.version).push(a.alias);
  }
  const shown = KEY_METRICS.filter((k) => versions.some((v) => metrics.get(v.version)[k] !== undefined));
  root.append(h('h2', {}, 'Versions'));
  if (!versions.length) {
    root.append(h('p', {}, 'This model has no versions.'));
    return;
  }
  root.append(h('div', { class: 'table-wrap' },
    h('table', { id: 'versions-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Version'), h('th', { scope: 'col' }, 'Stage'), h('th', { scope: 'col' }, 'Aliases'),
        h('th', { scope: 'col' }, 'Source run'), h('th', { scope: 'col' }, 'Created'),
        ...shown.map((k) => h('th', { scope: 'col' }, k)))),
      h('tbody', {}, ...versions.map((v) => h('tr', { 'data-version': v.version },
        h('td', {}, `v${v.version}`),
        h('td', {}, v.current_stage || 'None'),
        h('td', { class: 'aliases' }, (aliasOf.get(v.version) ?? v.aliases ?? []).join(', ') || '—'),
        h('td', {}, v.run_id ? h('a', { href: `#/run/${enc(v.run_id)}` }, v.run_id.slice(0, 8)) : '—'),
        h('td', {}, v.creation_timestamp ? fmtTime(Number(v.creation_timestamp)) : '—'),
        ...shown.map((k) => h('td', { class: 'num' }, metrics.get(v.version)[k] !== undefined ? fmtNum(metrics.get(v.version)[k]) : '—'))))))));

  // promotion form
  const aliasIn = h('input', { id: 'promote-alias', name: 'alias', value: 'production', required: 'required', autocomplete: 'off' });
  const versionSel = h('select', { id: 'promote-version', name: 'version' },
    ...versions.map((v) => h('option', { value: v.version }, `v${v.version}`)));
  const firstMetric = shown[0] ?? Object.keys(metrics.get(versions[0].version))[0] ?? 'auc';
  const gateIn = h('input', { id: 'promote-gate', name: 'gate', value: `${firstMetric} >= 0.9`, autocomplete: 'off',
    'aria-describedby': 'promote-gate-result' });
  const gateOut = h('p', { id: 'promote-gate-result', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', id: 'promote-button', disabled: 'disabled' }, 'Move alias');
  const result = h('p', { id: 'promote-result', role: 'status', 'aria-live': 'polite' });
  const check = () => {
    const g = evalGate(parseGate(gateIn.value), metrics.get(versionSel.value) ?? {});
    gateOut.textContent = `Gate for v${versionSel.value}: ${g.ok ? 'PASSES' : 'BLOCKED'} — ${g.reason}`;
    gateOut.className = g.ok ? 'ok' : 'bad';
    button.disabled = !(g.ok && aliasIn.value.trim());
    return g.ok;
  };
  for (const el of [aliasIn, gateIn]) el.addEventListener('input', check);
  versionSel.addEventListener('change', check);
  const form = h('form', { id: 'promote-form', class: 'form' },
    h('fieldset', {},
      h('legend', {}, 'Promote a version'),
      h('label', { for: 'promote-alias' }, 'Alias'), aliasIn,
      h('label', { for: 'promote-version' }, 'Version'), versionSel,
      h('label', { for: 'promote-gate' }, 'Promotion gate (metric of the version\'s run)'), gateIn,
      gateOut, button, result));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!check()) return;
    const alias = aliasIn.value.trim();
    button.disabled = true;
    result.textContent = 'Moving…';
    try {
      await api('/api/2.0/mlflow/registered-models/alias', { method: 'POST', body: { name, alias, version: versionSel.value } });
      result.textContent = `Alias ${alias} now points to v${versionSel.value}.`;
      result.className = 'ok';
      for (const tr of root.querySelectorAll('#versions-table tbody tr')) {
        const cell = tr.querySelector('.aliases');
        const list = cell.textContent === '—' ? [] : cell.textContent.split(', ').filter((a) => a !== alias);
        if (tr.dataset.version === versionSel.value) list.push(alias);
        cell.textContent = list.join(', ') || '—';
      }
    } catch (err) {
      result.textContent = `Failed: ${err.message}`;
      result.className = 'bad';
    }
    check();
  });
  root.append(form);
  check();
}

export async function render(root, params = {}) {
  const name = params.name ?? params.id;
  if (name) await renderModel(root, name);
  else await renderList(root);
}
