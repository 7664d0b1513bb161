// app.js - the Cairn web UI shell: hash router, page registry, fetch helper
// and a tiny element builder shared by every page module.
//
// Routes are "#/<page>[/<id>][?query]". Each page module exports
// `render(root, params)` and may return a cleanup function, called before the
// next page is rendered (pages stop their timers there). Pages are imported
// lazily so the first paint only loads the shell and the page shown.

const PAGES = {
  runs: () => import('./pages/runs.js'),
  run: () => import('./pages/run.js'),
  compare: () => import('./pages/compare.js'),
  models: () => import('./pages/models.js'),
  deployments: () => import('./pages/deployments.js'),
  monitoring: () => import('./pages/monitoring.js'),
  pipelines: () => import('./pages/pipelines.js'),
  data: () => import('./pages/data.js'),
};

/**
 * JSON fetch against the server's own origin. `path` is absolute ("/api/...")
 * or relative to /api/2.0/mlflow/. A body object is sent as JSON. Throws an
 * Error carrying the server's `message` (MLflow error shape) or the status.
 */
export async function api(path, { method, body } = {}) {
  const url = path.startsWith('/') ? path : `/api/2.0/mlflow/${path}`;
  const init = { method: method ?? (body !== undefined ? 'POST' : 'GET'), headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(url, init);
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = null;
  }
  if (!r.ok) {
    const msg = (json && (json.message || json.error)) || text || r.statusText;
    const err = new Error(`${msg}`);
    err.status = r.status;
    err.code = json && json.error_code;
    throw err;
  }
  if (json === null) throw new Error(`${url}: the answer is not JSON`);
  return json;
}

/**
 * h('a', {href: '#/', class: 'x', onclick: fn, 'aria-label': 'y'}, 'text', el, [more])
 * Children may be strings, numbers, nodes, arrays, null/undefined/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = tag.includes(':')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.split(':')[1])
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' && 'checked' in el) el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  const add = (c) => {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  };
  children.forEach(add);
  return el;
}

/** A local date-time "YYYY-MM-DD HH:MM:SS" for epoch milliseconds; "" if unset. */
export function fmtTime(ms) {
  const n = Number(ms);
  if (!ms || !Number.isFinite(n)) return '';
  const d = new Date(n);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A compact number: integers as they are, others to 4 significant digits. */
export function fmtNum(x) {
  if (x === null || x === undefined || x === '') return '';
  const n = Number(x);
  if (!Number.isFinite(n)) return String(x);
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return n.toExponential(3);
  return String(Number(n.toPrecision(4)));
}

/** A duration in ms as "1h 2m", "3m 4s", "5.6 s". */
export function fmtDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** Shows an error banner (dismissable) in the shell. */
export function showError(err) {
  const box = document.getElementById('errors');
  if (!box) return;
  const msg = err instanceof Error ? err.message : String(err);
  const item = h('div', { class: 'error' }, h('span', {}, msg), ' ',
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss error', onclick: () => item.remove() }, '×'));
  box.append(item);
}

/** Parses location.hash into {page, id, params}. */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const params = Object.fromEntries(new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)));
  const segs = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  const page = segs[0] || 'runs';
  if (segs.length > 1) params.id = segs.slice(1).join('/');
  if (page === 'models' && params.id) params.name = params.id;
  if (page === 'deployments' && params.id) params.name = params.id;
  return { page, params };
}

let cleanup = null;
let generation = 0;

async function route() {
  const { page, params } = parseHash();
  const gen = ++generation;
  if (typeof cleanup === 'function') {
    try {
      cleanup();
    } catch (e) {
      console.warn('cleanup failed', e);
    }
  }
  cleanup = null;
  document.getElementById('errors').replaceChildren();
  const navKey = page === 'run' || page === 'compare' ? 'runs' : page;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.route === navKey) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const app = document.getElementById('app');
  const root = h('div', { class: 'page', 'data-page': page });
  app.replaceChildren(root);
  const loader = PAGES[page];
  if (!loader) {
    root.append(h('h1', {}, 'Not found'), h('p', {}, `No page "${page}". `, h('a', { href: '#/runs' }, 'Go to runs')));
    return;
  }
  try {
    const mod = await loader();
    if (gen !== generation) return;
    const c = await mod.render(root, params);
    if (gen !== generation) {
      if (typeof c === 'function') c();
      return;
    }
    cleanup = c;
  } catch (e) {
    if (gen !== generation) return;
    root.append(h('p', { class: 'error' }, `Could not show this page: ${e.message}`));
  }
}

/** Navigates to a hash route (string starting with "#/"). */
export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

if (typeof window !== 'undefined' && document.getElementById('app')) {
  window.addEventListener('hashchange', route);
  if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', '#/runs');
  route();
}
