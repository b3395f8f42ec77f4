// Starts a real `hero_logic serve` for the web e2e tests, on a fresh data dir and port 0, and
// waits for its ready line ("hero_logic: serving on ... http://127.0.0.1:PORT").
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function startDaemon({ bin, staticDir, timeoutMs = 20000 }) {
  const data = mkdtempSync(join(tmpdir(), 'hero-web-e2e-'));
  const args = ['serve', '--data', data, '--socket', join(data, 's.sock'), '--port', '0', '--static', staticDir];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon not ready after ${timeoutMs} ms:\n${log}`)), timeoutMs);
    const onData = (chunk) => {
      log += chunk;
      const m = /hero_logic: serving on .*?(http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1] + '/'); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`daemon exited (${code ?? sig}) before ready:\n${log}`)); });
  });
  child.stdout.on('data', (c) => { log += c; });
  child.stderr.on('data', (c) => { log += c; });
  let nextId = 1;
  const rpc = async (method, params = {}) => {
    const res = await fetch(url + 'rpc', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }) });
    const body = await res.json();
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  };
  const stop = async () => {
    if (child.exitCode == null && child.signalCode == null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    rmSync(data, { recursive: true, force: true });
  };
  return { url, rpc, stop, data, log: () => log, pid: child.pid };
}

/** A loopback TCP proxy in front of the daemon whose connections the test can cut (to make
 *  the browser's EventSource reconnect with Last-Event-ID). */
export async function startProxy(targetUrl) {
  const net = await import('node:net');
  const target = new URL(targetUrl);
  const socks = new Set();
  let paused = false;
  const server = net.createServer((client) => {
    if (paused) { client.destroy(); return; } // "unreachable": every new connection fails
    const upstream = net.connect(Number(target.port), target.hostname);
    socks.add(client); socks.add(upstream);
    client.pipe(upstream); upstream.pipe(client);
    const done = () => { socks.delete(client); socks.delete(upstream); client.destroy(); upstream.destroy(); };
    client.on('error', done); upstream.on('error', done); client.on('close', done); upstream.on('close', done);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    dropAll: () => { const n = socks.size / 2; for (const s of [...socks]) s.destroy(); return n; },
    /** Cuts every connection and refuses new ones until resume(). */
    pause: () => { paused = true; for (const s of [...socks]) s.destroy(); },
    resume: () => { paused = false; },
    close: () => new Promise((r) => { for (const s of socks) s.destroy(); server.close(r); }),
  };
}
