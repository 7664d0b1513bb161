// test_serve_oip.mjs - Open Inference Protocol V2 on a real cairn server:
// trains and registers models with the real CLI, then checks server/model
// metadata and health, inference in both input layouts against
// `cairn predict` on the same rows, name/version/alias resolution (the
// `production` alias, `latest`), concurrent first loads, and bad requests
// (each answered with {"error": ...} while the server keeps serving).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, mlflowApi, httpCall, runCairn, stopCleanly } from './lib/server.mjs';

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CSV = path.join(SRC, 'examples/breast_cancer/breast_cancer.csv');
const ROWS = [0, 19, 20, 21, 37, 46, 100, 200, 300, 568]; // a mix of both classes

let srv;
let work;
let header;
let lines;

function cli(args) {
  return runCairn(args, { cwd: work, trackingUri: srv.url });
}

before(async () => {
  srv = await startServer();
  work = await mkdtemp(path.join(tmpdir(), 'cairn-serve-'));
  const text = (await readFile(CSV, 'utf8')).trim().split('\n');
  header = text[0].split(',');
  lines = text.slice(1);
  // version 1: logistic regression; version 2: gradient-boosted trees
  await cli(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'logistic', '--experiment', 'serve',
    '--register', 'bc', '--out', path.join(work, 'm1')]);
  await cli(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'gbdt', '--experiment', 'serve',
    '--register', 'bc', '--out', path.join(work, 'm2')]);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (!srv) return;
  await stopCleanly(srv);
});

function call(method, p, body, raw) {
  return httpCall(srv.url, method, p, { body, raw });
}

function expectErr(r, status) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.ok(r.json && typeof r.json.error === 'string' && r.json.error.length > 0, `OIP error body: ${r.text}`);
}

async function healthy() {
  const r = await fetch(`${srv.url}/v2/health/live`);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), '');
  const h = await fetch(`${srv.url}/health`);
  assert.equal(h.status, 200);
  await h.text();
}

/** The selected CSV rows as numbers in the model's feature order. */
function batch(features) {
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

/** `cairn predict` on the same rows: { proba: [...], label: [...] }. */
async function cliPredict(model) {
  const file = path.join(work, 'rows.csv');
  await writeFile(file, [header.join(','), ...ROWS.map((r) => lines[r])].join('\n') + '\n');
  const { stdout } = await cli(['predict', '--model', model, '--data', file]);
  const out = stdout.trim().split('\n');
  assert.equal(out.length, ROWS.length + 1, stdout);
  const cols = out[0].split(',');
  assert.equal(cols.length, 2, `one probability column and the label: ${out[0]}`);
  return {
    proba: out.slice(1).map((l) => Number(l.split(',')[0])),
    label: out.slice(1).map((l) => l.split(',')[1]),
  };
}

async function metadata(p) {
  const r = await call('GET', p);
  assert.equal(r.status, 200, r.text);
  return r;
}

function assertClose(got, want, what) {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-12, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

test('server metadata and health', async () => {
  const r = await call('GET', '/v2');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.name, 'cairn');
  assert.match(r.json.version, /^\d+\.\d+\.\d+/);
  assert.deepEqual(r.json.extensions, ['binary_tensor_data']);
  for (const p of ['/v2/health/live', '/v2/health/ready']) {
    const h = await call('GET', p);
    assert.equal(h.status, 200, p);
    assert.equal(h.text, '', `${p} has an empty body`);
    assert.ok(h.headers.get('x-request-id'), 'X-Request-Id on every response');
  }
  expectErr(await call('GET', '/v2/nothing'), 404);
  expectErr(await call('POST', '/v2/health/live', {}), 405);
});

test('model metadata by name, version and alias', async () => {
  let r = await metadata('/v2/models/bc');
  assert.equal(r.json.name, 'bc');
  assert.deepEqual(r.json.versions, ['1', '2']);
  assert.equal(r.json.platform, 'cairn');
  assert.equal(r.headers.get('x-model-version'), '2', 'no production alias yet: the latest version');
  const nf = r.json.parameters.features.length;
  assert.equal(nf, 30);
  assert.deepEqual(r.json.inputs, [{ name: 'input-0', datatype: 'FP64', shape: [-1, nf] }]);
  assert.deepEqual(r.json.outputs.map((o) => o.name), ['proba', 'predict']);
  assert.deepEqual(r.json.outputs[0].shape, [-1, 1]);
  assert.equal(r.json.parameters.task, 'binary');

  r = await metadata('/v2/models/bc/versions/1');
  assert.equal(r.headers.get('x-model-name'), 'bc');
  assert.equal(r.headers.get('x-model-version'), '1');
  assert.equal(r.json.parameters.model_version, '1');

  assert.equal((await call('GET', '/v2/models/bc/ready')).status, 200);
  assert.equal((await call('GET', '/v2/models/bc/versions/2/ready')).status, 200);
  expectErr(await call('GET', '/v2/models/bc/versions/3/ready'), 404);
  expectErr(await call('GET', '/v2/models/nope'), 404);
  expectErr(await call('GET', '/v2/models/nope/ready'), 404);
  expectErr(await call('GET', '/v2/models/bc/versions/staging'), 404);
  expectErr(await call('GET', '/v2/models/bc/versions/1/explain'), 404);
  expectErr(await call('GET', '/v2/models/bc/infer'), 405);
});

test('infer a 2-D FP64 batch equals cairn predict, by version and by alias', async () => {
  const api = mlflowApi(srv.url);
  const meta = (await metadata('/v2/models/bc/versions/1')).json;
  const features = meta.parameters.features.map((f) => f.name);
  const data = batch(features);
  const want1 = await cliPredict('models:/bc/1');
  const want2 = await cliPredict('models:/bc/2');
  assert.notDeepEqual(want1.proba, want2.proba, 'the two versions predict differently');

  const body = {
    id: 'req-42',
    inputs: [{ name: 'input-0', shape: [data.length, features.length], datatype: 'FP64', data }],
  };
  let r = await call('POST', '/v2/models/bc/versions/1/infer', body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model_name, 'bc');
  assert.equal(r.json.model_version, '1');
  assert.equal(r.json.id, 'req-42');
  assert.equal(r.headers.get('x-model-version'), '1');
  assert.ok(r.headers.get('x-request-id'));
  const [proba, pred] = r.json.outputs;
  assert.equal(proba.name, 'proba');
  assert.equal(proba.datatype, 'FP64');
  assert.deepEqual(proba.shape, [ROWS.length, 1]);
  assertClose(proba.data, want1.proba, 'v1 proba');
  assert.equal(pred.name, 'predict');
  assert.equal(pred.datatype, 'BYTES');
  assert.deepEqual(pred.data, want1.label);

  // flat data is the same tensor
  r = await call('POST', '/v2/models/bc/versions/1/infer', { inputs: [{ ...body.inputs[0], data: data.flat() }] });
  assert.equal(r.status, 200, r.text);
  assertClose(r.json.outputs[0].data, want1.proba, 'flat v1 proba');
  assert.ok(r.json.id, 'without a request id the response carries the X-Request-Id');

  // the bare name: latest version (2) until `production` is set
  r = await call('POST', '/v2/models/bc/infer', body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model_version, '2');
  assertClose(r.json.outputs[0].data, want2.proba, 'latest proba');

  const set = await api.post('registered-models/alias', { name: 'bc', alias: 'production', version: '1' });
  assert.equal(set.status, 200, set.text);
  r = await call('POST', '/v2/models/bc/infer', body);
  assert.equal(r.json.model_version, '1', 'the bare name follows the production alias');
  assertClose(r.json.outputs[0].data, want1.proba, 'production proba');
  r = await call('POST', '/v2/models/bc/versions/production/infer', body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-model-version'), '1');
  r = await call('POST', '/v2/models/bc/versions/latest/infer', body);
  assert.equal(r.json.model_version, '2');
  assertClose(r.json.outputs[0].data, want2.proba, 'latest via versions/latest');

  // moving the alias takes effect on the next request
  assert.equal((await api.post('registered-models/alias', { name: 'bc', alias: 'champion', version: '2' })).status, 200);
  r = await call('POST', '/v2/models/bc/versions/champion/infer', body);
  assert.equal(r.json.model_version, '2');
  assert.equal((await api.post('registered-models/alias', { name: 'bc', alias: 'champion', version: '1' })).status, 200);
  r = await call('POST', '/v2/models/bc/versions/champion/infer', body);
  assert.equal(r.json.model_version, '1');
  assertClose(r.json.outputs[0].data, want1.proba, 'champion after the move');
});

test('per-feature inputs, integer datatypes and requested outputs', async () => {
  const meta = (await metadata('/v2/models/bc/versions/2')).json;
  const features = meta.parameters.features.map((f) => f.name);
  const data = batch(features);
  const inputs = features.map((f, j) => ({ name: f, shape: [data.length], datatype: 'FP64', data: data.map((row) => row[j]) }));
  const want = await cliPredict('models:/bc/2');
  let r = await call('POST', '/v2/models/bc/versions/2/infer', { inputs: inputs.slice().reverse(), outputs: [{ name: 'proba' }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.outputs.length, 1);
  assertClose(r.json.outputs[0].data, want.proba, 'per-feature proba');

  r = await call('POST', '/v2/models/bc/versions/2/infer', { inputs, outputs: [{ name: 'predict' }, { name: 'proba' }] });
  assert.deepEqual(r.json.outputs.map((o) => o.name), ['predict', 'proba']);
  assert.deepEqual(r.json.outputs[0].data, want.label);

  // integer data in an INT32 tensor equals the same values sent as FP64
  const ints = data.map((row) => row.map((x) => Math.round(x)));
  const asInt = await call('POST', '/v2/models/bc/versions/2/infer', {
    inputs: [{ name: 'input-0', shape: [ints.length, features.length], datatype: 'INT32', data: ints }],
  });
  const asF64 = await call('POST', '/v2/models/bc/versions/2/infer', {
    inputs: [{ name: 'input-0', shape: [ints.length, features.length], datatype: 'FP64', data: ints }],
  });
  assert.equal(asInt.status, 200, asInt.text);
  assert.deepEqual(asInt.json.outputs, asF64.json.outputs);
});

test('concurrent first requests of an unloaded version all succeed', async () => {
  // version 2 under a new name is not cached yet: register it again as bc2/1
  const api = mlflowApi(srv.url);
  const v = await api.get('model-versions/get', { name: 'bc', version: '2' });
  assert.equal(v.status, 200, v.text);
  assert.equal((await api.post('registered-models/create', { name: 'bc2' })).status, 200);
  const mv = await api.post('model-versions/create', { name: 'bc2', source: v.json.model_version.source });
  assert.equal(mv.status, 200, mv.text);
  const meta = (await metadata('/v2/models/bc/versions/2')).json;
  const data = batch(meta.parameters.features.map((f) => f.name));
  const body = { inputs: [{ name: 'input-0', shape: [data.length, 30], datatype: 'FP64', data }] };
  const want = await cliPredict('models:/bc/2');
  const rs = await Promise.all(Array.from({ length: 12 }, () => call('POST', '/v2/models/bc2/infer', body)));
  for (const r of rs) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model_name, 'bc2');
    assertClose(r.json.outputs[0].data, want.proba, 'bc2 proba');
  }
});

test('bad requests answer 4xx with an OIP error and the server keeps serving', async () => {
  const data = batch((await metadata('/v2/models/bc/versions/1')).json.parameters.features.map((f) => f.name));
  const good = { name: 'input-0', shape: [data.length, 30], datatype: 'FP64', data };
  const bad = [
    [400, { inputs: [{ ...good, shape: [data.length, 29] }] }],
    [400, { inputs: [{ ...good, shape: [data.length + 1, 30] }] }],
    [400, { inputs: [{ ...good, shape: [data.length, 30, 1] }] }],
    [400, { inputs: [{ ...good, shape: [-1, 30] }] }],
    [400, { inputs: [{ ...good, datatype: 'INT8' }] }],
    [400, { inputs: [{ ...good, datatype: 'FP16' }] }],
    [400, { inputs: [{ ...good, datatype: 'BYTES' }] }],
    [400, { inputs: [{ ...good, datatype: 'FLOAT' }] }],
    [400, { inputs: [{ ...good, data: data.map((r) => r.map(String)) }] }],
    [400, { inputs: [{ ...good, data: [] }] }],
    [400, { inputs: [good, { ...good, name: 'input-1' }] }],
    [400, { inputs: [{ name: 'mean radius', shape: [1], datatype: 'FP64', data: [1] }] }],
    [400, { inputs: [] }],
    [400, { id: 7, inputs: [good] }],
    [400, { inputs: [good], outputs: [{ name: 'nope' }] }],
    [400, { inputs: [{ ...good, shape: undefined }] }],
    [400, [good]],
  ];
  for (const [status, body] of bad) {
    expectErr(await call('POST', '/v2/models/bc/versions/1/infer', body), status);
  }
  expectErr(await call('POST', '/v2/models/bc/versions/1/infer', undefined, '{"inputs": ['), 400);
  expectErr(await call('POST', '/v2/models/bc/versions/1/infer', undefined, ''), 400);
  expectErr(await call('POST', '/v2/models/nope/infer', { inputs: [good] }), 404);
  expectErr(await call('POST', '/v2/models/bc/versions/9/infer', { inputs: [good] }), 404);
  await healthy();
  const r = await call('POST', '/v2/models/bc/versions/1/infer', { inputs: [good] });
  assert.equal(r.status, 200, r.text);
});

/** A binary-extension body: the JSON header, then the tensors' bytes. */
function binaryBody(header, ...chunks) {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...chunks]), headerLen: json.length };
}

async function callBinary(p, header, ...chunks) {
  const { body, headerLen } = binaryBody(header, ...chunks);
  const r = await fetch(`${srv.url}${p}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(headerLen) },
    body,
  });
  const buf = Buffer.from(await r.arrayBuffer());
  const hl = r.headers.get('inference-header-content-length');
  const jsonEnd = hl === null ? buf.length : Number(hl);
  let json = null;
  try {
    json = JSON.parse(buf.subarray(0, jsonEnd).toString('utf8'));
  } catch {
    json = null;
  }
  return { status: r.status, headers: r.headers, json, text: buf.toString('utf8'), binary: buf.subarray(jsonEnd) };
}

function f64s(values) {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
  return b;
}

test('binary tensor data extension: inputs and outputs', async () => {
  const meta = (await metadata('/v2/models/bc/versions/2')).json;
  const features = meta.parameters.features.map((f) => f.name);
  const data = batch(features);
  const want = await cliPredict('models:/bc/2');
  const flat = data.flat();

  // a 2-D FP64 tensor as binary data, JSON outputs
  let r = await callBinary('/v2/models/bc/versions/2/infer',
    { inputs: [{ name: 'input-0', shape: [data.length, features.length], datatype: 'FP64', parameters: { binary_data_size: flat.length * 8 } }] },
    f64s(flat));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('inference-header-content-length'), null, 'all-JSON response');
  assertClose(r.json.outputs[0].data, want.proba, 'binary FP64 input');

  // FP32 binary equals FP32 JSON (both rounded to float)
  const f32 = Buffer.alloc(flat.length * 4);
  flat.forEach((v, i) => f32.writeFloatLE(v, i * 4));
  r = await callBinary('/v2/models/bc/versions/2/infer',
    { inputs: [{ name: 'input-0', shape: [data.length, features.length], datatype: 'FP32', parameters: { binary_data_size: f32.length } }] }, f32);
  const asJson = await call('POST', '/v2/models/bc/versions/2/infer',
    { inputs: [{ name: 'input-0', shape: [data.length, features.length], datatype: 'FP32', data: flat }] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.outputs, asJson.json.outputs);

  // per-feature binary tensors mixed with JSON ones; binary outputs back
  const inputs = [];
  const chunks = [];
  features.forEach((f, j) => {
    const col = data.map((row) => row[j]);
    if (j % 2) {
      inputs.push({ name: f, shape: [col.length], datatype: 'FP64', data: col });
    } else {
      inputs.push({ name: f, shape: [col.length], datatype: 'FP64', parameters: { binary_data_size: col.length * 8 } });
      chunks.push(f64s(col));
    }
  });
  r = await callBinary('/v2/models/bc/versions/2/infer',
    { id: 'bin-1', inputs, outputs: [{ name: 'proba', parameters: { binary_data: true } }, { name: 'predict' }] }, ...chunks);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), 'application/octet-stream');
  assert.equal(r.json.id, 'bin-1');
  const [proba, pred] = r.json.outputs;
  assert.equal(proba.data, undefined);
  assert.equal(proba.parameters.binary_data_size, ROWS.length * 8);
  assert.equal(r.binary.length, ROWS.length * 8);
  const got = Array.from({ length: ROWS.length }, (_, i) => r.binary.readDoubleLE(i * 8));
  assertClose(got, want.proba, 'binary proba output');
  assert.deepEqual(pred.data, want.label);

  // binary_data_output for every output: BYTES labels are length-prefixed
  r = await callBinary('/v2/models/bc/versions/2/infer',
    { inputs: [{ name: 'input-0', shape: [data.length, features.length], datatype: 'FP64', parameters: { binary_data_size: flat.length * 8 } }],
      parameters: { binary_data_output: true }, outputs: [{ name: 'predict' }] }, f64s(flat));
  assert.equal(r.status, 200, r.text);
  const labels = [];
  for (let off = 0; off < r.binary.length;) {
    const n = r.binary.readUInt32LE(off);
    labels.push(r.binary.subarray(off + 4, off + 4 + n).toString('utf8'));
    off += 4 + n;
  }
  assert.deepEqual(labels, want.label);
  assert.equal(r.json.outputs[0].parameters.binary_data_size, r.binary.length);

  // FP16 has a binary representation: a few rows rounded to half precision
  const half = (x) => {
    const f = new Float32Array([x]);
    const u = new Uint32Array(f.buffer)[0];
    const sign = (u >>> 16) & 0x8000;
    let e = ((u >>> 23) & 0xff) - 127 + 15;
    const m = u & 0x7fffff;
    if (e <= 0) return sign; // tiny values flush to zero for this test
    if (e >= 31) return sign | 0x7c00;
    return sign | (e << 10) | (m >>> 13);
  };
  const h = Buffer.alloc(flat.length * 2);
  flat.forEach((v, i) => h.writeUInt16LE(half(v), i * 2));
  r = await callBinary('/v2/models/bc/versions/2/infer',
    { inputs: [{ name: 'input-0', shape: [data.length, features.length], datatype: 'FP16', parameters: { binary_data_size: h.length } }] }, h);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.outputs[0].data.length, ROWS.length);
});

test('malformed binary bodies answer 400 and the server keeps serving', async () => {
  const data = batch((await metadata('/v2/models/bc/versions/1')).json.parameters.features.map((f) => f.name));
  const flat = data.flat();
  const hdr = (size) => ({ inputs: [{ name: 'input-0', shape: [data.length, 30], datatype: 'FP64', parameters: { binary_data_size: size } }] });
  const cases = [
    ['truncated', hdr(flat.length * 8), f64s(flat).subarray(0, 100)],
    ['size not matching the shape', hdr(flat.length * 8 - 8), f64s(flat).subarray(0, flat.length * 8 - 8)],
    ['bytes left over', hdr(flat.length * 8), Buffer.concat([f64s(flat), Buffer.from([1, 2, 3])])],
    ['negative size', hdr(-8), f64s(flat)],
    ['data and binary both', { inputs: [{ ...hdr(8).inputs[0], data: flat }] }, f64s(flat)],
  ];
  for (const [what, header, bytes] of cases) {
    const r = await callBinary('/v2/models/bc/versions/1/infer', header, bytes);
    assert.equal(r.status, 400, `${what}: ${r.text}`);
    assert.ok(typeof r.json?.error === 'string', `${what}: OIP error shape`);
  }
  // a header length past the body, or not a number
  for (const hl of ['999999', 'abc', '-1']) {
    const r = await fetch(`${srv.url}/v2/models/bc/versions/1/infer`, {
      method: 'POST', headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': hl }, body: '{}',
    });
    assert.equal(r.status, 400, `header length ${hl}`);
    assert.ok(typeof (await r.json()).error === 'string');
  }
  // binary_data_size without the header
  let r = await call('POST', '/v2/models/bc/versions/1/infer', hdr(8));
  expectErr(r, 400);
  // a body that lies about its length: the client sends less than it
  // declared and hangs up; the server drops that connection and serves on
  const net = await import('node:net');
  const { port, hostname } = new URL(srv.url);
  await new Promise((resolve) => {
    const sock = net.connect(Number(port), hostname, () => {
      sock.end('POST /v2/models/bc/versions/1/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 5000\r\n\r\n{"inputs": [');
    });
    sock.on('error', resolve);
    sock.on('close', resolve);
    sock.resume();
  });
  await healthy();
  r = await call('POST', '/v2/models/bc/versions/1/infer', { inputs: [{ name: 'input-0', shape: [data.length, 30], datatype: 'FP64', data }] });
  assert.equal(r.status, 200, r.text);
});

test('every numeric datatype, in JSON and as binary data, equals the same values as FP64', async () => {
  const meta = (await metadata('/v2/models/bc/versions/2')).json;
  const features = meta.parameters.features.map((f) => f.name);
  // small non-negative integers fit every type; BOOL gets 0/1
  const ints = batch(features).map((row) => row.map((x) => Math.min(100, Math.abs(Math.round(x)))));
  const bools = ints.map((row) => row.map((x) => x % 2));
  const shape = [ints.length, features.length];
  const ref = async (values) => (await call('POST', '/v2/models/bc/versions/2/infer',
    { inputs: [{ name: 'input-0', shape, datatype: 'FP64', data: values }] })).json.outputs;
  const wantInts = await ref(ints);
  const wantBools = await ref(bools);
  const writers = {
    INT8: [1, (b, v, o) => b.writeInt8(v, o)], INT16: [2, (b, v, o) => b.writeInt16LE(v, o)],
    INT32: [4, (b, v, o) => b.writeInt32LE(v, o)], INT64: [8, (b, v, o) => b.writeBigInt64LE(BigInt(v), o)],
    UINT8: [1, (b, v, o) => b.writeUInt8(v, o)], UINT16: [2, (b, v, o) => b.writeUInt16LE(v, o)],
    UINT32: [4, (b, v, o) => b.writeUInt32LE(v, o)], UINT64: [8, (b, v, o) => b.writeBigUInt64LE(BigInt(v), o)],
    FP32: [4, (b, v, o) => b.writeFloatLE(v, o)], FP64: [8, (b, v, o) => b.writeDoubleLE(v, o)],
    BOOL: [1, (b, v, o) => b.writeUInt8(v, o)],
  };
  for (const [dt, [size, write]] of Object.entries(writers)) {
    const values = dt === 'BOOL' ? bools : ints;
    const want = dt === 'BOOL' ? wantBools : wantInts;
    const json = dt === 'BOOL' ? values.map((row) => row.map((x) => x === 1)) : values;
    const r = await call('POST', '/v2/models/bc/versions/2/infer', { inputs: [{ name: 'input-0', shape, datatype: dt, data: json }] });
    assert.equal(r.status, 200, `${dt} JSON: ${r.text}`);
    assert.deepEqual(r.json.outputs, want, `${dt} JSON`);
    const flat = values.flat();
    const buf = Buffer.alloc(flat.length * size);
    flat.forEach((v, i) => write(buf, v, i * size));
    const b = await callBinary('/v2/models/bc/versions/2/infer',
      { inputs: [{ name: 'input-0', shape, datatype: dt, parameters: { binary_data_size: buf.length } }] }, buf);
    assert.equal(b.status, 200, `${dt} binary: ${b.text}`);
    assert.deepEqual(b.json.outputs, want, `${dt} binary`);
  }
  // out-of-range integers and non-booleans are refused
  for (const [dt, v] of [['INT8', 128], ['UINT8', -1], ['UINT16', 65536], ['BOOL', 2], ['INT32', 1.5]]) {
    const data = ints.map((row) => row.slice());
    data[0][0] = v;
    expectErr(await call('POST', '/v2/models/bc/versions/2/infer', { inputs: [{ name: 'input-0', shape, datatype: dt, data }] }), 400);
  }
  const badBool = Buffer.alloc(ints.length * features.length, 0);
  badBool[3] = 7;
  const r = await callBinary('/v2/models/bc/versions/2/infer',
    { inputs: [{ name: 'input-0', shape, datatype: 'BOOL', parameters: { binary_data_size: badBool.length } }] }, badBool);
  assert.equal(r.status, 400, r.text);
});
