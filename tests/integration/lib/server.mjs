// server.mjs - starts a real `cairn server` for integration tests.
//
// Each server gets a fresh temporary home (mkdtemp), listens on 127.0.0.1
// with --port 0 and writes its port to a --port-file; readiness is the port
// file appearing and GET /health answering, both polled against a deadline.
// stop() sends SIGTERM, waits for the exit and removes the temp dir.
//
//   import { startServer } from './lib/server.mjs';
//   const srv = await startServer();            // SQLite in a temp home
//   const srv = await startServer({ store: process.env.CAIRN_TEST_PG_URL });
//   srv.url  -> 'http://127.0.0.1:PORT'
//   await srv.stop();

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

/** Path of the cairn binary: $CAIRN, else build/cairn under the source tree. */
export function cairnBinary() {
  if (process.env.CAIRN) return process.env.CAIRN;
  const src = process.env.CAIRN_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
  return path.join(src, 'build', 'cairn');
}

/** Polls fn() until it returns a truthy value or deadlineMs passes. */
export async function waitFor(fn, { deadlineMs = 15000, intervalMs = 20, what = 'condition' } = {}) {
  const end = Date.now() + deadlineMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${lastErr ? `: ${lastErr.message}` : ''}`);
    }
    await delay(intervalMs);
  }
}

/**
 * Starts `cairn server`. Options:
 *   store   - a postgresql:// URI (default: SQLite in the temp home)
 *   home    - reuse this home directory instead of a fresh one (not removed by stop)
 *   threads - --threads N
 *   args    - extra command-line arguments
 *   deadlineMs - how long to wait for readiness (default 20 s)
 * Returns { url, port, home, pid, proc, log(), stop(), kill() }.
 */
export async function startServer(opts = {}) {
  const ownHome = !opts.home;
  const home = opts.home ?? (await mkdtemp(path.join(tmpdir(), 'cairn-it-')));
  const portFile = path.join(home, `port.${process.pid}.${Date.now()}`);
  const args = ['server', '--home', home, '--host', '127.0.0.1', '--port', '0', '--port-file', portFile];
  if (opts.store) args.push('--store', opts.store);
  if (opts.threads) args.push('--threads', String(opts.threads));
  if (opts.args) args.push(...opts.args);

  const proc = spawn(cairnBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d) => {
    output += d.toString();
    if (output.length > 200000) output = output.slice(-100000);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });

  const cleanupHome = async () => {
    if (ownHome) await rm(home, { recursive: true, force: true });
  };

  let port;
  try {
    port = await waitFor(
      async () => {
        if (exited) throw new Error(`server exited early (${JSON.stringify(exited)}): ${output}`);
        const text = await readFile(portFile, 'utf8').catch(() => '');
        const p = parseInt(text.trim(), 10);
        return p > 0 ? p : null;
      },
      { deadlineMs: opts.deadlineMs ?? 20000, what: 'the port file' },
    );
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => {
        if (exited) throw new Error(`server exited early (${JSON.stringify(exited)}): ${output}`);
        const r = await fetch(`${url}/health`);
        await r.text();
        return r.status === 200;
      },
      { deadlineMs: opts.deadlineMs ?? 20000, what: 'GET /health' },
    );
  } catch (e) {
    if (!exited) proc.kill('SIGKILL');
    await exitPromise;
    await cleanupHome();
    throw e;
  }

  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    home,
    pid: proc.pid,
    proc,
    log: () => output,
    exited: () => exited,
    /** SIGTERM, wait for the exit (SIGKILL after 15 s), remove the temp home. */
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
        await exitPromise;
        clearTimeout(t);
      }
      await cleanupHome();
      return exited;
    },
    /** SIGKILL without cleanup (the home stays for a restart). */
    async kill() {
      if (!exited) {
        proc.kill('SIGKILL');
        await exitPromise;
      }
      return exited;
    },
  };
}

/**
 * One HTTP request: a JSON `body` (sent with `contentType`, default
 * application/json; null to send none), or `raw` bytes as they are. Answers
 * {status, json (null if not JSON), text, headers}.
 */
export async function httpCall(base, method, p, { body, raw, headers = {}, contentType = 'application/json' } = {}) {
  const init = { method, headers: { ...headers } };
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) init.body = JSON.stringify(body);
  if (init.body !== undefined && contentType && !init.headers['Content-Type']) init.headers['Content-Type'] = contentType;
  const r = await fetch(`${base}${p}`, init);
  const text = await r.text();
  let json = null;
  try {
    json = text.length ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: r.status, json, text, headers: r.headers };
}

/** Runs the cairn CLI with CAIRN_TRACKING_URI pointing at `trackingUri`. */
export function runCairn(args, { cwd, trackingUri }) {
  return promisify(execFile)(cairnBinary(), args, {
    cwd,
    env: { ...process.env, CAIRN_TRACKING_URI: trackingUri },
    maxBuffer: 64 << 20,
  });
}

/** An MLflow REST caller bound to a base URL: api('runs/get', {query}) etc. */
export function mlflowApi(base, prefix = '/api/2.0/mlflow') {
  const call = async (method, endpoint, { body, query, raw, headers } = {}) => {
    let p = `${prefix}/${endpoint}`;
    if (query !== undefined) {
      const qs = query instanceof URLSearchParams ? query : new URLSearchParams(query);
      p += `?${qs}`;
    }
    return httpCall(base, method, p, { body, raw, headers });
  };
  return {
    call,
    get: (endpoint, query) => call('GET', endpoint, { query }),
    post: (endpoint, body) => call('POST', endpoint, { body }),
  };
}

/** Stops srv with SIGTERM and asserts it exited 0 (the log tail explains a failure). */
export async function stopCleanly(srv) {
  const log = srv.log();
  const exit = await srv.stop();
  if (exit.code !== 0 || exit.signal !== null)
    throw new Error(`the server must exit 0 on SIGTERM, got ${JSON.stringify(exit)}:\n${log.slice(-4000)}`);
}
