// The panel for one selected span: status, timing, tags, rpc, CPU/memory, child run link,
// source location ("open source" → editor at file:line), error + traceback, and its logs.
import { useEffect, useState } from 'preact/hooks';
import type { RunRecord } from '../api';
import type { SpanModel } from '../spanmodel';
import { fmtDuration, fmtKb } from '../format';
import { href } from '../router';
import { StatusBadge } from './Status';

const LOG_PAGE = 2000; // lines shown at first; "earlier lines" adds this many each time

export function errorLine(model: SpanModel, i: number): number | null {
  const r = model.rows[i];
  if (!r) return null;
  // The innermost traceback frame in the span's own file is where it failed.
  if (r.traceback) {
    const re = /File "([^"]+)", line (\d+)/g;
    let m: RegExpExecArray | null;
    let line: number | null = null;
    let any: number | null = null;
    while ((m = re.exec(r.traceback))) {
      any = Number(m[2]);
      if (!r.file || m[1] === r.file) line = Number(m[2]);
    }
    if (line != null) return line;
    if (any != null && !r.file) return any;
  }
  return r.line ?? null;
}

export function SpanDetail({ model, index, run, now, onClose, onShowLogs }: {
  model: SpanModel; index: number; run: RunRecord | null; now: number; onClose?: () => void;
  onShowLogs?: (i: number) => void;
}) {
  const [pages, setPages] = useState(1);
  useEffect(() => setPages(1), [index]);
  const r = model.rows[index];
  if (!r) return <div class="detail empty">Select a span to see its tags, logs and errors.</div>;
  const running = r.end_us == null;
  const status = running && r.status === 'ok' ? 'running' : (running ? (r.status || 'running') : r.status);
  const dur = (r.end_us ?? now) - r.start_us;
  const offset = r.start_us - (model.minStart === Infinity ? r.start_us : model.minStart);
  const logs = model.logs[index] || [];
  const limit = pages * LOG_PAGE;
  const shown = logs.length > limit ? logs.slice(logs.length - limit) : logs;
  const tags = r.tags && Object.keys(r.tags).length ? r.tags : null;
  const flowName = run?.flow_version ? run.flow : null; // ad-hoc scripts have no library source
  const errLine = r.status !== 'ok' ? errorLine(model, index) : null;
  // "open source" goes to the line shown beside it (where the span starts); the error box
  // links to the line that raised. The version is the run's: the editor says whether it is
  // still the current one.
  const editorLink = (line: number | null) => (flowName && line
    ? href('editor', flowName, { line, run: run?.id, version: run?.flow_version ?? undefined })
    : null);
  const srcHref = editorLink(r.line ?? errLine);
  const errHref = editorLink(errLine);
  // rss_kb is the RSS growth while the span ran: 0 (the usual case) says nothing.
  const memory = r.rss_kb != null && r.rss_kb > 0 ? `+${fmtKb(r.rss_kb)} RSS` : null;
  return (
    <div class="detail" data-span={r.id}>
      <div class="detail-head">
        <h3 title={r.name}>{r.name}</h3>
        <StatusBadge status={status} />
        {onClose ? <button class="icon" onClick={onClose} aria-label="close">×</button> : null}
      </div>
      <dl class="kv">
        <dt>kind</dt><dd>{r.kind}</dd>
        <dt>duration</dt><dd>{running ? `${fmtDuration(dur)} (running)` : fmtDuration(dur)}</dd>
        <dt>starts at</dt><dd>+{fmtDuration(offset)}</dd>
        {r.rpc_service || r.rpc_method ? <><dt>rpc</dt><dd class="mono">{r.rpc_service ?? '?'} · {r.rpc_method ?? '?'}</dd></> : null}
        <dt>CPU</dt><dd>{r.cpu_us != null ? fmtDuration(r.cpu_us) : '—'}</dd>
        {memory ? <><dt>memory</dt><dd>{memory}</dd></> : null}
        {r.child_run_id != null ? <><dt>child run</dt><dd><a href={href('runs', r.child_run_id)}>run #{r.child_run_id} →</a></dd></> : null}
        {r.file ? <><dt>source</dt><dd class="mono src">
          <span title={r.file}>{r.file.split('/').pop()}:{r.line ?? '?'}</span>
          {srcHref ? <a class="open-src" href={srcHref}>open source</a> : null}
        </dd></> : null}
        {r.orphan ? <><dt>note</dt><dd class="warn">parent never arrived; attached to the root</dd></> : null}
        <dt>span id</dt><dd class="mono">{r.id}</dd>
      </dl>
      {r.error || r.error_type || r.traceback ? (
        <section class="error-box">
          <div class="error-title"><b>{r.error_type || 'Error'}</b>{r.error ? `: ${r.error}` : ''}</div>
          {r.traceback ? <pre class="traceback">{r.traceback}</pre> : null}
          {errHref && errLine ? <a class="open-src err-src" href={errHref}>open line {errLine} in the editor</a> : null}
        </section>
      ) : null}
      {tags ? (
        <section>
          <h4>Tags</h4>
          <table class="tags"><tbody>
            {Object.entries(tags).map(([k, v]) => (
              <tr key={k}><th>{k}</th><td class="mono">{typeof v === 'string' ? v : JSON.stringify(v)}</td></tr>
            ))}
          </tbody></table>
        </section>
      ) : null}
      <section>
        <h4>Logs <span class="muted">{logs.length ? `${logs.length.toLocaleString()} line${logs.length > 1 ? 's' : ''}` : 'none'}</span>
          {onShowLogs && logs.length ? <>{' '}<button class="link show-in-log" onClick={() => onShowLogs(index)}>show in the run log</button></> : null}</h4>
        {logs.length > shown.length ? <div class="muted log-more">showing the last {shown.length.toLocaleString()}{' '}
          <button class="link earlier" onClick={() => setPages(pages + 1)}>show {Math.min(LOG_PAGE, logs.length - shown.length).toLocaleString()} earlier lines</button></div> : null}
        {shown.length ? (
          <pre class="logs">{shown.map((l, k) => (
            <div key={k} class={`log lg-${l.stream}`}><span class="ts">+{fmtDuration(l.ts_us - r.start_us)}</span>{l.text.replace(/\n$/, '')}</div>
          ))}</pre>
        ) : null}
      </section>
    </div>
  );
}
