// test_serve_v1.mjs - KServe V1 (/v1/models/{m}[:predict]) and MLflow's
// scoring protocol (/invocations, /ping) on a real cairn server: trains and
// registers a logistic model with the real CLI, then checks that V1 predict
// (rows as arrays and as objects) and /invocations in its four JSON body
// formats give the same probabilities as OIP V2 infer for the same rows,
// and that bad requests get each protocol's error shape while the server
// keeps serving.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, httpCall, runCairn, mlflowApi, stopCleanly, waitFor } from './lib/server.mjs';

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CSV = path.join(SRC, 'examples/breast_cancer/breast_cancer.csv');
const ROWS = [0, 19, 20, 21, 37, 46, 100, 200, 300, 568]; // a mix of both classes

let srv;
let work;
let header;
let lines;
let features; // the model's feature order, from OIP metadata
let want; // OIP V2 probabilities of class 1 for ROWS

function cli(args) {
  return runCairn(args, { cwd: work, trackingUri: srv.url });
}

function call(method, p, body, opts = {}) {
  return httpCall(srv.url, method, p, { body, ...opts });
}

/** The selected CSV rows as numbers in the model's feature order. */
function batch() {
  const idx = features.map((f) => {
    const i = header.indexOf(f);
    assert.ok(i >= 0, `feature ${f} in the CSV header`);
    return i;
  });
  return ROWS.map((r) => {
    const cells = lines[r].split(',');
    return idx.map((i) => Number(cells[i]));
  });
}

/** The same rows as {feature: value} objects. */
function records() {
  return batch().map((row) => Object.fromEntries(features.map((f, j) => [f, row[j]])));
}

function assertClose(got, exp, what) {
  assert.ok(Array.isArray(got), `${what}: predictions is an array`);
  assert.equal(got.length, exp.length, what);
  for (let i = 0; i < exp.length; i++) {
    assert.equal(typeof got[i], 'number', `${what}[${i}] is one number (binary: P(class 1))`);
    assert.ok(Math.abs(got[i] - exp[i]) <= 1e-12, `${what}[${i}]: ${got[i]} vs ${exp[i]}`);
  }
}

function v1Err(r, status) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.ok(r.json && typeof r.json.error === 'string' && r.json.error.length > 0, `V1 error body: ${r.text}`);
}

function mlflowErr(r, status, code) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.ok(r.json && r.json.error_code === code, `MLflow error_code ${code}: ${r.text}`);
  assert.ok(typeof r.json.message === 'string' && r.json.message.length > 0, r.text);
}

const MODEL = { 'X-Model-Name': 'bcv1' };

async function healthy() {
  const p = await fetch(`${srv.url}/ping`);
  assert.equal(p.status, 200);
  await p.text();
  const h = await fetch(`${srv.url}/v2/health/live`);
  assert.equal(h.status, 200);
  await h.text();
}

before(async () => {
  srv = await startServer();
  work = await mkdtemp(path.join(tmpdir(), 'cairn-serve-v1-'));
  const text = (await readFile(CSV, 'utf8')).trim().split('\n');
  header = text[0].split(',');
  lines = text.slice(1);
  await cli(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'logistic', '--experiment', 'serve-v1',
    '--register', 'bcv1', '--out', path.join(work, 'm1')]);
  const meta = await call('GET', '/v2/models/bcv1');
  assert.equal(meta.status, 200, meta.text);
  features = meta.json.parameters.features.map((f) => f.name);
  assert.equal(features.length, 30);
  const data = batch();
  const r = await call('POST', '/v2/models/bcv1/infer', {
    inputs: [{ name: 'input-0', shape: [data.length, features.length], datatype: 'FP64', data }],
    outputs: [{ name: 'proba' }],
  });
  assert.equal(r.status, 200, r.text);
  want = r.json.outputs[0].data;
  assert.equal(want.length, ROWS.length);
  assert.ok(want.some((p) => p < 0.5) && want.some((p) => p >= 0.5), 'rows of both classes');
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (!srv) return;
  await stopCleanly(srv);
});

test('V1 model readiness', async () => {
  let r = await call('GET', '/v1/models/bcv1');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { name: 'bcv1', ready: true });
  assert.equal(r.headers.get('x-model-version'), '1');
  r = await call('GET', '/v1/models/bcv1/versions/1');
  assert.deepEqual(r.json, { name: 'bcv1', ready: true });
  v1Err(await call('GET', '/v1/models/nope'), 404);
  v1Err(await call('GET', '/v1/models/bcv1/versions/7'), 404);
  v1Err(await call('GET', '/v1/models/bcv1:predict'), 405);
});

test('V1 predict with rows as arrays and as objects equals OIP V2', async () => {
  let r = await call('POST', '/v1/models/bcv1:predict', { instances: batch() });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json), ['predictions']);
  assertClose(r.json.predictions, want, 'V1 arrays');
  assert.equal(r.headers.get('x-model-name'), 'bcv1');

  r = await call('POST', '/v1/models/bcv1:predict', { instances: records() });
  assert.equal(r.status, 200, r.text);
  assertClose(r.json.predictions, want, 'V1 objects');

  // objects may list features in any order and carry extra keys
  const shuffled = records().map((o) => ({ extra: 'x', ...Object.fromEntries(Object.entries(o).reverse()) }));
  r = await call('POST', '/v1/models/bcv1/versions/latest:predict', { instances: shuffled });
  assert.equal(r.status, 200, r.text);
  assertClose(r.json.predictions, want, 'V1 objects, shuffled, by version spec');
});

test('V1 errors', async () => {
  v1Err(await call('POST', '/v1/models/nope:predict', { instances: batch() }), 404);
  v1Err(await call('POST', '/v1/models/bcv1:predict', undefined, { raw: '{"instances": [[1,2' }), 400);
  v1Err(await call('POST', '/v1/models/bcv1:predict', { instances: batch().map((row) => row.slice(1)) }), 400);
  v1Err(await call('POST', '/v1/models/bcv1:predict', { instances: [] }), 400);
  v1Err(await call('POST', '/v1/models/bcv1:predict', { rows: batch() }), 400);
  const missing = records();
  delete missing[3][features[5]];
  const r = await call('POST', '/v1/models/bcv1:predict', { instances: missing });
  v1Err(r, 400);
  assert.match(r.json.error, /row 3/);
  const str = batch();
  str[0][0] = 'abc';
  v1Err(await call('POST', '/v1/models/bcv1:predict', { instances: str }), 400);
  v1Err(await call('POST', '/v1/models/bcv1:explain', { instances: batch() }), 404);
  await healthy();
});

test('/invocations in all four JSON formats equals OIP V2', async () => {
  const data = batch();
  // dataframe_split with its columns in reverse order plus an extra column
  const cols = [...features].reverse();
  const split = {
    columns: ['extra', ...cols],
    data: data.map((row) => [0, ...cols.map((c) => row[features.indexOf(c)])]),
  };
  const bodies = {
    dataframe_split: { dataframe_split: split },
    dataframe_records: { dataframe_records: records() },
    instances: { instances: data },
    instances_objects: { instances: records() },
    inputs: { inputs: data },
  };
  for (const [what, body] of Object.entries(bodies)) {
    const r = await call('POST', '/invocations', body, { headers: MODEL });
    assert.equal(r.status, 200, `${what}: ${r.text}`);
    assert.deepEqual(Object.keys(r.json), ['predictions']);
    assertClose(r.json.predictions, want, `/invocations ${what}`);
    assert.equal(r.headers.get('x-model-version'), '1');
  }
  const r = await call('POST', '/invocations', bodies.inputs, {
    headers: { ...MODEL, 'X-Model-Version': '1' },
    contentType: 'application/json; charset=utf-8',
  });
  assert.equal(r.status, 200, r.text);
  assertClose(r.json.predictions, want, '/invocations with a version header');
});

test('/invocations errors and /ping', async () => {
  const data = batch();
  const p = await fetch(`${srv.url}/ping`);
  assert.equal(p.status, 200);
  await p.text();
  mlflowErr(await call('POST', '/invocations', { inputs: data }, { headers: { 'X-Model-Name': 'nope' } }),
    404, 'RESOURCE_DOES_NOT_EXIST');
  mlflowErr(await call('POST', '/invocations', { inputs: data }, { headers: { ...MODEL, 'X-Model-Version': '9' } }),
    404, 'RESOURCE_DOES_NOT_EXIST');
  // without X-Model-Name: the server's only model, as `mlflow models serve`
  const only = await call('POST', '/invocations', { inputs: data });
  assert.equal(only.status, 200, only.text);
  assertClose(only.json.predictions, want, '/invocations without a model header');
  mlflowErr(await call('POST', '/invocations', undefined, { raw: '{"inputs": ', headers: MODEL }), 400, 'BAD_REQUEST');
  mlflowErr(await call('POST', '/invocations', { inputs: data.map((row) => [...row, 1]) }, { headers: MODEL }),
    400, 'BAD_REQUEST');
  mlflowErr(await call('POST', '/invocations', { dataframe_split: { columns: features.slice(1), data: data.map((row) => row.slice(1)) } },
    { headers: MODEL }), 400, 'BAD_REQUEST');
  mlflowErr(await call('POST', '/invocations', { dataframe_split: { columns: features, data: data.map((row) => row.slice(1)) } },
    { headers: MODEL }), 400, 'BAD_REQUEST');
  const recs = records();
  delete recs[0][features[0]];
  const r = await call('POST', '/invocations', { dataframe_records: recs }, { headers: MODEL });
  mlflowErr(r, 400, 'BAD_REQUEST');
  assert.match(r.json.message, new RegExp(features[0]));
  mlflowErr(await call('POST', '/invocations', { inputs: data, instances: data }, { headers: MODEL }), 400, 'BAD_REQUEST');
  mlflowErr(await call('POST', '/invocations', { dataframe_records: data }, { headers: MODEL }), 400, 'BAD_REQUEST');
  mlflowErr(await call('POST', '/invocations', { inputs: data }, { headers: MODEL, contentType: 'text/plain' }),
    415, 'BAD_REQUEST');
  await healthy();
  // after every failure the model still answers
  const ok = await call('POST', '/invocations', { inputs: data }, { headers: MODEL });
  assert.equal(ok.status, 200, ok.text);
  assertClose(ok.json.predictions, want, '/invocations after errors');
  // with a second registered model the header is required
  assert.equal((await mlflowApi(srv.url).post('registered-models/create', { name: 'zz-other' })).status, 200);
  mlflowErr(await call('POST', '/invocations', { inputs: data }), 400, 'BAD_REQUEST');
});

// V1 and MLflow-scoring requests are counted in /metrics like OIP ones.
test('V1 and /invocations requests appear in /metrics', async () => {
  const okCount = async () => {
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    const m = text.match(/^cairn_inference_requests_total\{deployment="",model="bcv1",version="\d+",code="200"\} (\d+)$/m);
    return m ? Number(m[1]) : 0;
  };
  const before = await okCount();
  assert.equal((await call('POST', '/v1/models/bcv1:predict', { instances: batch() })).status, 200);
  assert.equal((await call('POST', '/invocations', { inputs: batch() }, { headers: MODEL })).status, 200);
  assert.equal(await okCount(), before + 2);
});

// V1 and /invocations predictions reach the prediction log like OIP ones,
// under the request id the response carries.
test('V1 and /invocations predictions are in the prediction log', async () => {
  const v1 = await call('POST', '/v1/models/bcv1:predict', { instances: batch() }, { headers: { 'X-Request-Id': 'v1-logged' } });
  assert.equal(v1.status, 200, v1.text);
  const inv = await call('POST', '/invocations', { inputs: batch() }, { headers: { ...MODEL, 'X-Request-Id': 'inv-logged' } });
  assert.equal(inv.status, 200, inv.text);
  const logged = await waitFor(async () => {
    const { stdout } = await runCairn(['predictions', '--home', srv.home, '--model', 'bcv1', '--json'], { cwd: srv.home, trackingUri: srv.url });
    const recs = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const ids = new Set(recs.map((r) => r.request_id));
    return ids.has('v1-logged') && ids.has('inv-logged') ? recs : null;
  }, { what: 'the V1 and /invocations records' });
  const rec = logged.find((r) => r.request_id === 'v1-logged');
  assert.equal(rec.rows, batch().length);
  assertClose(rec.outputs.map((o) => o[0]), v1.json.predictions, 'logged outputs');
});
