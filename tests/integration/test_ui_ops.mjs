// test_ui_ops.mjs - the web UI's operations pages (models, deployments,
// monitoring, pipelines, data) in a real browser (playwright-core driving
// Debian's /usr/bin/chromium) against a real `cairn server`. The data is
// made with the real CLI and APIs: two versions of `bc` trained and
// registered with `cairn train --register`, a deployment with two targets
// and a shadow (`cairn deploy create`), inference traffic (the second half
// with one feature scaled so it drifts) under a monitoring policy with
// 50-row windows, and a pipeline trigger over a two-stage cairn.yaml.
//
// Every page must load without console errors or uncaught exceptions, and
// every request to another origin is aborted and recorded (there must be
// none). Actions done in the browser are checked through REST: promoting a
// version moves the alias, the shift button changes the weights, "Run now"
// starts a pipeline run that the page then shows with its stage graph.
// Screenshots go to $CAIRN_BUILD_DIR/ui-screenshots/<name>.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, httpCall, runCairn, waitFor, stopCleanly } from './lib/server.mjs';

const require = createRequire(import.meta.url);
const { chromium } = require('../clients/node_modules/playwright-core');

const SRC = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CSV = path.join(SRC, 'examples/breast_cancer/breast_cancer.csv');
const SHOTS = path.join(process.env.CAIRN_BUILD_DIR ?? path.join(SRC, 'build'), 'ui-screenshots');
const CHROMIUM = process.env.CAIRN_CHROMIUM ?? '/usr/bin/chromium';
const SHIFTED = 'mean radius';
const WINDOW = 50;

let srv;
let work;
let browser;
const external = [];

function cli(args, cwd = work) {
  return runCairn(args, { cwd, trackingUri: srv.url });
}

async function rest(method, p, body) {
  const r = await httpCall(srv.url, method, p, body === undefined ? {} : { body });
  assert.equal(r.status, 200, `${method} ${p}: ${r.status} ${r.text}`);
  return r.json;
}

/** Sends n rows of the CSV to deployment bcd, one request each, SHIFTED scaled by factor. */
async function traffic(n, factor) {
  const meta = await rest('GET', '/v2/models/bc/versions/1');
  const features = meta.parameters.features.map((f) => f.name);
  const text = (await readFile(CSV, 'utf8')).trim().split('\n');
  const header = text[0].split(',');
  const lines = text.slice(1);
  for (let i = 0; i < n; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => {
      const cells = lines[(i + k) % lines.length].split(',');
      const row = features.map((f) => Number(cells[header.indexOf(f)]) * (f === SHIFTED ? factor : 1));
      return rest('POST', '/v2/models/bcd/infer', {
        inputs: [{ name: 'input-0', shape: [1, features.length], datatype: 'FP64', data: [row] }],
      });
    }));
  }
}

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cairn-uiops-'));
  await mkdir(SHOTS, { recursive: true });
  const policy = path.join(work, 'policy.yaml');
  await writeFile(policy, `window: {rows: ${WINDOW}, seconds: 3600}
features:
  "${SHIFTED}": {statistic: psi, threshold: 0.25}
alerts:
  - name: radius-drift
    when: drift
    feature: "${SHIFTED}"
    above: 0.25
    for: 1
`);
  srv = await startServer({ args: ['--set', `serve.monitor_policy=${policy}`] });
  await cli(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'gbdt', '--experiment', 'ui-ops',
    '--register', 'bc', '--out', path.join(work, 'm1')]);
  await cli(['train', '--data', CSV, '--target', 'diagnosis', '--model', 'logistic', '--experiment', 'ui-ops',
    '--register', 'bc', '--out', path.join(work, 'm2')]);
  await cli(['deploy', 'create', 'bcd', '--target', 'models:/bc/1=70', '--target', 'models:/bc/2=30', '--shadow', 'bc@2']);
  await traffic(2 * WINDOW, 1);
  await traffic(2 * WINDOW, 1.8);
  await waitFor(async () => {
    const r = await rest('GET', '/api/2.0/cairn/monitor/drift/history?deployment=bcd');
    return (r.windows ?? []).length >= 2;
  }, { what: 'closed drift windows' });

  // a two-stage pipeline (count -> double) plus an independent stage
  const proj = path.join(work, 'proj');
  await mkdir(path.join(proj, 'data'), { recursive: true });
  await writeFile(path.join(proj, 'data/input.txt'), '1 2 3\n');
  await writeFile(path.join(proj, 'cairn.yaml'), `stages:
  count:
    cmd: wc -w data/input.txt > count.txt
    deps: [data/input.txt]
    outs: [count.txt]
  double:
    cmd: awk '{print $1*2}' count.txt > double.txt
    deps: [count.txt]
    outs: [double.txt]
  other:
    cmd: echo hi > other.txt
    outs: [other.txt]
`);
  await cli(['trigger', 'create', 'nightly', '--schedule', '0 3 * * *', '--watch', 'data'], proj);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await stopCleanly(srv);
  if (work) await rm(work, { recursive: true, force: true });
});

/** A fresh page that records console errors and blocks other origins. */
async function openPage(hash) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  const origin = new URL(srv.url).origin;
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (new URL(u).origin === origin || u.startsWith('data:')) return route.continue();
    external.push(u);
    return route.abort();
  });
  await page.goto(`${srv.url}/${hash}`);
  return { page, errors };
}

async function done(page, errors, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  assert.deepEqual(errors, [], `${name}: console errors`);
  assert.deepEqual(external, [], 'no request may leave the server origin');
  await page.close();
}

test('the models list and a model page load', async () => {
  const { page, errors } = await openPage('#/models');
  await page.waitForSelector('#models-table a[href="#/models/bc"]');
  await done(page, errors, 'ops-models');
});

test('promoting a version from the UI is gated and moves the alias', async () => {
  const { page, errors } = await openPage('#/models/bc');
  await page.waitForSelector('#versions-table tbody tr[data-version="2"]');
  const runLinks = await page.locator('#versions-table a[href^="#/run/"]').count();
  assert.equal(runLinks, 2, 'each version links to its source run');
  await page.fill('#promote-alias', 'production');
  await page.selectOption('#promote-version', '2');
  await page.fill('#promote-gate', 'auc >= 1.5');
  assert.equal(await page.isDisabled('#promote-button'), true, 'a failing gate disables the button');
  assert.match(await page.textContent('#promote-gate-result'), /BLOCKED/);
  await page.fill('#promote-gate', 'auc >= 0.5');
  assert.match(await page.textContent('#promote-gate-result'), /PASSES/);
  assert.equal(await page.isDisabled('#promote-button'), false);
  await page.click('#promote-button');
  await page.waitForFunction(() => /now points to v2/.test(document.querySelector('#promote-result')?.textContent ?? ''));
  const r = await rest('GET', '/api/2.0/mlflow/registered-models/alias?name=bc&alias=production');
  assert.equal(r.model_version.version, '2');
  assert.match(await page.textContent('#versions-table tr[data-version="2"] .aliases'), /production/);
  await done(page, errors, 'ops-model-bc');
});

test('the deployment page shows live charts and its shift button changes traffic', async () => {
  const { page: list, errors: listErrors } = await openPage('#/deployments');
  await list.waitForSelector('#deployments-table a[href="#/deployments/bcd"]');
  await done(list, listErrors, 'ops-deployments');

  const { page, errors } = await openPage('#/deployments/bcd');
  await page.waitForSelector('#dep-split svg');
  assert.match(await page.textContent('#dep-weights'), /bc v1: 70%.*bc v2: 30%/s);
  assert.match(await page.textContent('#dep-agreement'), /%/, 'shadow agreement is shown');
  assert.equal(await page.locator('#dep-stats-table tbody tr').count(), 2, 'per-version statistics');
  // live charts: two /metrics polls with traffic between them
  const sending = traffic(40, 1);
  await page.waitForFunction(() => /req\/s/.test(document.querySelector('#live-note')?.textContent ?? ''), null, { timeout: 15000 });
  await sending;
  await page.waitForSelector('#live-rate svg');
  await page.waitForSelector('#live-p99 svg');

  await page.selectOption('#shift-to', { label: 'bc v2' });
  await page.fill('#shift-step', '10');
  await page.fill('#shift-every', '1h');
  assert.equal((await page.textContent('#shift-button')).trim(), 'Shift 10% to version 2');
  await page.click('#shift-button');
  await page.click('#confirm-yes');
  await page.waitForFunction(() => /^Done/.test(document.querySelector('#action-result')?.textContent ?? ''));
  const d = (await rest('GET', '/api/2.0/cairn/deployments/get?name=bcd')).deployment;
  const w = Object.fromEntries(d.targets.map((t) => [t.version, t.weight]));
  assert.equal(w['2'], 40, `v2 goes from 30% to 40%: ${JSON.stringify(d.targets)}`);
  assert.equal(d.shift.state, 'running');
  await page.waitForSelector('#dep-shift-state');
  assert.match(await page.textContent('#dep-weights'), /bc v2: 40%/);

  await page.click('#rollback-button');
  await page.click('#confirm-yes');
  await page.waitForFunction(() => /^Done.*bc v2 30%/.test(document.querySelector('#action-result')?.textContent ?? ''));
  const back = (await rest('GET', '/api/2.0/cairn/deployments/get?name=bcd')).deployment;
  assert.deepEqual(back.targets.map((t) => t.weight), [70, 30], 'rollback restores the weights');
  await done(page, errors, 'ops-deployment-bcd');
});

test('the monitoring page draws the drift heatmap and lists the firing alert', async () => {
  const { page, errors } = await openPage('#/monitoring?deployment=bcd');
  await page.waitForSelector('.drift-heatmap svg');
  const cells = await page.locator('.drift-heatmap svg rect').count();
  assert.ok(cells >= 2 * 30, `a cell per column and window, got ${cells}`);
  assert.ok(await page.locator('.drift-heatmap svg rect.drifted').count() > 0, 'drifted cells are marked');
  await page.selectOption('.feature-select >> nth=0', SHIFTED);
  assert.match(await page.textContent('.feature-detail >> nth=0'), /psi/);
  // the reference and the latest window overlaid on the profile's bins
  assert.match(await page.textContent('.feature-detail >> nth=0 >> figcaption >> nth=0'), /quantile bins/);
  assert.ok(await page.locator('.feature-detail >> nth=0 >> svg >> nth=0 >> rect').count() > 2, 'overlay bars');
  await page.waitForSelector('#alerts-table tbody tr.firing');
  assert.match(await page.textContent('#alerts-table tbody tr:first-child'), /radius-drift/);
  await done(page, errors, 'ops-monitoring');
});

test('"Run now" on the pipelines page starts a run that the page shows with its stage graph', async () => {
  const { page, errors } = await openPage('#/pipelines');
  await page.waitForSelector('#triggers-table tr[data-trigger="nightly"]');
  assert.equal(await page.locator('#pipeline-runs-table').count(), 0, 'no runs before');
  await page.click('#triggers-table tr[data-trigger="nightly"] button.run-now');
  await page.waitForFunction(() => /Started nightly/.test(document.querySelector('#pipeline-result')?.textContent ?? ''));
  const runs = (await rest('GET', '/api/2.0/cairn/pipelines/runs/list?trigger=nightly')).runs;
  assert.equal(runs.length, 1);
  await page.waitForSelector(`#pipeline-runs-table tr[data-run="${runs[0].id}"]`);
  // the table refreshes on its own until the run has finished
  await page.waitForFunction((id) => /succeeded/.test(document.querySelector(`#pipeline-runs-table tr[data-run="${id}"]`)?.textContent ?? ''),
    runs[0].id, { timeout: 30000 });
  await page.waitForFunction(() => document.querySelectorAll('#dag-figure svg a').length === 3, null, { timeout: 15000 });
  const links = await page.locator('#dag-figure svg a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.ok(links.every((l) => l.startsWith('#/run/')), links.join(' '));
  const dagText = await page.textContent('#pipeline-dag');
  assert.doesNotMatch(dagText, /laid out in start order/, 'the count -> double edge is recovered from lineage tags');
  await done(page, errors, 'ops-pipelines');
});

test('the data page groups lineage hashes by path and compares two runs', async () => {
  const { page, errors } = await openPage('#/data');
  await page.waitForSelector('#data-paths');
  const paths = await page.locator('#data-paths tbody th').allTextContents();
  for (const p of ['count.txt', 'data/input.txt', 'double.txt', 'other.txt']) assert.ok(paths.includes(p), `${p} in ${paths}`);
  assert.ok(await page.locator('#data-diff td').count() > 0);
  await done(page, errors, 'ops-data');
});

test('pages are readable on a 390 px phone', async () => {
  const { page, errors } = await openPage('#/deployments/bcd');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForSelector('#dep-split svg');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal page overflow, got ${overflow}px`);
  await done(page, errors, 'ops-deployment-phone');
});
