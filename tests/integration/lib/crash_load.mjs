// crash_load.mjs - write load and verification for the kill -9 tests.
//
//   node crash_load.mjs load URL RUN_ID ACKLOG [WRITERS] [MAX_SECONDS]
//       WRITERS concurrent writers (default 8) each send runs/log-batch
//       requests of 100 metrics: keys w<W>k0..w<W>k9, 10 steps each
//       (batch B of writer W carries steps B*10 .. B*10+9), value a function
//       of (W, key, step). Each request is logged to ACKLOG before it is sent
//       ("sent W B") and again once answered 200 ("ack W B"); other answers
//       are logged as "fail W B STATUS". A writer stops at the first transport
//       error (the server died) or after MAX_SECONDS (default 30).
//   node crash_load.mjs verify URL RUN_ID ACKLOG
//       Reads every metric history of the run and checks that each acked
//       batch is present in full with the right values, and that each batch
//       sent but not acked is either fully present or fully absent (a
//       log-batch is one transaction). Prints counts; exits 1 on any loss.

import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const KEYS = 10;
const STEPS = 10;

const value = (w, k, step) => w * 1000 + k + step / 8;

function batchBody(runId, w, b) {
  const metrics = [];
  const ts = 1700000000000 + b;
  for (let k = 0; k < KEYS; k++) {
    for (let s = 0; s < STEPS; s++) {
      const step = b * STEPS + s;
      metrics.push({ key: `w${w}k${k}`, value: value(w, k, step), timestamp: ts, step });
    }
  }
  return JSON.stringify({ run_id: runId, metrics });
}

async function load(url, runId, ackLog, writers, maxSeconds) {
  writeFileSync(ackLog, '');
  const deadline = Date.now() + maxSeconds * 1000;
  const counts = { sent: 0, acked: 0, failed: 0, transport: 0 };
  const writer = async (w) => {
    for (let b = 0; Date.now() < deadline; b++) {
      const body = batchBody(runId, w, b);
      appendFileSync(ackLog, `sent ${w} ${b}\n`);
      counts.sent++;
      let r;
      try {
        r = await fetch(`${url}/api/2.0/mlflow/runs/log-batch`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
        });
        await r.text();
      } catch {
        counts.transport++;
        return; // the server is gone
      }
      if (r.status === 200) {
        appendFileSync(ackLog, `ack ${w} ${b}\n`);
        counts.acked++;
      } else {
        appendFileSync(ackLog, `fail ${w} ${b} ${r.status}\n`);
        counts.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  console.log(`load: writers=${writers} sent=${counts.sent} acked=${counts.acked} non200=${counts.failed} transport_errors=${counts.transport}`);
}

async function history(url, runId, key) {
  const points = [];
  let token;
  for (;;) {
    const q = new URLSearchParams({ run_id: runId, metric_key: key, max_results: '25000' });
    if (token) q.set('page_token', token);
    const r = await fetch(`${url}/api/2.0/mlflow/metrics/get-history?${q}`);
    const text = await r.text();
    if (r.status !== 200) throw new Error(`get-history ${key}: ${r.status} ${text}`);
    const j = JSON.parse(text);
    points.push(...(j.metrics ?? []));
    if (!j.next_page_token) return points;
    token = j.next_page_token;
  }
}

async function verify(url, runId, ackLog) {
  const sent = new Set();
  const acked = new Set();
  let non200 = 0;
  for (const line of readFileSync(ackLog, 'utf8').split('\n')) {
    const [kind, w, b] = line.split(' ');
    if (kind === 'sent') sent.add(`${w} ${b}`);
    else if (kind === 'ack') acked.add(`${w} ${b}`);
    else if (kind === 'fail') non200++;
  }
  const writers = new Set([...sent].map((x) => Number(x.split(' ')[0])));
  // present.get("w b") = number of that batch's points found with the right value
  const present = new Map();
  let wrongValue = 0;
  let totalPoints = 0;
  for (const w of writers) {
    for (let k = 0; k < KEYS; k++) {
      const key = `w${w}k${k}`;
      const pts = await history(url, runId, key);
      totalPoints += pts.length;
      const seen = new Set();
      for (const p of pts) {
        if (seen.has(p.step)) continue; // a duplicate would be a retried batch; none are retried here
        seen.add(p.step);
        if (p.value !== value(w, k, p.step)) {
          wrongValue++;
          continue;
        }
        const id = `${w} ${Math.floor(p.step / STEPS)}`;
        present.set(id, (present.get(id) ?? 0) + 1);
      }
    }
  }
  const full = KEYS * STEPS;
  let lostBatches = 0;
  let lostPoints = 0;
  for (const id of acked) {
    const n = present.get(id) ?? 0;
    if (n !== full) {
      lostBatches++;
      lostPoints += full - n;
      if (lostBatches <= 10) console.log(`LOST: acked batch (writer batch) ${id}: ${n}/${full} points present`);
    }
  }
  let partial = 0;
  let unackedKept = 0;
  for (const id of sent) {
    if (acked.has(id)) continue;
    const n = present.get(id) ?? 0;
    if (n === full) unackedKept++;
    else if (n !== 0) {
      partial++;
      console.log(`PARTIAL: unacknowledged batch ${id}: ${n}/${full} points present`);
    }
  }
  let strays = 0;
  for (const id of present.keys()) if (!sent.has(id)) strays++;
  console.log(
    `verify: sent=${sent.size} acked=${acked.size} acked_points=${acked.size * full} non200=${non200} ` +
      `points_in_store=${totalPoints} lost_batches=${lostBatches} lost_points=${lostPoints} ` +
      `unacked_kept=${unackedKept} partial=${partial} wrong_values=${wrongValue} strays=${strays}`,
  );
  if (acked.size === 0) {
    console.log('FAIL: no request was acknowledged before the kill');
    process.exit(1);
  }
  if (lostBatches || partial || wrongValue || strays) process.exit(1);
}

const [mode, url, runId, ackLog, a4, a5] = process.argv.slice(2);
if (mode === 'load') await load(url, runId, ackLog, Number(a4 ?? 8), Number(a5 ?? 30));
else if (mode === 'verify') await verify(url, runId, ackLog);
else {
  console.error('usage: crash_load.mjs load|verify URL RUN_ID ACKLOG [WRITERS] [MAX_SECONDS]');
  process.exit(2);
}
