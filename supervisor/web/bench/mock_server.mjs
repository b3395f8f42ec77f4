// A stand-in for `hero_logic serve` with the same HTTP shapes (POST /rpc, SSE events, static
// files with .gz siblings), for UI development and the 100k-span bench. Not used by the e2e
// tests, which run the real daemon.
//   node bench/mock_server.mjs [--port 8765] [--static dist] [--spans 100000]
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.ttf': 'font/ttf', '.svg': 'image/svg+xml', '.json': 'application/json' };

/** Builds a synthetic finished run of `n` spans: root → groups → steps → rpc leaves. */
export function bigTree(n, t0 = Date.now() * 1000 - 60e6) {
  let seq = 0;
  const mk = (parent, name, kind, start, dur, extra = {}) => ({
    id: String(++seq), parent, seq: seq - 1, name, kind, status: 'ok', start_us: start, end_us: start + dur,
    tags: extra.tags ?? {}, error: null, error_type: null, traceback: null, rpc_service: extra.rpc_service ?? null,
    rpc_method: extra.rpc_method ?? null, file: '/flows/big.py', line: extra.line ?? 10, cpu_us: Math.round(dur / 3), rss_kb: 4,
    child_run_id: null, orphan: false, logs: extra.logs ?? [], children: [],
  });
  const root = mk(null, 'big_flow', 'flow_root', t0, 50e6, { line: 5 });
  const groups = Math.max(1, Math.round(Math.sqrt(n / 10)));
  const perGroup = Math.ceil((n - 1 - groups) / groups);
  let made = 1;
  for (let g = 0; g < groups && made < n; g++) {
    const gs = t0 + (g / groups) * 49e6;
    const grp = mk('1', `batch ${g + 1}`, 'step', gs, 49e6 / groups, { line: 12, tags: { batch: g + 1 } });
    root.children.push(grp); made++;
    let parentStep = null;
    for (let k = 0; k < perGroup && made < n; k++) {
      const s0 = gs + (k / perGroup) * (49e6 / groups);
      const d = (49e6 / groups) / perGroup;
      if (k % 5 === 0) {
        parentStep = mk(grp.id, `item ${k / 5 + 1}`, 'step', s0, d * 5, { line: 14, tags: { item: k } });
        grp.children.push(parentStep);
      } else {
        const leaf = mk(parentStep.id, 'fetch', 'rpc', s0, d * 0.8, { rpc_service: 'http', rpc_method: 'get', line: 16 });
        if (k % 997 === 3) { leaf.status = 'failed'; leaf.error = 'HTTP 503'; leaf.error_type = 'IOError'; leaf.traceback = 'Traceback (most recent call last):\n  File "/flows/big.py", line 16, in big_flow\nIOError: HTTP 503\n'; }
        parentStep.children.push(leaf);
      }
      made++;
    }
  }
  return { root, count: made };
}

function flatten(tree) {
  const out = [];
  const st = [tree];
  while (st.length) { const n = st.pop(); out.push(n); for (let i = n.children.length - 1; i >= 0; i--) st.push(n.children[i]); }
  return out;
}

export function startMock({ port = 0, staticDir = null, spans = 0 } = {}) {
  const flows = new Map();
  const runs = new Map();
  const examples = [];
  let nextRun = 1, nextEx = 1;
  const record = (id, flow, extra = {}) => ({
    id, flow, flow_version: flow ? 1 : null, parent_run: null, parent_span: null, input: {}, output: null, status: 'queued',
    reason: null, exit_code: null, signal: null, profile: 'trusted', network: false, created_us: Date.now() * 1000, started_us: null,
    ended_us: null, cpu_us: null, peak_rss_kb: null, span_count: 0, dropped: { malformed_lines: 0, spans: 0, log_bytes: 0 },
    diagnostics: [], stdout_tail: '', stderr_tail: '', ...extra,
  });
  if (spans > 0) {
    const { root, count } = bigTree(spans);
    const r = record(nextRun++, 'big_flow', { status: 'ok', reason: 'ok', exit_code: 0, started_us: root.start_us - 5000, ended_us: root.end_us + 5000, span_count: count, cpu_us: 9e6, peak_rss_kb: 90000 });
    // Serialize the snapshot once, up front: the bench times the UI, not the mock.
    const json = JSON.stringify({ jsonrpc: '2.0', id: 0, result: root });
    runs.set(r.id, { rec: r, tree: root, json, events: [], clients: new Set() });
  }
  const parseFlow = (source, name) => {
    const m = /@flow\(([\s\S]*?)\)\s*\n\s*def\s+(\w+)/.exec(source);
    const args = m ? m[1] : '';
    const nm = name || (/name\s*=\s*"([^"]+)"/.exec(args) || [])[1] || (m ? m[2] : 'script');
    const desc = (/description\s*=\s*"([^"]*)"/.exec(args) || [])[1] || '';
    const inputs = {};
    const im = /inputs\s*=\s*\{([^}]*)\}/.exec(args);
    if (im) for (const p of im[1].matchAll(/"(\w+)"\s*:\s*(\w+)/g)) inputs[p[1]] = p[2];
    return { name: nm, description: desc, inputs };
  };
  const emit = (run, event, data) => {
    const id = run.events.length + 1;
    const line = `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    run.events.push(line);
    for (const c of run.clients) c.write(line);
    if (event === 'end') for (const c of run.clients) c.end();
  };
  const simulate = (run, input) => {
    const r = run.rec;
    const t = () => Date.now() * 1000;
    const steps = Number(input?.steps ?? input?.count ?? 5);
    let seq = 0;
    const span = (parent, name, kind) => ({ id: String(++seq), parent, seq: seq - 1, name, kind, status: 'running', start_us: t(), end_us: null, tags: {}, error: null, error_type: null, traceback: null, rpc_service: null, rpc_method: null, file: '/flows/x.py', line: 7 + seq, cpu_us: null, rss_kb: null, child_run_id: null, orphan: false });
    setTimeout(() => {
      r.status = 'running'; r.started_us = t(); emit(run, 'status', r);
      const root = span(null, r.flow || 'script', 'flow_root');
      run.spans = [root]; emit(run, 'span', root);
      let i = 0;
      const tick = () => {
        if (r.status !== 'running') return;
        if (i < steps) {
          const s = span('1', `step ${i + 1}`, 'step'); run.spans.push(s); emit(run, 'span', s);
          emit(run, 'log', { span_id: s.id, ts_us: t(), stream: i % 3 === 2 ? 'stderr' : 'stdout', text: `working on ${i + 1}\n` });
          setTimeout(() => { s.status = 'ok'; s.end_us = t(); s.cpu_us = 120; s.rss_kb = 8; emit(run, 'span', s); }, 150);
          i++; setTimeout(tick, 300);
        } else {
          const fail = !!input?.fail;
          if (fail) { const s = span('1', 'parse', 'step'); s.status = 'failed'; s.end_us = t(); s.error = 'bad'; s.error_type = 'ValueError'; s.traceback = `Traceback (most recent call last):\n  File "/flows/x.py", line ${s.line}, in x\nValueError: bad\n`; run.spans.push(s); emit(run, 'span', s); }
          root.status = fail ? 'failed' : 'ok'; root.end_us = t(); emit(run, 'span', root);
          r.status = root.status; r.ended_us = t(); r.reason = fail ? "exit code 1: ValueError in step 'parse': bad" : 'ok'; r.output = fail ? null : { done: steps };
          r.span_count = run.spans.length; emit(run, 'status', r); emit(run, 'end', r);
        }
      };
      tick();
    }, 100);
  };
  const nest = (run) => {
    if (run.tree) return run.tree;
    const by = new Map();
    for (const s of run.spans || []) by.set(s.id, { ...s, logs: [], children: [] });
    let root = null;
    for (const n of by.values()) { if (n.parent && by.has(n.parent)) by.get(n.parent).children.push(n); else if (!root) root = n; }
    return root;
  };
  const methods = {
    flow_create: ({ source, name, description }) => {
      const p = parseFlow(source, name);
      if (flows.has(p.name)) throw { code: -32010, message: `flow ${p.name} exists` };
      const f = { ...p, description: description || p.description, version: 1, source, docstring: null, outputs: {}, tags: [], entry: p.name, versions: [{ version: 1, created_us: Date.now() * 1000 }] };
      flows.set(f.name, f); return f;
    },
    flow_update: ({ name, source }) => {
      const f = flows.get(name); if (!f) throw { code: -32004, message: `no flow ${name}` };
      const p = parseFlow(source, name);
      Object.assign(f, { source, inputs: p.inputs, version: f.version + 1 });
      f.versions.push({ version: f.version, created_us: Date.now() * 1000 }); return f;
    },
    flow_get: ({ name }) => { const f = flows.get(name); if (!f) throw { code: -32004, message: `no flow ${name}` }; return f; },
    flow_list: () => [...flows.values()].map(({ name, version, description, tags, inputs }) => ({ name, version, description, tags, inputs })),
    flow_versions: ({ name }) => flows.get(name)?.versions ?? [],
    flow_library_search: ({ query }) => [...flows.values()].filter((f) => (f.name + f.description + f.source).toLowerCase().includes(query.toLowerCase())).map((f, i) => ({ name: f.name, description: f.description, score: 1 / (i + 1), snippet: f.description })),
    play_run_async: ({ flow, source, input }) => {
      const rec = record(nextRun++, flow || (source ? parseFlow(source).name : null), { input: input ?? {} });
      const run = { rec, events: [], clients: new Set(), spans: [] };
      runs.set(rec.id, run); simulate(run, input); return { run_id: rec.id };
    },
    play_status: ({ run_id }) => { const r = runs.get(run_id); if (!r) throw { code: -32004, message: `no run ${run_id}` }; return r.rec; },
    play_cancel: ({ run_id }) => { const r = runs.get(run_id); if (r && !r.rec.ended_us) { r.rec.status = 'cancelled'; r.rec.reason = 'cancelled by request'; r.rec.ended_us = Date.now() * 1000; emit(r, 'status', r.rec); emit(r, 'end', r.rec); } return { ok: true }; },
    play_retry: ({ run_id }) => { const r = runs.get(run_id); return methods.play_run_async({ flow: r.rec.flow, input: r.rec.input }); },
    play_list: ({ flow, status, limit = 50 }) => ({ runs: [...runs.values()].map((r) => r.rec).filter((r) => (!flow || r.flow === flow) && (!status || r.status === status)).reverse().slice(0, limit), next_cursor: null }),
    play_spans: ({ run_id }) => { const r = runs.get(run_id); if (!r) throw { code: -32004, message: `no run ${run_id}` }; return nest(r); },
    example_list: ({ flow }) => examples.filter((e) => !flow || e.flow === flow),
    example_create: ({ flow, name, input }) => { const e = { id: nextEx++, flow, name, input }; examples.push(e); return e; },
    example_delete: ({ id }) => { const i = examples.findIndex((e) => e.id === id); if (i >= 0) examples.splice(i, 1); return { ok: true }; },
    flow_set_current: () => ({ ok: true }),
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'POST' && url.pathname === '/rpc') {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const msg = JSON.parse(body);
        let out;
        try {
          const fn = methods[msg.method];
          if (!fn) throw { code: -32601, message: `unknown method ${msg.method}` };
          out = { jsonrpc: '2.0', id: msg.id, result: fn(msg.params || {}) };
        } catch (e) { out = { jsonrpc: '2.0', id: msg.id, error: { code: e.code ?? -32000, message: e.message ?? String(e) } }; }
        // Cache the big snapshot's JSON: the bench measures the UI, not the mock.
        let text;
        const run = msg.method === 'play_spans' && runs.get(msg.params?.run_id);
        if (run && run.tree && !out.error) text = run.json.replace('"id":0', `"id":${JSON.stringify(msg.id)}`);
        else text = JSON.stringify(out);
        res.writeHead(200, { 'content-type': 'application/json' }); res.end(text);
      });
      return;
    }
    const ev = /^\/api\/runs\/(\d+)\/events$/.exec(url.pathname);
    if (ev) {
      const run = runs.get(Number(ev[1]));
      if (!run) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const last = Number(req.headers['last-event-id'] ?? url.searchParams.get('last_event_id') ?? 0);
      if (run.tree) {
        for (const s of flatten(run.tree)) { const { children, logs, ...row } = s; run.events.push(`id: ${run.events.length + 1}\nevent: span\ndata: ${JSON.stringify(row)}\n\n`); }
      }
      for (let i = last; i < run.events.length; i++) res.write(run.events[i]);
      if (run.rec.ended_us) { res.end(); return; }
      run.clients.add(res); req.on('close', () => run.clients.delete(res));
      return;
    }
    if (url.pathname === '/healthz') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); return; }
    if (staticDir) {
      let p = normalize(url.pathname === '/' ? '/index.html' : url.pathname);
      const file = join(staticDir, p);
      if (file.startsWith(staticDir) && existsSync(file) && statSync(file).isFile()) {
        const headers = { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' };
        if (/gzip/.test(req.headers['accept-encoding'] ?? '') && existsSync(file + '.gz')) {
          headers['content-encoding'] = 'gzip'; res.writeHead(200, headers); res.end(readFileSync(file + '.gz')); return;
        }
        res.writeHead(200, headers); res.end(readFileSync(file)); return;
      }
    }
    res.writeHead(404); res.end('not found');
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, port: server.address().port, methods })));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (k, d) => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : d; };
  const { port } = await startMock({ port: Number(arg('--port', 8765)), staticDir: arg('--static', null) ? normalize(join(process.cwd(), arg('--static'))) : null, spans: Number(arg('--spans', 0)) });
  console.log(`mock: serving on http://127.0.0.1:${port}`);
}
