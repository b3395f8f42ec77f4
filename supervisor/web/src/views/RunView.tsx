// #/runs/ID: the run header (status, reason, profile, input/output, dropped counts, Cancel and
// Retry) above the live span tree + timeline and the span detail panel.
import { useState } from 'preact/hooks';
import { api, TERMINAL, type RunRecord } from '../api';
import { fmtDuration, fmtKb, fmtTime, jsonPreview } from '../format';
import { useLiveRun, useNow } from '../hooks';
import { go, href } from '../router';
import { StatusBadge } from '../components/Status';
import { RunPanel } from '../components/RunPanel';
import { RunLogs } from '../components/RunLogs';
import { useConn } from '../conn';

export function plainReason(run: RunRecord): string | null {
  const r = run.reason;
  switch (run.status) {
    case 'killed': return `Killed by the sandbox: ${r || 'a sandbox limit was hit'}`;
    case 'timed_out': return `Timed out: ${r || 'the wall-clock limit was reached'}`;
    case 'cancelled': return `Cancelled${r ? `: ${r}` : ''}`;
    case 'interrupted': return `Interrupted: ${r || 'the supervisor stopped while it ran'}`;
    case 'failed': return r ? `Failed: ${r}` : 'Failed';
    case 'queued': return run.queue_position != null ? `Queued (position ${run.queue_position})` : 'Queued';
    default: return r;
  }
}

function JsonBlock({ label, value }: { label: string; value: unknown }) {
  const [open, setOpen] = useState(false);
  if (value === undefined || value === null) return <div class="jb"><span class="lbl">{label}</span><span class="muted">none</span></div>;
  const full = JSON.stringify(value, null, 2);
  return (
    <div class="jb">
      <span class="lbl">{label}</span>
      {open
        ? <pre class="json" onClick={() => setOpen(false)}>{full}</pre>
        : <code class="json-1" title="click to expand" onClick={() => setOpen(true)}>{jsonPreview(value, 160)}</code>}
    </div>
  );
}

export function RunHeader({ run, liveSpans = 0, onAction }: { run: RunRecord; liveSpans?: number; onAction: (msg: string | null) => void }) {
  const active = !TERMINAL.has(run.status);
  const now = useNow(active, 500);
  const c = useConn();
  const stale = active && c.degraded ? Math.max(0, Math.round((Date.now() * 1000 - c.lastUpdateUs()) / 1e6)) : null;
  const dur = run.started_us ? (run.ended_us || now) - run.started_us : null; // 0 = not yet
  const dropped = Object.entries(run.dropped || {}).filter(([, v]) => v);
  const reason = plainReason(run);
  const cancel = async () => {
    try { await api.cancel(run.id); onAction(null); } catch (e) { onAction(`cancel: ${(e as Error).message}`); }
  };
  const retry = async () => {
    try { const r = await api.retry(run.id); go('runs', r.run_id); } catch (e) { onAction(`retry: ${(e as Error).message}`); }
  };
  return (
    <div class="run-header">
      <div class="rh-top">
        <h2>Run #{run.id}</h2>
        <StatusBadge status={run.status} />
        {run.flow && run.flow_version
          ? <a class="flowlink" href={href('flows', run.flow)}>{run.flow} v{run.flow_version}</a>
          : <span class="flowlink plain">{run.flow || 'script'} <span class="muted">ad-hoc script</span></span>}
        {run.parent_run != null ? <a href={href('runs', run.parent_run)} class="muted">↑ parent run #{run.parent_run}</a> : null}
        <span class="grow" />
        {run.flow && run.flow_version ? <a class="btn" href={href('editor', run.flow, { run: run.id, version: run.flow_version })}>Open in editor</a> : null}
        {active ? <button class="btn danger" onClick={cancel}>Cancel</button> : null}
        {!active ? <button class="btn" onClick={retry}>Retry</button> : null}
      </div>
      {reason && !(run.status === 'ok' && /^ok$/i.test(reason)) ? <div class={`reason st-${run.status}`}>{reason}</div> : null}
      <div class="rh-facts">
        <span><b>profile</b> {run.profile}{run.network ? ' + network' : ''}</span>
        <span><b>started</b> {fmtTime(run.started_us || run.created_us)}</span>
        <span data-testid="run-duration"><b>duration</b> {fmtDuration(dur)}{active && dur != null ? '…' : ''}</span>
        {stale != null ? <span class="stale" data-testid="last-update">last update {stale} s ago</span> : null}
        <span><b>CPU</b> {active && !run.cpu_us ? '—' : fmtDuration(run.cpu_us)}</span>
        <span><b>peak memory</b> {active && !run.peak_rss_kb ? '—' : fmtKb(run.peak_rss_kb)}</span>
        <span><b>spans</b> {Math.max(run.span_count ?? 0, liveSpans).toLocaleString()}</span>
        {run.exit_code != null ? <span><b>exit</b> {run.exit_code}</span> : null}
        {run.signal != null ? <span><b>signal</b> {run.signal}</span> : null}
        {dropped.length
          ? <span class="dropped" title="events the supervisor dropped at a cap or could not parse"><b>dropped</b> {dropped.map(([k, v]) => `${k.replace(/_/g, ' ')} ${v}`).join(', ')}</span>
          : <span class="muted">no events dropped</span>}
      </div>
      <div class="rh-io">
        <JsonBlock label="input" value={run.input} />
        <JsonBlock label="output" value={run.output} />
      </div>
      {run.diagnostics && run.diagnostics.length ? (
        <details class="diag"><summary>{run.diagnostics.length} diagnostic{run.diagnostics.length > 1 ? 's' : ''}</summary>
          <pre>{run.diagnostics.map((d) => (typeof d === 'string' ? d : JSON.stringify(d))).join('\n')}</pre></details>
      ) : null}
      {run.stderr_tail && !run.flow_version ? <details class="diag"><summary>stderr tail</summary><pre class="logs">{run.stderr_tail}</pre></details> : null}
    </div>
  );
}

export function RunView({ idText }: { idText: string }) {
  // Only a whole number is a run id: anything else says so instead of a blank page.
  const id = /^\d+$/.test(idText) ? Number(idText) : NaN;
  const { live, version } = useLiveRun(Number.isNaN(id) ? null : id);
  const [msg, setMsg] = useState<string | null>(null);
  const [tab, setTab] = useState<'spans' | 'logs'>('spans');
  const [selected, setSelected] = useState(-1);
  const [logSpan, setLogSpan] = useState('');
  if (Number.isNaN(id)) {
    return <div class="page"><div class="notice error" data-testid="bad-run-id">“{idText}” is not a run id (run ids are whole numbers). <a href="#/runs">Go to runs</a>.</div></div>;
  }
  if (!live) return null;
  if (live.error && !live.run) return <div class="page"><div class="notice error">Run #{id}: {live.error} <a href="#/runs">Go to runs</a>.</div></div>;
  if (!live.run) return <div class="page"><div class="empty">Loading run #{id}…</div></div>;
  const jump = (i: number) => { live.model.reveal(i); setSelected(i); setTab('spans'); };
  const showLogs = (i: number) => { setLogSpan(live.model.rows[i]?.id ?? ''); setTab('logs'); };
  return (
    <div class="page run-page">
      <RunHeader run={live.run} liveSpans={live.model.size} onAction={(m) => { setMsg(m); void live.refresh(); }} />
      {msg ? <div class="notice error">{msg}</div> : null}
      {live.error ? <div class="notice error">{live.error}</div> : null}
      <div class="run-tabs" role="tablist">
        <button role="tab" class={tab === 'spans' ? 'on' : ''} aria-selected={tab === 'spans'} onClick={() => setTab('spans')}>Spans</button>
        <button role="tab" class={tab === 'logs' ? 'on' : ''} aria-selected={tab === 'logs'} onClick={() => setTab('logs')}>Logs</button>
      </div>
      {tab === 'spans'
        ? <RunPanel live={live} version={version} selected={selected} onSelectSpan={setSelected} onShowLogs={showLogs} />
        : <RunLogs live={live} version={version} spanFilter={logSpan} onSpanFilter={setLogSpan} onJump={jump} />}
    </div>
  );
}
