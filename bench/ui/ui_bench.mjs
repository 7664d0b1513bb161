// ui_bench.mjs - time to interactive of the web UI's runs page at 10,000 runs.
//
//   node bench/ui/ui_bench.mjs [N]        (CAIRN=path/to/cairn, default build/cairn)
// Starts a real `cairn server`, fills one experiment with N runs (default
// 10000) through bench/populate.mjs, then opens #/runs?experiment=ID in
// chromium (/usr/bin/chromium, or $CAIRN_CHROMIUM) and measures from
// navigation start until the first table rows are rendered and the filter
// box takes focus. Five cold loads (fresh browser context each); prints the
// median and the target (< 1 s) and writes bench/out/ui.txt.

import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { startServer, mlflowApi, stopCleanly } from '../../tests/integration/lib/server.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(import.meta.url);
const { chromium } = require('../../tests/clients/node_modules/playwright-core');
const N = Number(process.argv[2] ?? 10000);
const TRIALS = 5;
const TARGET_MS = 1000;

const srv = await startServer();
let browser;
try {
  const api = mlflowApi(srv.url);
  const exp = (await api.post('experiments/create', { name: 'ui-bench' })).json.experiment_id;
  const pop = await promisify(execFile)(process.execPath, [path.join(here, '../populate.mjs'), srv.url, exp, String(N), '16']);
  process.stdout.write(pop.stdout);
  const count = await api.post('runs/search', { experiment_ids: [exp], max_results: 1, filter: `attributes.run_name = 'run-${N - 1}'` });
  if (count.status !== 200 || count.json.runs?.length !== 1) throw new Error(`populate did not finish: ${count.text}`);

  browser = await chromium.launch({ executablePath: process.env.CAIRN_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new'] });
  const times = [];
  let rows = 0;
  for (let t = 0; t < TRIALS; t++) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route('**/*', (r) => (new URL(r.request().url()).origin === srv.url ? r.continue() : r.abort()));
    await page.goto(`${srv.url}/#/runs?experiment=${exp}`, { waitUntil: 'commit' });
    // In the page: poll each animation frame until rows exist and the filter
    // box accepts focus; answer ms since navigation start (performance.now()).
    const r = await page.evaluate(() => new Promise((resolve) => {
      const check = () => {
        const n = document.querySelectorAll('#runs-table tbody tr').length;
        const f = document.getElementById('run-filter');
        if (n > 0 && f) {
          f.focus();
          if (document.activeElement === f) return resolve({ ms: performance.now(), n });
        }
        requestAnimationFrame(check);
      };
      check();
    }));
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    times.push(r.ms);
    rows = r.n;
    await ctx.close();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const line = `ui runs page, ${N} runs in the experiment, ${rows} rows rendered: time to interactive median ${median.toFixed(0)} ms ` +
    `(min ${sorted[0].toFixed(0)}, max ${sorted[sorted.length - 1].toFixed(0)}, ${TRIALS} cold loads) - target < ${TARGET_MS} ms: ` +
    `${median < TARGET_MS ? 'met' : 'NOT met'}`;
  console.log(line);
  await mkdir(path.join(here, '../out'), { recursive: true });
  await writeFile(path.join(here, '../out/ui.txt'), `${line}\n`);
} finally {
  if (browser) await browser.close();
  await stopCleanly(srv);
}
