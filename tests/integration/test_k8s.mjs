// test_k8s.mjs - `cairn k8s training-job` and `cairn k8s dag` render
// manifests that the published schemas accept: batch/v1 Job and CronJob
// through kubernetes-models (its validate() checks the Kubernetes OpenAPI
// JSON schemas with ajv), the Argo Workflow through
// @kubernetes-models/argo-workflows (the Workflow CRD's schema). YAML output
// is parsed with the `yaml` package both as YAML 1.2 and as YAML 1.1 (the
// dialect of kubectl's go-yaml) and must equal the --json rendering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Job } from '../clients/node_modules/kubernetes-models/batch/v1/Job.js';
import { CronJob } from '../clients/node_modules/kubernetes-models/batch/v1/CronJob.js';
import { Workflow } from '../clients/node_modules/@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow.js';

const require = createRequire(import.meta.url);
const YAML = require('../clients/node_modules/yaml');

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CAIRN = process.env.CAIRN ?? path.join(process.env.CAIRN_BUILD_DIR ?? path.join(SRC, 'build'), 'cairn');

let dir;
before(async () => { dir = await mkdtemp(path.join(tmpdir(), 'cairn-k8s-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

function cairn(args) {
  const r = spawnSync(CAIRN, args, { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// Renders args as YAML and as JSON; checks both YAML dialects read the YAML
// as the JSON says, and returns the documents.
function render(args) {
  const y = cairn(args);
  assert.equal(y.code, 0, y.err);
  const j = cairn([args[0], args[1], '--json', ...args.slice(2)]);
  assert.equal(j.code, 0, j.err);
  const fromJson = JSON.parse(j.out);
  const docs = fromJson.kind === 'List' ? fromJson.items : [fromJson];
  for (const version of ['1.2', '1.1']) {
    const parsed = YAML.parseAllDocuments(y.out, { version });
    for (const d of parsed) assert.deepEqual(d.errors, [], `YAML ${version} errors`);
    assert.deepEqual(parsed.map((d) => d.toJS()), docs, `YAML ${version} reads what --json says`);
  }
  return docs;
}

const TRAIN = ['--data', '/data/train.csv', '--target', 'yes', '--set', 'n_rounds=200',
  '--set', 'tag=1:30', '--drop', '- odd: col #x', '--set', 'note=two\nlines'];

test('training Job with GPU, tolerations, node selector and PVCs is a valid batch/v1 Job', () => {
  const [job] = render(['k8s', 'training-job', '--name', 'train-churn', '--image', 'ghcr.io/org/cairn:1.0',
    '--gpu', '2', '--cpu', '4', '--memory', '16Gi', '--node-selector', 'cloud.google.com/gke-accelerator=nvidia-tesla-t4',
    '--node-selector', 'spot=true', '--toleration', 'nvidia.com/gpu:NoSchedule', '--toleration', 'team=ml:NoExecute',
    '--pvc', 'checkpoints:/ckpt', '--data', 'train-data', '--secret', 's3-creds', '--env', 'PORT=8080',
    '--namespace', 'ml', '--service-account', 'trainer', '--deadline', '3600', '--backoff-limit', '1',
    '--label', 'app=churn', '--', ...TRAIN]);
  new Job(job).validate();
  assert.equal(job.kind, 'Job');
  assert.equal(job.metadata.namespace, 'ml');
  assert.equal(job.spec.backoffLimit, 1);
  assert.equal(job.spec.activeDeadlineSeconds, 3600);
  const pod = job.spec.template.spec;
  assert.equal(pod.restartPolicy, 'Never');
  assert.equal(pod.serviceAccountName, 'trainer');
  assert.equal(pod.nodeSelector.spot, 'true');
  assert.deepEqual(pod.tolerations, [
    { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'team', operator: 'Equal', value: 'ml', effect: 'NoExecute' }]);
  assert.deepEqual(pod.volumes.map((v) => v.persistentVolumeClaim.claimName), ['checkpoints', 'train-data']);
  const c = pod.containers[0];
  assert.deepEqual(c.command, ['cairn', 'train', ...TRAIN]);
  assert.equal(c.resources.limits['nvidia.com/gpu'], '2');
  assert.equal(c.resources.requests['nvidia.com/gpu'], '2');
  assert.equal(c.resources.requests.cpu, '4');
  assert.equal(c.resources.limits.memory, '16Gi');
  assert.deepEqual(c.envFrom, [{ secretRef: { name: 's3-creds' } }]);
  assert.deepEqual(c.env, [{ name: 'PORT', value: '8080' }]);
  assert.deepEqual(c.volumeMounts, [{ name: 'checkpoints', mountPath: '/ckpt' },
    { name: 'train-data', mountPath: '/data', readOnly: true }]);
  assert.equal(job.metadata.labels.app, 'churn');
});

test('training CronJob with --schedule and S3 data is a valid batch/v1 CronJob', () => {
  const [cj] = render(['k8s', 'training-job', '--name', 'nightly', '--image', 'cairn:latest',
    '--schedule', '0 2 * * *', '--concurrency', 'Replace', '--data', 's3://bucket/churn data',
    '--secret', 's3-creds', '--', '--data', 'data/train.csv', '--target', 'y']);
  new CronJob(cj).validate();
  assert.equal(cj.spec.schedule, '0 2 * * *');
  assert.equal(cj.spec.concurrencyPolicy, 'Replace');
  const c = cj.spec.jobTemplate.spec.template.spec.containers[0];
  assert.deepEqual(c.command.slice(0, 2), ['sh', '-c']);
  assert.equal(c.command[2], "set -e\ncairn data pull --remote 's3://bucket/churn data'\n" +
    'cairn train --data data/train.csv --target y\n');
});

test('bad training-job input is refused with a message', () => {
  let r = cairn(['k8s', 'training-job', '--name', 'Bad_Name', '--image', 'x', '--', '--target', 'y']);
  assert.equal(r.code, 1);
  assert.match(r.err, /DNS-1123/);
  r = cairn(['k8s', 'training-job', '--name', 'ok', '--image', 'x', '--toleration', 'k=v:Never']);
  assert.equal(r.code, 1);
  assert.match(r.err, /effect/);
  r = cairn(['k8s', 'training-job', '--name', 'ok', '--image', 'x', '--schedule', 'daily']);
  assert.equal(r.code, 1);
  r = cairn(['k8s', 'training-job', '--image', 'x']);
  assert.equal(r.code, 2);
});

const DAG = {
  name: 'churn',
  image: 'ghcr.io/org/churn:abc',
  remote: 's3store',
  secrets: ['s3-creds'],
  workdir: '/workspace',
  service_account: 'pipelines',
  pvcs: [{ claim: 'workspace', mount: '/workspace' }, { claim: 'checkpoints', mount: '/ckpt' }],
  parameters: { depth: '6', on: 'yes' },
  deadline: 86400,
  steps: [
    { name: 'train_model', argv: ['cairn', 'pipeline', 'run', 'train_model', '--no-deps'],
      depends: ['featurize', 'split'], outputs: ['model'], retries: 2, timeout: 7200,
      gpu: 1, cpu: '4', memory: '16Gi', node_selector: { pool: 'gpu' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] },
    { name: 'prepare', argv: ['cairn', 'pipeline', 'run', 'prepare', '--no-deps'],
      inputs: ['data/raw.csv'], outputs: ['data/clean.csv'] },
    { name: 'featurize', argv: ['cairn', 'pipeline', 'run', 'featurize', '--no-deps',
      '--set', 'depth={{workflow.parameters.depth}}'], depends: ['prepare'], retries: 1 },
    { name: 'split', argv: ['cairn', 'pipeline', 'run', 'split', '--no-deps'], depends: ['prepare'],
      timeout: 600 },
  ],
};

test('a DAG renders as an Argo Workflow that the Workflow schema accepts', async () => {
  const spec = path.join(dir, 'dag.json');
  await writeFile(spec, JSON.stringify(DAG));
  const [wf] = render(['k8s', 'dag', spec, '--to', 'argo']);
  new Workflow(wf).validate();
  assert.equal(wf.apiVersion, 'argoproj.io/v1alpha1');
  assert.equal(wf.metadata.generateName, 'churn-');
  assert.deepEqual(wf.spec.arguments.parameters, [{ name: 'depth', value: '6' }, { name: 'on', value: 'yes' }]);
  assert.equal(wf.spec.activeDeadlineSeconds, 86400);
  const byName = Object.fromEntries(wf.spec.templates.map((t) => [t.name, t]));
  const dag = byName[wf.spec.entrypoint].dag;
  const tasks = Object.fromEntries(dag.tasks.map((t) => [t.name, t]));
  assert.deepEqual(tasks['train-model'].dependencies, ['featurize', 'split']);
  assert.deepEqual(tasks.featurize.dependencies, ['prepare']);
  assert.equal(tasks.prepare.dependencies, undefined);
  // every task's dependencies come before it
  const seen = new Set();
  for (const t of dag.tasks) {
    for (const d of t.dependencies ?? []) assert.ok(seen.has(d), `${d} before ${t.name}`);
    seen.add(t.name);
  }
  const train = byName['train-model'];
  assert.equal(train.retryStrategy.limit, 2);
  assert.equal(train.retryStrategy.backoff.duration, '10s');
  assert.equal(train.activeDeadlineSeconds, 7200);
  assert.equal(train.container.resources.limits['nvidia.com/gpu'], '1');
  assert.deepEqual(train.nodeSelector, { pool: 'gpu' });
  assert.equal(train.tolerations[0].effect, 'NoSchedule');
  assert.deepEqual(train.container.volumeMounts.map((m) => m.mountPath), ['/workspace', '/ckpt']);
  assert.deepEqual(wf.spec.volumes.map((v) => v.persistentVolumeClaim.claimName), ['workspace', 'checkpoints']);
  assert.equal(byName.prepare.container.command[2], 'set -e\n' +
    'cairn data pull --remote s3store data/raw.csv\n' +
    'cairn pipeline run prepare --no-deps\n' +
    'cairn data push --remote s3store data/clean.csv\n');
  assert.equal(byName.featurize.container.command.at(-1), 'depth={{workflow.parameters.depth}}');
});

test('a DAG renders as one valid batch/v1 Job per step with depends-on annotations', async () => {
  const spec = path.join(dir, 'dag-jobs.json');
  await writeFile(spec, JSON.stringify(DAG));
  const jobs = render(['k8s', 'dag', spec, '--to', 'k8s']);
  assert.equal(jobs.length, 4);
  for (const j of jobs) new Job(j).validate();
  assert.deepEqual(jobs.map((j) => j.metadata.name)[0], 'churn-prepare');
  const byName = Object.fromEntries(jobs.map((j) => [j.metadata.name, j]));
  assert.equal(byName['churn-train-model'].metadata.annotations['cairn.dev/depends-on'],
    'churn-featurize,churn-split');
  assert.equal(byName['churn-train-model'].spec.backoffLimit, 2);
  assert.equal(byName['churn-split'].spec.activeDeadlineSeconds, 600);
  // plain Jobs have no parameters: the default is substituted
  assert.equal(byName['churn-featurize'].spec.template.spec.containers[0].command.at(-1), 'depth=6');
});

test('a DAG with a cycle is refused', async () => {
  const spec = path.join(dir, 'cycle.json');
  const bad = structuredClone(DAG);
  bad.steps[1].depends = ['train_model'];
  await writeFile(spec, JSON.stringify(bad));
  const r = cairn(['k8s', 'dag', spec]);
  assert.equal(r.code, 1);
  assert.match(r.err, /cycle/);
});

test('the validators reject what the schemas forbid (they are not no-ops)', () => {
  assert.throws(() => new Job({ metadata: { name: 'x' }, spec: { template: { spec: { containers: [{ name: 1 }] } } } }).validate());
  assert.throws(() => new Workflow({ metadata: { name: 'x' }, spec: { templates: [{ name: 'm', dag: { tasks: [{ name: 'a', dependencies: 'b' }] } }] } }).validate());
});

const PIPELINE = `stages:
  prepare:
    cmd: python prep.py
    deps: [prep.py, data/raw.csv]
    outs: [data/clean.csv]
    retries: 2
    timeout: 10m
  train:
    cmd: python train.py
    deps: [data/clean.csv]
    outs: [model]
    metrics: [metrics.json]
    image: ghcr.io/org/gpu:1
    resources: {cpu: "4", memory: 16Gi, gpu: 1}
    node_selector: {pool: gpu}
    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
`;

// `cairn k8s pipeline` is the same function as `cairn pipeline export`.
test('a cairn.yaml pipeline exports as a valid Argo Workflow and as valid Jobs', async () => {
  const p = path.join(dir, 'proj');
  await mkdir(path.join(p, 'data'), { recursive: true });
  await writeFile(path.join(p, 'cairn.yaml'), PIPELINE);
  await writeFile(path.join(p, 'prep.py'), 'print(1)\n');
  await writeFile(path.join(p, 'data/raw.csv'), 'a,b\n1,2\n');
  await writeFile(path.join(p, 'data/raw.csv.cairn'), 'hash: x\n'); // only its presence matters
  const file = path.join(p, 'cairn.yaml');
  const common = ['--file', file, '--name', 'churn', '--image', 'ghcr.io/org/cpu:1', '--remote', 's3store',
    '--secret', 's3-creds', '--pvc', 'ws:/workspace', '--workdir', '/workspace', '--param', 'seed=1'];
  const [wf] = render(['k8s', 'pipeline', '--to', 'argo', ...common]);
  new Workflow(wf).validate();
  const byName = Object.fromEntries(wf.spec.templates.map((t) => [t.name, t]));
  assert.deepEqual(byName[wf.spec.entrypoint].dag.tasks.map((t) => [t.name, t.dependencies]),
    [['prepare', undefined], ['train', ['prepare']]]);
  assert.equal(byName.prepare.retryStrategy.limit, 2);
  assert.equal(byName.prepare.activeDeadlineSeconds, 600);
  assert.equal(byName.prepare.container.image, 'ghcr.io/org/cpu:1');
  const script = byName.prepare.container.command[2];
  assert.match(script, /^cairn data pull --remote s3store data\/raw\.csv$/m); // data, not code (prep.py)
  assert.match(script, /^cairn pipeline run prepare --no-deps --file \S+ --set 'seed=\{\{workflow\.parameters\.seed\}\}'$/m);
  assert.match(script, /^cairn data push --remote s3store data\/clean\.csv$/m);
  assert.equal(byName.train.container.image, 'ghcr.io/org/gpu:1');
  assert.equal(byName.train.container.resources.limits['nvidia.com/gpu'], '1');
  assert.deepEqual(byName.train.nodeSelector, { pool: 'gpu' });
  assert.match(byName.train.container.command[2], /^cairn data push --remote s3store model metrics\.json$/m);

  const jobs = render(['k8s', 'pipeline', '--to', 'k8s', ...common]);
  for (const j of jobs) new Job(j).validate();
  assert.deepEqual(jobs.map((j) => j.metadata.name), ['churn-prepare', 'churn-train']);
  assert.equal(jobs[1].metadata.annotations['cairn.dev/depends-on'], 'churn-prepare');
  assert.match(jobs[0].spec.template.spec.containers[0].command[2], / --set seed=1\n/);
});
