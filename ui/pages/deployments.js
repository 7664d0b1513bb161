// deployments.js - #/deployments lists deployments; #/deployments/<name>
// shows one: traffic split, shadow and its agreement, gradual-shift state,
// per-version statistics (deployments/get), and live charts of request
// rate, p99 latency and error rate. The live numbers come from /metrics,
// polled every 2 s: counters and histogram buckets are differenced between
// two polls, so each point describes the last interval, not the lifetime.
// Shift and rollback are two-step (button, then an inline confirmation).

import { api, h, fmtTime, fmtNum } from '../app.js';
import { lineChart, stackedBar } from '../charts.js';

const POLL_MS = 2000;
const KEEP_POINTS = 150; // 5 minutes at 2 s

function enc(s) {
  return encodeURIComponent(s);
}

/** Parses Prometheus text format into [{name, labels, value}]. */
export function parseProm(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[3]))) labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const v = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    out.push({ name: m[1], labels, value: v });
  }
  return out;
}

/** One deployment's totals from parsed samples: {requests, errors, buckets: Map(le -> count)}. */
export function deploymentTotals(samples, name) {
  let requests = 0;
  let errors = 0;
  const buckets = new Map();
  for (const s of samples) {
    if (s.labels.deployment !== name) continue;
    if (s.name === 'cairn_inference_requests_total') {
      requests += s.value;
      if (Number(s.labels.code) >= 400) errors += s.value;
    } else if (s.name === 'cairn_inference_duration_seconds_bucket') {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + s.value);
    }
  }
  return { requests, errors, buckets };
}

/** The q-quantile (seconds) of a cumulative histogram given as Map(le -> count), interpolating in the bucket. */
export function histQuantile(buckets, q) {
  const les = [...buckets.keys()].sort((a, b) => a - b);
  if (!les.length) return null;
  const total = buckets.get(les[les.length - 1]);
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const c = buckets.get(le);
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      if (c === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

/** Interval statistics between two totals taken dtSec apart. */
export function intervalStats(prev, cur, dtSec) {
  const dReq = Math.max(0, cur.requests - prev.requests);
  const dErr = Math.max(0, cur.errors - prev.errors);
  const dBuckets = new Map();
  for (const [le, c] of cur.buckets) dBuckets.set(le, Math.max(0, c - (prev.buckets.get(le) ?? 0)));
  const p99 = histQuantile(dBuckets, 0.99);
  return {
    rate: dtSec > 0 ? dReq / dtSec : 0,
    errorRate: dReq > 0 ? dErr / dReq : null,
    p99ms: p99 === null ? null : p99 * 1000,
  };
}

function refText(t) {
  return t.version !== undefined ? `${t.model} v${t.version}` : `${t.model}@${t.alias}`;
}

async function renderList(root) {
  root.append(h('h1', {}, 'Deployments'));
  const r = await api('/api/2.0/cairn/deployments/list');
  const deps = r.deployments ?? [];
  if (!deps.length) {
    root.append(h('p', {}, 'No deployments. Create one with ', h('code', {}, 'cairn deploy create NAME --target models:/MODEL/VERSION'), '.'));
    return;
  }
  root.append(h('div', { class: 'table-wrap' },
    h('table', { id: 'deployments-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Targets'),
        h('th', { scope: 'col' }, 'Shadow'), h('th', { scope: 'col' }, 'Shift'), h('th', { scope: 'col' }, 'Updated'))),
      h('tbody', {}, ...deps.map((d) => h('tr', {},
        h('td', {}, h('a', { href: `#/deployments/${enc(d.name)}` }, d.name)),
        h('td', {}, (d.targets ?? []).map((t) => `${refText(t)} ${t.weight}%`).join(', ')),
        h('td', {}, d.shadow ? refText(d.shadow) : '—'),
        h('td', {}, d.shift ? `${d.shift.state} (${d.shift.weight}%)` : '—'),
        h('td', {}, d.last_updated_timestamp ? fmtTime(Number(d.last_updated_timestamp)) : '—')))))));
}

/** Replaces the children of el with node. */
function put(el, ...nodes) {
  el.replaceChildren(...nodes);
}

async function renderDeployment(root, name) {
  root.append(h('p', {}, h('a', { href: '#/deployments' }, '← All deployments')));
  root.append(h('h1', {}, `Deployment ${name}`));
  const split = h('section', { id: 'dep-split', 'aria-labelledby': 'dep-split-h' });
  const shadow = h('section', { id: 'dep-shadow' });
  const shift = h('section', { id: 'dep-shift' });
  const stats = h('section', { id: 'dep-stats' });
  const actions = h('section', { id: 'dep-actions', 'aria-labelledby': 'dep-actions-h' });
  const live = h('section', { id: 'dep-live', 'aria-labelledby': 'dep-live-h' });
  root.append(split, shadow, shift, stats, actions, live);

  let dep = null;
  const showDeployment = (d) => {
    dep = d;
    put(split, h('h2', { id: 'dep-split-h' }, 'Traffic split'),
      stackedBar({ parts: d.targets.map((t) => ({ label: refText(t), value: t.weight })) }),
      h('ul', { id: 'dep-weights' }, ...d.targets.map((t) => h('li', { 'data-ref': refText(t) }, `${refText(t)}: ${t.weight}%`))),
      ...(d.rollback_targets ? [h('p', { class: 'muted' }, `Rollback point: ${d.rollback_targets.map((t) => `${refText(t)} ${t.weight}%`).join(', ')}`)] : []));
    if (d.shadow) {
      const s = d.shadow.stats ?? {};
      put(shadow, h('h2', {}, 'Shadow'),
        h('dl', { class: 'kv' },
          h('dt', {}, 'Version'), h('dd', {}, refText(d.shadow)),
          h('dt', {}, 'Requests / rows'), h('dd', {}, `${fmtNum(s.requests ?? 0)} / ${fmtNum(s.rows ?? 0)}`),
          h('dt', {}, 'Agreement'), h('dd', { id: 'dep-agreement' }, s.rows ? `${fmtNum(100 * s.agreement_rate)}% (${fmtNum(s.agreement_rows)} rows)` : 'no rows yet'),
          h('dt', {}, 'Mean |difference|'), h('dd', {}, fmtNum(s.mean_abs_diff ?? 0)),
          h('dt', {}, 'Errors / dropped'), h('dd', {}, `${fmtNum(s.errors ?? 0)} / ${fmtNum(s.dropped ?? 0)}`)));
    } else {
      put(shadow);
    }
    if (d.shift) {
      const s = d.shift;
      put(shift, h('h2', {}, 'Gradual shift'),
        h('dl', { class: 'kv', id: 'dep-shift-state' },
          h('dt', {}, 'To'), h('dd', {}, refText(s.to)),
          h('dt', {}, 'State'), h('dd', {}, s.state),
          h('dt', {}, 'Weight now'), h('dd', {}, `${s.weight}%`),
          h('dt', {}, 'Step'), h('dd', {}, `${s.step}% every ${fmtNum(s.every_seconds)} s`),
          ...(s.next_step_timestamp ? [h('dt', {}, 'Next step'), h('dd', {}, fmtTime(s.next_step_timestamp))] : []),
          ...(s.reason ? [h('dt', {}, 'Reason'), h('dd', {}, s.reason)] : [])));
    } else {
      put(shift);
    }
    const st = d.stats ?? [];
    put(stats, h('h2', {}, 'Per-version statistics'),
      st.length
        ? h('div', { class: 'table-wrap' }, h('table', { id: 'dep-stats-table' },
          h('thead', {}, h('tr', {}, ...['Version', 'Requests', 'Errors', 'Error rate', 'p50 ms', 'p99 ms'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...st.map((s) => h('tr', {},
            h('td', {}, `${s.model} v${s.version}`), h('td', { class: 'num' }, fmtNum(s.requests)),
            h('td', { class: 'num' }, fmtNum(s.errors)), h('td', { class: 'num' }, `${fmtNum(100 * s.error_rate)}%`),
            h('td', { class: 'num' }, fmtNum(s.p50_ms)), h('td', { class: 'num' }, fmtNum(s.p99_ms)))))))
        : h('p', {}, 'No requests yet.'));
  };
  const load = async () => showDeployment((await api(`/api/2.0/cairn/deployments/get?name=${enc(name)}`)).deployment);
  await load();

  // versions that traffic can shift to: every version of the target models
  const models = [...new Set([...dep.targets.map((t) => t.model), ...(dep.shadow ? [dep.shadow.model] : [])])];
  const versions = [];
  for (const m of models) {
    const r = await api(`/api/2.0/mlflow/model-versions/search?${new URLSearchParams({ filter: `name='${m.replace(/'/g, "''")}'`, max_results: '1000' })}`).catch(() => ({}));
    for (const v of (r.model_versions ?? []).sort((a, b) => Number(a.version) - Number(b.version))) versions.push({ model: m, version: v.version });
  }
  const toSel = h('select', { id: 'shift-to', name: 'to' },
    ...versions.map((v, i) => h('option', { value: String(i) }, `${v.model} v${v.version}`)));
  const stepIn = h('input', { id: 'shift-step', name: 'step', type: 'number', min: '1', max: '100', value: '10', required: 'required' });
  const everyIn = h('input', { id: 'shift-every', name: 'every', value: '30s', required: 'required', 'aria-describedby': 'shift-every-help' });
  const shiftBtn = h('button', { type: 'button', id: 'shift-button' });
  const rollbackBtn = h('button', { type: 'button', id: 'rollback-button' }, 'Rollback');
  const confirmBox = h('div', { id: 'action-confirm', role: 'group', 'aria-label': 'Confirm action', hidden: 'hidden' });
  const result = h('p', { id: 'action-result', role: 'status', 'aria-live': 'polite' });
  const label = () => {
    const v = versions[Number(toSel.value)];
    shiftBtn.textContent = v ? `Shift ${stepIn.value || '?'}% to version ${v.version}` : 'Shift';
    shiftBtn.disabled = !v;
  };
  // prefer the first version that is not already at 100%
  const full = dep.targets.find((t) => t.weight === 100);
  for (let i = versions.length - 1; i >= 0; i--) {
    const v = versions[i];
    if (!(full && full.model === v.model && String(full.version) === String(v.version))) {
      toSel.value = String(i);
      break;
    }
  }
  label();
  toSel.addEventListener('change', label);
  stepIn.addEventListener('input', label);

  const confirmThen = (text, fn) => {
    const yes = h('button', { type: 'button', id: 'confirm-yes' }, 'Confirm');
    const no = h('button', { type: 'button', id: 'confirm-no' }, 'Cancel');
    put(confirmBox, h('p', {}, text), yes, no);
    confirmBox.hidden = false;
    shiftBtn.disabled = true;
    rollbackBtn.disabled = true;
    const done = () => {
      confirmBox.hidden = true;
      confirmBox.replaceChildren();
      rollbackBtn.disabled = false;
      label();
    };
    no.addEventListener('click', () => { done(); shiftBtn.focus(); });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      result.textContent = 'Working…';
      result.className = '';
      try {
        const r = await fn();
        showDeployment(r.deployment);
        result.textContent = `Done: ${r.deployment.targets.map((t) => `${refText(t)} ${t.weight}%`).join(', ')}`;
        result.className = 'ok';
      } catch (err) {
        result.textContent = `Failed: ${err.message}`;
        result.className = 'bad';
      }
      done();
    });
    yes.focus();
  };
  shiftBtn.addEventListener('click', () => {
    const v = versions[Number(toSel.value)];
    const step = Number(stepIn.value);
    const every = everyIn.value.trim();
    confirmThen(`Shift traffic to ${v.model} v${v.version}, ${step}% now and ${step}% more every ${every}?`, () =>
      api('/api/2.0/cairn/deployments/shift', { method: 'POST', body: { name, to: { model: v.model, version: v.version }, step, every } }));
  });
  rollbackBtn.addEventListener('click', () => {
    confirmThen('Restore the weights saved before the last shift or update?', () =>
      api('/api/2.0/cairn/deployments/rollback', { method: 'POST', body: { name } }));
  });
  put(actions, h('h2', { id: 'dep-actions-h' }, 'Change traffic'),
    h('form', { class: 'form', id: 'shift-form', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'shift-to' }, 'To version'), toSel,
      h('label', { for: 'shift-step' }, 'Step (%)'), stepIn,
      h('label', { for: 'shift-every' }, 'Every'), everyIn,
      h('small', { id: 'shift-every-help' }, 'seconds, or 500ms, 30s, 5m, 1h; the server checks error rate and p99 before each later step'),
      shiftBtn, rollbackBtn),
    confirmBox, result);

  // live charts from /metrics
  const rateBox = h('figure', { id: 'live-rate' });
  const p99Box = h('figure', { id: 'live-p99' });
  const errBox = h('figure', { id: 'live-errors' });
  const liveNote = h('p', { class: 'muted', id: 'live-note', 'aria-live': 'polite' }, 'Waiting for two samples of /metrics…');
  put(live, h('h2', { id: 'dep-live-h' }, 'Live (from /metrics, every 2 s)'), liveNote, rateBox, p99Box, errBox);
  const points = { rate: [], p99: [], err: [] };
  let prev = null;
  let stopped = false;
  let timer = null;
  let tick = 0;
  const draw = (now) => {
    // x as seconds relative to now (negative = past)
    const rel = (pts) => pts.map(([px, y]) => [Math.round((px - now) * 10) / 10, y]);
    put(rateBox, lineChart({ series: [{ name: 'requests/s', points: rel(points.rate) }], xLabel: 'seconds ago', yLabel: 'requests/s', height: 160 }),
      h('figcaption', {}, 'Request rate'));
    put(p99Box, lineChart({ series: [{ name: 'p99 ms', points: rel(points.p99) }], xLabel: 'seconds ago', yLabel: 'p99 latency (ms)', height: 160 }),
      h('figcaption', {}, 'p99 latency'));
    put(errBox, lineChart({ series: [{ name: 'error rate %', points: rel(points.err) }], xLabel: 'seconds ago', yLabel: 'errors (%)', height: 160 }),
      h('figcaption', {}, 'Error rate'));
  };
  const poll = async () => {
    if (stopped) return;
    try {
      const r = await fetch('/metrics');
      const text = await r.text();
      const now = Date.now();
      const cur = deploymentTotals(parseProm(text), name);
      if (prev) {
        const s = intervalStats(prev.totals, cur, (now - prev.t) / 1000);
        const x = now / 1000;
        points.rate.push([x, s.rate]);
        if (s.p99ms !== null) points.p99.push([x, s.p99ms]);
        if (s.errorRate !== null) points.err.push([x, 100 * s.errorRate]);
        for (const k of Object.keys(points)) {
          while (points[k].length && points[k][0][0] < x - (KEEP_POINTS * POLL_MS) / 1000) points[k].shift();
        }
        draw(x);
        liveNote.textContent = `Last interval: ${fmtNum(s.rate)} req/s, p99 ${s.p99ms === null ? '—' : `${fmtNum(s.p99ms)} ms`}, errors ${s.errorRate === null ? '—' : `${fmtNum(100 * s.errorRate)}%`}`;
      }
      prev = { t: now, totals: cur };
      // the deployment itself (weights, shift progress) every 5th poll
      if (++tick % 5 === 0 && confirmBox.hidden) await load();
    } catch (err) {
      liveNote.textContent = `Could not read /metrics: ${err.message}`;
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  };
  poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export async function render(root, params = {}) {
  const name = params.name ?? params.id;
  if (name) return renderDeployment(root, name);
  return renderList(root);
}
