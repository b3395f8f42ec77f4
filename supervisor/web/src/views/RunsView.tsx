// #/runs: run history — flow, status, started, duration, reason — with filters (flow, status,
// time range), text search and cursor pagination. The page re-reads itself every 2 s, so
// running runs update live. Filters live in the URL (#/runs?status=failed&q=parse).
import { useEffect, useState } from 'preact/hooks';
import { ALL_STATUSES, api, PROBLEMS, TERMINAL, type FlowSummary, type RunRecord } from '../api';
import { fmtAgo, fmtDuration, fmtTime, nowUs, statusLabel } from '../format';
import { useDebounced, useInterval } from '../hooks';
import { go, href, type Route } from '../router';
import { StatusBadge } from '../components/Status';

const RANGES: [string, string, number][] = [
  ['', 'any time', 0], ['15m', 'last 15 min', 15 * 60], ['1h', 'last hour', 3600],
  ['24h', 'last 24 h', 86400], ['7d', 'last 7 days', 7 * 86400],
];
const PAGE = 50;

type SortKey = 'id' | 'flow' | 'status' | 'started' | 'duration' | 'spans';
const SORTS: Record<SortKey, (r: RunRecord) => number | string> = {
  id: (r) => r.id,
  flow: (r) => r.flow ?? '',
  status: (r) => r.status,
  started: (r) => r.started_us || r.created_us,
  duration: (r) => (r.started_us ? (r.ended_us || nowUs()) - r.started_us : -1),
  spans: (r) => r.span_count ?? 0,
};

/** play_list for several statuses: one query per status from the same cursor (an id bound),
 *  merged newest first. The union's newest PAGE runs are among each list's newest PAGE, so
 *  the merge is exact and the next page starts below its last run. */
async function listStatuses(statuses: string[], p: Parameters<typeof api.list>[0]): Promise<{ runs: RunRecord[]; next: unknown }> {
  if (statuses.length <= 1) {
    const res = await api.list({ ...p, status: statuses[0] });
    return { runs: res.runs || [], next: res.next_cursor ?? null };
  }
  const all = await Promise.all(statuses.map((st) => api.list({ ...p, status: st })));
  const merged = all.flatMap((r) => r.runs || []).sort((a, b) => b.id - a.id);
  const runs = merged.slice(0, PAGE);
  const more = merged.length > PAGE || all.some((r) => r.next_cursor != null);
  return { runs, next: more && runs.length ? runs[runs.length - 1].id : null };
}

function setQuery(route: Route, patch: Record<string, string>) {
  const q: Record<string, string> = {};
  route.query.forEach((v, k) => { q[k] = v; });
  Object.assign(q, patch);
  go('runs', null, q);
}

export function RunsView({ route }: { route: Route }) {
  const flow = route.query.get('flow') || '';
  const status = route.query.get('status') || '';
  const statuses = status ? status.split(',').filter((x) => ALL_STATUSES.includes(x as RunRecord['status'])) : [];
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: 'id', dir: -1 });
  const range = route.query.get('range') || '';
  const from = route.query.get('from') || '';
  const to = route.query.get('to') || '';
  const [text, setText] = useState(route.query.get('q') || '');
  const q = useDebounced(text, 300);
  const [cursors, setCursors] = useState<unknown[]>([null]);
  const [page, setPage] = useState<{ runs: RunRecord[]; next: unknown } | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [flows, setFlows] = useState<FlowSummary[]>([]);

  useEffect(() => { api.flowList().then(setFlows).catch(() => {}); }, []);
  useEffect(() => { if ((route.query.get('q') || '') !== q) setQuery(route, { q }); }, [q]);
  useEffect(() => { setCursors([null]); }, [flow, status, range, from, to, q]);

  const cursor = cursors[cursors.length - 1];
  const load = async () => {
    let since: number | undefined;
    let until: number | undefined;
    const r = RANGES.find((x) => x[0] === range);
    if (r && r[2]) since = nowUs() - r[2] * 1e6;
    if (from) since = new Date(from).getTime() * 1000;
    if (to) until = new Date(to).getTime() * 1000;
    try {
      setPage(await listStatuses(statuses, {
        flow: flow || undefined, since_us: since, until_us: until,
        text: q || undefined, cursor: cursor ?? undefined, limit: PAGE,
      }));
      setErr(null);
    } catch (e) { setErr((e as Error).message); }
  };
  useEffect(() => { void load(); }, [flow, status, range, from, to, q, cursor]);
  useInterval(() => { if (!document.hidden) void load(); }, 2000);

  const runs = page?.runs || [];
  const key = SORTS[sort.key];
  const sorted = sort.key === 'id' && sort.dir < 0 ? runs
    : [...runs].sort((a, b) => { const x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : b.id - a.id) * sort.dir; });
  const active = runs.filter((r) => !TERMINAL.has(r.status)).length;
  return (
    <div class="page runs-page">
      <div class="toolbar">
        <h2>Runs</h2>
        <input class="search" type="search" placeholder="Search flow, reason, input, output…" value={text}
          onInput={(e) => setText((e.target as HTMLInputElement).value)} aria-label="search runs" />
        <select aria-label="flow" value={flow} onChange={(e) => setQuery(route, { flow: (e.target as HTMLSelectElement).value })}>
          <option value="">all flows</option>
          {flows.map((f) => <option key={f.name} value={f.name}>{f.name}</option>)}
          {flow && !flows.some((f) => f.name === flow) ? <option value={flow}>{flow}</option> : null}
        </select>
        <select aria-label="time range" value={from || to ? 'custom' : range}
          onChange={(e) => { const v = (e.target as HTMLSelectElement).value; if (v !== 'custom') setQuery(route, { range: v, from: '', to: '' }); else setQuery(route, { range: '', from: new Date(Date.now() - 3600e3 - new Date().getTimezoneOffset() * 60e3).toISOString().slice(0, 16) }); }}>
          {RANGES.map(([k, label]) => <option key={k} value={k}>{label}</option>)}
          <option value="custom">custom…</option>
        </select>
        {from || to ? <>
          <input type="datetime-local" aria-label="from" value={from} onChange={(e) => setQuery(route, { from: (e.target as HTMLInputElement).value })} />
          <span class="muted">to</span>
          <input type="datetime-local" aria-label="to" value={to} onChange={(e) => setQuery(route, { to: (e.target as HTMLInputElement).value })} />
        </> : null}
        <span class="grow" />
        {active ? <span class="live-pill"><i class="dot st-running" />{active} active</span> : null}
      </div>
      <div class="status-filter" role="group" aria-label="status filter">
        <span class="lbl">status</span>
        <button class={`chip-s${!statuses.length ? ' on' : ''}`} aria-pressed={!statuses.length} onClick={() => setQuery(route, { status: '' })}>any</button>
        <button class={`chip-s problems${statuses.length && PROBLEMS.every((x) => statuses.includes(x)) && statuses.length === PROBLEMS.length ? ' on' : ''}`}
          aria-pressed={statuses.length === PROBLEMS.length && PROBLEMS.every((x) => statuses.includes(x))}
          title={PROBLEMS.map(statusLabel).join(', ')} onClick={() => setQuery(route, { status: PROBLEMS.join(',') })}>problems</button>
        <span class="sep" />
        {ALL_STATUSES.map((st) => {
          const on = statuses.includes(st);
          return <button key={st} class={`chip-s st-${st}${on ? ' on' : ''}`} aria-pressed={on} data-status={st}
            onClick={() => setQuery(route, { status: (on ? statuses.filter((x) => x !== st) : [...statuses, st]).join(',') })}>
            <i class="dot" />{statusLabel(st)}</button>;
        })}
      </div>
      {err ? <div class="notice error">Could not list runs: {err}</div> : null}
      <div class="table-wrap">
        <table class="runs">
          <thead><tr>
            {([['id', 'Run', 'num'], ['flow', 'Flow', ''], ['status', 'Status', ''], ['started', 'Started', ''], ['duration', 'Duration', 'num'], ['spans', 'Spans', 'num']] as [SortKey, string, string][]).map(([k, label, cls]) => (
              <th key={k} class={`${cls} sortable`} aria-sort={sort.key === k ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none'}
                title="sort this page" onClick={() => setSort({ key: k, dir: sort.key === k ? (-sort.dir as 1 | -1) : (k === 'flow' || k === 'status' ? 1 : -1) })}>
                {label}{sort.key === k ? (sort.dir > 0 ? ' ▲' : ' ▼') : ''}</th>
            ))}
            <th>Reason</th></tr></thead>
          <tbody>
            {sorted.map((r) => {
              const dur = r.started_us ? (r.ended_us || nowUs()) - r.started_us : null;
              return (
                <tr key={r.id} class={`st-row-${r.status}`} data-run={r.id} onClick={() => go('runs', r.id)}>
                  <td class="num"><a href={href('runs', r.id)} onClick={(e) => e.stopPropagation()}>#{r.id}</a></td>
                  <td class="flow">{r.flow ?? 'script'}{!r.flow_version ? <span class="muted"> (ad-hoc)</span> : null}{r.flow_version ? <span class="muted"> v{r.flow_version}</span> : null}{r.parent_run != null ? <span class="muted" title={`child of run #${r.parent_run}`}> ↳</span> : null}</td>
                  <td><StatusBadge status={r.status} /></td>
                  <td title={fmtTime(r.started_us || r.created_us)}>{fmtTime(r.started_us || r.created_us)} <span class="muted">{fmtAgo(r.started_us || r.created_us)}</span></td>
                  <td class="num">{r.status === 'queued' ? <span class="muted">queued</span> : `${fmtDuration(dur)}${TERMINAL.has(r.status) ? '' : '…'}`}</td>
                  <td class="num spans" title={TERMINAL.has(r.status) ? undefined : 'counted when the run ends; the run page shows them live'}>
                    {TERMINAL.has(r.status) ? (r.span_count ?? 0).toLocaleString() : <span class="muted">live</span>}</td>
                  <td class="reason-cell" title={r.reason ?? ''}>{r.reason ?? ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {page && !runs.length ? <div class="empty">{flow || status || q || range || from ? 'No run matches these filters.' : 'No runs yet. Start one from the Flows page or the editor.'}</div> : null}
      </div>
      <div class="pager">
        <button class="btn" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>← Newer</button>
        <span class="muted">page {cursors.length}</span>
        <button class="btn" disabled={!page?.next} onClick={() => setCursors([...cursors, page!.next])}>Older →</button>
      </div>
    </div>
  );
}
