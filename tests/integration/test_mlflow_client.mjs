// test_mlflow_client.mjs - drives a real cairn server through the npm
// `mlflow` client (tests/clients), calling every method the client offers.
//
// The client (2.0.7) has two bugs of its own: Experiments.list() calls the
// removed experiments/list endpoint, and Experiments.setExperimentTag() builds
// `.../experimentsset-experiment-tag` (no slash). For those two the test
// asserts the server's MLflow-shaped 404 and then proves the feature works by
// calling the right endpoint directly. Every other call must succeed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startServer, mlflowApi, stopCleanly } from './lib/server.mjs';

const require = createRequire(import.meta.url);
const MLflow = require('../clients/node_modules/mlflow');
const { ViewType, RunStatus } = require('../clients/node_modules/mlflow/enum');

let srv;
let client;
let api;

// The client console.logs every request body; keep the test output readable.
async function quiet(fn) {
  const orig = console.log;
  console.log = () => {};
  try {
    return await fn();
  } finally {
    console.log = orig;
  }
}

// The client throws Error(Error(JSON.stringify({status, statusText, data}))).
async function clientError(fn) {
  try {
    await quiet(fn);
  } catch (e) {
    const m = /\{.*\}/s.exec(e.message);
    assert.ok(m, `client error without a JSON payload: ${e.message}`);
    return JSON.parse(m[0]);
  }
  assert.fail('the call was expected to fail but succeeded');
}

before(async () => {
  srv = await startServer();
  client = new MLflow({ endpoint: srv.url });
  api = mlflowApi(srv.url);
});

after(async () => {
  if (!srv) return;
  await stopCleanly(srv);
});

test('the client offers exactly the methods this test calls', () => {
  const methods = (o) =>
    Object.getOwnPropertyNames(Object.getPrototypeOf(o))
      .filter((n) => n !== 'constructor')
      .sort();
  assert.deepEqual(methods(client.Experiments), ['create', 'delete', 'get', 'list', 'restore', 'setExperimentTag', 'update']);
  assert.deepEqual(methods(client.Runs), [
    'create', 'delete', 'deleteTag', 'get', 'logBatch', 'logMetric', 'logParameter', 'restore', 'search', 'setTag', 'update',
  ]);
  assert.deepEqual(methods(client.Metrics), ['getHistory']);
  assert.deepEqual(methods(client.Artifacts), ['list']);
});

test('Experiments: create, get, update, delete, restore', async () => {
  const { Experiments } = client;
  const created = await quiet(() => Experiments.create({ name: 'client-exp' }));
  assert.equal(typeof created.experiment_id, 'string');
  const id = created.experiment_id;

  const got = await quiet(() => Experiments.get({ experiment_id: id }));
  assert.equal(got.experiment.experiment_id, id);
  assert.equal(got.experiment.name, 'client-exp');
  assert.equal(got.experiment.lifecycle_stage, 'active');
  assert.ok(got.experiment.artifact_location, 'artifact_location is set');

  const withLoc = await quiet(() => Experiments.create({ name: 'client-exp-loc', artifact_location: 'mlflow-artifacts:/custom-loc' }));
  const gotLoc = await quiet(() => Experiments.get({ experiment_id: withLoc.experiment_id }));
  assert.equal(gotLoc.experiment.artifact_location, 'mlflow-artifacts:/custom-loc');

  assert.deepEqual(await quiet(() => Experiments.update({ experiment_id: id, new_name: 'client-exp-renamed' })), {});
  const renamed = await quiet(() => Experiments.get({ experiment_id: id }));
  assert.equal(renamed.experiment.name, 'client-exp-renamed');

  assert.deepEqual(await quiet(() => Experiments.delete({ experiment_id: id })), {});
  const deleted = await quiet(() => Experiments.get({ experiment_id: id }));
  assert.equal(deleted.experiment.lifecycle_stage, 'deleted');

  assert.deepEqual(await quiet(() => Experiments.restore({ experiment_id: id })), {});
  const restored = await quiet(() => Experiments.get({ experiment_id: id }));
  assert.equal(restored.experiment.lifecycle_stage, 'active');

  // Unknown id: the client surfaces the server's MLflow error.
  const err = await clientError(() => Experiments.get({ experiment_id: '987654321' }));
  assert.equal(err.status, 404);
  assert.equal(err.data.error_code, 'RESOURCE_DOES_NOT_EXIST');
});

test('Experiments.list (client bug: removed endpoint) -> 404, experiments/search works', async () => {
  const err = await clientError(() => client.Experiments.list({ view_type: ViewType.ALL }));
  assert.equal(err.status, 404);
  assert.ok(err.data, 'the 404 has a JSON body');
  assert.equal(err.data.error_code, 'ENDPOINT_NOT_FOUND');
  assert.equal(typeof err.data.message, 'string');

  const err2 = await clientError(() => client.Experiments.list());
  assert.equal(err2.status, 404);
  assert.equal(err2.data.error_code, 'ENDPOINT_NOT_FOUND');

  const { experiment_id } = await quiet(() => client.Experiments.create({ name: 'listed-exp' }));
  const r = await api.post('experiments/search', { view_type: 'ALL', max_results: 1000 });
  assert.equal(r.status, 200, r.text);
  const names = r.json.experiments.map((e) => e.name);
  assert.ok(names.includes('listed-exp'), `search lists the new experiment: ${names}`);
  assert.ok(r.json.experiments.some((e) => e.experiment_id === experiment_id));
  assert.ok(names.includes('Default'), 'the Default experiment exists');
});

test('Experiments.setExperimentTag (client bug: broken URL) -> 404, the right endpoint works', async () => {
  const { experiment_id } = await quiet(() => client.Experiments.create({ name: 'tagged-exp' }));
  const err = await clientError(() => client.Experiments.setExperimentTag({ experiment_id, key: 'team', value: 'vision' }));
  assert.equal(err.status, 404);
  assert.equal(err.data.error_code, 'ENDPOINT_NOT_FOUND');

  // The tag was not set by the broken call.
  let got = await quiet(() => client.Experiments.get({ experiment_id }));
  assert.ok(!(got.experiment.tags ?? []).some((t) => t.key === 'team'));

  const r = await api.post('experiments/set-experiment-tag', { experiment_id, key: 'team', value: 'vision' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {});
  got = await quiet(() => client.Experiments.get({ experiment_id }));
  assert.deepEqual(got.experiment.tags.filter((t) => t.key === 'team'), [{ key: 'team', value: 'vision' }]);
});

test('Runs: create, get, log*, tags, update, search, delete, restore; Metrics.getHistory', async () => {
  const { Runs, Metrics } = client;
  const { experiment_id } = await quiet(() => client.Experiments.create({ name: 'runs-exp' }));
  const start = Date.now() - 5000;
  const created = await quiet(() =>
    Runs.create({
      experiment_id,
      user_id: 'alice',
      start_time: start,
      tags: [{ key: 'mlflow.runName', value: 'client-run' }, { key: 'stage', value: 'dev' }],
    }),
  );
  const info = created.run.info;
  const run_id = info.run_id;
  assert.equal(typeof run_id, 'string');
  assert.equal(info.run_uuid, run_id);
  assert.equal(info.experiment_id, experiment_id);
  assert.equal(info.user_id, 'alice');
  assert.equal(info.start_time, start);
  assert.equal(info.status, RunStatus.RUNNING);
  assert.equal(info.lifecycle_stage, 'active');
  assert.equal(info.run_name, 'client-run');

  // log-metric (three steps), log-parameter, set-tag
  for (let step = 0; step < 3; step++) {
    assert.deepEqual(await quiet(() => Runs.logMetric({ run_id, key: 'loss', value: 1 / (step + 1), timestamp: start + step, step })), {});
  }
  assert.deepEqual(await quiet(() => Runs.logParameter({ run_id, key: 'lr', value: '0.01' })), {});
  assert.deepEqual(await quiet(() => Runs.setTag({ run_id, key: 'owner', value: 'bob' })), {});

  // log-batch: metrics, params, tags together
  assert.deepEqual(
    await quiet(() =>
      Runs.logBatch({
        run_id,
        metrics: [
          { key: 'acc', value: 0.5, timestamp: start + 10, step: 0 },
          { key: 'acc', value: 0.75, timestamp: start + 11, step: 1 },
        ],
        params: [{ key: 'depth', value: '6' }],
        tags: [{ key: 'phase', value: 'train' }],
      }),
    ),
    {},
  );

  let run = (await quiet(() => Runs.get({ run_id }))).run;
  const metrics = Object.fromEntries(run.data.metrics.map((m) => [m.key, m]));
  assert.equal(metrics.loss.value, 1 / 3);
  assert.equal(metrics.loss.step, 2);
  assert.equal(metrics.acc.value, 0.75);
  const params = Object.fromEntries(run.data.params.map((p) => [p.key, p.value]));
  assert.deepEqual(params, { lr: '0.01', depth: '6' });
  const tags = Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
  assert.equal(tags.owner, 'bob');
  assert.equal(tags.phase, 'train');
  assert.equal(tags.stage, 'dev');

  const hist = await quiet(() => Metrics.getHistory({ run_id, metric_key: 'loss' }));
  assert.deepEqual(
    hist.metrics.map((m) => [m.step, m.value, m.timestamp]).sort((a, b) => a[0] - b[0]),
    [[0, 1, start], [1, 0.5, start + 1], [2, 1 / 3, start + 2]],
  );
  assert.ok(hist.metrics.every((m) => m.key === 'loss'));

  // delete-tag
  assert.deepEqual(await quiet(() => Runs.deleteTag({ run_id, key: 'owner' })), {});
  run = (await quiet(() => Runs.get({ run_id }))).run;
  assert.ok(!run.data.tags.some((t) => t.key === 'owner'));

  // update
  const end = Date.now();
  const upd = await quiet(() => Runs.update({ run_id, status: RunStatus.FINISHED, end_time: end }));
  assert.equal(upd.run_info.run_id, run_id);
  assert.equal(upd.run_info.status, 'FINISHED');
  assert.equal(upd.run_info.end_time, end);

  // search: a second run that the filter must exclude
  const other = await quiet(() => Runs.create({ experiment_id, user_id: 'carol', start_time: start + 1, tags: [] }));
  await quiet(() => Runs.logMetric({ run_id: other.run.info.run_id, key: 'acc', value: 0.1, timestamp: start, step: 0 }));
  const found = await quiet(() =>
    Runs.search({
      experiment_ids: [experiment_id],
      filter: "metrics.acc > 0.5 and params.lr = '0.01'",
      run_view_type: ViewType.ACTIVE_ONLY,
      max_results: 10,
      order_by: ['metrics.acc DESC'],
    }),
  );
  assert.deepEqual(found.runs.map((r) => r.info.run_id), [run_id]);
  const all = await quiet(() => Runs.search({ experiment_ids: [experiment_id], max_results: 1 }));
  assert.equal(all.runs.length, 1);
  assert.ok(all.next_page_token, 'a second page exists');
  const page2 = await quiet(() => Runs.search({ experiment_ids: [experiment_id], max_results: 1, page_token: all.next_page_token }));
  assert.equal(page2.runs.length, 1);
  assert.notEqual(page2.runs[0].info.run_id, all.runs[0].info.run_id);

  // delete / restore
  assert.deepEqual(await quiet(() => Runs.delete({ run_id })), {});
  assert.equal((await quiet(() => Runs.get({ run_id }))).run.info.lifecycle_stage, 'deleted');
  const active = await quiet(() => Runs.search({ experiment_ids: [experiment_id], run_view_type: ViewType.ACTIVE_ONLY }));
  assert.ok(!active.runs.some((r) => r.info.run_id === run_id));
  const deleted = await quiet(() => Runs.search({ experiment_ids: [experiment_id], run_view_type: ViewType.DELETED_ONLY }));
  assert.deepEqual(deleted.runs.map((r) => r.info.run_id), [run_id]);
  assert.deepEqual(await quiet(() => Runs.restore({ run_id })), {});
  assert.equal((await quiet(() => Runs.get({ run_id }))).run.info.lifecycle_stage, 'active');

  // errors come back MLflow-shaped through the client
  const err = await clientError(() => Runs.get({ run_id: 'ffffffffffffffffffffffffffffffff' }));
  assert.equal(err.status, 404);
  assert.equal(err.data.error_code, 'RESOURCE_DOES_NOT_EXIST');
  const err2 = await clientError(() => Runs.logParameter({ run_id, key: 'lr', value: '0.02' }));
  assert.equal(err2.status, 400);
  assert.equal(err2.data.error_code, 'INVALID_PARAMETER_VALUE');
});

test('Artifacts.list lists what was uploaded through the artifact proxy', async () => {
  const { experiment_id } = await quiet(() => client.Experiments.create({ name: 'artifacts-exp' }));
  const { run } = await quiet(() => client.Runs.create({ experiment_id, start_time: Date.now(), tags: [] }));
  const run_id = run.info.run_id;
  assert.match(run.info.artifact_uri, /^mlflow-artifacts:\//);
  const rel = run.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '');

  const empty = await quiet(() => client.Artifacts.list({ run_id }));
  assert.ok(empty.root_uri, 'root_uri is set');
  assert.deepEqual(empty.files ?? [], []);

  const body = 'model bytes\n';
  const put = await fetch(`${srv.url}/api/2.0/mlflow-artifacts/artifacts/${rel}/model/model.txt`, { method: 'PUT', body });
  assert.equal(put.status, 200, await put.text());
  const put2 = await fetch(`${srv.url}/api/2.0/mlflow-artifacts/artifacts/${rel}/notes.txt`, { method: 'PUT', body: 'n' });
  assert.equal(put2.status, 200, await put2.text());

  const top = await quiet(() => client.Artifacts.list({ run_id }));
  assert.equal(top.root_uri, run.info.artifact_uri);
  const byPath = Object.fromEntries((top.files ?? []).map((f) => [f.path, f]));
  assert.deepEqual(Object.keys(byPath).sort(), ['model', 'notes.txt']);
  assert.equal(byPath.model.is_dir, true);
  assert.equal(byPath['notes.txt'].is_dir ?? false, false);
  assert.equal(byPath['notes.txt'].file_size, 1);

  const sub = await quiet(() => client.Artifacts.list({ run_id, path: 'model' }));
  assert.deepEqual(sub.files.map((f) => [f.path, f.file_size]), [['model/model.txt', body.length]]);

  const got = await fetch(`${srv.url}/api/2.0/mlflow-artifacts/artifacts/${rel}/model/model.txt`);
  assert.equal(got.status, 200);
  assert.equal(await got.text(), body);
});

test('the server still answers /health after the client session', async () => {
  const r = await fetch(`${srv.url}/health`);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'OK');
});
