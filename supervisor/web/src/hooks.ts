// Small hooks shared by the views.
import { useEffect, useRef, useState } from 'preact/hooks';
import { LiveRun } from './live';
import { conn } from './conn';

/** Subscribes to one run; re-renders once per applied batch. */
export function useLiveRun(runId: number | null): { live: LiveRun | null; version: number } {
  const [live, setLive] = useState<LiveRun | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (runId == null || Number.isNaN(runId)) { setLive(null); return; }
    const l = new LiveRun(runId);
    setLive(l);
    const off = l.subscribe(() => setVersion((v) => v + 1));
    void l.start();
    return () => { off(); l.close(); };
  }, [runId]);
  return { live, version };
}

/** A clock that ticks while `active` (for running bars and durations). While the daemon or
 *  the live stream is unreachable it stays at the last contact: timers freeze, never guess. */
export function useNow(active: boolean, ms = 250): number {
  const [now, setNow] = useState(() => conn.frozenNow());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(conn.frozenNow()), ms);
    return () => clearInterval(t);
  }, [active, ms]);
  return now;
}

export function useInterval(fn: () => void, ms: number | null): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (ms == null) return;
    const t = setInterval(() => ref.current(), ms);
    return () => clearInterval(t);
  }, [ms]);
}

export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}
