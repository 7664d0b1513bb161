// test_deploy.mjs - serving deployments on a real cairn server: trains and
// registers two versions with the real CLI, creates a 90/10 deployment over
// the REST API and checks the traffic split and sticky routing by
// X-Cairn-Route-Key, the X-Model-Name / X-Model-Version headers, an update
// to 0/100, restoration after a server restart on the same home, the
// `cairn deploy` CLI, and bad input answered with the MLflow error shape.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, httpCall, runCairn, stopCleanly } from './lib/server.mjs';

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CSV = path.join(SRC, 'examples/breast_cancer/breast_cancer.csv');
const API = '/api/2.0/cairn/deployments';

let srv;
let home;
let work;
let row;

function cli(args) {
  return runCairn(args, { cwd: work, trackingUri: srv.url });
}

function call(method, p, body, headers = {}) {
  return httpCall(srv.url, method, p, { body, headers });
}

function expectMlflowErr(r, status, code) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.equal(r.json?.error_code, code, r.text);
  assert.ok(typeof r.json.message === 'string' && r.json.message.length > 0, r.text);
}

before(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'cairn-deploy-home-'));
  work = await mkdtemp(path.join(tmpdir(), 'cairn-deploy-'));
  srv = await startServer({ home });
  for (const model of ['logistic', 'gbdt']) {
    await cli(['train', '--data', CSV, '--target', 'diagnosis', '--model', model, '--experiment', 'deploy',
      '--register', 'bc', '--out', path.join(work, model)]);
  }
  const meta = await call('GET', '/v2/models/bc/versions/1');
  assert.equal(meta.status, 200, meta.text);
  const nf = meta.json.parameters.features.length;
  const header = (await readFile(CSV, 'utf8')).split('\n')[0].split(',');
  const cells = (await readFile(CSV, 'utf8')).split('\n')[1].split(',');
  row = meta.json.parameters.features.map((f) => Number(cells[header.indexOf(f.name)]));
  assert.equal(row.length, nf);
});

after(async () => {
  if (srv) {
    await stopCleanly(srv);
  }
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(home, { recursive: true, force: true });
});

function infer(name, key) {
  const body = { inputs: [{ name: 'input-0', shape: [1, row.length], datatype: 'FP64', data: [row] }] };
  return call('POST', `/v2/models/${name}/infer`, body, key === undefined ? {} : { 'X-Cairn-Route-Key': key });
}

/** Sends n infer requests with keys k0..k(n-1); returns the version per key. */
async function spread(name, n) {
  const out = [];
  for (let i = 0; i < n; i += 20) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 20); j++) batch.push(infer(name, `user-${j}`));
    for (const r of await Promise.all(batch)) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-model-name'), 'bc');
      assert.equal(r.json.model_name, 'bc');
      assert.equal(r.json.model_version, r.headers.get('x-model-version'), 'body and header agree');
      out.push(r.headers.get('x-model-version'));
    }
  }
  return out;
}

test('a 90/10 deployment splits traffic by weight, sticky per route key', async () => {
  const r = await call('POST', `${API}/create`, {
    name: 'churn',
    targets: [{ model: 'bc', version: '1', weight: 90 }, { model: 'bc', version: 2, weight: 10 }],
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.deployment.name, 'churn');
  assert.deepEqual(r.json.deployment.targets, [
    { model: 'bc', version: '1', weight: 90 },
    { model: 'bc', version: '2', weight: 10 },
  ]);

  const got = await spread('churn', 400);
  const v2 = got.filter((v) => v === '2').length;
  assert.equal(got.filter((v) => v === '1').length + v2, 400, 'only versions 1 and 2 answer');
  assert.ok(v2 >= 16 && v2 <= 64, `about 10% to version 2, got ${v2}/400`);
  const again = await spread('churn', 400);
  assert.deepEqual(again, got, 'the same key always gets the same version');

  // without a key: random draws, still only the two targets
  const free = await Promise.all(Array.from({ length: 40 }, () => infer('churn')));
  for (const f of free) assert.ok(['1', '2'].includes(f.headers.get('x-model-version')), f.text);
  // metadata and ready go through the deployment too
  const m = await call('GET', '/v2/models/churn', undefined, { 'X-Cairn-Route-Key': 'user-0' });
  assert.equal(m.status, 200, m.text);
  assert.equal(m.json.name, 'bc');
  assert.equal(m.headers.get('x-model-version'), got[0]);
  assert.equal((await call('GET', '/v2/models/churn/ready')).status, 200);
});

test('update to 0/100 sends everything to the second target; get and list', async () => {
  const r = await call('POST', `${API}/update`, {
    name: 'churn',
    targets: [{ model: 'bc', version: '1', weight: 0 }, { model: 'bc', alias: 'champion', weight: 100 }],
  });
  assert.equal(r.status, 200, r.text);
  // the alias does not exist yet: requests fail with 404 until it is set
  assert.equal((await infer('churn', 'user-1')).status, 404);
  const set = await call('POST', '/api/2.0/mlflow/registered-models/alias', { name: 'bc', alias: 'champion', version: '2' });
  assert.equal(set.status, 200, set.text);
  const got = await spread('churn', 100);
  assert.ok(got.every((v) => v === '2'), `all to version 2: ${got.join(',')}`);

  const g = await call('GET', `${API}/get?name=churn`);
  assert.equal(g.status, 200, g.text);
  assert.deepEqual(g.json.deployment.targets[1], { model: 'bc', alias: 'champion', weight: 100 });
  const l = await call('GET', `${API}/list`);
  assert.deepEqual(l.json.deployments.map((d) => d.name), ['churn']);
});

test('deployments are restored after a restart', async () => {
  const exit = await srv.stop();
  assert.deepEqual(exit, { code: 0, signal: null });
  srv = await startServer({ home });
  const g = await call('GET', `${API}/get?name=churn`);
  assert.equal(g.status, 200, g.text);
  assert.deepEqual(g.json.deployment.targets, [
    { model: 'bc', version: '1', weight: 0 },
    { model: 'bc', alias: 'champion', weight: 100 },
  ]);
  const got = await spread('churn', 40);
  assert.ok(got.every((v) => v === '2'), got.join(','));
});

test('cairn deploy create, list, show, set, delete', async () => {
  let out = await cli(['deploy', 'create', 'ab', '--target', 'models:/bc/1=50', '--target', 'models:/bc@champion=50']);
  assert.match(out.stdout, /deployment\s+ab/);
  assert.match(out.stdout, /bc\s+1\s+50/);
  assert.match(out.stdout, /bc\s+@champion\s+50/);
  out = await cli(['deploy', 'list']);
  assert.match(out.stdout, /^ab\s+bc\/1=50, bc@champion=50/m);
  assert.match(out.stdout, /^churn\s/m);
  out = await cli(['deploy', 'show', 'ab', '--json']);
  assert.deepEqual(JSON.parse(out.stdout).targets, [
    { model: 'bc', version: '1', weight: 50 },
    { model: 'bc', alias: 'champion', weight: 50 },
  ]);
  out = await cli(['deploy', 'set', 'ab', '--target', 'models:/bc/2', '--json']);
  assert.deepEqual(JSON.parse(out.stdout).targets, [{ model: 'bc', version: '2', weight: 100 }]);
  const r = await infer('ab', 'x');
  assert.equal(r.headers.get('x-model-version'), '2');
  out = await cli(['deploy', 'delete', 'ab']);
  assert.match(out.stdout, /deleted/);
  expectMlflowErr(await call('GET', `${API}/get?name=ab`), 404, 'RESOURCE_DOES_NOT_EXIST');
  // with the deployment gone the name is an unknown model again
  assert.equal((await infer('ab', 'x')).status, 404);

  await assert.rejects(cli(['deploy', 'create', 'bad', '--target', 'bc']), (e) => e.code === 2);
  await assert.rejects(cli(['deploy', 'create', 'bad']), (e) => e.code === 2);
  await assert.rejects(cli(['deploy', 'frobnicate']), (e) => e.code === 2);
  await assert.rejects(cli(['deploy', 'show', 'nope']), (e) => e.code === 1);
});

test('bad input answers 400 in the MLflow error shape', async () => {
  const create = (body) => call('POST', `${API}/create`, body);
  expectMlflowErr(await create({ name: 'x', targets: [{ model: 'bc', version: '1', weight: 60 },
    { model: 'bc', version: '2', weight: 30 }] }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await create({ name: 'x', targets: [{ model: 'nope', version: '1', weight: 100 }] }),
    400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await create({ name: 'x', targets: [] }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await create({ name: 'x' }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await create({ name: 'x', targets: [{ model: 'bc', weight: 100 }] }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await create({ name: 'x', targets: [{ model: 'bc', version: '1', weight: -5 }] }),
    400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await create({ name: 'a/b', targets: [{ model: 'bc', version: '1' }] }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await create({ targets: [{ model: 'bc', version: '1' }] }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await create({ name: 'churn', targets: [{ model: 'bc', version: '1' }] }), 400, 'RESOURCE_ALREADY_EXISTS');
  expectMlflowErr(await call('POST', `${API}/update`, { name: 'nope', targets: [{ model: 'bc', version: '1' }] }),
    404, 'RESOURCE_DOES_NOT_EXIST');
  expectMlflowErr(await call('POST', `${API}/delete`, { name: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  const l = await call('GET', `${API}/list`);
  assert.deepEqual(l.json.deployments.map((d) => d.name), ['churn'], 'nothing was created by bad requests');
});
