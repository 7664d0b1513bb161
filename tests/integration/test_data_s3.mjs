// test_data_s3.mjs - `cairn data push` / `pull` against a real S3-protocol
// server (s3rver on 127.0.0.1, endpoint from AWS_ENDPOINT_URL_S3): a
// versioned directory is pushed from one git clone and pulled into
// another, byte-equal; a second push sends nothing; the remote's objects
// are read back with @aws-sdk/client-s3 and hash to their own keys, so
// they are standard S3 objects a cluster job can fetch; an unreachable
// endpoint is a clear error that changes nothing locally.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cairnBinary } from './lib/server.mjs';

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const require = createRequire(path.join(SRC, 'tests/clients/package.json'));
const S3rver = require('s3rver');
const { S3Client, CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } = require('@aws-sdk/client-s3');

const BUCKET = 'cairn-data';
let dir;
let server;
let endpoint;
let client;

function run(cmd, args, cwd, env = {}) {
  return new Promise((resolve) => {
    const childEnv = {
      ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: endpoint, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com', ...env,
    };
    delete childEnv.AWS_SESSION_TOKEN;
    execFile(cmd, args, { cwd, env: childEnv, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}
const cairn = (args, cwd, env) => run(cairnBinary(), args, cwd, env);
const git = (args, cwd) => run('git', args, cwd);
function ok(r, what) {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}
const sha = (b) => createHash('sha256').update(b).digest('hex');

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cairn-data-s3-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(dir, 's3rver') });
  const addr = await server.run();
  endpoint = `http://127.0.0.1:${addr.port}`;
  client = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

after(async () => {
  client?.destroy();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('push to S3 from one clone, pull into another', async () => {
  const a = path.join(dir, 'a');
  await mkdir(path.join(a, 'data', 'sub'), { recursive: true });
  const files = {
    'data/one.csv': Buffer.from('x,y\n1,2\n'),
    'data/sub/blob.bin': randomBytes(300000),
    'data/sub/with space ü.txt': Buffer.from('unicode\n'),
    'data/empty.txt': Buffer.alloc(0),
  };
  for (const [p, b] of Object.entries(files)) await writeFile(path.join(a, p), b);
  ok(await git(['init', '-q'], a), 'git init');
  ok(await cairn(['data', 'add', 'data'], a), 'data add');
  ok(await cairn(['data', 'remote', 'add', '--default', 'cloud', `s3://${BUCKET}/store`], a), 'remote add');
  ok(await git(['add', '-A'], a), 'git add');
  ok(await git(['commit', '-qm', 'data'], a), 'git commit');
  ok(await cairn(['data', 'push'], a), 'push');

  // the objects are plain S3 objects named by their content's hash
  const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'store/' }));
  const keys = (listed.Contents ?? []).map((o) => o.Key);
  assert.ok(keys.length >= Object.keys(files).length, `objects pushed: ${keys}`);
  for (const key of keys) {
    const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const body = Buffer.from(await out.Body.transformToByteArray());
    assert.equal(sha(body), key.split('/').slice(-2).join(''), `object ${key} hashes to its name`);
  }
  const again = ok(await cairn(['data', 'push'], a), 'second push');
  assert.equal(keys.length, ((await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'store/' }))).Contents ?? []).length);
  assert.match(again.stdout, /^pushed 0 objects .*\((\d+) already there\)/m, `a second push sends nothing:\n${again.stdout}${again.stderr}`);

  const b = path.join(dir, 'b');
  ok(await git(['clone', '-q', a, b], dir), 'git clone');
  ok(await cairn(['data', 'pull'], b), 'pull');
  for (const [p, body] of Object.entries(files))
    assert.deepEqual(await readFile(path.join(b, p)), body, `${p} pulled byte-equal`);
});

test('an unreachable endpoint is a clear error', async () => {
  const c = path.join(dir, 'c');
  await mkdir(path.join(c, 'd'), { recursive: true });
  await writeFile(path.join(c, 'd', 'f.txt'), 'hello\n');
  ok(await git(['init', '-q'], c), 'git init');
  ok(await cairn(['data', 'add', 'd'], c), 'add');
  ok(await cairn(['data', 'remote', 'add', '--default', 'cloud', `s3://${BUCKET}/x`], c), 'remote add');
  const r = await cairn(['data', 'push'], c, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /127\.0\.0\.1:9|connect|refused/i, r.stderr);
  assert.equal(await readFile(path.join(c, 'd', 'f.txt'), 'utf8'), 'hello\n');
});
