// LiveRun: one run's record + span model, kept current. A finished run loads its play_spans
// snapshot; a queued/running run streams GET /api/runs/{id}/events (SSE), which replays every
// event first. Events are queued and applied once per animation frame; event ids dedupe
// replays after a reconnect (EventSource sends Last-Event-ID itself; after a server-side
// `dropped` or a hard error we reopen with ?last_event_id=N).
import { api, TERMINAL, type LogLine, type RunRecord, type SpanColumns, type SpanRow, type TreeNode } from './api';
import { SpanModel } from './spanmodel';
import { conn } from './conn';

type Listener = () => void;

interface Queued { kind: string; data: string }

export class LiveRun {
  readonly model = new SpanModel();
  run: RunRecord | null = null;
  error: string | null = null;
  connected = false;
  reconnects = 0;
  lastEventId = -1;
  duplicates = 0;
  loaded = false;
  private gotEnd = false;
  private es: EventSource | null = null;
  private queue: Queued[] = [];
  private frame = 0;
  private listeners = new Set<Listener>();
  private closed = false;
  private retryTimer = 0;
  private pollTimer = 0;

  constructor(readonly runId: number) {}

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void { for (const fn of this.listeners) fn(); }

  get ended(): boolean { return !!this.run && TERMINAL.has(this.run.status); }

  async start(): Promise<void> {
    try {
      this.run = await api.status(this.runId);
    } catch (e) {
      this.error = (e as Error).message;
      this.emit();
      return;
    }
    if (this.closed) return;
    if (this.ended) await this.loadSnapshot();
    else this.connect();
    this.emit();
  }

  async loadSnapshot(): Promise<void> {
    try {
      performance.mark('hero:spans-request');
      // The compact columns form; a server that does not know it answers with the tree.
      const res = await api.spanColumns(this.runId);
      performance.mark('hero:spans-parsed');
      if (res && (res as SpanColumns).format === 'columns') {
        this.model.loadColumns(res as SpanColumns);
      } else {
        const tree = (res && 'tree' in (res as object) ? (res as unknown as { tree: TreeNode }).tree : res) as TreeNode | null;
        this.model.loadTree(tree);
      }
      performance.mark('hero:model-built');
      this.loaded = true;
    } catch (e) {
      this.error = `spans: ${(e as Error).message}`;
    }
  }

  private connect(): void {
    if (this.closed) return;
    const url = `api/runs/${this.runId}/events` + (this.lastEventId >= 0 ? `?last_event_id=${this.lastEventId}` : '');
    const es = new EventSource(url);
    this.es = es;
    const on = (kind: string) => (ev: MessageEvent) => {
      const id = ev.lastEventId ? Number(ev.lastEventId) : NaN;
      if (!Number.isNaN(id)) {
        if (id <= this.lastEventId && kind !== 'reset') { this.duplicates++; return; }
        this.lastEventId = id;
      }
      conn.stream(this.runId, true);
      this.queue.push({ kind, data: ev.data });
      this.schedule();
    };
    for (const k of ['span', 'log', 'status', 'end', 'reset', 'message']) es.addEventListener(k, on(k) as EventListener);
    es.addEventListener('dropped', () => { es.close(); this.reconnect(50); });
    es.onopen = () => { this.connected = true; conn.stream(this.runId, true); this.emit(); };
    es.onerror = () => {
      this.connected = false;
      conn.stream(this.runId, false);
      // CONNECTING: the browser retries by itself with Last-Event-ID. CLOSED: HTTP error.
      if (es.readyState === EventSource.CLOSED) this.reconnect(1000);
      this.emit();
    };
    // A run that ends while we are not connected still needs its final record.
    clearInterval(this.pollTimer);
    this.pollTimer = window.setInterval(() => this.poll(), 3000);
  }

  private reconnect(ms: number): void {
    if (this.closed || this.ended) return;
    this.reconnects++;
    clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.connect(), ms);
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    try {
      const r = await api.status(this.runId);
      if (this.closed) return;
      const wasEnded = this.ended;
      this.run = r;
      if (!wasEnded && this.ended && !this.gotEnd) {
        // The stream missed the end: take the stored snapshot.
        this.es?.close();
        await this.loadSnapshot();
        clearInterval(this.pollTimer);
      }
      this.emit();
    } catch { /* keep the last record */ }
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.flush(); });
  }

  /** Applies every queued event (one batch per animation frame). */
  flush(): void {
    const q = this.queue;
    if (!q.length) return;
    this.queue = [];
    const m = this.model;
    for (const ev of q) {
      let data: unknown;
      try { data = ev.data ? JSON.parse(ev.data) : null; } catch { continue; }
      switch (ev.kind) {
        case 'span': m.upsert(data as SpanRow); break;
        case 'log': {
          const l = data as LogLine & { span_id?: string };
          m.addLog(l.span_id, l);
          break;
        }
        case 'status': this.run = { ...(this.run || {}), ...(data as RunRecord) }; break;
        case 'reset': m.clear(); this.lastEventId = -1; break;
        case 'end':
          this.gotEnd = true;
          m.flushPendingToRoot();
          this.loaded = true;
          this.stopStream();
          if (data && typeof data === 'object' && 'status' in (data as object)) this.run = { ...(this.run as RunRecord), ...(data as RunRecord) };
          void this.poll();
          break;
        default: break;
      }
    }
    if (!this.loaded && m.size) this.loaded = true;
    this.emit();
  }

  private stopStream(): void {
    this.es?.close();
    this.es = null;
    this.connected = false;
    conn.stream(this.runId, null);
    clearInterval(this.pollTimer);
  }

  /** Re-reads the record (after cancel/retry). */
  async refresh(): Promise<void> { await this.poll(); }

  close(): void {
    this.closed = true;
    this.stopStream();
    clearTimeout(this.retryTimer);
    if (this.frame) cancelAnimationFrame(this.frame);
    this.listeners.clear();
  }
}
