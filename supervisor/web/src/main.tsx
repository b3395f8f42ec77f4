// App shell: dark header with navigation and daemon health, hash-routed views.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { lazy, Suspense } from 'preact/compat';
import { useRoute } from './router';
import { conn, useConn } from './conn';
import { RunsView } from './views/RunsView';
import { RunView } from './views/RunView';
import { FlowsView } from './views/FlowsView';
import './style.css';

const EditorView = lazy(() => import('./views/EditorView').then((m) => ({ default: m.EditorView })));

// Header state and banner read the same `conn`: they cannot disagree with each other or with
// a page's own "cannot reach the daemon".
function Health() {
  const c = useConn();
  const ok = c.up;
  return <span class={`health ${ok == null ? '' : ok ? 'up' : 'down'}`} title="daemon health (GET /healthz, every 2 s)"
    data-up={ok == null ? '' : String(ok)}>
    <i class="dot" />{ok == null ? '…' : ok ? 'daemon up' : 'daemon unreachable'}</span>;
}

/** Shown while the daemon or a followed live stream is unreachable. */
function ConnBanner() {
  const c = useConn();
  const down = c.up === false;
  const streamSince = c.streamDownSinceUs();
  const [, tick] = useState(0);
  useEffect(() => { const t = setInterval(() => tick((x) => x + 1), 1000); return () => clearInterval(t); }, []);
  const now = Date.now() * 1000;
  if (!down && !streamSince) return null;
  const ago = Math.max(0, Math.round((now - c.lastUpdateUs()) / 1e6));
  return (
    <div class="conn-banner" data-testid="conn-banner" role="status">
      <b>{down ? 'Cannot reach the daemon.' : 'Live updates interrupted.'}</b>{' '}
      Last update {ago} s ago; what you see may be out of date (running timers are paused). Retrying…
    </div>
  );
}

function App() {
  const route = useRoute();
  useEffect(() => conn.startProbe(2000), []);
  const tab = route.view === 'run' ? 'runs' : route.view;
  let body;
  switch (route.view) {
    case 'runs':
      body = route.arg ? <RunView key={route.arg} idText={route.arg} /> : <RunsView route={route} />;
      break;
    case 'flows': body = <FlowsView name={route.arg} />; break;
    case 'editor': body = <Suspense fallback={<div class="page"><div class="empty">Loading the editor…</div></div>}><EditorView key={route.arg || ""} route={route} /></Suspense>; break;
    default: body = <div class="page"><div class="empty">Unknown page. <a href="#/runs">Go to runs</a>.</div></div>;
  }
  return (
    <>
      <header class="top">
        <a class="brand" href="#/runs"><span class="logo">h</span>hero_logic</a>
        <nav>
          <a href="#/runs" class={tab === 'runs' ? 'on' : ''}>Runs</a>
          <a href="#/flows" class={tab === 'flows' ? 'on' : ''}>Flows</a>
          <a href="#/editor" class={tab === 'editor' ? 'on' : ''}>Editor</a>
        </nav>
        <span class="grow" />
        <Health />
      </header>
      <ConnBanner />
      <main>{body}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
