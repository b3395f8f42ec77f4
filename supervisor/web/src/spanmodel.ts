// The span tree of one run as flat arrays (index = arrival order): parent index, child lists,
// depth, collapsed flags. Built from a play_spans snapshot or grown from SSE span rows; the
// visible-row list (pre-order over expanded nodes) is recomputed lazily after a change.
// No DOM here: the views read it; the bench and tests can drive it directly.
import type { LogLine, SpanColumns, SpanRow, TreeNode } from './api';

/** The SpanRow fields play_spans(format: "columns") sends, one array each. */
const COLUMN_FIELDS = ['id', 'parent', 'seq', 'name', 'kind', 'status', 'start_us', 'end_us', 'tags', 'error',
  'error_type', 'traceback', 'rpc_service', 'rpc_method', 'file', 'line', 'cpu_us', 'rss_kb', 'child_run_id', 'orphan'] as const;

/** A log entry may hold several printed lines (the SDK sends a thread's consecutive prints as
 *  one span_log of up to 8 KiB): the views show one row per line, each with the entry's time,
 *  stream and span. A last line without its newline stays as it is. */
export function splitLogLines<T extends LogLine>(l: T): T[] {
  const t = l.text;
  const first = t.indexOf('\n');
  if (first < 0 || first === t.length - 1) return [l];
  const out: T[] = [];
  let start = 0;
  while (start < t.length) {
    const nl = t.indexOf('\n', start);
    const end = nl < 0 ? t.length : nl + 1;
    out.push({ ...l, text: t.slice(start, end) });
    start = end;
  }
  return out;
}

const MAX_LOGS_PER_SPAN = 5000;

export class SpanModel {
  rows: SpanRow[] = [];
  parent: number[] = [];
  depth: number[] = [];
  children: (number[] | null)[] = [];
  collapsed: Uint8Array = new Uint8Array(1024);
  logs: (LogLine[] | null)[] = [];
  logsDropped = 0;
  roots: number[] = [];
  byId = new Map<string, number>();
  /** spans whose parent has not arrived yet, keyed by the parent's id */
  private pending = new Map<string, number[]>();
  minStart = Infinity;
  maxEnd = 0;
  openCount = 0;
  /** bumped on every change; views compare it */
  version = 0;
  private visibleCache: Int32Array = new Int32Array(0);
  private visibleVersion = -1;
  private structureVersion = 0;

  get size(): number { return this.rows.length; }
  /** bumped when the visible-row list may change (structure or collapse state) */
  get structure(): number { return this.structureVersion; }

  clear(): void {
    this.rows = []; this.parent = []; this.depth = []; this.children = []; this.logs = [];
    this.collapsed = new Uint8Array(1024); this.roots = []; this.byId.clear(); this.pending.clear();
    this.minStart = Infinity; this.maxEnd = 0; this.logsDropped = 0; this.openCount = 0;
    this.structureVersion++; this.version++;
  }

  /** Loads a nested play_spans tree (iteratively: a 100k-deep chain must not blow the stack). */
  loadTree(root: TreeNode | null): void {
    this.clear();
    if (!root) return;
    const stack: TreeNode[] = [root];
    while (stack.length) {
      const n = stack.pop()!;
      const i = this.add(n);
      if (n.logs && n.logs.length) this.logs[i] = n.logs.flatMap(splitLogLines);
      const kids = n.children;
      if (kids) for (let k = kids.length - 1; k >= 0; k--) stack.push(kids[k]);
    }
    this.flushPendingToRoot();
    this.version++;
  }

  /** Loads play_spans(format: "columns"): spans in seq order (a parent before its children,
   *  else it waits as an orphan until the end), then the logs onto their spans. */
  loadColumns(c: SpanColumns): void {
    this.clear();
    const n = c.count | 0;
    const cols = COLUMN_FIELDS.map((f) => {
      const a = c[f];
      if (!Array.isArray(a) || a.length !== n) throw new Error(`play_spans columns: '${f}' is not an array of ${n}`);
      return a as unknown[];
    });
    // One object literal per span: every row gets the same hidden class (fast property reads
    // in the tree's render loop), unlike keys assigned one by one in a loop.
    const [id, parent, seq, name, kind, status, start, end, tags, error, errorType, traceback, rpcService,
      rpcMethod, file, line, cpu, rss, child, orphan] = cols as [string[], (string | null)[], number[], string[],
      string[], string[], number[], (number | null)[], (Record<string, unknown> | null)[], (string | null)[],
      (string | null)[], (string | null)[], (string | null)[], (string | null)[], (string | null)[],
      (number | null)[], (number | null)[], (number | null)[], (number | null)[], boolean[]];
    for (let i = 0; i < n; i++) {
      this.add({
        id: id[i], parent: parent[i], seq: seq[i], name: name[i], kind: kind[i], status: status[i],
        start_us: start[i], end_us: end[i], tags: tags[i], error: error[i], error_type: errorType[i],
        traceback: traceback[i], rpc_service: rpcService[i], rpc_method: rpcMethod[i], file: file[i], line: line[i],
        cpu_us: cpu[i], rss_kb: rss[i], child_run_id: child[i], orphan: orphan[i],
      });
    }
    const { log_span: ls, log_ts_us: lt, log_stream: lst, log_text: ltx } = c;
    const root = this.roots.length ? this.roots[0] : -1;
    for (let k = 0; k < (ls?.length ?? 0); k++) {
      const i = ls[k] ?? root; // a line of a span never reported: the root's, like addLog
      if (i < 0 || i >= n) continue;
      (this.logs[i] ??= []).push(...splitLogLines({ ts_us: lt[k], stream: lst[k], text: ltx[k] }));
    }
    this.flushPendingToRoot();
    this.version++;
  }

  /** Inserts or updates one span row (an SSE `span` event). Returns its index. */
  upsert(row: SpanRow): number {
    const known = this.byId.get(row.id);
    if (known !== undefined) {
      const old = this.rows[known];
      if (old.end_us == null && row.end_us != null) this.openCount--;
      else if (old.end_us != null && row.end_us == null) this.openCount++;
      Object.assign(old, row);
      this.noteTimes(old);
      this.version++;
      return known;
    }
    const i = this.add(row);
    this.version++;
    return i;
  }

  addLog(spanId: string | null | undefined, line: LogLine): void {
    let i = spanId != null ? this.byId.get(spanId) : undefined;
    if (i === undefined) i = this.roots.length ? this.roots[0] : undefined;
    if (i === undefined) return;
    let arr = this.logs[i];
    if (!arr) arr = this.logs[i] = [];
    for (const one of splitLogLines(line)) {
      if (arr.length >= MAX_LOGS_PER_SPAN) { this.logsDropped++; continue; }
      arr.push(one);
    }
    this.version++;
  }

  /** Called when the run ended: spans still waiting for a parent go under the root. */
  flushPendingToRoot(): void {
    if (!this.pending.size) return;
    const root = this.roots.length ? this.roots[0] : -1;
    for (const list of this.pending.values()) {
      for (const c of list) {
        this.rows[c].orphan = true;
        if (root >= 0) this.attach(c, root); else { this.roots.push(c); this.setDepth(c, 0); }
      }
    }
    this.pending.clear();
    this.structureVersion++; this.version++;
  }

  private add(row: SpanRow): number {
    const i = this.rows.length;
    this.rows.push(row);
    this.byId.set(row.id, i);
    this.parent.push(-1);
    this.depth.push(0);
    this.children.push(null);
    this.logs.push(null);
    if (i >= this.collapsed.length) {
      const c = new Uint8Array(this.collapsed.length * 2);
      c.set(this.collapsed);
      this.collapsed = c;
    }
    if (row.end_us == null) this.openCount++;
    this.noteTimes(row);
    if (row.parent == null) {
      this.roots.push(i);
    } else {
      const p = this.byId.get(row.parent);
      if (p === undefined) {
        let list = this.pending.get(row.parent);
        if (!list) this.pending.set(row.parent, (list = []));
        list.push(i);
      } else {
        this.attach(i, p);
      }
    }
    const waiting = this.pending.get(row.id);
    if (waiting) {
      this.pending.delete(row.id);
      for (const c of waiting) this.attach(c, i);
    }
    this.structureVersion++;
    return i;
  }

  private attach(child: number, p: number): void {
    this.parent[child] = p;
    let kids = this.children[p];
    if (!kids) this.children[p] = kids = [];
    const seq = this.rows[child].seq;
    // Spans arrive in seq order almost always: append; insert in place otherwise.
    if (!kids.length || this.rows[kids[kids.length - 1]].seq <= seq) kids.push(child);
    else {
      let k = kids.length - 1;
      while (k > 0 && this.rows[kids[k - 1]].seq > seq) k--;
      kids.splice(k, 0, child);
    }
    this.setDepth(child, this.depth[p] + 1);
  }

  private setDepth(i: number, d: number): void {
    if (this.depth[i] === d && !this.children[i]) return;
    const stack = [i, d];
    while (stack.length) {
      const dd = stack.pop()!, n = stack.pop()!;
      this.depth[n] = dd;
      const kids = this.children[n];
      if (kids) for (const c of kids) stack.push(c, dd + 1);
    }
  }

  private noteTimes(r: SpanRow): void {
    if (r.start_us && r.start_us < this.minStart) this.minStart = r.start_us;
    const e = r.end_us ?? r.start_us;
    if (e && e > this.maxEnd) this.maxEnd = e;
  }

  hasChildren(i: number): boolean { const k = this.children[i]; return !!k && k.length > 0; }
  isCollapsed(i: number): boolean { return this.collapsed[i] === 1; }

  setCollapsed(i: number, c: boolean): void {
    if ((this.collapsed[i] === 1) === c) return;
    this.collapsed[i] = c ? 1 : 0;
    this.version++;
    if (this.visibleVersion !== this.structureVersion) { this.structureVersion++; return; }
    // Patch the cached visible list in place (a memmove) instead of walking the whole tree.
    const len = this.visibleLen;
    let vis = this.visibleCache;
    const p = vis.subarray(0, len).indexOf(i);
    if (p >= 0) {
      if (c) {
        const d = this.depth[i];
        let q = p + 1;
        while (q < len && this.depth[vis[q]] > d) q++;
        vis.copyWithin(p + 1, q, len);
        this.visibleLen = len - (q - p - 1);
      } else {
        const sub = this.subtreeVisible(i);
        if (len + sub.length > vis.length) {
          const grown = new Int32Array(Math.max(this.rows.length, len + sub.length) * 1.5 | 0);
          grown.set(vis.subarray(0, len));
          this.visibleCache = vis = grown;
        }
        vis.copyWithin(p + 1 + sub.length, p + 1, len);
        vis.set(sub, p + 1);
        this.visibleLen = len + sub.length;
      }
    }
    // (p < 0: an ancestor is collapsed, the visible rows do not change)
    this.structureVersion++;
    this.visibleVersion = this.structureVersion;
  }

  /** Visible descendants of `i` in pre-order (i itself excluded), as if `i` were expanded. */
  private subtreeVisible(i: number): Int32Array {
    // Written into a reused scratch buffer: expanding a 100k-span root allocates nothing.
    if (this.scratch.length < this.rows.length) this.scratch = new Int32Array(this.rows.length * 1.5 | 0);
    const out = this.scratch;
    let len = 0;
    const stack = this.stack;
    stack.length = 0;
    const kids0 = this.children[i];
    if (kids0) for (let k = kids0.length - 1; k >= 0; k--) stack.push(kids0[k]);
    while (stack.length) {
      const n = stack.pop()!;
      out[len++] = n;
      if (this.collapsed[n]) continue;
      const kids = this.children[n];
      if (kids) for (let k = kids.length - 1; k >= 0; k--) stack.push(kids[k]);
    }
    return out.subarray(0, len);
  }
  private scratch = new Int32Array(0);
  private stack: number[] = [];

  /** Position of span `i` in the visible list, or -1. */
  visiblePos(i: number): number {
    if (i < 0) return -1;
    const v = this.visible();
    return v.subarray(0, this.visibleLen).indexOf(i);
  }

  /** Collapses every node deeper than `depth` (used to open huge trees readably). */
  collapseBelow(depth: number): void {
    for (let i = 0; i < this.rows.length; i++) this.collapsed[i] = this.depth[i] >= depth && this.hasChildren(i) ? 1 : 0;
    this.structureVersion++; this.version++;
  }

  expandAll(): void { this.collapsed.fill(0); this.structureVersion++; this.version++; }

  /** Makes `i` visible by expanding its ancestors. */
  reveal(i: number): void {
    let p = this.parent[i];
    let changed = false;
    while (p >= 0) { if (this.collapsed[p]) { this.collapsed[p] = 0; changed = true; } p = this.parent[p]; }
    if (changed) { this.structureVersion++; this.version++; }
  }

  /** Pre-order list of visible span indices (ancestors expanded). */
  visible(): Int32Array {
    if (this.visibleVersion === this.structureVersion) return this.visibleCache;
    const n = this.rows.length;
    if (this.visibleCache.length < n) this.visibleCache = new Int32Array(Math.max(n, 64) * 1.5 | 0);
    const len = this.walk(this.visibleCache, true);
    this.visibleVersion = this.structureVersion;
    this.visibleLen = len;
    return this.visibleCache;
  }
  visibleLen = 0;
  private descCache = new Map<number, number>();
  private descSize = -1;

  /** Number of descendants (for the collapsed badge); O(subtree). */
  descendantCount(i: number): number {
    if (this.descSize !== this.rows.length) { this.descCache.clear(); this.descSize = this.rows.length; }
    const hit = this.descCache.get(i);
    if (hit !== undefined) return hit;
    let count = 0;
    const stack = [i];
    while (stack.length) {
      const kids = this.children[stack.pop()!];
      if (kids) { count += kids.length; for (const c of kids) stack.push(c); }
    }
    this.descCache.set(i, count);
    return count;
  }

  /** The span where the failure started: the deepest ended non-ok span, earliest on ties. */
  firstFailure(): number {
    let best = -1;
    for (let i = 0; i < this.rows.length; i++) {
      const r = this.rows[i];
      if (r.end_us == null || r.status === 'ok' || r.status === 'running') continue;
      if (best < 0 || this.depth[i] > this.depth[best]) best = i;
    }
    return best;
  }

  /** Every span in tree pre-order (ignoring collapse): the order search results and
   *  "next failure" walk in. */
  preorder(): Int32Array {
    const out = new Int32Array(this.rows.length);
    return out.subarray(0, this.walk(out, false));
  }

  /** Writes the tree in pre-order into `out` (skipping collapsed subtrees if asked); returns
   *  the count. Iterative: a 100k-deep chain must not blow the stack. */
  private walk(out: Int32Array, skipCollapsed: boolean): number {
    let len = 0;
    const stack: number[] = [];
    for (let r = this.roots.length - 1; r >= 0; r--) stack.push(this.roots[r]);
    while (stack.length) {
      const i = stack.pop()!;
      out[len++] = i;
      if (skipCollapsed && this.collapsed[i]) continue;
      const kids = this.children[i];
      if (kids) for (let k = kids.length - 1; k >= 0; k--) stack.push(kids[k]);
    }
    return len;
  }

  /** Spans matching a search (see parseSpanQuery), in tree pre-order, and a per-index flag. */
  search(query: string): { hits: Int32Array; flags: Uint8Array } {
    const q = parseSpanQuery(query);
    const flags = new Uint8Array(this.rows.length);
    const order = this.preorder();
    const hits = new Int32Array(order.length);
    let n = 0;
    if (!q.terms.length && !q.status.length && !q.tags.length) return { hits: hits.subarray(0, 0), flags };
    for (let k = 0; k < order.length; k++) {
      const i = order[k];
      if (spanMatches(this.rows[i], q)) { flags[i] = 1; hits[n++] = i; }
    }
    return { hits: hits.subarray(0, n), flags };
  }

  /** The next ended non-ok span after `i` in tree pre-order (wrapping), or -1. */
  nextFailure(i: number): number {
    const order = this.preorder();
    const at = i >= 0 ? order.indexOf(i) : -1;
    for (let k = 1; k <= order.length; k++) {
      const j = order[(at + k + order.length) % order.length];
      const r = this.rows[j];
      if (r.end_us != null && r.status !== 'ok' && r.status !== 'running') return j;
    }
    return -1;
  }
}

export interface SpanQuery { terms: string[]; status: string[]; tags: [string, string][] }

/** `parse status:failed rows=10`: words match the name (or rpc method, error type) as
 *  case-insensitive substrings; `status:X` (or `status=X`, several = any of them) the span
 *  status (`running` = not ended); `key=value` a tag whose value as text contains `value`.
 *  Every part must match. */
export function parseSpanQuery(query: string): SpanQuery {
  const q: SpanQuery = { terms: [], status: [], tags: [] };
  for (const raw of query.trim().split(/\s+/)) {
    if (!raw) continue;
    const st = /^status[:=](.+)$/i.exec(raw);
    if (st) { q.status.push(...st[1].toLowerCase().replace('timed out', 'timed_out').split(',')); continue; }
    const eq = raw.indexOf('=');
    if (eq > 0) { q.tags.push([raw.slice(0, eq), raw.slice(eq + 1).toLowerCase()]); continue; }
    q.terms.push(raw.toLowerCase());
  }
  return q;
}

export function spanMatches(r: SpanRow, q: SpanQuery): boolean {
  if (q.status.length) {
    const st = r.end_us == null ? 'running' : r.status;
    if (!q.status.includes(st)) return false;
  }
  for (const t of q.terms) {
    if (r.name.toLowerCase().includes(t)) continue;
    if (r.rpc_method && r.rpc_method.toLowerCase().includes(t)) continue;
    if (r.error_type && r.error_type.toLowerCase().includes(t)) continue;
    return false;
  }
  for (const [k, v] of q.tags) {
    const tv = r.tags ? r.tags[k] : undefined;
    if (tv === undefined) return false;
    const text = (typeof tv === 'string' ? tv : JSON.stringify(tv)).toLowerCase();
    if (!text.includes(v)) return false;
  }
  return true;
}
