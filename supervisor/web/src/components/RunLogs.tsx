// The run-wide log view: every line the store holds for a run (play_logs), in order, with its
// step, stream and time; filters by stream and step, a text search (matching lines only, or
// all lines with next/previous match), a jump from a line to its span, and a download of
// what is shown as text. Virtualized: only the rows in view exist in the DOM, so 20,000 or
// 200,000 lines scroll the same. While the run is live the lines are re-read every 2 s.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type LogLine } from '../api';
import type { LiveRun } from '../live';
import { fmtDuration } from '../format';
import { useDebounced } from '../hooks';

const ROW = 20;
const OVERSCAN = 10;

type Line = LogLine & { span_id: string };

export function RunLogs({ live, version, spanFilter, onSpanFilter, onJump }: {
  live: LiveRun; version: number;
  /** show only this span's lines (a span id), '' = every step */
  spanFilter: string;
  onSpanFilter: (id: string) => void;
  /** jump from a line to its span in the tree */
  onJump: (spanIndex: number) => void;
}) {
  const [lines, setLines] = useState<Line[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [stream, setStream] = useState('');
  const [text, setText] = useState('');
  const q = useDebounced(text, 150).toLowerCase();
  const body = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewH, setViewH] = useState(500);
  const ended = live.ended;

  const load = async () => {
    try { setLines(await api.logs(live.runId)); setErr(null); } catch (e) { setErr((e as Error).message); }
  };
  useEffect(() => { void load(); }, [live.runId, ended]);
  useEffect(() => {
    if (ended) return;
    const t = setInterval(() => { if (!document.hidden) void load(); }, 2000);
    return () => clearInterval(t);
  }, [ended, live.runId]);

  useLayoutEffect(() => {
    const el = body.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewH(el.clientHeight));
    ro.observe(el);
    setViewH(el.clientHeight);
    return () => ro.disconnect();
  }, [lines != null]);

  const all = lines || [];
  const streams = useMemo(() => [...new Set(all.map((l) => l.stream))].sort(), [lines]);
  // Steps that logged, in first-line order (the filter's choices).
  const steps = useMemo(() => {
    const seen = new Map<string, number>();
    for (const l of all) if (!seen.has(l.span_id)) seen.set(l.span_id, seen.size);
    return [...seen.keys()];
  }, [lines]);
  // Indices (into `all`) of the lines shown.
  const shown = useMemo(() => {
    const out: number[] = [];
    for (let k = 0; k < all.length; k++) {
      const l = all[k];
      if (stream && l.stream !== stream) continue;
      if (spanFilter && l.span_id !== spanFilter) continue;
      if (q && !l.text.toLowerCase().includes(q)) continue;
      out.push(k);
    }
    return out;
  }, [lines, stream, spanFilter, q]);
  useEffect(() => { if (body.current) { body.current.scrollTop = 0; setScrollTop(0); } }, [stream, spanFilter, q]);

  const m = live.model;
  const nameOf = (id: string) => { const i = m.byId.get(id); return i === undefined ? (id ? id : 'run') : m.rows[i].name; };
  const t0 = Number.isFinite(m.minStart) ? m.minStart : (live.run?.started_us || 0);

  const download = () => {
    const out = shown.map((k) => {
      const l = all[k];
      return `+${((l.ts_us - t0) / 1e6).toFixed(6)}s\t${nameOf(l.span_id)}\t${l.stream}\t${l.text.replace(/\n$/, '')}`;
    }).join('\n') + '\n';
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([out], { type: 'text/plain' }));
    a.download = `run-${live.runId}-logs.txt`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(shown.length, Math.ceil((scrollTop + viewH) / ROW) + OVERSCAN);
  const rows = [];
  for (let p = first; p < last; p++) {
    const k = shown[p];
    const l = all[k];
    const si = m.byId.get(l.span_id);
    rows.push(
      <div key={k} class={`lv-row lg-${l.stream}`} style={{ top: p * ROW }} data-testid="log-line" data-line={k + 1}>
        <span class="lv-n">{k + 1}</span>
        <span class="lv-ts">+{fmtDuration(l.ts_us - t0)}</span>
        <button class="lv-step link" title={`go to the span '${nameOf(l.span_id)}'`} disabled={si === undefined}
          onClick={() => si !== undefined && onJump(si)}>{nameOf(l.span_id)}</button>
        <span class={`lv-stream s-${l.stream}`}>{l.stream}</span>
        <span class="lv-text">{highlight(l.text.replace(/\n$/, ''), q)}</span>
      </div>,
    );
  }
  version; // re-rendered with the model (step names of spans that arrive later)
  return (
    <div class="run-logs">
      <div class="tree-tools">
        <input type="search" class="span-search" data-testid="log-search" aria-label="search logs" placeholder="Search log lines"
          value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} spellcheck={false} />
        <select aria-label="stream" value={stream} onChange={(e) => setStream((e.target as HTMLSelectElement).value)}>
          <option value="">all streams</option>
          {streams.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <select aria-label="step" value={spanFilter} onChange={(e) => onSpanFilter((e.target as HTMLSelectElement).value)}>
          <option value="">all steps</option>
          {steps.map((id) => <option key={id} value={id}>{nameOf(id)}</option>)}
          {spanFilter && !steps.includes(spanFilter) ? <option value={spanFilter}>{nameOf(spanFilter)}</option> : null}
        </select>
        <span class="muted hits" data-testid="log-count">{lines == null ? 'loading…'
          : shown.length === all.length ? `${all.length.toLocaleString()} lines` : `${shown.length.toLocaleString()} of ${all.length.toLocaleString()} lines`}</span>
        <span class="grow" />
        <button class="btn small" onClick={download} disabled={!shown.length}>Download</button>
      </div>
      {err ? <div class="notice error">logs: {err}</div> : null}
      <div class="lv-body" ref={body} onScroll={() => body.current && setScrollTop(body.current.scrollTop)} tabIndex={0}>
        <div class="lv-canvas" style={{ height: shown.length * ROW }}>{rows}</div>
        {lines && !shown.length ? <div class="empty">{all.length ? 'No line matches.' : 'This run has no log lines.'}</div> : null}
      </div>
    </div>
  );
}

/** The text with every case-insensitive occurrence of `q` in a <mark>. */
function highlight(text: string, q: string) {
  if (!q) return text;
  const lower = text.toLowerCase();
  const out = [];
  let at = 0;
  for (let k = lower.indexOf(q); k >= 0; k = lower.indexOf(q, k + q.length)) {
    if (k > at) out.push(text.slice(at, k));
    out.push(<mark key={k}>{text.slice(k, k + q.length)}</mark>);
    at = k + q.length;
  }
  out.push(text.slice(at));
  return out;
}
