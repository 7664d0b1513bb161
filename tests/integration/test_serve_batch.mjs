// test_serve_batch.mjs - dynamic batching on a real cairn server started
// with serve.batch_max / serve.batch_delay_us (eager mode off, so a burst
// always waits for company): concurrent 1-row requests
// are predicted together (the batch-size histogram in /metrics shows
// batches of more than one row, and queue time is recorded), every
// response equals the same row predicted alone by `cairn predict`, a
// request larger than the batch limit runs alone, a bad request in the
// middle of a burst fails alone, and the server stops cleanly with
// batching on.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, httpCall, runCairn, stopCleanly } from './lib/server.mjs';

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CSV = path.join(SRC, 'examples/breast_cancer/breast_cancer.csv');

let srv;
let work;
let header;
let lines;
let features;

before(async () => {
  // a long delay so a burst of requests reliably shares batches
  srv = await startServer({ args: ['--set', 'serve.batch_max=8', '--set', 'serve.batch_delay_us=50000',
    '--set', 'serve.batch_preferred=4,8', '--set', 'serve.batch_eager=false'] });
  work = await mkdtemp(path.join(tmpdir(), 'cairn-batch-'));
  const text = (await readFile(CSV, 'utf8')).trim().split('\n');
  header = text[0].split(',');
  lines = text.slice(1);
  await runCairn(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'gbdt', '--experiment', 'batch',
    '--register', 'bc', '--out', path.join(work, 'm')], { cwd: work, trackingUri: srv.url });
  const meta = await httpCall(srv.url, 'GET', '/v2/models/bc');
  features = meta.json.parameters.features.map((f) => f.name);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (!srv) return;
  await stopCleanly(srv);
});

function row(i) {
  const cells = lines[i].split(',');
  return features.map((f) => Number(cells[header.indexOf(f)]));
}

async function cliProba(rows) {
  const file = path.join(work, `rows-${rows.join('-')}.csv`);
  await writeFile(file, [header.join(','), ...rows.map((r) => lines[r])].join('\n') + '\n');
  const { stdout } = await runCairn(['predict', '--model', 'models:/bc/1', '--data', file], { cwd: work, trackingUri: srv.url });
  return stdout.trim().split('\n').slice(1).map((l) => Number(l.split(',')[0]));
}

function infer(rows, extra = {}) {
  const data = rows.map(row);
  return httpCall(srv.url, 'POST', '/v2/models/bc/infer', {
    body: { id: `r${rows.join('-')}`, inputs: [{ name: 'input-0', shape: [data.length, features.length], datatype: 'FP64', data }], ...extra },
  });
}

async function metric(name, labels = '') {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const re = new RegExp(`^${name}\\{deployment="",model="bc",version="1"${labels}\\} (\\S+)$`, 'm');
  const m = text.match(re);
  return m ? Number(m[1]) : 0;
}

test('a burst of 1-row requests is batched and each answer equals its row alone', async () => {
  const ids = Array.from({ length: 32 }, (_, i) => i * 17 % lines.length);
  const want = await cliProba(ids);
  const countBefore = await metric('cairn_inference_batch_rows_count');
  const sumBefore = await metric('cairn_inference_batch_rows_sum');
  const rs = await Promise.all(ids.map((i) => infer([i])));
  rs.forEach((r, j) => {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, `r${ids[j]}`, 'each request gets its own answer');
    assert.equal(r.json.outputs[0].data.length, 1);
    assert.ok(Math.abs(r.json.outputs[0].data[0] - want[j]) <= 1e-12, `row ${ids[j]}: ${r.json.outputs[0].data[0]} vs ${want[j]}`);
  });
  const count = (await metric('cairn_inference_batch_rows_count')) - countBefore;
  const sum = (await metric('cairn_inference_batch_rows_sum')) - sumBefore;
  assert.equal(count, 32, 'every request observed once');
  assert.ok(sum > count, `requests shared batches (sum of batch rows ${sum} > ${count} requests)`);
  assert.ok((await metric('cairn_inference_queue_seconds_count')) >= 32, 'queue time recorded');
});

test('mixed sizes: multi-row requests batch too, one larger than the limit runs alone', async () => {
  const groups = [[1, 2], [3], [4, 5, 6], [7], Array.from({ length: 20 }, (_, i) => 100 + i)];
  const want = await Promise.all(groups.map((g) => cliProba(g)));
  const rs = await Promise.all(groups.map((g) => infer(g)));
  rs.forEach((r, j) => {
    assert.equal(r.status, 200, r.text);
    const got = r.json.outputs[0].data;
    assert.equal(got.length, groups[j].length);
    got.forEach((x, i) => assert.ok(Math.abs(x - want[j][i]) <= 1e-12));
  });
});

test('a bad request in a burst fails alone', async () => {
  const good = Array.from({ length: 6 }, (_, i) => infer([i]));
  const bad = httpCall(srv.url, 'POST', '/v2/models/bc/infer', {
    body: { inputs: [{ name: 'input-0', shape: [1, features.length - 1], datatype: 'FP64', data: [row(0).slice(1)] }] },
  });
  const [b, ...gs] = await Promise.all([bad, ...good]);
  assert.equal(b.status, 400, b.text);
  for (const g of gs) assert.equal(g.status, 200, g.text);
});

test('eager batching: a lone client never waits for a batch', async () => {
  const eager = await startServer({ home: undefined, args: ['--set', 'serve.batch_max=8', '--set', 'serve.batch_delay_us=600000000'] });
  try {
    await runCairn(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'gbdt', '--experiment', 'batch',
      '--register', 'bc', '--out', path.join(work, 'm-eager')], { cwd: work, trackingUri: eager.url });
    const data = [row(3)];
    // the batch delay is 10 minutes: a request that waited for company
    // would never come back within the test's time limit
    for (let i = 0; i < 5; i++) {
      const r = await httpCall(eager.url, 'POST', '/v2/models/bc/infer', {
        body: { inputs: [{ name: 'input-0', shape: [1, features.length], datatype: 'FP64', data }] },
      });
      assert.equal(r.status, 200, r.text);
    }
  } finally {
    await eager.stop();
  }
});
