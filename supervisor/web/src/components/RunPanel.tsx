// A run's span tree + timeline with the selected span's detail beside it. Used by the Run
// view and by the editor's run pane. Selection defaults to the failing span once the run ended.
// Above the tree: span search (name, status:X, tag key=value) with previous/next match, "next
// failure", expand/collapse all, and "follow" (keep the newest span in view while live).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { LiveRun } from '../live';
import { TERMINAL } from '../api';
import { useDebounced, useNow } from '../hooks';
import { SpanTreeTimeline } from './SpanTreeTimeline';
import { SpanDetail } from './SpanDetail';

export function RunPanel({ live, version, compact, onSelectSpan, selected: selProp, onShowLogs }: {
  live: LiveRun; version: number; compact?: boolean; onSelectSpan?: (i: number) => void;
  /** controlled selection (the Run view's log view selects spans too) */
  selected?: number;
  /** "show in the run log" from the span detail */
  onShowLogs?: (i: number) => void;
}) {
  const [selState, setSelState] = useState(-1);
  const selected = selProp ?? selState;
  const autoPicked = useRef(false);
  const run = live.run;
  const active = !!run && !TERMINAL.has(run.status);
  const now = useNow(active);
  const m = live.model;
  const [query, setQuery] = useState('');
  const q = useDebounced(query, 150);
  const [cur, setCur] = useState(-1); // position in the hit list
  const [follow, setFollow] = useState(false);
  const [, bump] = useState(0);

  const select = (i: number) => { setSelState(i); onSelectSpan?.(i); };

  useEffect(() => {
    // After the run ended, open the span where it failed (once).
    if (autoPicked.current || !run || !TERMINAL.has(run.status) || !m.size) return;
    autoPicked.current = true;
    if (selected >= 0) return;
    const f = m.firstFailure();
    if (f >= 0) { m.reveal(f); select(f); }
  }, [version, run?.status]);

  // The search re-runs when the query or the spans change (new spans can match).
  const found = useMemo(() => (q.trim() ? m.search(q) : null), [q, q.trim() ? m.version : 0]);
  const hits = found ? found.hits : null;
  useEffect(() => { setCur(-1); }, [q]);

  const goTo = (i: number) => { if (i < 0) return; m.reveal(i); select(i); bump((x) => x + 1); };
  const step = (dir: 1 | -1, typed = query) => {
    // Enter right after typing: search now rather than wait for the debounce.
    const hits = typed.trim() === q.trim() ? found?.hits : (typed.trim() ? m.search(typed).hits : null);
    if (!hits || !hits.length) return;
    // From the selected span when it is a match, else from the current position.
    let p = selected >= 0 ? hits.indexOf(selected) : -1;
    if (p < 0) p = cur;
    const next = p < 0 ? (dir > 0 ? 0 : hits.length - 1) : (p + dir + hits.length) % hits.length;
    setCur(next);
    goTo(hits[next]);
  };
  const onSearchKey = (e: KeyboardEvent) => {
    if (e.key === 'Enter') { e.preventDefault(); step(e.shiftKey ? -1 : 1, (e.target as HTMLInputElement).value); }
    if (e.key === 'Escape') setQuery('');
  };
  const curPos = hits && selected >= 0 ? hits.indexOf(selected) : -1;

  const t0 = Math.min(run?.started_us || Infinity, m.minStart);
  const endUs = run?.ended_us && !active ? Math.max(run.ended_us, m.maxEnd) : Math.max(now, m.maxEnd);
  return (
    <div class={`run-panel${compact ? ' compact' : ''}`}>
      <div class="run-tree">
        <div class="tree-tools">
          <input type="search" class="span-search" data-testid="span-search" aria-label="search spans"
            placeholder="Find spans: name, status:failed, key=value" value={query} spellcheck={false}
            onInput={(e) => setQuery((e.target as HTMLInputElement).value)} onKeyDown={onSearchKey} />
          {hits ? <span class="hits muted" data-testid="span-search-count">
            {hits.length ? `${curPos >= 0 ? curPos + 1 : '–'} / ${hits.length.toLocaleString()}` : 'no match'}</span> : null}
          <button class="btn small" title="previous match (Shift+Enter)" aria-label="previous match" disabled={!hits?.length} onClick={() => step(-1)}>↑</button>
          <button class="btn small" title="next match (Enter)" aria-label="next match" disabled={!hits?.length} onClick={() => step(1)}>↓</button>
          <span class="grow" />
          <button class="btn small" onClick={() => goTo(m.nextFailure(selected))} title="select the next failed span">Next failure</button>
          <button class="btn small" onClick={() => { m.expandAll(); bump((x) => x + 1); }}>Expand all</button>
          <button class="btn small" onClick={() => { m.collapseBelow(1); bump((x) => x + 1); }}>Collapse all</button>
          {active ? <label class="follow" title="keep the newest span in view"><input type="checkbox" checked={follow}
            onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> follow</label> : null}
        </div>
        {m.size || live.loaded ? (
          <SpanTreeTimeline model={m} version={version} selected={selected} onSelect={select}
            t0={Number.isFinite(t0) ? t0 : now} t1={endUs} now={now} compact={compact}
            matches={found ? found.flags : null} follow={follow && active} />
        ) : <div class="empty">{run?.status === 'queued' ? 'Queued: waiting for a slot…' : 'Waiting for spans…'}</div>}
      </div>
      <div class="run-detail">
        {selected >= 0
          ? <SpanDetail model={m} index={selected} run={run} now={now} onShowLogs={onShowLogs} />
          : <div class="detail empty">Select a span (click, or focus the tree and use the arrow keys) to see its tags, logs and errors.</div>}
      </div>
    </div>
  );
}
