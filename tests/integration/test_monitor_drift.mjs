// test_monitor_drift.mjs - inline drift monitoring end to end on a real
// cairn server started with a monitoring policy: a model trained and
// registered with the CLI is served through a deployment; traffic drawn
// from the training data closes windows without drift and without alerts;
// traffic with one feature shifted drifts that feature, the drift alert
// fires after the policy's two windows, the webhook receiver (a test HTTP
// server on 127.0.0.1) gets it and the retraining command runs once; a
// shadow version's agreement is recorded per window. The
// status and history APIs, /metrics and the CLI show the windows.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, httpCall, runCairn, waitFor, stopCleanly } from './lib/server.mjs';

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CSV = path.join(SRC, 'examples/breast_cancer/breast_cancer.csv');
const SHIFTED = 'mean radius';
const WINDOW = 100;

let srv;
let work;
let hook;
const deliveries = [];
let header;
let lines;
let features;

function cli(args) {
  return runCairn(args, { cwd: work, trackingUri: srv.url });
}

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cairn-drift-'));
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      deliveries.push(JSON.parse(body));
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));
  const retrained = path.join(work, 'retrained.txt');
  const policy = path.join(work, 'policy.yaml');
  await writeFile(policy, `window: {rows: ${WINDOW}, seconds: 3600}
features:
  "${SHIFTED}": {statistic: psi, threshold: 0.25}
alerts:
  - name: radius-drift
    when: drift
    feature: "${SHIFTED}"
    above: 0.25
    for: 2
    webhook: "http://127.0.0.1:${hook.address().port}/drift"
    retrain:
      command: [sh, -c, ${JSON.stringify(`echo "$CAIRN_ALERT_RULE $CAIRN_DEPLOYMENT" >> '${retrained}'`)}]
      debounce: 1h
      max_per_day: 2
`);
  srv = await startServer({ args: ['--set', `serve.monitor_policy=${policy}`] });
  const text = (await readFile(CSV, 'utf8')).trim().split('\n');
  header = text[0].split(',');
  lines = text.slice(1);
  await cli(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'gbdt', '--experiment', 'drift',
    '--register', 'bc', '--out', path.join(work, 'm')]);
  await cli(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'logistic', '--experiment', 'drift',
    '--register', 'bc', '--out', path.join(work, 'm2')]);
  // version 2 shadows version 1: its agreement is recorded per window
  await cli(['deploy', 'create', 'bcd', '--target', 'models:/bc/1', '--shadow', 'bc@2']);
  const meta = await httpCall(srv.url, 'GET', '/v2/models/bc/versions/1');
  features = meta.json.parameters.features.map((f) => f.name);
});

after(async () => {
  if (hook) hook.close();
  if (srv) await stopCleanly(srv);
  if (work) await rm(work, { recursive: true, force: true });
});

/** Sends rows [from, from+n) of the CSV (cycling), one request each, with
 * `SHIFTED` multiplied by factor. */
async function traffic(from, n, factor) {
  const j = features.indexOf(SHIFTED);
  for (let i = 0; i < n; i += 10) {
    const batch = [];
    for (let r = i; r < Math.min(n, i + 10); r++) {
      const cells = lines[(from + r) % lines.length].split(',');
      const row = features.map((f) => Number(cells[header.indexOf(f)]));
      row[j] *= factor;
      batch.push(row);
    }
    const rs = await Promise.all(batch.map((row) => httpCall(srv.url, 'POST', '/v2/models/bcd/infer', {
      body: { inputs: [{ name: 'input-0', shape: [1, features.length], datatype: 'FP64', data: [row] }] },
    })));
    for (const r of rs) assert.equal(r.status, 200, r.text);
  }
}

async function status() {
  const r = await httpCall(srv.url, 'GET', '/api/2.0/cairn/monitor/status?deployment=bcd');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.series.length, 1, r.text);
  return r.json.series[0];
}

async function windowsClosed(n) {
  return waitFor(async () => ((await status()).windows_closed >= n ? status() : null), { what: `${n} windows` });
}

async function firing() {
  const r = await httpCall(srv.url, 'GET', '/api/2.0/cairn/monitor/alerts/list?deployment=bcd&state=firing');
  assert.equal(r.status, 200, r.text);
  return r.json.alerts ?? [];
}

test('traffic like the training data closes windows without drift or alerts', async () => {
  const s0 = await status().catch(() => null);
  assert.equal(s0, null, 'no series before traffic');
  await traffic(0, 2 * WINDOW, 1);
  const s = await windowsClosed(2);
  assert.equal(s.monitored, true, JSON.stringify(s));
  assert.equal(s.model, 'bc');
  assert.deepEqual(s.window, { rows: WINDOW, seconds: 3600 });
  const radius = s.last_window.features.find((f) => f.feature === SHIFTED);
  assert.equal(radius.statistic, 'psi', 'the policy overrides the statistic');
  assert.equal(radius.threshold, 0.25);
  assert.equal(radius.drift, false, JSON.stringify(radius));
  assert.equal(radius.count, WINDOW);
  assert.ok(s.last_window.features.some((f) => f.feature === 'prediction'), 'outputs are monitored too');
  // reference-sized data picks KS for the other numeric features (p-values)
  const other = s.last_window.features.find((f) => f.feature !== SHIFTED && f.feature !== 'prediction');
  assert.ok(['ks', 'wasserstein'].includes(other.statistic), other.statistic);
  assert.deepEqual(await firing(), []);
});

test('a shifted feature drifts, the alert fires after two windows, webhook and retraining run once', async () => {
  await traffic(0, WINDOW, 1.8);
  let s = await windowsClosed(3);
  let radius = s.last_window.features.find((f) => f.feature === SHIFTED);
  assert.equal(radius.drift, true, JSON.stringify(radius));
  assert.ok(radius.out_of_range_rate > 0, 'shifted values leave the reference range');
  assert.deepEqual(await firing(), [], 'one drifted window is not enough (for: 2)');
  await traffic(100, WINDOW, 1.8);
  s = await windowsClosed(4);
  const alerts = await waitFor(async () => ((await firing()).length ? firing() : null), { what: 'the alert' });
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0].rule, 'radius-drift');
  await waitFor(async () => deliveries.some((d) => d.rule === 'radius-drift'), { what: 'the webhook' });
  const retrained = path.join(work, 'retrained.txt');
  await waitFor(async () => (await readFile(retrained, 'utf8').catch(() => '')).includes('radius-drift'), { what: 'retraining' });
  // more drifted windows keep the alert firing but do not retrain again (debounce)
  await traffic(200, WINDOW, 1.8);
  await windowsClosed(5);
  assert.equal((await readFile(retrained, 'utf8')).trim().split('\n').length, 1, 'retrained once');
  assert.equal((await firing()).length, 1);

  // history: newest first, per-feature results
  const h = await httpCall(srv.url, 'GET', `/api/2.0/cairn/monitor/drift/history?deployment=bcd&feature=${encodeURIComponent(SHIFTED)}`);
  assert.equal(h.status, 200, h.text);
  assert.equal(h.json.windows.length, 5);
  assert.deepEqual(h.json.windows.map((w) => w.results[0].drift), [true, true, true, false, false]);
  assert.equal(h.json.windows[0].rows, WINDOW);
  const bins = h.json.windows[0].results[0].bins;
  assert.ok(bins && bins.edges.length === bins.reference.length + 1 && bins.current.length === bins.reference.length,
    `reference and window counts per quantile bin: ${JSON.stringify(bins)}`);
  assert.equal(bins.current.reduce((a, b) => a + b, 0), WINDOW, 'every value of the window is in a bin');
  assert.ok(h.json.windows[0].requests >= WINDOW, 'request statistics of the deployment');
  assert.equal(h.json.windows[0].error_rate, 0);
  const shadowed = h.json.windows.filter((w) => w.shadow_rows > 0);
  assert.ok(shadowed.length >= 3, 'shadow agreement per window');
  for (const w of shadowed) {
    assert.ok(w.shadow_agreement >= 0 && w.shadow_agreement <= 1, JSON.stringify(w));
    assert.ok(w.shadow_mean_abs_diff >= 0, JSON.stringify(w));
  }

  // /metrics
  const m = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(m, /^cairn_drift_detected\{deployment="bcd",model="bc",version="1",feature="mean radius",statistic="psi"\} 1$/m);
  assert.match(m, /^cairn_drift_windows_total\{deployment="bcd",model="bc",version="1"\} 5$/m);

  // the CLI
  const st = await cli(['monitor', 'status', '--deployment', 'bcd', '--json']);
  assert.equal(JSON.parse(st.stdout).series[0].windows_closed, 5);
  const hist = await cli(['monitor', 'history', '--deployment', 'bcd', '--feature', SHIFTED]);
  assert.match(hist.stdout, /mean radius/);
});

test('bad history queries answer 400', async () => {
  let r = await httpCall(srv.url, 'GET', '/api/2.0/cairn/monitor/drift/history');
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error_code, 'INVALID_PARAMETER_VALUE');
  r = await httpCall(srv.url, 'GET', '/api/2.0/cairn/monitor/drift/history?deployment=bcd&max_results=0');
  assert.equal(r.status, 400, r.text);
});
