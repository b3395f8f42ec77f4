// #/flows and #/flows/NAME: the flow library with ranked search on the left; the selected
// flow's description, inputs form (with validation), saved presets, versions and recent runs
// on the right, with a Run button.
import { useEffect, useState } from 'preact/hooks';
import { api, type Example, type Flow, type FlowSummary, type RunRecord, type SearchHit } from '../api';
import { fmtAgo, fmtDuration, fmtTime } from '../format';
import { useDebounced } from '../hooks';
import { go, href } from '../router';
import { StatusBadge } from '../components/Status';
import { RunHistory } from '../components/RunHistory';
import { buildInput, InputForm, sourceDefaults, toFormValues, type FormValues } from '../components/InputForm';

/** The daemon's wall-clock limit when a run gives no timeout_ms (SPEC §6). */
const DEFAULT_TIMEOUT_S = 60;

function FlowLibrary({ selected }: { selected: string | null }) {
  const [flows, setFlows] = useState<FlowSummary[] | null>(null);
  const [query, setQuery] = useState('');
  const q = useDebounced(query, 200);
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => { api.flowList().then(setFlows).catch((e) => setErr(e.message)); }, [selected]);
  useEffect(() => {
    if (!q.trim()) { setHits(null); return; }
    api.search(q.trim(), 50).then(setHits).catch((e) => setErr(e.message));
  }, [q]);
  const list = hits
    ? hits.map((h) => ({ name: h.name, description: h.description, score: h.score, snippet: h.snippet }))
    : (flows || []).map((f) => ({ name: f.name, description: f.description ?? '', score: null as number | null, snippet: '' }));
  return (
    <aside class="library">
      <div class="lib-head">
        <input type="search" placeholder="Search flows (name, docs, inputs, tags)…" value={query}
          aria-label="search flows" onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
        <a class="btn primary" href={href('editor')}>New flow</a>
      </div>
      {err ? <div class="notice error">{err}</div> : null}
      <ul class="lib-list">
        {list.map((f) => (
          <li key={f.name} class={f.name === selected ? 'sel' : ''}>
            <a href={href('flows', f.name)} data-flow={f.name}>
              <div class="lib-name">{f.name}{f.score != null ? <span class="score" title="search score">{f.score.toFixed(2)}</span> : null}</div>
              {f.description ? <div class="lib-desc">{f.description}</div> : null}
              {f.snippet ? <div class="lib-snip" dangerouslySetInnerHTML={{ __html: snippetHtml(f.snippet) }} /> : null}
            </a>
          </li>
        ))}
        {flows && !list.length ? <li class="empty">{hits ? 'No flow matches.' : 'The library is empty. Create a flow in the editor.'}</li> : null}
      </ul>
    </aside>
  );
}

/** The snippet may mark matches with [..] or <b>..</b>: escape everything, then re-mark. */
function snippetHtml(s: string): string {
  const esc = s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return esc.replace(/&lt;(\/?)(b|mark|em)&gt;/g, '<$1mark>').replace(/\[([^\]]{1,80})\]/g, '<mark>$1</mark>');
}

function versionNumber(v: Record<string, unknown> | number): number {
  return typeof v === 'number' ? v : Number(v.version ?? v.id);
}

function FlowDetail({ name }: { name: string }) {
  const [flow, setFlow] = useState<Flow | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [values, setValues] = useState<FormValues>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [examples, setExamples] = useState<Example[]>([]);
  const [versions, setVersions] = useState<Record<string, unknown>[]>([]);
  const [runs, setRuns] = useState<RunRecord[]>([]);
  const [presetName, setPresetName] = useState('');
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const [profile, setProfile] = useState('');
  const [timeoutS, setTimeoutS] = useState('');

  const reload = async () => {
    try {
      const f = await api.flowGet(name);
      setFlow(f); setErr(null);
      setValues((v) => (Object.keys(v).length ? v : toFormValues(f.inputs || {}, {})));
    } catch (e) { setErr((e as Error).message); setFlow(null); }
    api.exampleList(name).then(setExamples).catch(() => setExamples([]));
    api.flowVersions(name).then(setVersions).catch(() => setVersions([]));
    api.list({ flow: name, limit: 10 }).then((r) => setRuns(r.runs || [])).catch(() => setRuns([]));
  };
  useEffect(() => { setValues({}); setErrors({}); setNote(null); void reload(); }, [name]);

  if (err) return <div class="flow-detail"><div class="notice error">{name}: {err}</div></div>;
  if (!flow) return <div class="flow-detail"><div class="empty">Loading {name}…</div></div>;
  const inputs = flow.inputs || {};

  const run = async (e?: Event) => {
    e?.preventDefault();
    const { input, errors: errs } = buildInput(inputs, values);
    setErrors(errs);
    if (Object.keys(errs).length) { setNote('Fix the highlighted inputs first.'); return; }
    const tmo = timeoutS.trim();
    if (tmo && !(Number(tmo) > 0)) { setErrors({ ...errs, __timeout: 'must be a number of seconds > 0' }); setNote('Fix the highlighted inputs first.'); return; }
    setBusy(true);
    try {
      const r = await api.runAsync({ flow: name, input, profile: profile || undefined,
        timeout_ms: tmo ? Math.round(Number(tmo) * 1000) : undefined });
      go('runs', r.run_id);
    } catch (ex) { setNote(`Could not start: ${(ex as Error).message}`); }
    setBusy(false);
  };
  const savePreset = async () => {
    const { input, errors: errs } = buildInput(inputs, values);
    setErrors(errs);
    if (Object.keys(errs).length) return;
    if (!presetName.trim()) { setNote('Give the preset a name.'); return; }
    try { await api.exampleCreate(name, presetName.trim(), input); setPresetName(''); setNote('Preset saved.'); void reload(); }
    catch (ex) { setNote(`Could not save the preset: ${(ex as Error).message}`); }
  };
  const current = flow.version;
  return (
    <div class="flow-detail">
      <div class="fd-head">
        <h2>{flow.name}</h2><span class="vtag">v{flow.version}</span>
        {(flow.tags || []).map((t) => <span key={t} class="tag">{t}</span>)}
        <span class="grow" />
        <a class="btn" href={href('editor', flow.name)}>Edit source</a>
        <a class="btn" href={href('runs', null, { flow: flow.name })}>All runs</a>
      </div>
      {flow.description ? <p class="desc">{flow.description}</p> : null}
      {flow.docstring && flow.docstring !== flow.description ? <pre class="doc">{flow.docstring}</pre> : null}
      <div class="fd-grid">
        <section class="card">
          <h3>Run</h3>
          {examples.length ? (
            <div class="presets">
              <span class="lbl">presets</span>
              {examples.map((x) => (
                <span key={x.id} class="preset">
                  <button class="chip" onClick={() => { setValues(toFormValues(inputs, x.input || {})); setErrors({}); }} title={JSON.stringify(x.input)}>{x.name}</button>
                  <button class="chip-x" aria-label={`delete preset ${x.name}`} onClick={async () => { await api.exampleDelete(x.id).catch(() => {}); void reload(); }}>×</button>
                </span>
              ))}
            </div>
          ) : null}
          <form onSubmit={run}>
            <InputForm inputs={inputs} values={values} errors={errors} defaults={sourceDefaults(flow.source || '', flow.entry)}
              onChange={(v) => { setValues(v); if (Object.keys(errors).length) setErrors(buildInput(inputs, v).errors); }} />
            <div class="run-opts">
              <div class="field">
                <label for="run-profile">sandbox profile</label>
                <select id="run-profile" value={profile} onChange={(e) => setProfile((e.target as HTMLSelectElement).value)}>
                  <option value="">trusted (default)</option>
                  <option value="untrusted">untrusted</option>
                </select>
              </div>
              <div class={`field${errors.__timeout ? ' invalid' : ''}`}>
                <label for="run-timeout">timeout <span class="type">seconds</span></label>
                <input id="run-timeout" type="text" inputMode="decimal" placeholder={`${DEFAULT_TIMEOUT_S} (default)`} value={timeoutS}
                  onInput={(e) => setTimeoutS((e.target as HTMLInputElement).value)} />
                {errors.__timeout ? <div class="field-error" role="alert">timeout {errors.__timeout}</div> : null}
              </div>
            </div>
            <div class="form-actions">
              <button class="btn primary" type="submit" disabled={busy}>{busy ? 'Starting…' : 'Run'}</button>
              <input class="preset-name" placeholder="preset name" value={presetName} aria-label="preset name"
                onInput={(e) => setPresetName((e.target as HTMLInputElement).value)} />
              <button class="btn" type="button" onClick={savePreset}>Save as preset</button>
            </div>
            {note ? <div class="note">{note}</div> : null}
          </form>
          {Object.keys(flow.outputs || {}).length ? (
            <div class="outputs"><span class="lbl">outputs</span>{Object.entries(flow.outputs).map(([k, t]) => <code key={k}>{k}: {t}</code>)}</div>
          ) : null}
        </section>
        <section class="card">
          <RunHistory key={name} flow={name} />
          <h3>Recent runs</h3>
          {runs.length ? (
            <table class="mini"><tbody>
              {runs.map((r) => (
                <tr key={r.id} onClick={() => go('runs', r.id)}>
                  <td><a href={href('runs', r.id)}>#{r.id}</a></td>
                  <td><StatusBadge status={r.status} /></td>
                  <td class="muted">{fmtAgo(r.created_us)}</td>
                  <td class="num">{r.started_us && r.ended_us ? fmtDuration(r.ended_us - r.started_us) : r.status === 'running' ? '…' : '—'}</td>
                </tr>
              ))}
            </tbody></table>
          ) : <p class="muted">Not run yet.</p>}
          <h3>Versions</h3>
          <table class="mini"><tbody>
            {(versions.length ? versions : [{ version: current }]).map((v) => {
              const n = versionNumber(v);
              const created = (v as Record<string, unknown>).created_us as number | undefined;
              return (
                <tr key={n}>
                  <td>v{n}{n === current ? <span class="cur">current</span> : null}</td>
                  <td class="muted">{created ? fmtTime(created) : ''}</td>
                  <td class="right">
                    <a href={href('editor', flow.name, { version: n })}>view</a>
                    {n !== current ? <button class="link" onClick={async () => { await api.flowSetCurrent(flow.name, n).catch((e) => setNote(e.message)); void reload(); }}>make current</button> : null}
                  </td>
                </tr>
              );
            })}
          </tbody></table>
        </section>
      </div>
    </div>
  );
}

export function FlowsView({ name }: { name: string | null }) {
  return (
    <div class="page flows-page">
      <FlowLibrary selected={name} />
      {name ? <FlowDetail name={name} /> : <div class="flow-detail"><div class="empty">Pick a flow from the library, or search it.</div></div>}
    </div>
  );
}
