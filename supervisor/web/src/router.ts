// Hash routing: #/runs, #/runs/42, #/flows, #/flows/NAME, #/editor, #/editor/NAME?line=12&run=5.
import { useEffect, useState } from 'preact/hooks';

export interface Route { view: string; arg: string | null; query: URLSearchParams }

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const [path, qs] = h.split('?', 2);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { view: parts[0] || 'runs', arg: parts.length > 1 ? parts.slice(1).join('/') : null, query: new URLSearchParams(qs || '') };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(view: string, arg?: string | number | null, query?: Record<string, string | number | undefined>): string {
  let h = `#/${view}`;
  if (arg != null && arg !== '') h += `/${encodeURIComponent(String(arg))}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
    const s = q.toString();
    if (s) h += `?${s}`;
  }
  return h;
}

export function go(view: string, arg?: string | number | null, query?: Record<string, string | number | undefined>) {
  location.hash = href(view, arg, query);
}
