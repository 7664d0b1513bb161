// test_rest_api.mjs - every MLflow tracking endpoint of a real cairn server
// over raw fetch: experiments, runs, metrics history, search (filters,
// ordering, paging, view types), GET query-string variants, the /ajax-api/
// mirror, and bad input (each followed by a /health check).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, mlflowApi, stopCleanly } from './lib/server.mjs';

let srv;
let api;
let ajax;

before(async () => {
  srv = await startServer();
  api = mlflowApi(srv.url);
  ajax = mlflowApi(srv.url, '/ajax-api/2.0/mlflow');
});

after(async () => {
  if (!srv) return;
  await stopCleanly(srv);
});

function ok(r) {
  assert.equal(r.status, 200, `expected 200, got ${r.status}: ${r.text}`);
  return r.json;
}

function expectErr(r, status, code) {
  assert.equal(r.status, status, `expected ${status} ${code ?? ''}, got ${r.status}: ${r.text}`);
  assert.ok(r.json && typeof r.json === 'object', `error body is JSON: ${r.text}`);
  assert.equal(typeof r.json.error_code, 'string', `error body has error_code: ${r.text}`);
  assert.equal(typeof r.json.message, 'string', `error body has message: ${r.text}`);
  if (code) assert.equal(r.json.error_code, code, r.text);
}

async function healthy() {
  const r = await fetch(`${srv.url}/health`);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'OK');
}

async function createExp(name, tags) {
  const body = { name };
  if (tags) body.tags = tags;
  return ok(await api.post('experiments/create', body)).experiment_id;
}

async function createRun(experiment_id, extra = {}) {
  return ok(await api.post('runs/create', { experiment_id, start_time: Date.now(), ...extra })).run;
}

async function getRun(run_id) {
  return ok(await api.get('runs/get', { run_id })).run;
}

const tagMap = (tags) => Object.fromEntries((tags ?? []).map((t) => [t.key, t.value]));

// Collects every page of a search; returns [items, pages].
async function allPages(endpoint, body, field, method = 'POST') {
  const items = [];
  let pages = 0;
  let token;
  for (;;) {
    const b = { ...body };
    if (token) b.page_token = token;
    const r = method === 'POST' ? await api.post(endpoint, b) : await api.get(endpoint, b);
    const j = ok(r);
    pages++;
    items.push(...(j[field] ?? []));
    if (!j.next_page_token) break;
    token = j.next_page_token;
    assert.ok(pages < 1000, 'paging terminates');
  }
  return [items, pages];
}

// ---------------------------------------------------------------- experiments

test('experiments: create with tags, duplicate, get, get-by-name', async () => {
  const id = await createExp('rest-exp-a', [{ key: 'team', value: 'nlp' }, { key: 'prio', value: '1' }]);
  assert.match(id, /^\d+$/);
  const e = ok(await api.get('experiments/get', { experiment_id: id })).experiment;
  assert.equal(e.experiment_id, id);
  assert.equal(e.name, 'rest-exp-a');
  assert.equal(e.lifecycle_stage, 'active');
  assert.deepEqual(tagMap(e.tags), { team: 'nlp', prio: '1' });
  assert.equal(typeof e.creation_time, 'number');
  assert.equal(typeof e.last_update_time, 'number');
  assert.ok(e.artifact_location);

  expectErr(await api.post('experiments/create', { name: 'rest-exp-a' }), 400, 'RESOURCE_ALREADY_EXISTS');
  expectErr(await api.post('experiments/create', {}), 400, 'INVALID_PARAMETER_VALUE');
  expectErr(await api.post('experiments/create', { name: '' }), 400, 'INVALID_PARAMETER_VALUE');

  const byName = ok(await api.get('experiments/get-by-name', { experiment_name: 'rest-exp-a' })).experiment;
  assert.equal(byName.experiment_id, id);
  expectErr(await api.get('experiments/get-by-name', { experiment_name: 'no-such-exp' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  expectErr(await api.get('experiments/get', { experiment_id: '99999999' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  await healthy();
});

test('experiments: update (rename), set and delete tag', async () => {
  const id = await createExp('rest-exp-rename');
  ok(await api.post('experiments/update', { experiment_id: id, new_name: 'rest-exp-renamed' }));
  assert.equal(ok(await api.get('experiments/get', { experiment_id: id })).experiment.name, 'rest-exp-renamed');
  expectErr(await api.get('experiments/get-by-name', { experiment_name: 'rest-exp-rename' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  await createExp('rest-exp-taken');
  expectErr(await api.post('experiments/update', { experiment_id: id, new_name: 'rest-exp-taken' }), 400, 'RESOURCE_ALREADY_EXISTS');

  ok(await api.post('experiments/set-experiment-tag', { experiment_id: id, key: 'k1', value: 'v1' }));
  ok(await api.post('experiments/set-experiment-tag', { experiment_id: id, key: 'k2', value: 'v2' }));
  ok(await api.post('experiments/set-experiment-tag', { experiment_id: id, key: 'k1', value: 'v1b' }));
  let e = ok(await api.get('experiments/get', { experiment_id: id })).experiment;
  assert.deepEqual(tagMap(e.tags), { k1: 'v1b', k2: 'v2' });
  ok(await api.post('experiments/delete-experiment-tag', { experiment_id: id, key: 'k2' }));
  e = ok(await api.get('experiments/get', { experiment_id: id })).experiment;
  assert.deepEqual(tagMap(e.tags), { k1: 'v1b' });
  expectErr(await api.post('experiments/set-experiment-tag', { experiment_id: '99999999', key: 'k', value: 'v' }), 404, 'RESOURCE_DOES_NOT_EXIST');
});

test('experiments: delete/restore and search view_type', async () => {
  const id = await createExp('rest-exp-del');
  ok(await api.post('experiments/delete', { experiment_id: id }));
  assert.equal(ok(await api.get('experiments/get', { experiment_id: id })).experiment.lifecycle_stage, 'deleted');
  const find = async (view_type) => {
    const body = { filter: "name = 'rest-exp-del'" };
    if (view_type) body.view_type = view_type;
    return (ok(await api.post('experiments/search', body)).experiments ?? []).map((x) => x.experiment_id);
  };
  assert.deepEqual(await find(), []);
  assert.deepEqual(await find('ACTIVE_ONLY'), []);
  assert.deepEqual(await find('DELETED_ONLY'), [id]);
  assert.deepEqual(await find('ALL'), [id]);
  // a name held by a deleted experiment cannot be reused
  expectErr(await api.post('experiments/create', { name: 'rest-exp-del' }), 400, 'RESOURCE_ALREADY_EXISTS');
  ok(await api.post('experiments/restore', { experiment_id: id }));
  assert.deepEqual(await find(), [id]);
  assert.deepEqual(await find('DELETED_ONLY'), []);
  expectErr(await api.post('experiments/delete', { experiment_id: '99999999' }), 404, 'RESOURCE_DOES_NOT_EXIST');
});

test('experiments/search: filter, order_by, max_results, page_token, GET variant', async () => {
  const ids = [];
  for (let i = 0; i < 7; i++) ids.push(await createExp(`pager-${String(i).padStart(2, '0')}`, [{ key: 'grp', value: i % 2 ? 'odd' : 'even' }]));
  const [items, pages] = await allPages(
    'experiments/search',
    { filter: "name LIKE 'pager-%'", order_by: ['name DESC'], max_results: 3 },
    'experiments',
  );
  assert.equal(pages, 3);
  assert.deepEqual(items.map((e) => e.experiment_id), [...ids].reverse());

  const odd = ok(await api.post('experiments/search', { filter: "name LIKE 'pager-%' AND tags.grp = 'odd'", order_by: ['name ASC'] }));
  assert.deepEqual(odd.experiments.map((e) => e.name), ['pager-01', 'pager-03', 'pager-05']);
  assert.equal(odd.next_page_token, undefined);

  // GET with a query string; values arrive as strings, order_by repeated
  const q = new URLSearchParams();
  q.set('filter', "name LIKE 'pager-%'");
  q.append('order_by', 'name ASC');
  q.append('order_by', 'experiment_id DESC');
  q.set('max_results', '4');
  q.set('view_type', 'ACTIVE_ONLY');
  const g1 = ok(await api.get('experiments/search', q));
  assert.deepEqual(g1.experiments.map((e) => e.experiment_id), ids.slice(0, 4));
  assert.ok(g1.next_page_token);
  q.set('page_token', g1.next_page_token);
  const g2 = ok(await api.get('experiments/search', q));
  assert.deepEqual(g2.experiments.map((e) => e.experiment_id), ids.slice(4));
  assert.equal(g2.next_page_token, undefined);

  // the /ajax-api/ mirror answers the same
  const a = ok(await ajax.post('experiments/search', { filter: "name LIKE 'pager-%'", order_by: ['name ASC'] }));
  assert.deepEqual(a.experiments.map((e) => e.experiment_id), ids);
});

// ---------------------------------------------------------------- runs

test('runs: create with tags and run_name, get, update, delete/restore', async () => {
  const exp = await createExp('rest-runs');
  const t0 = Date.now() - 1000;
  const run = ok(
    await api.post('runs/create', {
      experiment_id: exp,
      run_name: 'first-run',
      user_id: 'dora',
      start_time: t0,
      tags: [{ key: 'color', value: 'blue' }],
    }),
  ).run;
  const id = run.info.run_id;
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(run.info.run_uuid, id);
  assert.equal(run.info.run_name, 'first-run');
  assert.equal(run.info.experiment_id, exp);
  assert.equal(run.info.user_id, 'dora');
  assert.equal(run.info.start_time, t0);
  assert.equal(run.info.status, 'RUNNING');
  assert.equal(run.info.lifecycle_stage, 'active');
  assert.match(run.info.artifact_uri, new RegExp(`${id}/artifacts$`));
  const tags = tagMap(run.data.tags);
  assert.equal(tags.color, 'blue');
  assert.equal(tags['mlflow.runName'], 'first-run');

  const got = await getRun(id);
  assert.deepEqual(got.info, run.info);
  const viaUuid = ok(await api.get('runs/get', { run_uuid: id })).run;
  assert.equal(viaUuid.info.run_id, id);

  const t1 = Date.now();
  const upd = ok(await api.post('runs/update', { run_id: id, status: 'FINISHED', end_time: t1, run_name: 'renamed-run' }));
  assert.equal(upd.run_info.status, 'FINISHED');
  assert.equal(upd.run_info.end_time, t1);
  assert.equal(upd.run_info.run_name, 'renamed-run');
  const after = await getRun(id);
  assert.equal(after.info.status, 'FINISHED');
  assert.equal(after.info.end_time, t1);
  assert.equal(after.info.run_name, 'renamed-run');
  assert.equal(tagMap(after.data.tags)['mlflow.runName'], 'renamed-run');
  expectErr(await api.post('runs/update', { run_id: id, status: 'SLEEPING' }), 400, 'INVALID_PARAMETER_VALUE');

  ok(await api.post('runs/delete', { run_id: id }));
  assert.equal((await getRun(id)).info.lifecycle_stage, 'deleted');
  ok(await api.post('runs/restore', { run_id: id }));
  assert.equal((await getRun(id)).info.lifecycle_stage, 'active');

  // the Default experiment exists and takes runs
  assert.equal(ok(await api.get('experiments/get', { experiment_id: '0' })).experiment.name, 'Default');
  const dflt = ok(await api.post('runs/create', { experiment_id: '0', start_time: Date.now() })).run;
  assert.equal(dflt.info.experiment_id, '0');
  expectErr(await api.post('runs/create', { experiment_id: '99999999' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  expectErr(await api.post('runs/delete', { run_id: 'f'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST');
});

test('runs: log-metric incl. NaN/Infinity, log-parameter, set-tag, delete-tag', async () => {
  const exp = await createExp('rest-logging');
  const id = (await createRun(exp)).info.run_id;
  const ts = Date.now();
  ok(await api.post('runs/log-metric', { run_id: id, key: 'm', value: 1.5, timestamp: ts, step: 3 }));
  ok(await api.post('runs/log-metric', { run_uuid: id, key: 'm0', value: -2, timestamp: ts })); // step defaults to 0
  ok(await api.post('runs/log-metric', { run_id: id, key: 'nan', value: 'NaN', timestamp: ts, step: 0 }));
  ok(await api.post('runs/log-metric', { run_id: id, key: 'inf', value: 'Infinity', timestamp: ts, step: 0 }));
  ok(await api.post('runs/log-metric', { run_id: id, key: 'ninf', value: '-Infinity', timestamp: ts, step: 0 }));
  const m = Object.fromEntries((await getRun(id)).data.metrics.map((x) => [x.key, x]));
  assert.equal(m.m.value, 1.5);
  assert.equal(m.m.step, 3);
  assert.equal(m.m.timestamp, ts);
  assert.equal(m.m0.value, -2);
  assert.equal(m.m0.step, 0);
  assert.equal(String(m.nan.value), 'NaN');
  assert.equal(String(m.inf.value), 'Infinity');
  assert.equal(String(m.ninf.value), '-Infinity');
  const h = ok(await api.get('metrics/get-history', { run_id: id, metric_key: 'inf' }));
  assert.deepEqual(h.metrics.map((x) => String(x.value)), ['Infinity']);

  ok(await api.post('runs/log-parameter', { run_id: id, key: 'lr', value: '0.1' }));
  ok(await api.post('runs/log-parameter', { run_id: id, key: 'lr', value: '0.1' })); // same value: fine
  expectErr(await api.post('runs/log-parameter', { run_id: id, key: 'lr', value: '0.2' }), 400, 'INVALID_PARAMETER_VALUE');
  ok(await api.post('runs/log-parameter', { run_id: id, key: 'empty', value: '' }));

  ok(await api.post('runs/set-tag', { run_id: id, key: 'note', value: 'a' }));
  ok(await api.post('runs/set-tag', { run_id: id, key: 'note', value: 'b' })); // tags may change
  ok(await api.post('runs/set-tag', { run_id: id, key: 'gone', value: 'x' }));
  ok(await api.post('runs/delete-tag', { run_id: id, key: 'gone' }));
  const r = await getRun(id);
  const p = Object.fromEntries(r.data.params.map((x) => [x.key, x.value]));
  assert.deepEqual(p, { lr: '0.1', empty: '' });
  const t = tagMap(r.data.tags);
  assert.equal(t.note, 'b');
  assert.equal(t.gone, undefined);
  expectErr(await api.post('runs/delete-tag', { run_id: id, key: 'never-set' }), 404, 'RESOURCE_DOES_NOT_EXIST');

  // writes to a deleted run are refused
  ok(await api.post('runs/delete', { run_id: id }));
  expectErr(await api.post('runs/log-metric', { run_id: id, key: 'm', value: 1, timestamp: ts }), 400, 'INVALID_PARAMETER_VALUE');
  ok(await api.post('runs/restore', { run_id: id }));
  await healthy();
});

test('runs/log-batch: mixed entities and the 1000/100/100 limits', async () => {
  const exp = await createExp('rest-batch');
  const id = (await createRun(exp)).info.run_id;
  const ts = Date.now();
  ok(
    await api.post('runs/log-batch', {
      run_id: id,
      metrics: [
        { key: 'a', value: 1, timestamp: ts, step: 0 },
        { key: 'a', value: 2, timestamp: ts + 1, step: 1 },
        { key: 'b', value: 'NaN', timestamp: ts, step: 0 },
      ],
      params: [{ key: 'p1', value: 'x' }, { key: 'p2', value: 'y' }],
      tags: [{ key: 't1', value: 'u' }],
    }),
  );
  let r = await getRun(id);
  assert.deepEqual(Object.fromEntries(r.data.params.map((x) => [x.key, x.value])), { p1: 'x', p2: 'y' });
  assert.equal(tagMap(r.data.tags).t1, 'u');
  const latest = Object.fromEntries(r.data.metrics.map((x) => [x.key, x]));
  assert.equal(latest.a.value, 2);
  assert.equal(latest.a.step, 1);

  const metrics = (n, base = 0) => Array.from({ length: n }, (_, i) => ({ key: `k${i % 10}`, value: i, timestamp: ts, step: base + i }));
  const kv = (n, p) => Array.from({ length: n }, (_, i) => ({ key: `${p}${i}`, value: String(i) }));
  ok(await api.post('runs/log-batch', { run_id: id, metrics: metrics(1000, 10) }));
  const h = ok(await api.get('metrics/get-history', { run_id: id, metric_key: 'k3' }));
  assert.equal(h.metrics.length, 100);
  ok(await api.post('runs/log-batch', { run_id: id, params: kv(100, 'bp'), tags: kv(100, 'bt') }));
  r = await getRun(id);
  assert.equal(r.data.params.length, 102);
  assert.ok(r.data.tags.filter((t) => t.key.startsWith('bt')).length === 100);

  expectErr(await api.post('runs/log-batch', { run_id: id, metrics: metrics(1001, 5000) }), 400, 'INVALID_PARAMETER_VALUE');
  expectErr(await api.post('runs/log-batch', { run_id: id, params: kv(101, 'xp') }), 400, 'INVALID_PARAMETER_VALUE');
  expectErr(await api.post('runs/log-batch', { run_id: id, tags: kv(101, 'xt') }), 400, 'INVALID_PARAMETER_VALUE');
  // a refused batch writes nothing
  r = await getRun(id);
  assert.ok(!r.data.params.some((x) => x.key.startsWith('xp')));
  assert.ok(!r.data.tags.some((x) => x.key.startsWith('xt')));
  assert.equal(ok(await api.get('metrics/get-history', { run_id: id, metric_key: 'k3' })).metrics.length, 100);
  // changing a param inside a batch is refused too
  expectErr(await api.post('runs/log-batch', { run_id: id, params: [{ key: 'p1', value: 'changed' }] }), 400, 'INVALID_PARAMETER_VALUE');
  expectErr(await api.post('runs/log-batch', { run_id: 'f'.repeat(32), metrics: metrics(1) }), 404, 'RESOURCE_DOES_NOT_EXIST');
  await healthy();
});

test('runs/log-inputs: datasets show up in runs/get inputs', async () => {
  const exp = await createExp('rest-inputs');
  const id = (await createRun(exp)).info.run_id;
  const ds = {
    name: 'iris-train',
    digest: 'abc123',
    source_type: 'local',
    source: '{"uri": "/data/iris.csv"}',
    schema: '{"mlflow_colspec": []}',
    profile: '{"num_rows": 150}',
  };
  ok(
    await api.post('runs/log-inputs', {
      run_id: id,
      datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: ds }],
    }),
  );
  const r = await getRun(id);
  const inputs = r.inputs?.dataset_inputs ?? [];
  assert.equal(inputs.length, 1, JSON.stringify(r.inputs));
  assert.deepEqual(inputs[0].dataset, ds);
  assert.deepEqual(inputs[0].tags, [{ key: 'mlflow.data.context', value: 'training' }]);
  expectErr(await api.post('runs/log-inputs', { run_id: id, datasets: [{ dataset: { name: 'x' } }] }), 400, 'INVALID_PARAMETER_VALUE');
});

test('metrics/get-history: pagination with max_results=7 over 30 points', async () => {
  const exp = await createExp('rest-history');
  const id = (await createRun(exp)).info.run_id;
  const ts = Date.now();
  for (let i = 0; i < 30; i++) {
    ok(await api.post('runs/log-metric', { run_id: id, key: 'loss', value: 100 - i, timestamp: ts + i, step: i }));
  }
  const [points, pages] = await allPages('metrics/get-history', { run_id: id, metric_key: 'loss', max_results: 7 }, 'metrics', 'GET');
  assert.equal(pages, 5);
  assert.equal(points.length, 30);
  assert.deepEqual(
    points.map((p) => p.step).sort((a, b) => a - b),
    Array.from({ length: 30 }, (_, i) => i),
  );
  for (const p of points) {
    assert.equal(p.key, 'loss');
    assert.equal(p.value, 100 - p.step);
    assert.equal(p.timestamp, ts + p.step);
  }
  const all = ok(await api.get('metrics/get-history', { run_id: id, metric_key: 'loss' }));
  assert.equal(all.metrics.length, 30);
  assert.equal(all.next_page_token, undefined);
  const none = ok(await api.get('metrics/get-history', { run_id: id, metric_key: 'never' }));
  assert.deepEqual(none.metrics ?? [], []);
  expectErr(await api.get('metrics/get-history', { run_id: id }), 400, 'INVALID_PARAMETER_VALUE');
  expectErr(await api.get('metrics/get-history', { run_id: 'f'.repeat(32), metric_key: 'loss' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  expectErr(await api.get('metrics/get-history', { run_id: id, metric_key: 'loss', page_token: 'not-a-token' }), 400, 'INVALID_PARAMETER_VALUE');
});

// ---------------------------------------------------------------- runs/search

test('runs/search: filters, order_by with missing values last, paging, view types', async () => {
  const exp = await createExp('rest-search');
  const exp2 = await createExp('rest-search-2');
  // name, acc, lr, team, status, dataset
  const spec = [
    ['r-0', 0.9, '0.01', 'vision', 'FINISHED', 'train-ds'],
    ['r-1', 0.2, '0.1', 'Vision', 'FAILED', null],
    ['r-2', 0.7, '0.001', 'nlp', 'RUNNING', 'eval-ds'],
    ['r-3', null, '0.01', 'vis-x', 'FINISHED', null],
    ['r-4', 0.55, null, null, 'KILLED', 'train-ds'],
    ['r-5', 0.5, '0.3', 'speech', 'RUNNING', null],
  ];
  const ids = {};
  let t = Date.now() - 100000;
  for (const [name, acc, lr, team, status, ds] of spec) {
    const tags = team ? [{ key: 'team', value: team }] : [];
    const run = ok(await api.post('runs/create', { experiment_id: exp, run_name: name, start_time: (t += 1000), tags })).run;
    const id = run.info.run_id;
    ids[name] = id;
    const batch = { run_id: id, metrics: [], params: [] };
    if (acc !== null) batch.metrics.push({ key: 'acc', value: acc, timestamp: t, step: 0 });
    if (lr !== null) batch.params.push({ key: 'lr', value: lr });
    ok(await api.post('runs/log-batch', batch));
    if (status !== 'RUNNING') ok(await api.post('runs/update', { run_id: id, status, end_time: t + 500 }));
    if (ds) {
      ok(
        await api.post('runs/log-inputs', {
          run_id: id,
          datasets: [{ dataset: { name: ds, digest: `d-${ds}`, source_type: 'local', source: 'file:///x' } }],
        }),
      );
    }
  }
  const other = ok(await api.post('runs/create', { experiment_id: exp2, run_name: 'elsewhere', start_time: t + 1 })).run.info.run_id;
  ok(await api.post('runs/log-metric', { run_id: other, key: 'acc', value: 0.99, timestamp: t, step: 0 }));

  const names = (runs) => (runs ?? []).map((r) => r.info.run_name);
  const search = async (filter, extra = {}) =>
    ok(await api.post('runs/search', { experiment_ids: [exp], filter, max_results: 100, ...extra }));
  const sortedNames = async (filter) => names((await search(filter)).runs).sort();

  assert.deepEqual(await sortedNames('metrics.acc > 0.5'), ['r-0', 'r-2', 'r-4']);
  assert.deepEqual(await sortedNames('metrics.acc >= 0.5 and metrics.acc < 0.8'), ['r-2', 'r-4', 'r-5']);
  assert.deepEqual(await sortedNames('metric.acc != 0.9'), ['r-1', 'r-2', 'r-4', 'r-5']);
  assert.deepEqual(await sortedNames("params.lr = '0.01'"), ['r-0', 'r-3']);
  assert.deepEqual(await sortedNames("params.lr != '0.01'"), ['r-1', 'r-2', 'r-5']);
  assert.deepEqual(await sortedNames("tags.team LIKE 'vis%'"), ['r-0', 'r-3']);
  assert.deepEqual(await sortedNames("tags.team ILIKE 'VIS%'"), ['r-0', 'r-1', 'r-3']);
  assert.deepEqual(await sortedNames("tags.team = 'nlp'"), ['r-2']);
  assert.deepEqual(await sortedNames("attributes.status = 'FINISHED'"), ['r-0', 'r-3']);
  assert.deepEqual(await sortedNames("status != 'RUNNING'"), ['r-0', 'r-1', 'r-3', 'r-4']);
  assert.deepEqual(await sortedNames("attributes.run_name = 'r-3'"), ['r-3']);
  assert.deepEqual(await sortedNames("run_name LIKE 'r-%' and metrics.acc < 0.3"), ['r-1']);
  assert.deepEqual(await sortedNames(`attributes.run_id IN ('${ids['r-1']}', '${ids['r-4']}')`), ['r-1', 'r-4']);
  assert.deepEqual(await sortedNames(`run_id NOT IN ('${ids['r-1']}', '${ids['r-4']}')`), ['r-0', 'r-2', 'r-3', 'r-5']);
  assert.deepEqual(await sortedNames("datasets.name = 'train-ds'"), ['r-0', 'r-4']);
  assert.deepEqual(await sortedNames("datasets.name IN ('train-ds', 'eval-ds')"), ['r-0', 'r-2', 'r-4']);
  assert.deepEqual(await sortedNames("datasets.digest = 'd-eval-ds'"), ['r-2']);
  assert.deepEqual(await sortedNames(`tags."mlflow.runName" = 'r-5'`), ['r-5']);
  assert.deepEqual(await sortedNames(`attributes.start_time > ${t - 1500}`), ['r-4', 'r-5']);
  assert.deepEqual(await sortedNames("metrics.acc > 0.5 and params.lr = '0.01' and tags.team = 'vision'"), ['r-0']);

  // order_by: metric DESC / param ASC, runs lacking the key come last
  assert.deepEqual(names((await search('', { order_by: ['metrics.acc DESC'] })).runs), ['r-0', 'r-2', 'r-4', 'r-5', 'r-1', 'r-3']);
  assert.deepEqual(names((await search('', { order_by: ['metrics.acc ASC'] })).runs), ['r-1', 'r-5', 'r-4', 'r-2', 'r-0', 'r-3']);
  const byLr = names((await search('', { order_by: ['params.lr ASC', 'attributes.run_name DESC'] })).runs);
  assert.deepEqual(byLr, ['r-2', 'r-3', 'r-0', 'r-1', 'r-5', 'r-4']);
  // default order: start_time DESC
  assert.deepEqual(names((await search('')).runs), ['r-5', 'r-4', 'r-3', 'r-2', 'r-1', 'r-0']);
  assert.deepEqual(names((await search('', { order_by: ['attributes.start_time ASC'] })).runs), ['r-0', 'r-1', 'r-2', 'r-3', 'r-4', 'r-5']);

  // page tokens until exhausted
  const [paged, pages] = await allPages('runs/search', { experiment_ids: [exp], max_results: 4, order_by: ['metrics.acc DESC'] }, 'runs');
  assert.equal(pages, 2);
  assert.deepEqual(names(paged), ['r-0', 'r-2', 'r-4', 'r-5', 'r-1', 'r-3']);
  const [paged1] = await allPages('runs/search', { experiment_ids: [exp], max_results: 1 }, 'runs');
  assert.equal(paged1.length, 6);

  // several experiments at once
  const both = ok(await api.post('runs/search', { experiment_ids: [exp, exp2], filter: 'metrics.acc > 0.8' }));
  assert.deepEqual(names(both.runs).sort(), ['elsewhere', 'r-0']);

  // run_view_type
  ok(await api.post('runs/delete', { run_id: ids['r-3'] }));
  ok(await api.post('runs/delete', { run_id: ids['r-5'] }));
  assert.deepEqual(names((await search('')).runs).sort(), ['r-0', 'r-1', 'r-2', 'r-4']);
  assert.deepEqual(names((await search('', { run_view_type: 'ACTIVE_ONLY' })).runs).sort(), ['r-0', 'r-1', 'r-2', 'r-4']);
  assert.deepEqual(names((await search('', { run_view_type: 'DELETED_ONLY' })).runs).sort(), ['r-3', 'r-5']);
  assert.deepEqual(names((await search('', { run_view_type: 'ALL' })).runs).sort(), ['r-0', 'r-1', 'r-2', 'r-3', 'r-4', 'r-5']);
  assert.deepEqual(names((await search("params.lr = '0.01'", { run_view_type: 'ALL' })).runs).sort(), ['r-0', 'r-3']);

  // the ajax mirror
  const a = ok(await ajax.post('runs/search', { experiment_ids: [exp], filter: "params.lr = '0.01'", run_view_type: 'ALL' }));
  assert.deepEqual(names(a.runs).sort(), ['r-0', 'r-3']);
});

test('nested runs: tag mlflow.parentRunId and search by it', async () => {
  const exp = await createExp('rest-nested');
  const parent = (await createRun(exp, { run_name: 'parent' })).info.run_id;
  const kids = [];
  for (let i = 0; i < 3; i++) {
    const run = await createRun(exp, { run_name: `child-${i}`, tags: [{ key: 'mlflow.parentRunId', value: parent }] });
    kids.push(run.info.run_id);
  }
  await createRun(exp, { run_name: 'unrelated' });
  const r = ok(await api.post('runs/search', { experiment_ids: [exp], filter: `tags.mlflow.parentRunId = '${parent}'` }));
  assert.deepEqual(r.runs.map((x) => x.info.run_id).sort(), [...kids].sort());
  const child = await getRun(kids[0]);
  assert.equal(tagMap(child.data.tags)['mlflow.parentRunId'], parent);
});

// ---------------------------------------------------------------- ajax mirror

test('the /ajax-api/2.0/mlflow/ mirror serves the same store', async () => {
  const id = ok(await ajax.post('experiments/create', { name: 'via-ajax' })).experiment_id;
  assert.equal(ok(await api.get('experiments/get', { experiment_id: id })).experiment.name, 'via-ajax');
  const run = ok(await ajax.post('runs/create', { experiment_id: id, start_time: Date.now() })).run;
  ok(await ajax.post('runs/log-metric', { run_id: run.info.run_id, key: 'x', value: 3, timestamp: 1, step: 0 }));
  const h = ok(await ajax.get('metrics/get-history', { run_id: run.info.run_id, metric_key: 'x' }));
  assert.deepEqual(h.metrics.map((m) => m.value), [3]);
  const g = ok(await ajax.get('runs/get', { run_id: run.info.run_id }));
  assert.equal(g.run.data.metrics[0].value, 3);
  expectErr(await ajax.get('experiments/list'), 404, 'ENDPOINT_NOT_FOUND');
});

// ---------------------------------------------------------------- bad input

let badExp;
let badRun;
async function badSetup() {
  if (!badExp) {
    badExp = await createExp('rest-bad');
    badRun = (await createRun(badExp)).info.run_id;
  }
  return [badExp, badRun];
}

test('bad input: malformed JSON -> 400', async () => {
  const [, id] = await badSetup();
  let r = await api.call('POST', 'experiments/create', { raw: '{"name": ' });
  expectErr(r, 400);
  await healthy();
  r = await api.call('POST', 'runs/log-batch', { raw: '[1, 2, 3]' });
  expectErr(r, 400);
  await healthy();
  r = await api.call('POST', 'runs/log-metric', { raw: '{"run_id": "' + id + '", "key": "k", "value": 1, "timestamp": 1}}' });
  expectErr(r, 400);
  await healthy();

});

test('bad input: POST without a JSON content type -> 400', async () => {
  let r;
  r = await api.call('POST', 'experiments/create', { raw: '{"name": "no-ctype"}', headers: { 'Content-Type': 'text/plain' } });
  expectErr(r, 400);
  await healthy();

});

test('bad input: wrong types and limits -> 400 INVALID_PARAMETER_VALUE', async () => {
  const [exp, id] = await badSetup();
  const cases = [
    ['runs/log-metric', { run_id: id, key: 'k', value: 'abc', timestamp: 1, step: 0 }],
    ['runs/log-metric', { run_id: id, key: 'k', value: 1, timestamp: 'yesterday' }],
    ['runs/log-metric', { run_id: id, key: 'k', value: 1, timestamp: 1, step: 1.5 }],
    ['runs/log-metric', { run_id: id, key: 'k', value: true, timestamp: 1 }],
    ['runs/log-metric', { run_id: id, value: 1, timestamp: 1 }],
    ['runs/log-parameter', { run_id: id, key: 'p', value: 5 }],
    ['runs/log-batch', { run_id: id, metrics: 'many' }],
    ['runs/log-batch', { run_id: id, metrics: [{ key: 'k', value: 'abc', timestamp: 1, step: 0 }] }],
    ['runs/search', { experiment_ids: exp }],
    ['runs/search', { experiment_ids: [exp], max_results: 'ten' }],
    ['runs/search', { experiment_ids: [exp], max_results: 50001 }],
    ['runs/search', { experiment_ids: [exp], run_view_type: 'SOME' }],
    ['experiments/search', { max_results: 'x' }],
    ['experiments/create', { name: ['a'] }],
    ['runs/set-tag', { run_id: id, key: 'k'.repeat(251), value: 'v' }],
    ['runs/log-parameter', { run_id: id, key: 'big', value: 'v'.repeat(6001) }],
  ];
  const wrong = [];
  for (const [endpoint, body] of cases) {
    const r = await api.post(endpoint, body);
    if (r.status !== 400 || r.json?.error_code !== 'INVALID_PARAMETER_VALUE' || typeof r.json?.message !== 'string') {
      wrong.push(`POST ${endpoint} ${JSON.stringify(body).slice(0, 120)} -> ${r.status} ${r.text.slice(0, 200)}`);
    }
  }
  const g = await api.get('experiments/search', { max_results: 'x' });
  if (g.status !== 400 || g.json?.error_code !== 'INVALID_PARAMETER_VALUE') wrong.push(`GET experiments/search?max_results=x -> ${g.status} ${g.text}`);
  assert.deepEqual(wrong, [], `expected 400 INVALID_PARAMETER_VALUE for each:\n${wrong.join('\n')}`);
  // nothing of the refused requests was written
  const run = await getRun(id);
  assert.ok(!run.data.metrics.some((m) => m.key === 'k'), JSON.stringify(run.data.metrics));
  assert.ok(!run.data.params.some((p) => p.key === 'p' || p.key === 'big'));
  await healthy();
});

test('bad input: unknown or missing run id', async () => {
  const [, id] = await badSetup();
  let r;
  expectErr(await api.get('runs/get', { run_id: 'f'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST');
  expectErr(await api.post('runs/log-metric', { run_id: 'f'.repeat(32), key: 'k', value: 1, timestamp: 1 }), 404, 'RESOURCE_DOES_NOT_EXIST');
  r = await api.get('runs/get', { run_id: '../../etc/passwd' });
  expectErr(r, r.status === 400 ? 400 : 404, r.status === 400 ? 'INVALID_PARAMETER_VALUE' : 'RESOURCE_DOES_NOT_EXIST');
  expectErr(await api.get('runs/get', {}), 400, 'INVALID_PARAMETER_VALUE');
  await healthy();

});

test('bad input: invalid filters and order_by -> 400 INVALID_PARAMETER_VALUE', async () => {
  const [exp] = await badSetup();
  for (const filter of [
    'metrics.acc >',
    "metrics.acc > 'high'",
    "params.lr > '0.1'",
    'metrics.acc > 0.5 OR metrics.acc < 0.1',
    "bogus.x = '1'",
    "attributes.nope = 'x'",
    "tags.t = 'unterminated",
    '(metrics.acc > 1)',
  ]) {
    expectErr(await api.post('runs/search', { experiment_ids: [exp], filter }), 400, 'INVALID_PARAMETER_VALUE');
  }
  expectErr(await api.post('runs/search', { experiment_ids: [exp], order_by: ['metrics.acc SIDEWAYS'] }), 400, 'INVALID_PARAMETER_VALUE');
  expectErr(await api.post('experiments/search', { filter: "name ~ 'x'" }), 400, 'INVALID_PARAMETER_VALUE');
  await healthy();

});

test('bad input: invalid page tokens -> 400 INVALID_PARAMETER_VALUE', async () => {
  const [exp] = await badSetup();
  for (const page_token of ['garbage!!', 'eyJvZmZzZXQiOiAtNX0=' /* {"offset": -5} */, Buffer.from('{"offset": "x"}').toString('base64')]) {
    expectErr(await api.post('runs/search', { experiment_ids: [exp], page_token }), 400, 'INVALID_PARAMETER_VALUE');
    expectErr(await api.post('experiments/search', { page_token }), 400, 'INVALID_PARAMETER_VALUE');
  }
  await healthy();

});

test('bad input: unknown endpoints -> 404 ENDPOINT_NOT_FOUND', async () => {
  expectErr(await api.get('runs/nope'), 404, 'ENDPOINT_NOT_FOUND');
  expectErr(await api.post('experiments/list', {}), 404, 'ENDPOINT_NOT_FOUND');
  const unknown = await fetch(`${srv.url}/api/2.0/mlflow/`);
  assert.equal(unknown.status, 404);
  await unknown.text();
  // wrong method on a known path
  const wrong = await api.get('runs/create');
  assert.ok(wrong.status === 404 || wrong.status === 405, `GET runs/create -> ${wrong.status}`);
  await healthy();

});

// Declares a `size`-byte body (Content-Length), sends only its first bytes
// and resolves with the server's answer: a server that checks the declared
// length answers before the body arrives.
function postDeclaredLarge(url, size) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': size } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode, text });
        });
      },
    );
    req.on('error', (e) => reject(new Error(`no answer to a declared ${size}-byte body: ${e.code ?? e.message}`)));
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.flushHeaders();
    req.write('{"run_id": "');
  });
}

// A body over the limit but small enough to drain (<= 64 MiB) is read and
// dropped before the 413, so a client still writing it sees the answer, not
// a reset (next test); one declared larger than that is answered at once.
test('bad input: a declared body over 64 MiB -> 413 before the body is sent', async () => {
  const r = await postDeclaredLarge(`${srv.url}/api/2.0/mlflow/runs/set-tag`, (64 << 20) + 4096);
  assert.equal(r.status, 413, r.text);
  const j = JSON.parse(r.text);
  assert.equal(typeof j.error_code, 'string');
  assert.equal(typeof j.message, 'string');
  await healthy();
});

test('bad input: a 17 MiB body sent in full with fetch -> 413 (not a connection reset)', async () => {
  const [, id] = await badSetup();
  const body = JSON.stringify({ run_id: id, key: 'k', value: 'x'.repeat(17 << 20) });
  let r;
  try {
    r = await fetch(`${srv.url}/api/2.0/mlflow/runs/set-tag`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  } catch (e) {
    assert.fail(`a too-large body must be answered 413; the client got a transport error instead: ${e.cause?.code ?? e.message}`);
  }
  const text = await r.text();
  assert.equal(r.status, 413, text);
  assert.equal(typeof JSON.parse(text).error_code, 'string');
  await healthy();
});

test('after the bad input the run is intact and still writable', async () => {
  const [, id] = await badSetup();
  ok(await api.post('runs/log-metric', { run_id: id, key: 'after', value: 1, timestamp: 1 }));
  assert.ok((await getRun(id)).data.metrics.some((m) => m.key === 'after'));
});
