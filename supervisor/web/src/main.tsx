// App shell: dark header with navigation and daemon health, hash-routed views.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { lazy, Suspense } from 'preact/compat';
import { useRoute } from './router';
import { RunsView } from './views/RunsView';
import { RunView } from './views/RunView';
import { FlowsView } from './views/FlowsView';
import './style.css';

const EditorView = lazy(() => import('./views/EditorView').then((m) => ({ default: m.EditorView })));

function Health() {
  const [ok, setOk] = useState<boolean | null>(null);
  useEffect(() => {
    let alive = true;
    const check = () => fetch('healthz').then((r) => alive && setOk(r.ok)).catch(() => alive && setOk(false));
    check();
    const t = setInterval(check, 10000);
    return () => { alive = false; clearInterval(t); };
  }, []);
  return <span class={`health ${ok == null ? '' : ok ? 'up' : 'down'}`} title="daemon health (GET /healthz)">
    <i class="dot" />{ok == null ? '…' : ok ? 'daemon up' : 'daemon unreachable'}</span>;
}

function App() {
  const route = useRoute();
  const tab = route.view === 'run' ? 'runs' : route.view;
  let body;
  switch (route.view) {
    case 'runs':
      body = route.arg ? <RunView key={route.arg} id={Number(route.arg)} /> : <RunsView route={route} />;
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
      <main>{body}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
