// The page's one view of "can we reach the daemon": every RPC and the health probe report
// here, and the header, the banner and the running timers all read it, so they never
// disagree. While the daemon (or a run's live stream) is unreachable, `frozenNow()` stays at
// the time of the last successful contact: running timers stop instead of counting on.
import { useEffect, useState } from 'preact/hooks';

type Listener = () => void;

class Connection {
  /** null until the first answer */
  up: boolean | null = null;
  /** wall time (µs) of the last successful contact with the daemon */
  lastOkUs = Date.now() * 1000;
  /** wall time (µs) the daemon was first seen unreachable (0 = reachable) */
  downSinceUs = 0;
  /** live streams (run id → connected?) of the runs on screen */
  private streams = new Map<number, { ok: boolean; sinceUs: number }>();
  private listeners = new Set<Listener>();
  private probeTimer = 0;

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  private emit(): void { for (const fn of this.listeners) fn(); }

  ok(): void {
    this.lastOkUs = Date.now() * 1000;
    if (this.up !== true) { this.up = true; this.downSinceUs = 0; this.emit(); }
  }

  failed(): void {
    if (this.up !== false) {
      this.up = false;
      this.downSinceUs = Date.now() * 1000;
      this.emit();
    }
  }

  /** A run's live stream connected (ok) or lost; `null` = the page no longer follows it. */
  stream(runId: number, ok: boolean | null): void {
    const was = this.streams.get(runId);
    if (ok == null) { if (was) { this.streams.delete(runId); this.emit(); } return; }
    if (ok) this.lastOkUs = Date.now() * 1000;
    if (was && was.ok === ok) return;
    this.streams.set(runId, { ok, sinceUs: Date.now() * 1000 });
    this.emit();
  }

  /** Time (µs) since when a followed live stream is down, or 0. */
  streamDownSinceUs(): number {
    let since = 0;
    for (const s of this.streams.values()) if (!s.ok && (!since || s.sinceUs < since)) since = s.sinceUs;
    return since;
  }

  /** True while the daemon or a followed live stream is unreachable. */
  get degraded(): boolean { return this.up === false || this.streamDownSinceUs() > 0; }

  /** Time (µs) of the last update the page can vouch for: the last contact while the daemon
   *  is unreachable, the moment a live stream was lost while only that is down (the health
   *  probe still answering says nothing about the run), else now. */
  lastUpdateUs(): number {
    const now = Date.now() * 1000;
    if (this.up === false) return Math.min(now, this.lastOkUs);
    const since = this.streamDownSinceUs();
    return since ? Math.min(now, since) : now;
  }

  /** "Now" for running timers: frozen at the last update while degraded. */
  frozenNow(): number { return this.lastUpdateUs(); }

  /** Probes GET /healthz every `ms` (the header and banner follow the answer). */
  startProbe(ms: number): () => void {
    const probe = () => {
      fetch('healthz', { cache: 'no-store' }).then((r) => (r.ok ? this.ok() : this.failed())).catch(() => this.failed());
    };
    probe();
    this.probeTimer = window.setInterval(probe, ms);
    return () => clearInterval(this.probeTimer);
  }
}

export const conn = new Connection();

/** Re-renders on every connection change; returns the shared state. */
export function useConn(): Connection {
  const [, bump] = useState(0);
  useEffect(() => conn.subscribe(() => bump((x) => x + 1)), []);
  return conn;
}
