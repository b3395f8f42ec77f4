// A run's span tree + timeline with the selected span's detail beside it. Used by the Run
// view and by the editor's run pane. Selection defaults to the failing span once the run ended.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { LiveRun } from '../live';
import { TERMINAL } from '../api';
import { useNow } from '../hooks';
import { SpanTreeTimeline } from './SpanTreeTimeline';
import { SpanDetail } from './SpanDetail';

export function RunPanel({ live, version, compact, onSelectSpan }: {
  live: LiveRun; version: number; compact?: boolean; onSelectSpan?: (i: number) => void;
}) {
  const [selected, setSelected] = useState(-1);
  const autoPicked = useRef(false);
  const run = live.run;
  const active = !!run && !TERMINAL.has(run.status);
  const now = useNow(active);
  const m = live.model;

  useEffect(() => {
    // After the run ended, open the span where it failed (once).
    if (autoPicked.current || !run || !TERMINAL.has(run.status) || !m.size) return;
    autoPicked.current = true;
    if (selected >= 0) return;
    const f = m.firstFailure();
    if (f >= 0) { m.reveal(f); setSelected(f); onSelectSpan?.(f); }
  }, [version, run?.status]);

  const t0 = Math.min(run?.started_us || Infinity, m.minStart);
  const endUs = run?.ended_us && !active ? Math.max(run.ended_us, m.maxEnd) : Math.max(now, m.maxEnd);
  const select = (i: number) => { setSelected(i); onSelectSpan?.(i); };
  return (
    <div class={`run-panel${compact ? ' compact' : ''}`}>
      <div class="run-tree">
        {m.size || live.loaded ? (
          <SpanTreeTimeline model={m} version={version} selected={selected} onSelect={select}
            t0={Number.isFinite(t0) ? t0 : now} t1={endUs} now={now} compact={compact} />
        ) : <div class="empty">{run?.status === 'queued' ? 'Queued: waiting for a slot…' : 'Waiting for spans…'}</div>}
      </div>
      <div class="run-detail">
        {selected >= 0
          ? <SpanDetail model={m} index={selected} run={run} now={now} />
          : <div class="detail empty">Select a span (click, or focus the tree and use the arrow keys) to see its tags, logs and errors.</div>}
      </div>
    </div>
  );
}
