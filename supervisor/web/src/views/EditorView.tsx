// #/editor and #/editor/NAME[?version=N&line=L&run=ID]: Monaco with Python highlighting; Save
// adds a version (flow_update) or creates the flow (flow_create); Run starts it and shows the
// live tree beside the code; a failed span's error is marked on its line and links to it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, TERMINAL, type Flow } from '../api';
import { useLiveRun } from '../hooks';
import { go, href, type Route } from '../router';
import { RunPanel } from '../components/RunPanel';
import { StatusBadge } from '../components/Status';
import { errorLine } from '../components/SpanDetail';
import { plainReason } from './RunView';
import type * as Monaco from 'monaco-editor/esm/vs/editor/editor.api';

type MonacoNs = typeof Monaco;

const TEMPLATE = `"""A new flow: describe what it does here (the library searches this text)."""
from hero_tracing import flow


@flow(name="my_flow", description="Greets someone a few times",
      inputs={"name": str, "count": int}, outputs={"greeting": str})
def my_flow(name="world", count=3):
    for i in range(count):
        with flow.step(f"greet {i + 1}") as s:
            s.tag(i=i)
            print("hello", name)
    return {"greeting": f"hello {name}"}
`;

interface Failure { line: number; title: string; span: number }

export function EditorView({ route }: { route: Route }) {
  const name = route.arg;
  const wantVersion = route.query.get('version');
  const wantLine = Number(route.query.get('line')) || null;
  const runParam = route.query.get('run');
  const host = useRef<HTMLDivElement>(null);
  const mon = useRef<MonacoNs | null>(null);
  const ed = useRef<Monaco.editor.IStandaloneCodeEditor | null>(null);
  const decos = useRef<Monaco.editor.IEditorDecorationsCollection | null>(null);
  const selDeco = useRef<Monaco.editor.IEditorDecorationsCollection | null>(null);
  const [ready, setReady] = useState(false);
  const [flow, setFlow] = useState<Flow | null>(null);
  const [currentVersion, setCurrentVersion] = useState<number | null>(null);
  const targetDeco = useRef<Monaco.editor.IEditorDecorationsCollection | null>(null);
  const [saved, setSaved] = useState<string>('');
  const [dirty, setDirty] = useState(false);
  const [inputText, setInputText] = useState('{}');
  const [inputErr, setInputErr] = useState<string | null>(null);
  const [msg, setMsg] = useState<{ text: string; error?: boolean } | null>(null);
  const [runId, setRunId] = useState<number | null>(runParam ? Number(runParam) : null);
  const { live, version } = useLiveRun(runId);
  const saveRef = useRef<() => void>(() => {});
  const runRef = useRef<() => void>(() => {});

  // Monaco: load lazily, create once.
  useEffect(() => {
    let disposed = false;
    void import('../monaco').then(({ monaco }) => {
      if (disposed || !host.current) return;
      mon.current = monaco;
      const e = monaco.editor.create(host.current, {
        value: '', language: 'python', automaticLayout: true, fontSize: 13, minimap: { enabled: false },
        glyphMargin: true, scrollBeyondLastLine: false, tabSize: 4, insertSpaces: true, theme: 'vs',
        fontFamily: 'ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      });
      e.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyS, () => saveRef.current());
      e.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter, () => runRef.current());
      decos.current = e.createDecorationsCollection();
      selDeco.current = e.createDecorationsCollection();
      targetDeco.current = e.createDecorationsCollection();
      ed.current = e;
      (window as unknown as { heroEditor: unknown }).heroEditor = e;
      setReady(true);
    });
    return () => { disposed = true; ed.current?.dispose(); ed.current = null; };
  }, []);

  // Load the flow (or the template) whenever the name/version changes.
  useEffect(() => {
    if (!ready) return;
    let cancelled = false;
    const load = async () => {
      if (!name) {
        setFlow(null); setSaved(''); ed.current!.setValue(TEMPLATE); setDirty(true);
        setInputText('{"name": "world", "count": 3}');
        return;
      }
      try {
        // With ?version=N, also ask which version is current: a link to the current version
        // (e.g. from a run of it) is the current flow, not an "older version".
        const [f, cur] = await Promise.all([
          api.flowGet(name, wantVersion ? Number(wantVersion) : undefined),
          wantVersion ? api.flowGet(name) : Promise.resolve(null),
        ]);
        if (cancelled) return;
        setCurrentVersion(cur ? cur.version : f.version);
        setFlow(f); setSaved(f.source);
        ed.current!.setValue(f.source); setDirty(false);
        setMsg(null);
      } catch (e) {
        setMsg({ text: `Could not load ${name}: ${(e as Error).message}`, error: true });
      }
    };
    void load().then(() => { if (wantLine) revealLine(wantLine); });
    return () => { cancelled = true; };
  }, [ready, name, wantVersion]);

  useEffect(() => {
    const e = ed.current;
    if (!e) return;
    const sub = e.onDidChangeModelContent(() => setDirty(e.getValue() !== saved));
    return () => sub.dispose();
  }, [ready, saved]);

  useEffect(() => { if (ready && wantLine) revealLine(wantLine); }, [wantLine, ready]);

  const olderVersion = !!wantVersion && currentVersion != null && Number(wantVersion) !== currentVersion;

  const revealLine = (line: number) => {
    const e = ed.current;
    if (!e) return;
    // Mark the line asked for (a link from a run): the cursor alone is easy to miss.
    const monaco = mon.current;
    if (monaco && targetDeco.current && line <= (e.getModel()?.getLineCount() ?? 0)) {
      targetDeco.current.set([{ range: new monaco.Range(line, 1, line, 1), options: { isWholeLine: true, className: 'target-line', linesDecorationsClassName: 'target-glyph' } }]);
    }
    e.revealLineInCenter(line);
    e.setPosition({ lineNumber: line, column: 1 });
    e.focus();
  };

  const save = async () => {
    const e = ed.current;
    if (!e) return;
    const source = e.getValue();
    try {
      const f = name ? await api.flowUpdate(name, source) : await api.flowCreate(source);
      const got = f && typeof f === 'object' && 'version' in f ? f : await api.flowGet(name || (f as Flow).name);
      setFlow(got); setSaved(source); setDirty(false);
      setMsg({ text: `Saved ${got.name} as version ${got.version}.` });
      if (!name || wantVersion) go('editor', got.name); // the URL names the new current version
    } catch (ex) {
      setMsg({ text: `Save failed: ${(ex as Error).message}`, error: true });
    }
  };

  const run = async () => {
    const e = ed.current;
    if (!e) return;
    let input: unknown;
    try { input = JSON.parse(inputText || '{}'); setInputErr(null); } catch (ex) {
      setInputErr(`input is not valid JSON: ${(ex as Error).message}`); return;
    }
    decos.current?.clear();
    try {
      const useSaved = !!name && !dirty && !olderVersion;
      const r = await api.runAsync(useSaved ? { flow: name!, input } : { source: e.getValue(), input });
      setRunId(r.run_id);
      setMsg(null);
    } catch (ex) {
      setMsg({ text: `Run failed to start: ${(ex as Error).message}`, error: true });
    }
  };
  saveRef.current = () => void save();
  runRef.current = () => void run();

  // Errors of the finished run → decorations on their lines.
  const failures: Failure[] = [];
  if (live && live.run && TERMINAL.has(live.run.status)) {
    const m = live.model;
    const seen = new Set<number>();
    // Deepest spans first: the step that raised explains its failed parents.
    const failed: number[] = [];
    for (let i = 0; i < m.size; i++) {
      const r = m.rows[i];
      if (r.status !== 'ok' && r.end_us != null && (r.error || r.error_type)) failed.push(i);
    }
    failed.sort((a, b) => m.depth[b] - m.depth[a] || a - b);
    for (const i of failed.slice(0, 50)) {
      const r = m.rows[i];
      const line = errorLine(m, i);
      if (line == null || seen.has(line)) continue;
      seen.add(line);
      failures.push({ line, span: i, title: `${r.error_type || 'Error'}${r.error ? `: ${r.error}` : ''} (step '${r.name}')` });
    }
  }
  const failKey = failures.map((f) => `${f.line}:${f.title}`).join('|');
  useEffect(() => {
    const monaco = mon.current;
    if (!monaco || !decos.current) return;
    decos.current.set(failures.map((f) => ({
      range: new monaco.Range(f.line, 1, f.line, 1),
      options: {
        isWholeLine: true, className: 'err-line', glyphMarginClassName: 'err-glyph',
        hoverMessage: { value: f.title }, glyphMarginHoverMessage: { value: f.title },
        overviewRuler: { color: '#d1242f', position: monaco.editor.OverviewRulerLane.Right },
      },
    })));
    // Re-applied whenever the source is (re)loaded: setValue drops the decorations, and the
    // run's spans often arrive before the flow's source in a fresh tab.
  }, [failKey, ready, saved]);

  const onSelectSpan = (i: number) => {
    const monaco = mon.current;
    if (!live || !monaco || !selDeco.current) return;
    const r = live.model.rows[i];
    const failed = r && r.status !== 'ok' && r.end_us != null;
    const line = r && (failed ? errorLine(live.model, i) : r.line);
    if (!line) { selDeco.current.clear(); return; }
    if (failed) { selDeco.current.clear(); ed.current?.revealLineInCenterIfOutsideViewport(line); return; }
    selDeco.current.set([{ range: new monaco.Range(line, 1, line, 1), options: { isWholeLine: true, className: 'span-line' } }]);
    ed.current?.revealLineInCenterIfOutsideViewport(line);
  };

  const title = name ? name : 'New flow';
  const run0 = live?.run;
  return (
    <div class="page editor-page">
      <div class="toolbar editor-bar">
        <h2>{title}</h2>
        {flow ? <span class="vtag">v{flow.version}{olderVersion ? ' (older version)' : ''}</span> : null}
        {dirty ? <span class="dirty" title="unsaved changes">● unsaved</span> : null}
        {name ? <a class="muted" href={href('flows', name)}>library page</a> : null}
        <span class="grow" />
        <label class="input-lbl" for="run-input">input</label>
        <input id="run-input" class={`mono run-input${inputErr ? ' invalid' : ''}`} value={inputText}
          onInput={(e) => setInputText((e.target as HTMLInputElement).value)} spellcheck={false}
          title={flow ? `declared inputs: ${skeleton(flow.inputs || {})}` : 'JSON input'} />
        <button class="btn" onClick={() => void save()} title="Ctrl+S" disabled={!ready}>{name ? 'Save version' : 'Create flow'}</button>
        <button class="btn primary" onClick={() => void run()} title="Ctrl+Enter" disabled={!ready}>Run</button>
      </div>
      {inputErr ? <div class="notice error">{inputErr}</div> : null}
      {msg ? <div class={`notice${msg.error ? ' error' : ' ok'}`}>{msg.text}</div> : null}
      <div class="editor-split">
        <div class="editor-host" ref={host}>{!ready ? <div class="empty">Loading the editor…</div> : null}</div>
        <div class="editor-run">
          {live && run0 ? (
            <>
              <div class="er-head">
                <a href={href('runs', run0.id)}>Run #{run0.id}</a>
                <StatusBadge status={run0.status} />
                {run0.flow_version ? <span class="muted">v{run0.flow_version}</span> : null}
                <span class="grow" />
                {!TERMINAL.has(run0.status) ? <button class="btn small danger" onClick={() => void api.cancel(run0.id).then(() => live.refresh())}>Cancel</button> : null}
              </div>
              {TERMINAL.has(run0.status) && run0.status !== 'ok' ? <div class={`reason st-${run0.status}`}>{plainReason(run0)}</div> : null}
              {failures.length ? (
                <ul class="failures">
                  {failures.map((f) => (
                    <li key={f.line}><button class="link err-link" onClick={() => revealLine(f.line)}>line {f.line}</button> {f.title}</li>
                  ))}
                </ul>
              ) : null}
              <RunPanel live={live} version={version} compact onSelectSpan={onSelectSpan} />
            </>
          ) : (
            <div class="empty">Press <b>Run</b> (Ctrl+Enter) to run this code; its span tree appears here while it runs.
              {dirty && name ? <p>Unsaved edits run as an ad-hoc script; save first to run a new version of <b>{name}</b>.</p> : null}
              {olderVersion && !dirty ? <p>This is version {wantVersion} of <b>{name}</b> (the current one is v{currentVersion}): Run runs this source as an ad-hoc script; “make current” on the flow's page runs it as the flow.</p> : null}</div>
          )}
        </div>
      </div>
    </div>
  );
}

function skeleton(inputs: Record<string, string>): string {
  const o: Record<string, unknown> = {};
  for (const [k, t] of Object.entries(inputs)) {
    o[k] = t === 'int' ? 1 : t === 'float' ? 1.0 : t === 'bool' ? false : t === 'list' ? [] : t === 'dict' ? {} : '';
  }
  return Object.keys(o).length ? JSON.stringify(o) : '{}';
}
