// test_monitor_alerts.mjs - alerts of the monitoring policy on a real cairn
// server started with serve.monitor_policy: signals pushed over the
// documented POST /api/2.0/cairn/monitor/signals endpoint (the integration
// point for external monitors, the same entry the inline drift code calls)
// drive a drift rule that fires after `for: 2` windows and resolves when
// the signal clears; its webhook receiver (a node http server on
// 127.0.0.1) fails the first attempt and gets the retry; its retraining
// command runs once under debounce even when the alert fires again, inside
// a tracked run that carries the alert's tags; an error-rate rule whose
// webhook is unreachable leaves a dead letter visible over REST and the
// CLI. A policy with an error keeps the server from starting and names the
// line.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cairnBinary, httpCall, mlflowApi, runCairn, startServer, stopCleanly, waitFor } from './lib/server.mjs';

const API = '/api/2.0/cairn/monitor';
let srv;
let work;
let hook;
let hookPort;
const attempts = []; // every POST the receiver saw: {n, body}
let flakyCount = 0;

function call(method, p, body) {
  return httpCall(srv.url, method, p, { body });
}

async function signal(kind, name, value, windowEnd) {
  const r = await call('POST', `${API}/signals`, { deployment: 'fraud', kind, name, value, window_end_ms: windowEnd });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 1);
}

async function alerts(query = '') {
  const r = await call('GET', `${API}/alerts/list?deployment=fraud${query}`);
  assert.equal(r.status, 200, r.text);
  return r.json.alerts;
}

async function linesOf(file) {
  const t = await readFile(file, 'utf8').catch(() => '');
  return t.split('\n').filter(Boolean);
}

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cairn-alerts-'));
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.url === '/flaky') {
        flakyCount++;
        attempts.push({ n: flakyCount, body: JSON.parse(body) });
        // every odd attempt fails: each delivery succeeds on its retry
        res.writeHead(flakyCount % 2 === 1 ? 500 : 200);
      } else {
        res.writeHead(404);
      }
      res.end();
    });
  });
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));
  hookPort = hook.address().port;

  const script = path.join(work, 'retrain.sh');
  await writeFile(script,
    '#!/bin/sh\n' +
    'echo "$CAIRN_ALERT_ID $CAIRN_ALERT_RULE $CAIRN_DEPLOYMENT $MLFLOW_RUN_ID $MLFLOW_TRACKING_URI" >> "$1"\n' +
    'echo "retrained for $CAIRN_ALERT_RULE"\n');
  const policy = path.join(work, 'policy.yaml');
  await writeFile(policy, `# monitoring policy for the alerts test
window: {rows: 100, seconds: 60}
webhooks:
  flaky: {url: "http://127.0.0.1:${hookPort}/flaky", retries: 2, timeout: 2s}
  nowhere: {url: "http://127.0.0.1:9/hook", retries: 1, timeout: 500ms}
alerts:
  - name: age-drift
    when: drift
    feature: age
    above: 0.2
    for: 2
    webhook: flaky
    retrain:
      command: [sh, ${JSON.stringify(script)}, ${JSON.stringify(path.join(work, 'retrained.txt'))}]
      debounce: 1h
      max_per_day: 3
  - name: errors
    when: error_rate
    above: 0.1
    webhook: nowhere
`);
  srv = await startServer({ args: ['--set', `serve.monitor_policy=${policy}`] });
});

after(async () => {
  if (srv) await stopCleanly(srv);
  if (hook) await new Promise((r) => hook.close(r));
  if (work) await rm(work, { recursive: true, force: true });
});

test('a drift rule fires after `for` windows, retries its webhook, retrains once, resolves', async () => {
  const t0 = Date.now();
  await signal('drift', 'age', 0.5, t0);
  await signal('drift', 'income', 0.9, t0); // another feature: no rule watches it
  assert.equal((await alerts()).length, 0, 'one window above is not enough for `for: 2`');

  await signal('drift', 'age', 0.6, t0 + 1000);
  const firing = await waitFor(async () => {
    const a = await alerts('&state=firing');
    return a.length === 1 ? a[0] : null;
  }, { what: 'the firing alert' });
  assert.equal(firing.rule, 'age-drift');
  assert.equal(firing.subject, 'age');
  assert.equal(firing.kind, 'drift');
  assert.equal(firing.condition, 'above');
  assert.equal(firing.threshold, 0.2);
  assert.equal(firing.started, t0 + 1000);
  assert.match(firing.reason, /above 0\.2 for 2 consecutive windows/);

  // webhook: the first attempt fails (500), the retry delivers
  await waitFor(() => attempts.length >= 2, { what: 'the webhook retry' });
  assert.equal(attempts[0].body.alert_id, firing.id);
  assert.equal(attempts[1].body.alert_id, firing.id);
  assert.equal(attempts[1].body.state, 'firing');
  assert.equal(attempts[1].body.rule, 'age-drift');
  assert.equal(attempts[1].body.deployment, 'fraud');
  assert.equal(attempts[1].body.value, 0.6);
  assert.match(attempts[1].body.message, /FIRING/);

  // retraining: the command ran once, inside a tracked run linked to the alert
  const out = path.join(work, 'retrained.txt');
  await waitFor(async () => (await linesOf(out)).length === 1, { what: 'the retraining command' });
  const [alertId, rule, dep, runId, uri] = (await linesOf(out))[0].split(' ');
  assert.equal(alertId, firing.id);
  assert.equal(rule, 'age-drift');
  assert.equal(dep, 'fraud');
  assert.equal(uri, srv.url);
  const got = await waitFor(async () => {
    const g = await call('GET', `${API}/alerts/get?id=${firing.id}`);
    const r = g.json?.alert?.runs?.[0];
    return r && r.status === 'finished' ? g.json.alert : null;
  }, { what: 'the finished run record' });
  assert.equal(got.runs.length, 1);
  assert.equal(got.runs[0].run_id, runId);
  assert.equal(got.runs[0].exit_code, 0);
  assert.equal(got.deliveries.length, 1);
  assert.equal(got.deliveries[0].state, 'delivered');
  assert.equal(got.deliveries[0].attempts, 2);

  const ml = mlflowApi(srv.url);
  const run = await ml.get('runs/get', { run_id: runId });
  assert.equal(run.status, 200, run.text);
  assert.equal(run.json.run.info.status, 'FINISHED');
  const tags = Object.fromEntries(run.json.run.data.tags.map((t) => [t.key, t.value]));
  assert.equal(tags['cairn.alert.id'], firing.id);
  assert.equal(tags['cairn.alert.rule'], 'age-drift');
  assert.equal(tags['cairn.deployment'], 'fraud');
  assert.equal(tags['cairn.retrain.exit_code'], '0');
  assert.match(tags['cairn.retrain.output'], /retrained for age-drift/);
  const exp = await ml.get('experiments/get-by-name', { experiment_name: 'retraining' });
  assert.equal(run.json.run.info.experiment_id, exp.json.experiment.experiment_id);

  // an old window again is ignored; the signal clearing resolves the alert
  await signal('drift', 'age', 0.0, t0 + 1000);
  assert.equal((await alerts('&state=firing')).length, 1);
  await signal('drift', 'age', 0.1, t0 + 2000);
  const resolved = await waitFor(async () => {
    const a = await alerts('&state=resolved');
    return a.length === 1 ? a[0] : null;
  }, { what: 'the resolved alert' });
  assert.equal(resolved.id, firing.id);
  assert.equal(resolved.resolved, t0 + 2000);
  assert.equal(resolved.value, 0.1);
  await waitFor(() => attempts.some((a) => a.body.state === 'resolved' && a.n % 2 === 0), { what: 'the resolved webhook' });

  // firing again within the debounce: a new alert, no second command run
  await signal('drift', 'age', 0.7, t0 + 3000);
  await signal('drift', 'age', 0.8, t0 + 4000);
  const again = await waitFor(async () => {
    const a = await alerts('&state=firing');
    return a.length === 1 ? a[0] : null;
  }, { what: 'the second firing alert' });
  assert.notEqual(again.id, firing.id);
  const skipped = await waitFor(async () => {
    const g = await call('GET', `${API}/alerts/get?id=${again.id}`);
    const r = g.json?.alert?.runs?.[0];
    return r ? r : null;
  }, { what: 'the debounce decision' });
  assert.equal(skipped.status, 'skipped');
  assert.match(skipped.reason, /debounce/);
  assert.equal(skipped.run_id, null);
  assert.equal((await linesOf(out)).length, 1, 'the command ran once');
  await signal('drift', 'age', 0.0, t0 + 5000);
  await waitFor(async () => (await alerts('&state=firing')).length === 0, { what: 'the second resolution' });
});

test('an unreachable webhook leaves a dead letter (REST and CLI)', async () => {
  await signal('error_rate', null, 0.5, Date.now());
  const dead = await waitFor(async () => {
    const r = await call('GET', `${API}/alerts/deliveries?state=dead`);
    return r.json?.deliveries?.length ? r.json.deliveries[0] : null;
  }, { what: 'the dead letter' });
  assert.equal(dead.url, 'http://127.0.0.1:9/hook');
  assert.equal(dead.webhook, 'nowhere');
  assert.equal(dead.attempts, 2, 'one try plus one retry');
  assert.equal(dead.event, 'firing');
  assert.ok(dead.last_error.length > 0);

  const cli = await runCairn(['monitor', 'alerts', '--deliveries'], { cwd: work, trackingUri: srv.url });
  assert.match(cli.stdout, /ALERT\s+EVENT\s+URL/);
  assert.match(cli.stdout, /http:\/\/127\.0\.0\.1:9\/hook\s+dead\s+2/);
  const table = await runCairn(['monitor', 'alerts', '--deployment', 'fraud', '--state', 'firing'], { cwd: work, trackingUri: srv.url });
  assert.match(table.stdout, /errors\s+fraud\s+-\s+firing\s+0\.5 > 0\.1/);
  const js = await runCairn(['monitor', 'alerts', '--json'], { cwd: work, trackingUri: srv.url });
  const all = JSON.parse(js.stdout).alerts;
  assert.equal(all.length, 3);

  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, /cairn_alerts_firing\{deployment="fraud",rule="errors",subject=""\} 1/);
  assert.match(metrics, /cairn_alert_webhook_deliveries_total\{outcome="dead"\} 1/);
  assert.match(metrics, /cairn_alert_retrain_runs_total\{outcome="started"\} 1/);
  assert.match(metrics, /cairn_alert_retrain_runs_total\{outcome="skipped"\} 1/);
});

test('bad signals and queries are 400 with MLflow-shaped errors', async () => {
  for (const body of [{ kind: 'drift', name: 'age', value: 1 }, { deployment: 'fraud', kind: 'nope', value: 1 },
    { deployment: 'fraud', kind: 'drift', value: 1 }, { deployment: 'fraud', kind: 'error_rate', value: 'x' },
    { signals: 3 }]) {
    const r = await call('POST', `${API}/signals`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error_code, 'INVALID_PARAMETER_VALUE');
  }
  const bad = await call('GET', `${API}/alerts/list?state=burning`);
  assert.equal(bad.status, 400);
  const missing = await call('GET', `${API}/alerts/get?id=0123`);
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error_code, 'RESOURCE_DOES_NOT_EXIST');
});

test('a policy with an error keeps the server from starting and names the line', async () => {
  const bad = path.join(work, 'bad.yaml');
  await writeFile(bad, 'alerts:\n  - name: x\n    when: drift\n    thresold: 3\n');
  const home = await mkdtemp(path.join(tmpdir(), 'cairn-alerts-bad-'));
  try {
    await promisify(execFile)(cairnBinary(), ['server', '--home', home, '--port', '0', '--set', `serve.monitor_policy=${bad}`]);
    assert.fail('the server started with a bad policy');
  } catch (e) {
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, /bad\.yaml:4: unknown key 'thresold' in an alert rule/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
