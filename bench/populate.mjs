// populate.mjs - fills an experiment with N runs for the search benchmark.
//
//   node bench/populate.mjs URL EXPERIMENT_ID N [CONCURRENCY]
// Each run gets (runs/create, then runs/log-batch) a metric "acc" drawn at
// random in [0, 1) and a param "lr" from a small set. Prints runs/s.

const [url, exp, nArg, concArg] = process.argv.slice(2);
const n = Number(nArg);
const conc = Number(concArg ?? 16);
const LR = ['0.1', '0.03', '0.01', '0.003', '0.001'];

async function post(endpoint, body) {
  const r = await fetch(`${url}/api/2.0/mlflow/${endpoint}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${endpoint}: ${r.status} ${text}`);
  return JSON.parse(text);
}

let next = 0;
const t0 = Date.now();
async function worker() {
  for (;;) {
    const i = next++;
    if (i >= n) return;
    const { run } = await post('runs/create', { experiment_id: exp, start_time: t0 + i, run_name: `run-${i}` });
    await post('runs/log-batch', {
      run_id: run.info.run_id,
      metrics: [{ key: 'acc', value: Math.random(), timestamp: t0 + i, step: 0 }],
      params: [{ key: 'lr', value: LR[i % LR.length] }],
    });
  }
}
await Promise.all(Array.from({ length: conc }, worker));
const s = (Date.now() - t0) / 1000;
console.log(`populated ${n} runs in ${s.toFixed(1)} s (${Math.round(n / s)} runs/s, 2 requests each)`);
