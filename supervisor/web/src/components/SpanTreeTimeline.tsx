// The span tree beside a waterfall timeline on one shared time axis. Both columns are one
// virtualized list of fixed-height rows: only the rows in the viewport (+ overscan) exist in
// the DOM, so 100,000 spans scroll and expand as fast as 100. Keyboard: ↑/↓ move, ←/→
// collapse/expand (or go to parent/child), Home/End, PageUp/PageDown, Enter/Space toggle.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { SpanModel } from '../spanmodel';
import { fmtDuration } from '../format';

export const ROW_H = 24;
const OVERSCAN = 8;
const INDENT = 14;
const MAX_INDENT_LEVELS = 12; // deeper levels show their depth as a number instead

interface Props {
  model: SpanModel;
  /** changes whenever the model changed: a new value re-renders the rows */
  version: number;
  selected: number;
  onSelect: (i: number) => void;
  t0: number;
  t1: number;
  now: number;
  compact?: boolean;
  /** per span index: 1 = matches the span search (highlighted) */
  matches?: Uint8Array | null;
  /** keep the newest span in view while the run is live */
  follow?: boolean;
}

function niceStep(totalUs: number, target: number): number {
  const raw = totalUs / target;
  const pow = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

export function SpanTreeTimeline({ model, selected, onSelect, t0, t1, now, compact, matches, follow }: Props) {
  const body = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewH, setViewH] = useState(600);
  const [sbw, setSbw] = useState(0);
  const [treeFrac, setTreeFrac] = useState(compact ? 0.55 : 0.42);
  const [, bump] = useState(0);

  const vis = model.visible();
  const n = model.visibleLen;

  useLayoutEffect(() => {
    const el = body.current;
    if (!el) return;
    const measure = () => { setViewH(el.clientHeight); setSbw(el.offsetWidth - el.clientWidth); };
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    measure();
    return () => ro.disconnect();
  }, []);

  // keep the selected row in view
  useEffect(() => {
    const el = body.current;
    if (!el || selected < 0) return;
    const p = model.visiblePos(selected);
    if (p < 0) return;
    const top = p * ROW_H;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_H - el.clientHeight;
  }, [selected]);

  // Scroll events already come once per frame, before rAF: render the new window at once.
  // Scrolled to the bottom = the reader follows the newest rows (like `tail -f`).
  const atBottom = useRef(true);
  const onScroll = () => {
    const el = body.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    atBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_H;
  };

  // New spans arrived: stay at the bottom if the reader was there, or if "follow" is on.
  // (Expanding or collapsing changes the row count too, but never scrolls.)
  const seenSize = useRef(model.size);
  useLayoutEffect(() => {
    const el = body.current;
    const grew = model.size > seenSize.current;
    seenSize.current = model.size;
    if (!el || !grew || !(follow || atBottom.current)) return;
    el.scrollTop = el.scrollHeight;
    setScrollTop(el.scrollTop);
    atBottom.current = true;
  });

  const toggle = (i: number) => { model.setCollapsed(i, !model.isCollapsed(i)); bump((x) => x + 1); };
  const collapse = (i: number, c: boolean) => { model.setCollapsed(i, c); bump((x) => x + 1); };

  const onKey = (e: KeyboardEvent) => {
    if (!n) return;
    const p = model.visiblePos(selected);
    const page = Math.max(1, Math.floor(viewH / ROW_H) - 1);
    const sel = (k: number) => { k = Math.max(0, Math.min(n - 1, k)); onSelect(vis[k]); };
    switch (e.key) {
      case 'ArrowDown': sel(p + 1); break;
      case 'ArrowUp': sel(p < 0 ? 0 : p - 1); break;
      case 'PageDown': sel(p + page); break;
      case 'PageUp': sel(p - page); break;
      case 'Home': sel(0); break;
      case 'End': sel(n - 1); break;
      case 'ArrowRight':
        if (selected < 0) { sel(0); break; }
        if (model.hasChildren(selected)) {
          if (model.isCollapsed(selected)) collapse(selected, false);
          else onSelect(model.children[selected]![0]);
        }
        break;
      case 'ArrowLeft':
        if (selected < 0) break;
        if (model.hasChildren(selected) && !model.isCollapsed(selected)) collapse(selected, true);
        else if (model.parent[selected] >= 0) onSelect(model.parent[selected]);
        break;
      case 'Enter': case ' ':
        if (selected >= 0 && model.hasChildren(selected)) toggle(selected);
        break;
      default: return;
    }
    e.preventDefault();
  };

  // The tree column keeps room for a name, its error type and duration on narrow screens.
  const nameW = `max(${(treeFrac * 100).toFixed(2)}%, min(420px, 65%))`;
  const span = Math.max(1, t1 - t0);
  const first = Math.max(0, Math.floor(scrollTop / ROW_H) - OVERSCAN);
  const last = Math.min(n, Math.ceil((scrollTop + viewH) / ROW_H) + OVERSCAN);
  const rows = [];
  for (let k = first; k < last; k++) {
    const i = vis[k];
    const r = model.rows[i];
    const d = model.depth[i];
    const hasKids = model.hasChildren(i);
    const collapsed = hasKids && model.isCollapsed(i);
    const running = r.end_us == null;
    const status = running ? (r.status && r.status !== 'ok' ? r.status : 'running') : r.status;
    const end = r.end_us ?? now;
    const left = ((r.start_us - t0) / span) * 100;
    const width = ((end - r.start_us) / span) * 100;
    const dur = end - r.start_us;
    const lvl = Math.min(d, MAX_INDENT_LEVELS);
    const hit = matches && matches[i] === 1;
    const child = r.child_run_id ?? null;
    rows.push(
      <div key={i} class={`tt-row${i === selected ? ' sel' : ''}${hit ? ' match' : ''}`} style={{ top: k * ROW_H }}
        data-testid="span-row" data-span={r.id} data-status={status} data-match={hit ? '1' : undefined}
        onClick={() => onSelect(i)}>
        <div class="tt-name" style={{ width: nameW }}>
          <span class="tt-indent" style={{ width: lvl * INDENT }}>{d > MAX_INDENT_LEVELS ? <b class="deep">{d}</b> : null}</span>
          {hasKids
            ? <button class="tw" aria-label={collapsed ? 'expand' : 'collapse'} tabIndex={-1}
                onClick={(e) => { e.stopPropagation(); toggle(i); }}>{collapsed ? '▸' : '▾'}</button>
            : <span class="tw" />}
          <i class={`dot st-${status}`} />
          <span class={`nm k-${r.kind}`} title={r.name}>{r.name}</span>
          {r.kind === 'subflow' || child != null
            ? <a class="sub" data-testid="subflow-marker" href={child != null ? `#/runs/${child}` : undefined}
                title={child != null ? `sub-flow: run #${child}` : 'sub-flow (starting)'}
                onClick={(e) => e.stopPropagation()}>↳ {child != null ? `run #${child}` : 'sub-flow'}</a>
            : null}
          {r.rpc_method ? <span class="rpc">{r.rpc_service ? `${r.rpc_service}.` : ''}{r.rpc_method}</span> : null}
          {collapsed ? <span class="cnt">+{model.descendantCount(i)}</span> : null}
          {r.error_type && !hasKids ? <span class="err" title={r.error_type}>{r.error_type}</span> : null}
          <span class="du">{fmtDuration(dur)}{running ? '…' : ''}</span>
        </div>
        <div class="tt-lane">
          <div class={`bar st-${status}`} style={{ left: `${left}%`, width: `${Math.max(width, 0)}%` }} />
        </div>
      </div>,
    );
  }

  // axis ticks
  const step = niceStep(span, compact ? 4 : 7);
  const ticks = [];
  for (let t = 0; t <= span; t += step) {
    if (t > 0 && t / span > 0.92) break; // the label would be clipped at the right edge
    ticks.push(<span key={t} class="tick" style={{ left: `${(t / span) * 100}%` }}>{t === 0 ? '0' : fmtDuration(t)}</span>);
  }

  const startDrag = (e: MouseEvent) => {
    e.preventDefault();
    const host = (e.currentTarget as HTMLElement).parentElement!.parentElement!;
    const rect = host.getBoundingClientRect();
    const move = (ev: MouseEvent) => setTreeFrac(Math.min(0.8, Math.max(0.2, (ev.clientX - rect.left) / rect.width)));
    const up = () => { removeEventListener('mousemove', move); removeEventListener('mouseup', up); };
    addEventListener('mousemove', move);
    addEventListener('mouseup', up);
  };

  return (
    <div class="tt">
      <div class="tt-head" style={{ paddingRight: sbw }}>
        <div class="tt-name-h" style={{ width: nameW }}>
          <span>Span</span><span class="muted">{model.size.toLocaleString()} {model.size === 1 ? 'span' : 'spans'}</span>
          <span class="splitter" onMouseDown={startDrag} title="drag to resize" />
        </div>
        <div class="tt-axis">{ticks}</div>
      </div>
      <div class="tt-body" ref={body} tabIndex={0} onScroll={onScroll} onKeyDown={onKey} role="tree"
        aria-label="span tree">
        <div class="tt-canvas" style={{ height: n * ROW_H }}>
          <div class="tt-grid" style={{ left: nameW }}>
            {ticks.map((t) => <i key={t.key} style={{ left: (t.props as { style: { left: string } }).style.left }} />)}
          </div>
          {rows}
        </div>
        {n === 0 ? <div class="empty">No spans yet.</div> : null}
      </div>
    </div>
  );
}
