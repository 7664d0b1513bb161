// test_ui.mjs - the web UI's runs, run and compare pages in a real browser
// (playwright-core driving Debian's /usr/bin/chromium) against a real
// `cairn server` holding data made through the MLflow REST API and one
// `cairn train` run.
//
// Each page is opened in a fresh browser page that records console errors
// and uncaught exceptions (a page fails on any), and every request to an
// origin other than the server's is aborted and recorded (the UI must need
// none). Screenshots go to $CAIRN_BUILD_DIR/ui-screenshots/<name>.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startServer, mlflowApi, runCairn, stopCleanly } from './lib/server.mjs';

const require = createRequire(import.meta.url);
const { chromium } = require('../clients/node_modules/playwright-core');

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CSV = path.join(SRC, 'examples/breast_cancer/breast_cancer.csv');
const SHOTS = path.join(process.env.CAIRN_BUILD_DIR ?? path.join(SRC, 'build'), 'ui-screenshots');
const CHROMIUM = process.env.CAIRN_CHROMIUM ?? '/usr/bin/chromium';

let srv;
let api;
let browser;
let work;
let expId;
let trainExpId;
const runIds = [];
let childId;
const external = [];

function ok(r) {
  assert.equal(r.status, 200, `expected 200, got ${r.status}: ${r.text}`);
  return r.json;
}

// A 1x1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

async function putArtifact(run, rel, body) {
  const base = run.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '');
  const r = await fetch(`${srv.url}/api/2.0/mlflow-artifacts/artifacts/${base}/${rel}`, { method: 'PUT', body });
  assert.equal(r.status, 200, `PUT ${rel}: ${r.status} ${await r.text()}`);
}

before(async () => {
  srv = await startServer();
  api = mlflowApi(srv.url);
  work = await mkdtemp(path.join(tmpdir(), 'cairn-ui-'));
  await mkdir(SHOTS, { recursive: true });
  expId = ok(await api.post('experiments/create', { name: 'ui-test' })).experiment_id;
  const t0 = Date.now() - 3600e3;
  const opts = ['adam', 'sgd'];
  for (let i = 0; i < 6; i++) {
    const { run } = ok(await api.post('runs/create', { experiment_id: expId, run_name: `run-${i}`, start_time: t0 + i * 1000,
      tags: [{ key: 'team', value: i % 2 ? 'blue' : 'red' }] }));
    runIds.push(run.info.run_id);
    const metrics = [];
    for (let s = 0; s < 5; s++) {
      metrics.push({ key: 'acc', value: 0.5 + ((i * 7) % 6) / 12 + s * 0.01, timestamp: t0 + s, step: s });
      metrics.push({ key: 'loss', value: 1 / (s + 1 + i), timestamp: t0 + s, step: s });
    }
    ok(await api.post('runs/log-batch', { run_id: run.info.run_id, metrics,
      params: [{ key: 'lr', value: String(0.1 / (i + 1)) }, { key: 'depth', value: String(3 + (i % 3)) },
        { key: 'optimizer', value: opts[i % 2] }, { key: 'seed', value: String(100 + i) }] }));
    if (i === 0) {
      await putArtifact(run, 'report/metrics.json', JSON.stringify({ accuracy: 0.93, classes: ['a', 'b'] }));
      await putArtifact(run, 'data/sample.csv', 'x,y,label\n1,2,a\n3,4,"b,c"\n');
      await putArtifact(run, 'notes.txt', 'plain notes\n');
      await putArtifact(run, 'plot.png', PNG);
    }
    ok(await api.post('runs/update', { run_id: run.info.run_id, status: 'FINISHED', end_time: t0 + i * 1000 + 500 + i * 250 }));
  }
  // A child run pointing at run-0 as its pipeline run, with lineage tags.
  const { run: child } = ok(await api.post('runs/create', { experiment_id: expId, run_name: 'stage-train', start_time: t0 + 9000,
    tags: [{ key: 'mlflow.parentRunId', value: runIds[0] }, { key: 'cairn.stage', value: 'train' },
      { key: 'cairn.cache_key', value: 'a'.repeat(64) },
      { key: 'cairn.deps', value: JSON.stringify({ 'data/train.csv': 'b'.repeat(64) }) },
      { key: 'cairn.outs', value: JSON.stringify({ 'model/': 'c'.repeat(64) }) }] }));
  childId = child.info.run_id;
  await runCairn(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'logistic', '--experiment', 'ui-train',
    '--out', path.join(work, 'model')], { cwd: work, trackingUri: srv.url });
  trainExpId = ok(await api.get('experiments/get-by-name', { experiment_name: 'ui-train' })).experiment.experiment_id;

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await stopCleanly(srv);
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * Opens `hash` in a fresh page (viewport width `width`). Answers {page,
 * errors}; errors collects console errors and page exceptions. Requests to
 * any other origin are aborted and recorded in `external`.
 */
async function open(hash, { width = 1280 } = {}) {
  const ctx = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.origin === srv.url || u.protocol === 'data:') return route.continue();
    external.push(u.href);
    return route.abort();
  });
  await page.goto(`${srv.url}/${hash}`);
  return { page, errors, close: () => ctx.close() };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const rowNames = (page) => page.$$eval('#runs-table tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));

test('the shell serves the UI and the default route is the runs page', async () => {
  const { page, errors, close } = await open('');
  await page.waitForSelector('#runs-table tbody tr');
  assert.match(page.url(), /#\/runs/);
  const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.getAttribute('href')));
  assert.deepEqual(nav, ['#/runs', '#/models', '#/deployments', '#/monitoring', '#/pipelines', '#/data']);
  assert.deepEqual(errors, []);
  await close();
});

test('runs table: lists runs, sorts server-side, filters, reports a bad filter inline', async () => {
  const { page, errors, close } = await open(`#/runs?experiment=${expId}`);
  await page.waitForSelector('#runs-table tbody tr');
  assert.equal((await rowNames(page)).length, 7);
  await shot(page, 'runs');

  // Sort by metric acc: ascending, then descending; orders differ and are monotonic.
  const accCol = async () => {
    const idx = await page.$$eval('#runs-table thead th', (ths) => ths.findIndex((t) => t.dataset.order === 'metrics.acc'));
    return page.$$eval(`#runs-table tbody tr td:nth-child(${idx + 1})`, (tds) => tds.map((t) => t.textContent));
  };
  await page.click('th[data-order="metrics.acc"]');
  await page.waitForSelector('th[data-order="metrics.acc"][aria-sort="ascending"]');
  const asc = await rowNames(page);
  const ascVals = (await accCol()).filter((v) => v !== '').map(Number);
  assert.deepEqual(ascVals, [...ascVals].sort((a, b) => a - b), `ascending by acc: ${ascVals}`);
  await page.click('th[data-order="metrics.acc"]');
  await page.waitForSelector('th[data-order="metrics.acc"][aria-sort="descending"]');
  const desc = await rowNames(page);
  const descVals = (await accCol()).filter((v) => v !== '').map(Number);
  assert.deepEqual(descVals, [...descVals].sort((a, b) => b - a), `descending by acc: ${descVals}`);
  assert.notDeepEqual(asc, desc, 'the order changes');
  assert.match(page.url(), /order=metrics\.acc/);

  // Filter: fewer rows, all satisfying it.
  await page.fill('#run-filter', "params.optimizer = 'adam'");
  await page.press('#run-filter', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#runs-table tbody tr').length === 3);
  assert.deepEqual((await rowNames(page)).sort(), ['run-0', 'run-2', 'run-4']);

  await page.fill('#run-filter', 'metrics.acc > 0.8');
  await page.press('#run-filter', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#runs-table tbody tr').length < 7 &&
    document.querySelectorAll('#runs-table tbody tr').length > 0 && !document.querySelector('#runs-table[aria-busy]'));
  assert.deepEqual(errors, []);

  // A bad filter: the server's message inline, no page error (the 400 itself
  // is logged by Chromium as a failed resource load, which is expected here).
  await page.fill('#run-filter', 'metrics.acc >');
  await page.press('#run-filter', 'Enter');
  await page.waitForFunction(() => document.querySelector('#filter-error').textContent.length > 0);
  const msg = await page.textContent('#filter-error');
  assert.match(msg, /missing value after '>'/);
  assert.equal(await page.getAttribute('#run-filter', 'aria-invalid'), 'true');
  assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), []);
  await shot(page, 'runs-bad-filter');
  await close();
});

test('column chooser adds a column and remembers it', async () => {
  const { page, errors, close } = await open(`#/runs?experiment=${expId}`);
  await page.waitForSelector('#runs-table tbody tr');
  assert.equal(await page.$('th[data-order="params.seed"]'), null, 'seed is not shown by default');
  await page.click('#column-chooser summary');
  await page.check('input[data-kind="params"][data-key="seed"]');
  await page.waitForSelector('th[data-order="params.seed"]');
  const seeds = await page.$$eval('#runs-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert.ok(seeds.some((t) => t.includes('105')), 'seed values appear');
  await page.reload();
  await page.waitForSelector('th[data-order="params.seed"]');
  assert.deepEqual(errors, []);
  await close();
});

test('keyboard: Tab reaches the filter box and a sort header, Enter sorts', async () => {
  const { page, errors, close } = await open(`#/runs?experiment=${expId}`);
  await page.waitForSelector('#runs-table tbody tr');
  let reachedFilter = false;
  let header = null;
  for (let i = 0; i < 60 && !header; i++) {
    await page.keyboard.press('Tab');
    const a = await page.evaluate(() => ({ id: document.activeElement.id, order: document.activeElement.dataset?.order ?? null }));
    if (a.id === 'run-filter') reachedFilter = true;
    if (a.order) header = a.order;
  }
  assert.ok(reachedFilter, 'Tab reaches the filter box');
  assert.ok(header, 'Tab reaches a sort header');
  const before = await page.getAttribute(`th[data-order="${header}"]`, 'aria-sort');
  await page.keyboard.press('Enter');
  await page.waitForFunction((o) => {
    const th = document.querySelector(`th[data-order="${o}"]`);
    return th && th.getAttribute('aria-sort') === 'ascending';
  }, header);
  assert.notEqual(before, 'ascending');
  assert.deepEqual(errors, []);
  await close();
});

test('run page: info, charts, lineage, artifacts with JSON, CSV, image previews', async () => {
  const { page, errors, close } = await open(`#/run/${runIds[0]}`);
  await page.waitForSelector('#metric-charts svg path');
  assert.equal(await page.$$eval('#metric-charts figure', (f) => f.length), 2);
  await page.waitForSelector('#artifact-tree button[data-path="report"]');
  await page.click('#artifact-tree button[data-path="report"]');
  await page.click('#artifact-tree button[data-path="report/metrics.json"]');
  await page.waitForSelector('#artifact-preview pre.json');
  const json = await page.textContent('#artifact-preview pre.json');
  assert.match(json, /\n {2}"accuracy": 0\.93,\n/, `pretty JSON: ${json}`);
  await shot(page, 'run-json');
  await page.click('#artifact-tree button[data-path="data"]');
  await page.click('#artifact-tree button[data-path="data/sample.csv"]');
  await page.waitForSelector('#artifact-preview table.csv');
  const cells = await page.$$eval('#artifact-preview table.csv tbody td', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(cells, ['1', '2', 'a', '3', '4', 'b,c']);
  await page.click('#artifact-tree button[data-path="plot.png"]');
  await page.waitForFunction(() => { const i = document.querySelector('#artifact-preview img'); return i && i.complete && i.naturalWidth === 1; });
  assert.deepEqual(errors, []);
  await close();

  const c = await open(`#/run/${childId}`);
  await c.page.waitForSelector('#lineage');
  const lin = await c.page.textContent('#lineage');
  assert.match(lin, /train/);
  assert.match(lin, /data\/train\.csv/);
  assert.match(lin, new RegExp('b'.repeat(64)));
  assert.equal(await c.page.getAttribute('#parent-link', 'href'), `#/run/${runIds[0]}`);
  await shot(c.page, 'run-lineage');
  assert.deepEqual(c.errors, []);
  await c.close();
});

test('run page of a `cairn train` run lists its model artifacts', async () => {
  const r = ok(await api.post('runs/search', { experiment_ids: [trainExpId] }));
  assert.equal(r.runs.length, 1);
  const { page, errors, close } = await open(`#/run/${r.runs[0].info.run_id}`);
  await page.waitForSelector('#metric-charts svg');
  await page.waitForSelector('#artifact-tree button[data-path="model"]');
  await page.click('#artifact-tree button[data-path="model"]');
  await page.waitForSelector('#artifact-tree button[data-path="model/MLmodel"]');
  await page.click('#artifact-tree button[data-path="model/MLmodel"]');
  await page.waitForFunction(() => /artifact_path|flavors/.test(document.querySelector('#artifact-preview pre')?.textContent ?? ''));
  await shot(page, 'run-train');
  assert.deepEqual(errors, []);
  await close();
});

test('compare: overlaid charts, difference table, parallel coordinates; reached from the runs page', async () => {
  const { page, errors, close } = await open(`#/runs?experiment=${expId}`);
  await page.waitForSelector('#runs-table tbody tr');
  for (const id of runIds.slice(0, 3)) await page.check(`tr[data-run-id="${id}"] input[type=checkbox]`);
  await page.click('#compare-btn');
  await page.waitForSelector('#compare-charts svg');
  assert.ok(page.url().endsWith(`#/compare?runs=${runIds.slice(0, 3).join(',')}`), page.url());
  const paths = await page.$$eval('#compare-charts figure[data-metric="acc"] svg path', (p) => p.length);
  assert.equal(paths, 3, 'one series per run');
  const diffRows = await page.$$eval('#diff-table tbody tr.diff th', (t) => t.map((x) => x.textContent));
  assert.ok(diffRows.some((t) => t.startsWith('param lr')), `lr differs: ${diffRows}`);
  assert.ok(await page.$$eval('#parallel svg path', (p) => p.length) >= 3);
  await page.check('#only-diff');
  assert.equal(await page.$$eval('#diff-table tbody tr:not([hidden])', (t) => t.every((r) => r.classList.contains('diff'))), true);
  await shot(page, 'compare');
  assert.deepEqual(errors, []);
  await close();
});

test('paging: 100 runs a page through page_token, Next and Previous', async () => {
  const exp = ok(await api.post('experiments/create', { name: 'ui-paging' })).experiment_id;
  const pop = path.join(SRC, 'bench/populate.mjs');
  await promisify(execFile)(process.execPath, [pop, srv.url, exp, '205', '8']);
  const { page, errors, close } = await open(`#/runs?experiment=${exp}`);
  await page.waitForSelector('#runs-table tbody tr');
  const first = await rowNames(page);
  assert.equal(first.length, 100);
  await page.click('#next-page');
  await page.waitForFunction(() => /Runs 101–200/.test(document.querySelector('#runs-count').textContent));
  const second = await rowNames(page);
  assert.equal(second.length, 100);
  assert.equal(second.filter((n) => first.includes(n)).length, 0, 'pages do not overlap');
  await page.click('#next-page');
  await page.waitForFunction(() => document.querySelectorAll('#runs-table tbody tr').length === 5);
  assert.equal(await page.isDisabled('#next-page'), true);
  await page.click('#prev-page');
  await page.waitForFunction(() => /Runs 101–200/.test(document.querySelector('#runs-count').textContent));
  assert.deepEqual(await rowNames(page), second);
  assert.deepEqual(errors, []);
  await close();
});

test('phone width: pages render without errors', async () => {
  for (const [name, hash] of [['runs-phone', `#/runs?experiment=${expId}`], ['run-phone', `#/run/${runIds[0]}`],
    ['compare-phone', `#/compare?runs=${runIds.slice(0, 2).join(',')}`]]) {
    const { page, errors, close } = await open(hash, { width: 390 });
    await page.waitForSelector('main .page > *');
    await page.waitForLoadState('networkidle');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `${name}: the page does not scroll sideways (${overflow} px)`);
    await shot(page, name);
    assert.deepEqual(errors, [], name);
    await close();
  }
});

test('no request left the server origin', () => {
  assert.deepEqual(external, []);
});
