// test_monitor_feedback.mjs - model quality with delayed labels on a real
// cairn server: trains and registers a classifier with the real CLI, serves
// predictions with known request ids (multi-row requests: "<id>/<row>"),
// posts labels over REST (with unknown ids, duplicates, bad labels and
// malformed bodies) and with `cairn monitor feedback FILE`, then checks the
// joined counts, the window metrics against AUC / accuracy / log loss
// computed here from the same pairs, the difference to the training run's
// metrics, /metrics, and that a restarted server keeps the history and the
// open window.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, mlflowApi, httpCall, runCairn, stopCleanly } from './lib/server.mjs';

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CSV = path.join(SRC, 'examples/breast_cancer/breast_cancer.csv');

let srv;
let home;
let work;
let features;
let rows; // [{x: [...], y: 'benign' | 'malignant'}]
let classes; // class_labels from the model metadata
const pairs = []; // [{id, p, y}] in the order labels are posted (y: class index)

function call(method, p, body, raw) {
  return httpCall(srv.url, method, p, { body, raw });
}

// sklearn roc_auc_score: trapezoids over distinct thresholds (ties = one step)
function rocAuc(y, s) {
  const idx = y.map((_, i) => i).sort((a, b) => s[b] - s[a]);
  const P = y.filter((v) => v === 1).length, N = y.length - P;
  let tp = 0, fp = 0, prevTp = 0, prevFp = 0, area = 0;
  for (let i = 0; i < idx.length; i++) {
    if (y[idx[i]] === 1) tp++;
    else fp++;
    if (i + 1 === idx.length || s[idx[i + 1]] !== s[idx[i]]) {
      area += ((fp - prevFp) * (tp + prevTp)) / 2;
      prevTp = tp;
      prevFp = fp;
    }
  }
  return area / (P * N);
}

function accuracy(y, s) {
  return y.filter((v, i) => (s[i] >= 0.5 ? 1 : 0) === v).length / y.length;
}

function logLoss(y, s) {
  const eps = 2.220446049250313e-16;
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const p = Math.min(Math.max(s[i], eps), 1 - eps);
    sum += -(y[i] ? Math.log(p) : Math.log(1 - p));
  }
  return sum / y.length;
}

function close(a, b, what, tol = 1e-9) {
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

async function infer(id, xs) {
  const r = await call('POST', '/v2/models/bcq/infer', {
    id,
    inputs: [{ name: 'input-0', shape: [xs.length, features.length], datatype: 'FP64', data: xs }],
  });
  assert.equal(r.status, 200, r.text);
  return r.json.outputs.find((o) => o.name === 'proba').data;
}

before(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'cairn-quality-'));
  srv = await startServer({ home });
  work = await mkdtemp(path.join(tmpdir(), 'cairn-quality-w-'));
  await runCairn(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'logistic', '--experiment', 'quality',
    '--register', 'bcq', '--out', path.join(work, 'm1')], { cwd: work, trackingUri: srv.url });
  const text = (await readFile(CSV, 'utf8')).trim().split('\n');
  const header = text[0].split(',');
  const ti = header.indexOf('diagnosis');
  rows = text.slice(1).map((l) => {
    const f = l.split(',');
    return { x: f.filter((_, j) => j !== ti).map(Number), y: f[ti] };
  });
  const meta = (await call('GET', '/v2/models/bcq')).json;
  features = meta.parameters.features.map((f) => f.name);
  classes = meta.parameters.class_labels;
  assert.equal(features.length, header.length - 1);
});

after(async () => {
  if (srv) await stopCleanly(srv);
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(home, { recursive: true, force: true });
});

test('labels join by request id; windows close at 1000 labels with sklearn-equal metrics', async () => {
  // 1138 predictions: the data set twice, in requests of up to 200 rows, and one one-row request
  const preds = []; // {id, p, y}
  for (let pass = 0; pass < 2; pass++)
    for (let start = 0; start < rows.length; start += 200) {
      const chunk = rows.slice(start, start + 200);
      const id = `q${pass}-${start}`;
      const proba = await infer(id, chunk.map((r) => r.x));
      chunk.forEach((r, i) => preds.push({ id: `${id}/${i}`, p: proba[i], y: classes.indexOf(r.y) }));
    }
  const one = await infer('single-1', [rows[3].x]);
  preds.push({ id: 'single-1', p: one[0], y: classes.indexOf(rows[3].y) });
  assert.ok(preds.every((q) => q.y === 0 || q.y === 1));

  // malformed bodies: 400 with an OIP error, nothing joined
  for (const bad of [{ labels: 3 }, { labels: [{ id: 'q0-0/0' }] }, { labels: [{ id: '', label: 1 }] },
    { labels: [{ id: 'q0-0/0', label: [1] }] }, [1, 2]]) {
    const r = await call('POST', '/v2/models/bcq/feedback', bad);
    assert.equal(r.status, 400, r.text);
    assert.equal(typeof r.json.error, 'string');
  }
  let r = await call('POST', '/v2/models/bcq/feedback', undefined, '{"labels": [');
  assert.equal(r.status, 400);
  r = await call('GET', '/v2/models/bcq/feedback');
  assert.equal(r.status, 405);

  // REST: the first 600 as class indexes, plus unknown ids, a bad class and a row past the request
  const first = preds.slice(0, 600);
  const body = { labels: first.map((q) => ({ id: q.id, label: q.y })) };
  body.labels.push({ id: 'nope-1', label: 1 }, { id: 'q0-0/200', label: 0 }, { id: 'q0-0', label: 0 },
    { id: 'single-1', label: 'not-a-class' });
  r = await call('POST', '/v2/models/bcq/feedback', body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.joined, 600);
  assert.deepEqual(r.json.unknown.sort(), ['nope-1', 'q0-0', 'q0-0/200']);
  assert.deepEqual(r.json.duplicate, []);
  assert.equal(r.json.rejected.length, 1);
  assert.equal(r.json.rejected[0].id, 'single-1');
  pairs.push(...first);

  // a label sent twice is a duplicate, not counted again; another name does not see these predictions
  r = await call('POST', '/v2/models/bcq/feedback', { labels: [{ id: first[0].id, label: first[0].y }] });
  assert.deepEqual([r.json.joined, r.json.duplicate], [0, [first[0].id]]);
  r = await call('POST', '/v2/models/other/feedback', { labels: [{ id: preds[700].id, label: 1 }] });
  assert.deepEqual([r.json.joined, r.json.unknown], [0, [preds[700].id]]);

  // the CLI: the rest from a CSV file, labels as class names
  const rest = preds.slice(600);
  const csv = ['request_id,label', ...rest.map((q) => `${q.id},${classes[q.y]}`)].join('\n') + '\n';
  const file = path.join(work, 'labels.csv');
  await writeFile(file, csv);
  const out = await runCairn(['monitor', 'feedback', file, '--model', 'bcq', '--batch', '250', '--json'],
    { cwd: work, trackingUri: srv.url });
  const summary = JSON.parse(out.stdout);
  assert.equal(summary.sent, rest.length);
  assert.equal(summary.joined, rest.length);
  assert.deepEqual(summary.unknown, []);
  pairs.push(...rest);
});

async function quality() {
  const r = await call('GET', '/api/2.0/cairn/monitor/quality?model=bcq&version=1');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.series.length, 1, r.text);
  return r.json.series[0];
}

async function checkQuality() {
  const s = await quality();
  assert.equal(s.task, 'binary');
  assert.equal(s.deployment, '');
  assert.equal(s.windows_closed, 1);
  assert.equal(s.windows.length, 1);
  const w = s.windows[0];
  assert.equal(w.seq, 1);
  assert.equal(w.rows, 1000);
  const win = pairs.slice(0, 1000), cur = pairs.slice(1000);
  const y = win.map((q) => q.y), p = win.map((q) => q.p);
  close(w.metrics.auc.value, rocAuc(y, p), 'window auc');
  close(w.metrics.accuracy.value, accuracy(y, p), 'window accuracy');
  close(w.metrics.logloss.value, logLoss(y, p), 'window logloss', 1e-12);
  assert.ok(w.metrics.f1_macro.value > 0.5 && w.metrics.f1_macro.value <= 1);
  // the current (open) window holds the rest
  assert.equal(s.current.rows, cur.length);
  close(s.current.metrics.auc.value, rocAuc(cur.map((q) => q.y), cur.map((q) => q.p)), 'current auc');
  close(s.current.metrics.accuracy.value, accuracy(cur.map((q) => q.y), cur.map((q) => q.p)), 'current accuracy');

  // training metrics: those the version's run logged
  const api = mlflowApi(srv.url);
  const mv = (await api.get('model-versions/get', { name: 'bcq', version: '1' })).json.model_version;
  const run = (await api.get('runs/get', { run_id: mv.run_id })).json.run;
  const logged = Object.fromEntries(run.data.metrics.map((m) => [m.key, m.value]));
  for (const m of ['auc', 'accuracy', 'logloss', 'f1_macro']) {
    assert.equal(typeof logged[m], 'number', `training run logged ${m}`);
    close(s.training[m], logged[m], `training ${m}`);
    close(w.metrics[m].training, logged[m], `window training ${m}`);
    close(w.metrics[m].difference, w.metrics[m].value - logged[m], `difference ${m}`);
  }
  return s;
}

test('the quality API reports windows, current window and degradation', async () => {
  const s = await checkQuality();
  assert.equal(s.labels, pairs.length);
  // /metrics: the last closed window's gauges
  const m = await (await fetch(`${srv.url}/metrics`)).text();
  const line = m.split('\n').find((l) => l.startsWith('cairn_quality_auc{deployment="",model="bcq",version="1"}'));
  assert.ok(line, 'the quality gauges are in /metrics');
  close(Number(line.split(' ').pop()), s.windows[0].metrics.auc.value, '/metrics auc');
  // bad query
  const r = await call('GET', '/api/2.0/cairn/monitor/quality?max_windows=0');
  assert.equal(r.status, 400);
  assert.equal(r.json.error_code, 'INVALID_PARAMETER_VALUE');
});

test('a restarted server keeps the history and the open window', async () => {
  // a prediction made before the restart: after it, only the prediction log knows it
  const before = await infer('before-restart', [rows[2].x]);
  await stopCleanly(srv);
  srv = await startServer({ home });
  await checkQuality();
  const old = await call('POST', '/v2/models/bcq/feedback', {
    labels: [{ id: 'before-restart', label: classes[classes.indexOf(rows[2].y)] }],
  });
  assert.equal(old.status, 200, old.text);
  assert.equal(old.json.joined, 1, `joined through the prediction log: ${old.text}`);
  pairs.push({ id: 'before-restart', p: before[0], y: classes.indexOf(rows[2].y) });
  // labels posted after the restart still reach the rebuilt window (predictions made now)
  const proba = await infer('after-restart', [rows[0].x, rows[1].x]);
  const r = await call('POST', '/v2/models/bcq/feedback', {
    labels: [0, 1].map((i) => ({ id: `after-restart/${i}`, label: classes[classes.indexOf(rows[i].y)] })),
  });
  assert.equal(r.json.joined, 2, r.text);
  pairs.push(...[0, 1].map((i) => ({ id: `after-restart/${i}`, p: proba[i], y: classes.indexOf(rows[i].y) })));
  const s = await quality();
  assert.equal(s.current.rows, pairs.length - 1000);
});
