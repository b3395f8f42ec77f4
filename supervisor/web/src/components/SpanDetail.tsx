// The panel for one selected span: status, timing, tags, rpc, CPU/memory, child run link,
// source location ("open source" → editor at file:line), error + traceback, and its logs.
import type { RunRecord } from '../api';
import type { SpanModel } from '../spanmodel';
import { fmtDuration, fmtKb } from '../format';
import { href } from '../router';
import { StatusBadge } from './Status';

const MAX_LOG_LINES = 2000;

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

export function SpanDetail({ model, index, run, now, onClose }: {
  model: SpanModel; index: number; run: RunRecord | null; now: number; onClose?: () => void;
}) {
  const r = model.rows[index];
  if (!r) return <div class="detail empty">Select a span to see its tags, logs and errors.</div>;
  const running = r.end_us == null;
  const status = running && r.status === 'ok' ? 'running' : (running ? (r.status || 'running') : r.status);
  const dur = (r.end_us ?? now) - r.start_us;
  const offset = r.start_us - (model.minStart === Infinity ? r.start_us : model.minStart);
  const logs = model.logs[index] || [];
  const shown = logs.length > MAX_LOG_LINES ? logs.slice(logs.length - MAX_LOG_LINES) : logs;
  const tags = r.tags && Object.keys(r.tags).length ? r.tags : null;
  const flowName = run?.flow_version ? run.flow : null; // ad-hoc scripts have no library source
  const errLine = r.status !== 'ok' ? errorLine(model, index) : null;
  const srcLine = errLine ?? r.line;
  const editorHref = flowName && srcLine
    ? href('editor', flowName, { line: srcLine, run: run?.id, version: run?.flow_version ?? undefined })
    : null;
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
        <dt>memory</dt><dd>{r.rss_kb != null ? `+${fmtKb(r.rss_kb)} RSS` : '—'}</dd>
        {r.child_run_id != null ? <><dt>child run</dt><dd><a href={href('runs', r.child_run_id)}>run #{r.child_run_id} →</a></dd></> : null}
        {r.file ? <><dt>source</dt><dd class="mono src">
          <span title={r.file}>{r.file.split('/').pop()}:{r.line ?? '?'}</span>
          {editorHref ? <a class="open-src" href={editorHref}>open source</a> : null}
        </dd></> : null}
        {r.orphan ? <><dt>note</dt><dd class="warn">parent never arrived; attached to the root</dd></> : null}
        <dt>span id</dt><dd class="mono">{r.id}</dd>
      </dl>
      {r.error || r.error_type || r.traceback ? (
        <section class="error-box">
          <div class="error-title"><b>{r.error_type || 'Error'}</b>{r.error ? `: ${r.error}` : ''}</div>
          {r.traceback ? <pre class="traceback">{r.traceback}</pre> : null}
          {editorHref && errLine ? <a class="open-src" href={editorHref}>open line {errLine} in the editor</a> : null}
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
        <h4>Logs <span class="muted">{logs.length ? `${logs.length} line${logs.length > 1 ? 's' : ''}` : 'none'}</span></h4>
        {logs.length > shown.length ? <div class="muted">showing the last {shown.length}</div> : null}
        {shown.length ? (
          <pre class="logs">{shown.map((l, k) => (
            <div key={k} class={`log lg-${l.stream}`}><span class="ts">+{fmtDuration(l.ts_us - r.start_us)}</span>{l.text.replace(/\n$/, '')}</div>
          ))}</pre>
        ) : null}
      </section>
    </div>
  );
}
