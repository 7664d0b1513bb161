// test_deploy_policies.mjs - traffic policies of serving deployments on a
// real cairn server: trains and registers two versions of `bc` with the real
// CLI plus a third version whose source holds no model (every request to it
// fails), then checks over HTTP and the CLI: a 90/10 canary's split over
// 10,000 requests within a 4-sigma binomial tolerance and sticky keys; a
// shadow target that never changes the primary's answer and whose agreement
// statistics match what the two versions answer directly; a gradual shift
// that completes and a manual rollback; the automatic rollback when the new
// version fails; bad shift requests; and a shift that survives a restart.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, httpCall, runCairn, waitFor, stopCleanly } from './lib/server.mjs';

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CSV = path.join(SRC, 'examples/breast_cancer/breast_cancer.csv');
const API = '/api/2.0/cairn/deployments';

let srv;
let home;
let work;
let rows; // feature rows in the model's order

function cli(args) {
  return runCairn(args, { cwd: work, trackingUri: srv.url });
}

function call(method, p, body, headers = {}) {
  return httpCall(srv.url, method, p, { body, headers });
}

function expectMlflowErr(r, status, code) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.equal(r.json?.error_code, code, r.text);
}

async function getDep(name) {
  const g = await call('GET', `${API}/get?name=${name}`);
  assert.equal(g.status, 200, g.text);
  return g.json.deployment;
}

function inferBody(row) {
  return { inputs: [{ name: 'input-0', shape: [1, row.length], datatype: 'FP64', data: [row] }] };
}

function infer(model, row, key) {
  return call('POST', `/v2/models/${model}/infer`, inferBody(row), key === undefined ? {} : { 'X-Cairn-Route-Key': key });
}

/** Runs fn(i) for i in 0..n-1 with at most `width` in flight; returns the results in order. */
async function pool(n, width, fn) {
  const out = new Array(n);
  let next = 0;
  const lanes = Array.from({ length: Math.min(width, n) }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  });
  await Promise.all(lanes);
  return out;
}

before(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'cairn-policies-home-'));
  work = await mkdtemp(path.join(tmpdir(), 'cairn-policies-'));
  srv = await startServer({ home });
  for (const model of ['logistic', 'gbdt']) {
    await cli(['train', '--data', CSV, '--target', 'diagnosis', '--model', model, '--experiment', 'policies',
      '--register', 'bc', '--out', path.join(work, model)]);
  }
  // version 3: registered, but its source holds no model file
  const mv = await call('POST', '/api/2.0/mlflow/model-versions/create',
    { name: 'bc', source: 'mlflow-artifacts:/0/0123456789abcdef0123456789abcdef/artifacts/missing' });
  assert.equal(mv.status, 200, mv.text);
  assert.equal(mv.json.model_version.version, '3');
  const broken = await infer('bc/versions/3', [0]);
  assert.ok(broken.status >= 400, `version 3 must fail: ${broken.status} ${broken.text}`);

  const meta = await call('GET', '/v2/models/bc/versions/1');
  assert.equal(meta.status, 200, meta.text);
  const lines = (await readFile(CSV, 'utf8')).trim().split('\n');
  const header = lines[0].split(',');
  rows = lines.slice(1, 61).map((l) => {
    const cells = l.split(',');
    return meta.json.parameters.features.map((f) => Number(cells[header.indexOf(f.name)]));
  });
});

after(async () => {
  if (srv) {
    await stopCleanly(srv);
  }
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(home, { recursive: true, force: true });
});

test('a 90/10 canary splits 10,000 requests within 4 sigma; route keys are sticky', async () => {
  const r = await call('POST', `${API}/create`, {
    name: 'canary',
    targets: [{ model: 'bc', version: '1', weight: 90 }, { model: 'bc', version: '2', weight: 10 }],
  });
  assert.equal(r.status, 200, r.text);
  const n = 10000;
  const versions = await pool(n, 32, async (i) => {
    const x = await infer('canary', rows[i % rows.length]);
    assert.equal(x.status, 200, x.text);
    return x.headers.get('x-model-version');
  });
  const v2 = versions.filter((v) => v === '2').length;
  assert.equal(versions.filter((v) => v === '1').length + v2, n, 'only versions 1 and 2 answer');
  const sigma = Math.sqrt(n * 0.1 * 0.9);
  assert.ok(Math.abs(v2 - n * 0.1) <= 4 * sigma, `version 2 answered ${v2} of ${n}; want ${n * 0.1} +- ${4 * sigma}`);

  const keyed = async () => pool(300, 32, async (i) => (await infer('canary', rows[0], `user-${i}`)).headers.get('x-model-version'));
  const first = await keyed();
  assert.deepEqual(await keyed(), first, 'the same key always gets the same version');
  assert.ok(first.includes('1') && first.includes('2'), 'keys spread over both targets');

  // the per-version counters saw every request
  const d = await getDep('canary');
  const total = d.stats.reduce((a, s) => a + s.requests, 0);
  assert.equal(total, n + 600, JSON.stringify(d.stats));
  assert.ok(d.stats.every((s) => s.errors === 0 && s.p99_ms >= s.p50_ms && s.p50_ms > 0), JSON.stringify(d.stats));
});

test('a shadow never changes the answer; its agreement is recorded', async () => {
  let r = await call('POST', `${API}/create`, {
    name: 'shad', targets: [{ model: 'bc', version: '1' }], shadow: { model: 'bc', version: 2 },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.deployment.shadow.model, 'bc');
  assert.deepEqual(r.json.deployment.shadow.version, '2');
  r = await call('POST', `${API}/create`, { name: 'plain', targets: [{ model: 'bc', version: '1' }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.deployment.shadow, undefined);

  for (const row of rows) {
    const [a, b] = await Promise.all([infer('shad', row), infer('plain', row)]);
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    assert.equal(JSON.stringify(a.json.outputs), JSON.stringify(b.json.outputs), 'same outputs with or without a shadow');
    assert.equal(a.json.model_version, '1');
    assert.equal(a.headers.get('x-model-version'), '1');
  }

  // what agreement should be: both versions asked directly
  let agree = 0;
  let diff = 0;
  for (const row of rows) {
    const [p1, p2] = await Promise.all([infer('bc/versions/1', row), infer('bc/versions/2', row)]);
    const proba = (x) => x.json.outputs.find((o) => o.name === 'proba').data[0];
    const label = (x) => x.json.outputs.find((o) => o.name === 'predict').data[0];
    if (label(p1) === label(p2)) agree++;
    diff += Math.abs(proba(p1) - proba(p2));
  }
  const st = await waitFor(async () => {
    const d = await getDep('shad');
    return d.shadow.stats.requests >= rows.length ? d.shadow.stats : null;
  }, { what: 'the shadow to see every request' });
  assert.equal(st.requests, rows.length);
  assert.equal(st.rows, rows.length);
  assert.equal(st.errors, 0);
  assert.equal(st.dropped, 0);
  assert.equal(st.agreement_rows, agree, JSON.stringify(st));
  assert.ok(Math.abs(st.agreement_rate - agree / rows.length) < 1e-9);
  assert.ok(Math.abs(st.mean_abs_diff - diff / rows.length) < 1e-9, `${st.mean_abs_diff} vs ${diff / rows.length}`);

  let out = await cli(['deploy', 'status', 'shad']);
  assert.match(out.stdout, new RegExp(`shadow\\s+bc/2: ${rows.length} requests, ${rows.length} rows, agreement [0-9.]+% \\(${agree} rows\\)`));

  // a failing shadow: errors counted, answers unchanged
  out = await cli(['deploy', 'update', 'shad', '--shadow', 'bc@3', '--json']);
  assert.deepEqual(JSON.parse(out.stdout).shadow.version, '3');
  assert.deepEqual(JSON.parse(out.stdout).targets, [{ model: 'bc', version: '1', weight: 100 }], 'targets kept');
  for (const row of rows.slice(0, 10)) {
    const [a, b] = await Promise.all([infer('shad', row), infer('plain', row)]);
    assert.equal(a.status, 200, a.text);
    assert.equal(JSON.stringify(a.json.outputs), JSON.stringify(b.json.outputs));
  }
  await waitFor(async () => (await getDep('shad')).shadow.stats.errors >= 10, { what: 'shadow errors' });
  out = await cli(['deploy', 'update', 'shad', '--no-shadow', '--json']);
  assert.equal(JSON.parse(out.stdout).shadow, undefined);
  await assert.rejects(cli(['deploy', 'create', 'x', '--target', 'models:/bc/1', '--shadow', 'bc']), (e) => e.code === 2);
});

test('a gradual shift completes; rollback restores the weights before it', async () => {
  await cli(['deploy', 'create', 'grad', '--target', 'models:/bc/1']);
  let out = await cli(['deploy', 'shift', 'grad', '--to', '2', '--step', '50', '--every', '1s',
    '--max-p99-ratio', '1000', '--json']);
  let d = JSON.parse(out.stdout);
  assert.equal(d.shift.state, 'running');
  assert.equal(d.shift.weight, 50);
  assert.equal(d.shift.step, 50);
  assert.equal(d.shift.every_seconds, 1);
  assert.equal(d.shift.max_p99_ratio, 1000);
  assert.equal(d.shift.max_error_rate_increase, 0.05);
  assert.equal(d.shift.min_requests, 20);
  assert.deepEqual(d.shift.to, { model: 'bc', version: '2' });
  assert.ok(d.shift.next_step_timestamp > Date.now() - 5000);
  assert.deepEqual(d.targets, [{ model: 'bc', version: '1', weight: 50 }, { model: 'bc', version: '2', weight: 50 }]);
  assert.deepEqual(d.rollback_targets, [{ model: 'bc', version: '1', weight: 100 }]);
  expectMlflowErr(await call('POST', `${API}/shift`, { name: 'grad', to: { model: 'bc', version: 2 }, step: 10, every: 1 }),
    400, 'INVALID_STATE');

  d = await waitFor(async () => {
    await pool(20, 8, (i) => infer('grad', rows[i]));
    const x = await getDep('grad');
    return x.shift.state !== 'running' ? x : null;
  }, { deadlineMs: 20000, what: 'the shift to complete' });
  assert.equal(d.shift.state, 'completed', JSON.stringify(d.shift));
  assert.equal(d.shift.weight, 100);
  assert.equal(d.shift.next_step_timestamp, undefined);
  assert.deepEqual(d.targets, [{ model: 'bc', version: '2', weight: 100 }]);
  const after = await pool(20, 8, (i) => infer('grad', rows[i]));
  assert.ok(after.every((x) => x.headers.get('x-model-version') === '2'));

  out = await cli(['deploy', 'status', 'grad']);
  assert.match(out.stdout, /shift\s+to bc\/2: completed at 100%/);
  assert.match(out.stdout, /^bc\s+2\s+100\s*$/m);
  out = await cli(['deploy', 'rollback', 'grad', '--json']);
  d = JSON.parse(out.stdout);
  assert.deepEqual(d.targets, [{ model: 'bc', version: '1', weight: 100 }]);
  assert.equal(d.rollback_targets, undefined);
  assert.equal(d.shift.state, 'completed', 'a finished shift keeps its outcome');
  // nothing left to roll back to
  await assert.rejects(cli(['deploy', 'rollback', 'grad']), (e) => e.code === 1 && /roll back/.test(e.stderr));

  // a manual update is undone by rollback too
  await cli(['deploy', 'update', 'grad', '--target', 'models:/bc/2']);
  d = JSON.parse((await cli(['deploy', 'rollback', 'grad', '--json'])).stdout);
  assert.deepEqual(d.targets, [{ model: 'bc', version: '1', weight: 100 }]);
});

test('a shift to a failing version rolls back by itself', async () => {
  let r = await call('POST', `${API}/create`, { name: 'roll', targets: [{ model: 'bc', version: '1' }] });
  assert.equal(r.status, 200, r.text);
  r = await call('POST', `${API}/shift`, {
    name: 'roll', to: { model: 'bc', version: '3' }, step: 50, every: '1s', min_requests: 5,
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.deployment.shift.state, 'running');
  let failed = 0;
  const d = await waitFor(async () => {
    const got = await pool(40, 8, (i) => infer('roll', rows[i % rows.length]));
    failed += got.filter((x) => x.status !== 200).length;
    const x = await getDep('roll');
    return x.shift.state !== 'running' ? x : null;
  }, { deadlineMs: 30000, what: 'the automatic rollback' });
  assert.ok(failed > 0, 'the new version failed some requests');
  assert.equal(d.shift.state, 'rolled_back', JSON.stringify(d.shift));
  assert.match(d.shift.reason, /error rate/);
  assert.deepEqual(d.targets, [{ model: 'bc', version: '1', weight: 100 }]);
  const s3 = d.stats.find((s) => s.version === '3');
  assert.ok(s3 && s3.errors === s3.requests && s3.requests >= 5, JSON.stringify(d.stats));
  const after = await pool(40, 8, (i) => infer('roll', rows[i]));
  assert.ok(after.every((x) => x.status === 200 && x.headers.get('x-model-version') === '1'));
  const out = await cli(['deploy', 'status', 'roll']);
  assert.match(out.stdout, /shift\s+to bc\/3: rolled_back at 50%/);
  assert.match(out.stdout, /reason\s+error rate/);
});

test('bad shift and rollback requests answer 4xx', async () => {
  const shift = (body) => call('POST', `${API}/shift`, body);
  const to = { model: 'bc', version: '2' };
  expectMlflowErr(await shift({ name: 'nope', to, step: 10, every: 5 }), 404, 'RESOURCE_DOES_NOT_EXIST');
  expectMlflowErr(await shift({ name: 'plain', to, step: 0, every: 5 }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await shift({ name: 'plain', to, step: 101, every: 5 }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await shift({ name: 'plain', to, step: 10, every: '5x' }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await shift({ name: 'plain', to, step: 10 }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await shift({ name: 'plain', to: { model: 'nope', version: '1' }, step: 10, every: 5 }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await shift({ name: 'plain', to: { model: 'bc', version: '1' }, step: 10, every: 5 }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await shift({ name: 'plain', to, step: 10, every: 5, max_p99_ratio: 0.5 }), 400, 'INVALID_PARAMETER_VALUE');
  expectMlflowErr(await call('POST', `${API}/rollback`, { name: 'plain' }), 400, 'INVALID_STATE');
  expectMlflowErr(await call('POST', `${API}/rollback`, { name: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  assert.equal((await getDep('plain')).shift, undefined, 'nothing started');
  await assert.rejects(cli(['deploy', 'shift', 'plain', '--to', '2', '--step', '10']), (e) => e.code === 2);
  await assert.rejects(cli(['deploy', 'shift', 'canary', '--to', '2', '--step', 'x', '--every', '5m']), (e) => e.code === 2);
});

test('a shift in progress survives a restart and goes on', async () => {
  let r = await call('POST', `${API}/create`, { name: 'resume', targets: [{ model: 'bc', version: '1' }] });
  assert.equal(r.status, 200, r.text);
  r = await call('POST', `${API}/shift`, { name: 'resume', to: { model: 'bc', alias: 'next' }, step: 50, every: 4 });
  assert.equal(r.status, 200, r.text);
  const set = await call('POST', '/api/2.0/mlflow/registered-models/alias', { name: 'bc', alias: 'next', version: '2' });
  assert.equal(set.status, 200, set.text);
  const exit = await srv.stop();
  assert.deepEqual(exit, { code: 0, signal: null });
  srv = await startServer({ home });
  let d = await getDep('resume');
  assert.equal(d.shift.state, 'running', JSON.stringify(d.shift));
  assert.equal(d.shift.weight, 50);
  assert.deepEqual(d.shift.to, { model: 'bc', alias: 'next' });
  assert.deepEqual(d.targets, [{ model: 'bc', version: '1', weight: 50 }, { model: 'bc', alias: 'next', weight: 50 }]);
  assert.deepEqual(d.rollback_targets, [{ model: 'bc', version: '1', weight: 100 }]);
  d = await waitFor(async () => {
    const x = await getDep('resume');
    return x.shift.state !== 'running' ? x : null;
  }, { deadlineMs: 20000, what: 'the resumed shift to complete' });
  assert.equal(d.shift.state, 'completed');
  assert.deepEqual(d.targets, [{ model: 'bc', alias: 'next', weight: 100 }]);
  // the other deployments came back too, with their shadows and outcomes
  assert.equal((await getDep('roll')).shift.state, 'rolled_back');
  assert.deepEqual((await getDep('canary')).targets.map((t) => t.weight), [90, 10]);
});
