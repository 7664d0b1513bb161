// test_hot_swap.mjs - hot swap under load on a real cairn server: three
// versions of `hs` are trained and registered with the real CLI; while 32
// keep-alive clients send inference requests to /v2/models/hs/infer without
// pause, the `production` alias moves 20 times through the registry REST
// API (19 moves between two loaded versions, the last to a version never
// loaded before, which must load beside the old one). Checks: zero failed
// requests; every answer's prediction is the one of the version it names;
// once a move between loaded versions is acknowledged, every request sent
// afterwards is answered by the new target; after the move to the unloaded
// version, answers come from the old or the new one and, shortly after, only
// from the new one. Prints the latency seen around swaps (no timing
// assertion: the bench owns timings).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startServer, mlflowApi, httpCall, runCairn, stopCleanly } from './lib/server.mjs';

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CSV = path.join(SRC, 'examples/breast_cancer/breast_cancer.csv');
const CLIENTS = 32;
const MOVES = 20;

let srv;
let work;

before(async () => {
  srv = await startServer();
  work = await mkdtemp(path.join(tmpdir(), 'cairn-hotswap-'));
  // version 1: logistic regression; 2: gradient-boosted trees; 3: a smaller ensemble
  const models = [['--model', 'logistic'], ['--model', 'gbdt'], ['--model', 'gbdt', '--set', 'n_rounds=20']];
  for (let i = 0; i < models.length; i++) {
    const args = ['train', '--data', CSV, '--target', 'diagnosis', ...models[i], '--experiment', 'hotswap',
      '--register', 'hs', '--out', path.join(work, `m${i + 1}`)];
    await runCairn(args, { cwd: work, trackingUri: srv.url });
  }
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (!srv) return;
  await stopCleanly(srv);
});

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

test('the production alias moves 20 times under load: no failed request, answers follow the alias', async () => {
  const api = mlflowApi(srv.url);
  const meta = await httpCall(srv.url, 'GET', '/v2/models/hs/versions/1');
  assert.equal(meta.status, 200, meta.text);
  const features = meta.json.parameters.features.map((f) => f.name);
  const text = (await readFile(CSV, 'utf8')).trim().split('\n');
  const header = text[0].split(',');
  const row = text[20].split(',');
  const x = features.map((f) => Number(row[header.indexOf(f)]));
  const body = JSON.stringify({ inputs: [{ name: 'input-0', shape: [1, x.length], datatype: 'FP64', data: x }] });

  // what each version answers for this row; versions 1 and 2 are loaded, 3 is not
  const expected = {};
  for (const v of ['1', '2']) {
    const r = await httpCall(srv.url, 'POST', `/v2/models/hs/versions/${v}/infer`, { raw: body });
    assert.equal(r.status, 200, r.text);
    expected[v] = JSON.stringify(r.json.outputs[0].data);
  }
  assert.notEqual(expected['1'], expected['2'], 'the versions predict differently');
  const set = await api.post('registered-models/alias', { name: 'hs', alias: 'production', version: '1' });
  assert.equal(set.status, 200, set.text);
  assert.equal((await httpCall(srv.url, 'POST', '/v2/models/hs/infer', { raw: body })).json.model_version, '1');

  const results = []; // {sent, done, status, version, err}
  let running = true;
  async function client() {
    while (running) {
      const sent = performance.now();
      const rec = { sent };
      try {
        const r = await fetch(`${srv.url}/v2/models/hs/infer`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
        });
        const t = await r.text();
        rec.status = r.status;
        if (r.status === 200) {
          const j = JSON.parse(t);
          rec.version = j.model_version;
          rec.out = JSON.stringify(j.outputs[0].data);
          if (r.headers.get('x-model-version') !== rec.version) rec.err = 'X-Model-Version disagrees with the body';
        } else {
          rec.err = t.slice(0, 200);
        }
      } catch (e) {
        rec.err = String(e);
      }
      rec.done = performance.now();
      results.push(rec);
    }
  }
  const clients = Array.from({ length: CLIENTS }, client);
  await delay(300); // steady state first

  const moves = []; // {target, start, acked}
  for (let i = 0; i < MOVES; i++) {
    const target = i === MOVES - 1 ? '3' : i % 2 === 0 ? '2' : '1';
    const start = performance.now();
    const r = await api.post('registered-models/alias', { name: 'hs', alias: 'production', version: target });
    assert.equal(r.status, 200, r.text);
    moves.push({ target, start, acked: performance.now() });
    await delay(i === MOVES - 1 ? 3000 : 250);
  }
  running = false;
  await Promise.all(clients);

  // no failure of any kind
  const failed = results.filter((r) => r.err || r.status !== 200);
  assert.equal(failed.length, 0, `failed requests: ${JSON.stringify(failed.slice(0, 5))}`);
  assert.ok(results.length > 500, `load generator ran (${results.length} requests)`);
  for (const r of results) {
    if (expected[r.version]) assert.equal(r.out, expected[r.version], `version ${r.version} answered with its own prediction`);
  }
  const v3 = results.filter((r) => r.version === '3');
  assert.ok(v3.length > 0, 'version 3 answered after the last move');
  expected['3'] = v3[0].out;
  for (const r of v3) assert.equal(r.out, expected['3'], 'version 3 answers consistently');

  // answers follow the alias
  let checked = 0;
  for (let i = 0; i < moves.length; i++) {
    const m = moves[i];
    const prev = i === 0 ? '1' : moves[i - 1].target;
    const nextStart = i + 1 < moves.length ? moves[i + 1].start : Infinity;
    // requests wholly between this move's acknowledgement and the next move
    const window = results.filter((r) => r.sent >= m.acked && r.done <= nextStart);
    checked += window.length;
    if (m.target !== '3') {
      // both versions loaded: the switch is done when the move is acknowledged
      for (const r of window) assert.equal(r.version, m.target, `move ${i + 1} to ${m.target}: a later request got ${r.version}`);
    } else {
      // a version not loaded: the old one answers while it loads, then only the new one
      for (const r of window) assert.ok(r.version === prev || r.version === '3', `move to 3: got ${r.version}`);
      const late = window.filter((r) => r.sent >= m.acked + 2000);
      assert.ok(late.length > 0, 'requests ran well after the move to 3');
      for (const r of late) assert.equal(r.version, '3', 'version 3 answers once loaded');
    }
  }
  assert.ok(checked > 100, `requests ran between the moves (${checked})`);

  // latency report (printed, not asserted)
  const lat = results.map((r) => r.done - r.sent).sort((a, b) => a - b);
  const nearSwap = results
    .filter((r) => moves.some((m) => r.done >= m.start && r.sent <= m.acked + 50))
    .map((r) => r.done - r.sent)
    .sort((a, b) => a - b);
  const v3Move = moves[moves.length - 1];
  const duringLoad = results.filter((r) => r.sent >= v3Move.start && r.sent <= v3Move.acked + 500).map((r) => r.done - r.sent);
  console.log(
    `# hot swap: ${results.length} requests from ${CLIENTS} clients, ${MOVES} alias moves, 0 failed; ` +
      `latency ms p50 ${quantile(lat, 0.5).toFixed(2)} p99 ${quantile(lat, 0.99).toFixed(2)} max ${lat[lat.length - 1].toFixed(2)}; ` +
      `around swaps (${nearSwap.length} requests) p99 ${quantile(nearSwap, 0.99).toFixed(2)} max ${nearSwap[nearSwap.length - 1].toFixed(2)}; ` +
      `while version 3 loaded max ${Math.max(...duringLoad).toFixed(2)}; ` +
      `move acknowledged in ${moves.map((m) => (m.acked - m.start).toFixed(1)).join(',')} ms`,
  );

  // the server is healthy and both old versions stayed loaded
  for (const v of ['1', '2', '3']) {
    const r = await httpCall(srv.url, 'GET', `/v2/models/hs/versions/${v}/ready`);
    assert.equal(r.status, 200, `version ${v} ready`);
  }
});
