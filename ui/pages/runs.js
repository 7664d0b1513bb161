// runs.js - experiments and runs: an experiment picker and a server-side
// paged, sorted and filtered table of runs (MLflow runs/search).
//
// Only one page (100 runs) is ever fetched and rendered, so the page stays
// fast at any experiment size: sorting is an order_by, filtering the
// server's search grammar, and paging follows next_page_token (earlier
// tokens are kept on a stack for "Previous"). Which params/metrics are shown
// is remembered per experiment in localStorage; the selection of runs to
// compare survives paging.

import { api, h, fmtTime, fmtNum, fmtDuration } from '../app.js';

const PAGE = 100;
const ATTRS = [
  { id: 'run_name', label: 'Run', order: 'attributes.run_name' },
  { id: 'status', label: 'Status', order: 'attributes.status' },
  { id: 'start_time', label: 'Started', order: 'attributes.start_time' },
  { id: 'duration', label: 'Duration', order: null },
];

/** Backtick-quotes a key for order_by/filter when it is not a plain word. */
export function quoteKey(k) {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(k) ? k : `\`${k.replace(/`/g, '\\`')}\``;
}

function colsKey(exp) {
  return `cairn.runs.columns.${exp}`;
}

function loadCols(exp) {
  try {
    const v = JSON.parse(localStorage.getItem(colsKey(exp)) ?? 'null');
    if (v && Array.isArray(v.params) && Array.isArray(v.metrics)) return v;
  } catch {
    /* ignore a malformed entry */
  }
  return null;
}

function setHashQuiet(params) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  history.replaceState(null, '', `#/runs?${qs}`);
}

export async function render(root, params) {
  const st = {
    exp: params.experiment ?? null,
    filter: params.filter ?? '',
    order: params.order ?? 'attributes.start_time DESC',
    tokens: [''], // token of each visited page; last = current
    nextToken: null,
    runs: [],
    cols: null, // {params: [], metrics: []}
    known: { params: new Set(), metrics: new Set() },
    selected: new Set((params.selected ?? '').split(',').filter(Boolean)),
    seq: 0,
  };

  const title = h('h1', {}, 'Runs');
  const expSelect = h('select', { id: 'exp-select', name: 'experiment' });
  const filterInput = h('input', { type: 'search', id: 'run-filter', name: 'filter', value: st.filter,
    placeholder: "metrics.acc > 0.9 AND params.lr = '0.01'", autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'filter-error' });
  const filterErr = h('p', { id: 'filter-error', class: 'error', role: 'status', 'aria-live': 'polite' });
  const applyBtn = h('button', { type: 'submit' }, 'Search');
  const clearBtn = h('button', { type: 'button', class: 'secondary', onclick: () => { filterInput.value = ''; search(true); } }, 'Clear');
  const compareBtn = h('button', { type: 'button', id: 'compare-btn', disabled: true, onclick: () => {
    location.hash = `#/compare?runs=${[...st.selected].map(encodeURIComponent).join(',')}`;
  } }, 'Compare selected (0)');
  const chooser = h('details', { class: 'panel', id: 'column-chooser' });
  const countLine = h('span', { class: 'muted', id: 'runs-count', 'aria-live': 'polite' });
  const prevBtn = h('button', { type: 'button', class: 'secondary', id: 'prev-page', disabled: true, onclick: () => page(-1) }, '← Previous');
  const nextBtn = h('button', { type: 'button', class: 'secondary', id: 'next-page', disabled: true, onclick: () => page(1) }, 'Next →');
  const table = h('table', { id: 'runs-table', 'aria-describedby': 'runs-count' });
  const form = h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); search(true); } },
    h('label', {}, 'Experiment', expSelect),
    h('label', { class: 'grow' }, 'Filter (MLflow search syntax)', filterInput),
    applyBtn, clearBtn, compareBtn);
  root.append(title, form, filterErr, chooser, h('div', { class: 'pager' }, prevBtn, nextBtn, countLine),
    h('div', { class: 'table-wrap' }, table));

  expSelect.addEventListener('change', () => {
    st.exp = expSelect.value;
    st.cols = null;
    st.known = { params: new Set(), metrics: new Set() };
    st.selected.clear();
    search(true);
  });

  // Experiments for the picker.
  let exps = [];
  try {
    const r = await api('experiments/search', { body: { max_results: 1000, order_by: ['creation_time DESC'] } });
    exps = r.experiments ?? [];
  } catch (e) {
    filterErr.textContent = `Could not list experiments: ${e.message}`;
  }
  if (!st.exp && exps.length) st.exp = (exps.find((x) => x.experiment_id !== '0') ?? exps[0]).experiment_id;
  if (st.exp && !exps.some((x) => x.experiment_id === st.exp)) exps.push({ experiment_id: st.exp, name: `#${st.exp}` });
  expSelect.replaceChildren(...exps.map((x) => h('option', { value: x.experiment_id }, `${x.name} (${x.experiment_id})`)));
  if (st.exp) expSelect.value = st.exp;
  if (!st.exp) {
    table.replaceChildren(h('caption', {}, 'No experiments yet.'));
    return undefined;
  }

  function updateCompare() {
    compareBtn.textContent = `Compare selected (${st.selected.size})`;
    compareBtn.disabled = st.selected.size < 1;
  }

  function page(dir) {
    if (dir > 0 && st.nextToken) st.tokens.push(st.nextToken);
    else if (dir < 0 && st.tokens.length > 1) st.tokens.pop();
    else return;
    load();
  }

  function search(reset) {
    st.filter = filterInput.value.trim();
    if (reset) st.tokens = [''];
    setHashQuiet({ experiment: st.exp, filter: st.filter, order: st.order === 'attributes.start_time DESC' ? '' : st.order });
    load();
  }

  async function load() {
    const seq = ++st.seq;
    const body = { experiment_ids: [st.exp], max_results: PAGE, order_by: [st.order] };
    if (st.filter) body.filter = st.filter;
    const tok = st.tokens[st.tokens.length - 1];
    if (tok) body.page_token = tok;
    table.setAttribute('aria-busy', 'true');
    let r;
    try {
      r = await api('runs/search', { body });
    } catch (e) {
      if (seq !== st.seq) return;
      table.removeAttribute('aria-busy');
      filterErr.textContent = `Filter error: ${e.message}`;
      filterInput.setAttribute('aria-invalid', 'true');
      return;
    }
    if (seq !== st.seq) return;
    table.removeAttribute('aria-busy');
    filterErr.textContent = '';
    filterInput.removeAttribute('aria-invalid');
    st.runs = r.runs ?? [];
    st.nextToken = r.next_page_token || null;
    for (const run of st.runs) {
      for (const p of run.data?.params ?? []) st.known.params.add(p.key);
      for (const m of run.data?.metrics ?? []) st.known.metrics.add(m.key);
    }
    if (!st.cols) {
      st.cols = loadCols(st.exp) ?? {
        params: [...st.known.params].sort().slice(0, 3),
        metrics: [...st.known.metrics].sort().slice(0, 3),
      };
    }
    const first = (st.tokens.length - 1) * PAGE;
    countLine.textContent = st.runs.length
      ? `Runs ${first + 1}–${first + st.runs.length}${st.nextToken ? ' (more on the next page)' : ''}`
      : 'No runs match.';
    prevBtn.disabled = st.tokens.length <= 1;
    nextBtn.disabled = !st.nextToken;
    drawChooser();
    drawTable();
  }

  function drawChooser() {
    const box = (kind, key) => {
      const id = `col-${kind}-${key}`;
      const cb = h('input', { type: 'checkbox', id, 'data-kind': kind, 'data-key': key, checked: st.cols[kind].includes(key),
        onchange: () => {
          const list = st.cols[kind];
          if (cb.checked && !list.includes(key)) list.push(key);
          if (!cb.checked) st.cols[kind] = list.filter((k) => k !== key);
          localStorage.setItem(colsKey(st.exp), JSON.stringify(st.cols));
          drawTable();
        } });
      return h('label', {}, cb, ` ${key}`);
    };
    const open = chooser.open;
    chooser.replaceChildren(
      h('summary', {}, `Columns (${st.cols.params.length} params, ${st.cols.metrics.length} metrics shown)`),
      h('h3', {}, 'Params'), h('div', { class: 'chooser' }, [...st.known.params].sort().map((k) => box('params', k))),
      h('h3', {}, 'Metrics'), h('div', { class: 'chooser' }, [...st.known.metrics].sort().map((k) => box('metrics', k))));
    chooser.open = open;
  }

  function sortHeader(label, order, extra = {}) {
    const [curKey, curDir] = st.order.split(/ (?=ASC$|DESC$)/);
    const active = order && curKey === order;
    const dir = active ? curDir : null;
    const attrs = { scope: 'col', ...extra };
    if (!order) return h('th', attrs, label);
    const act = () => {
      st.order = `${order} ${active && dir === 'ASC' ? 'DESC' : 'ASC'}`;
      search(true);
    };
    return h('th', { ...attrs, class: 'sortable', tabindex: '0', 'data-order': order,
      'aria-sort': active ? (dir === 'ASC' ? 'ascending' : 'descending') : 'none',
      onclick: act, onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); act(); } } },
    label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (dir === 'ASC' ? '▲' : '▼') : '↕'));
  }

  function drawTable() {
    const focusedOrder = document.activeElement?.dataset?.order;
    const { params: pc, metrics: mc } = st.cols;
    const allBox = h('input', { type: 'checkbox', 'aria-label': 'Select all runs on this page',
      checked: st.runs.length > 0 && st.runs.every((r) => st.selected.has(r.info.run_id)),
      onchange: () => {
        for (const r of st.runs) allBox.checked ? st.selected.add(r.info.run_id) : st.selected.delete(r.info.run_id);
        drawTable();
        updateCompare();
      } });
    const head = h('tr', {}, h('th', { scope: 'col' }, allBox),
      ATTRS.map((a) => sortHeader(a.label, a.order)),
      pc.map((k) => sortHeader(k, `params.${quoteKey(k)}`, { title: `param ${k}` })),
      mc.map((k) => sortHeader(k, `metrics.${quoteKey(k)}`, { title: `metric ${k}` })));
    const body = document.createDocumentFragment();
    for (const run of st.runs) {
      const info = run.info;
      const pm = new Map((run.data?.params ?? []).map((p) => [p.key, p.value]));
      const mm = new Map((run.data?.metrics ?? []).map((m) => [m.key, m.value]));
      const id = info.run_id;
      const name = info.run_name || id.slice(0, 8);
      const cb = h('input', { type: 'checkbox', 'aria-label': `Select run ${name}`, checked: st.selected.has(id),
        onchange: () => { cb.checked ? st.selected.add(id) : st.selected.delete(id); updateCompare(); } });
      const dur = info.end_time && info.start_time ? fmtDuration(info.end_time - info.start_time) : '';
      body.append(h('tr', { 'data-run-id': id },
        h('td', {}, cb),
        h('td', {}, h('a', { href: `#/run/${encodeURIComponent(id)}` }, name)),
        h('td', {}, h('span', { class: `status ${info.status}` }, info.status)),
        h('td', {}, fmtTime(info.start_time)),
        h('td', {}, dur),
        pc.map((k) => h('td', {}, pm.get(k) ?? '')),
        mc.map((k) => h('td', { class: 'num' }, mm.has(k) ? fmtNum(mm.get(k)) : ''))));
    }
    const tbody = h('tbody');
    tbody.append(body);
    table.replaceChildren(h('caption', { class: 'muted', style: { textAlign: 'left', padding: '.3em .6em' } },
      `Sorted by ${st.order}`), h('thead', {}, head), tbody);
    if (focusedOrder) table.querySelector(`th[data-order="${CSS.escape(focusedOrder)}"]`)?.focus();
    updateCompare();
  }

  await load();
  return undefined;
}
