// Unit tests of the UI's span model (supervisor/web/src/spanmodel.ts), compiled on the fly
// with the UI's esbuild: tree building from snapshots and live rows, orphans, and the
// incrementally patched visible-row list against a full recomputation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WEB } from './browser.mjs';

const esbuildPath = join(WEB, 'node_modules', 'esbuild', 'lib', 'main.js');
if (!existsSync(esbuildPath)) throw new Error(`${WEB}/node_modules missing: run npm ci there (scripts/setup.sh does)`);
const esbuild = await import(pathToFileURL(esbuildPath).href);
const src = readFileSync(join(WEB, 'src', 'spanmodel.ts'), 'utf8');
const { code } = await esbuild.transform(src, { loader: 'ts', format: 'esm' });
const { SpanModel, parseSpanQuery, splitLogLines } = await import('data:text/javascript;base64,' + Buffer.from(code).toString('base64'));

const row = (id, parent, seq, extra = {}) => ({ id: String(id), parent: parent == null ? null : String(parent), seq, name: `s${id}`,
  kind: 'step', status: 'ok', start_us: 1000 + seq, end_us: 2000 + seq, tags: {}, error: null, error_type: null, traceback: null,
  rpc_service: null, rpc_method: null, file: null, line: null, cpu_us: 0, rss_kb: 0, child_run_id: null, orphan: false, ...extra });

function fullVisible(m) {
  const out = [];
  const st = [...m.roots].reverse();
  while (st.length) { const i = st.pop(); out.push(i); if (m.collapsed[i]) continue; const k = m.children[i]; if (k) for (let j = k.length - 1; j >= 0; j--) st.push(k[j]); }
  return out;
}
const vis = (m) => Array.from(m.visible().subarray(0, m.visibleLen));

describe('SpanModel', () => {
  it('builds a tree from live rows, updating a repeated span instead of duplicating it', () => {
    const m = new SpanModel();
    m.upsert(row(1, null, 0, { end_us: null, status: 'running' }));
    m.upsert(row(2, 1, 1));
    m.upsert(row(1, null, 0, { status: 'ok' }));
    assert.equal(m.size, 2);
    assert.equal(m.rows[0].status, 'ok');
    assert.deepEqual(vis(m), [0, 1]);
    assert.equal(m.openCount, 0);
  });

  it('holds a span whose parent has not arrived and attaches it when the parent comes', () => {
    const m = new SpanModel();
    m.upsert(row(1, null, 0));
    m.upsert(row(3, 2, 2));
    assert.deepEqual(vis(m), [0]);
    m.upsert(row(2, 1, 1));
    assert.deepEqual(vis(m).map((i) => m.rows[i].id), ['1', '2', '3']);
    assert.equal(m.depth[m.byId.get('3')], 2);
  });

  it('attaches spans whose parent never came to the root at the end, flagged', () => {
    const m = new SpanModel();
    m.upsert(row(1, null, 0));
    m.upsert(row(5, 4, 1));
    m.flushPendingToRoot();
    assert.deepEqual(vis(m).map((i) => m.rows[i].id), ['1', '5']);
    assert.equal(m.rows[1].orphan, true);
  });

  it('keeps the patched visible list equal to a full walk over random trees and toggles', () => {
    let seed = 7;
    const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (let round = 0; round < 20; round++) {
      const m = new SpanModel();
      const n = 50 + rnd(300);
      m.upsert(row(1, null, 0));
      for (let i = 2; i <= n; i++) m.upsert(row(i, 1 + rnd(i - 1), i - 1));
      vis(m);
      for (let t = 0; t < 200; t++) {
        const i = rnd(n);
        if (!m.hasChildren(i)) continue;
        m.setCollapsed(i, !m.isCollapsed(i));
        assert.deepEqual(vis(m), fullVisible(m), `round ${round} toggle ${t}`);
      }
    }
  });

  it('loads a deep snapshot without recursion and finds the failing leaf', () => {
    const root = { ...row(1, null, 0), logs: [{ ts_us: 1, stream: 'stdout', text: 'x' }], children: [] };
    let cur = root;
    for (let i = 2; i <= 20000; i++) { const c = { ...row(i, i - 1, i - 1), children: [] }; cur.children.push(c); cur = c; }
    cur.status = 'failed';
    const m = new SpanModel();
    m.loadTree(root);
    assert.equal(m.size, 20000);
    assert.equal(m.logs[0].length, 1);
    assert.equal(m.firstFailure(), 19999);
    m.collapseBelow(1);
    assert.equal(vis(m).length, 2);
  });

  it('searches spans by name words, status and tag key=value, in tree order', () => {
    const m = new SpanModel();
    m.upsert(row(1, null, 0, { name: 'flow', status: 'failed' }));
    m.upsert(row(2, 1, 1, { name: 'Load Data', tags: { shard: 'eu-1', n: 3 } }));
    m.upsert(row(3, 1, 2, { name: 'parse data', status: 'failed', error_type: 'KeyError', tags: { shard: 'us-2' } }));
    m.upsert(row(4, 2, 3, { name: 'load part', end_us: null, status: 'ok' }));
    const names = (q) => Array.from(m.search(q).hits).map((i) => m.rows[i].name);
    assert.deepEqual(names('data'), ['Load Data', 'parse data']);
    assert.deepEqual(names('load'), ['Load Data', 'load part'], 'pre-order: a child before its parent\'s next sibling');
    assert.deepEqual(names('status:failed'), ['flow', 'parse data']);
    assert.deepEqual(names('status:running'), ['load part'], 'running = not ended');
    assert.deepEqual(names('status:failed,running'), ['flow', 'load part', 'parse data']);
    assert.deepEqual(names('shard=eu'), ['Load Data']);
    assert.deepEqual(names('n=3'), ['Load Data'], 'a non-string tag matches as JSON text');
    assert.deepEqual(names('keyerror'), ['parse data'], 'the error type matches too');
    assert.deepEqual(names('data shard=us'), ['parse data'], 'every part must match');
    assert.deepEqual(names('   '), []);
    assert.equal(m.search('data').flags[1], 1);
    assert.equal(m.search('data').flags[0], 0);
    assert.deepEqual(parseSpanQuery('a status:ok k=v'), { terms: ['a'], status: ['ok'], tags: [['k', 'v']] });
  });

  it('walks failures in tree order, wrapping, and collapse-all keeps the root open', () => {
    const m = new SpanModel();
    m.upsert(row(1, null, 0, { status: 'failed' }));
    m.upsert(row(2, 1, 1));
    m.upsert(row(3, 2, 2, { status: 'killed' }));
    m.upsert(row(4, 1, 3, { status: 'failed' }));
    m.upsert(row(5, 4, 4, { status: 'failed', end_us: null })); // still running: not a failure yet
    assert.equal(m.nextFailure(-1), 0);
    assert.equal(m.nextFailure(0), 2);
    assert.equal(m.nextFailure(2), 3);
    assert.equal(m.nextFailure(3), 0, 'wraps around');
    m.collapseBelow(1);
    assert.deepEqual(vis(m), [0, 1, 3]);
    m.reveal(2);
    assert.deepEqual(vis(m), [0, 1, 2, 3]);
    m.expandAll();
    assert.deepEqual(vis(m), fullVisible(m));
    assert.equal(new SpanModel().nextFailure(-1), -1);
  });

  it('loads play_spans columns into the same model as the tree and live rows', () => {
    const rows = [row(1, null, 0), row(2, 1, 1, { end_us: null, status: 'running' }), row(3, 2, 2, { tags: { k: 1 } }), row(4, 'gone', 3)];
    const cols = { format: 'columns', count: rows.length, log_span: [1, null, 2], log_ts_us: [5, 6, 7], log_stream: ['stdout', 'stderr', 'log'], log_text: ['a', 'b', 'c'] };
    for (const f of Object.keys(rows[0])) cols[f] = rows.map((r) => r[f]);
    const m = new SpanModel();
    m.loadColumns(cols);
    assert.equal(m.size, 4);
    assert.deepEqual(vis(m), fullVisible(m));
    assert.deepEqual(Array.from(m.parent), [-1, 0, 1, 0], 'the span whose parent never came hangs under the root');
    assert.equal(m.rows[3].orphan, true);
    assert.equal(m.openCount, 1);
    assert.deepEqual(m.rows[2].tags, { k: 1 });
    assert.deepEqual(m.logs[1].map((l) => l.text), ['a']);
    assert.deepEqual(m.logs[0].map((l) => l.text), ['b'], 'a line of an unknown span goes to the root');
    assert.equal(m.logs[2][0].stream, 'log');
    assert.throws(() => m.loadColumns({ ...cols, name: ['x'] }), /'name' is not an array of 4/);
  });

  it('shows one row per printed line when a log entry holds several (batched prints)', () => {
    const e = { ts_us: 9, stream: 'stdout', text: 'a\nbb\ncc' };
    assert.deepEqual(splitLogLines(e).map((l) => [l.text, l.ts_us, l.stream]),
      [['a\n', 9, 'stdout'], ['bb\n', 9, 'stdout'], ['cc', 9, 'stdout']]);
    assert.deepEqual(splitLogLines({ ts_us: 1, stream: 'log', text: 'one\n' }).length, 1);
    const m = new SpanModel();
    m.upsert(row(1, null, 0));
    m.addLog(undefined, { ts_us: 2, stream: 'stdout', text: 'x\ny\n' });
    assert.deepEqual(m.logs[0].map((l) => l.text), ['x\n', 'y\n']);
  });
});
