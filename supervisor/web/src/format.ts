// Pure formatting helpers: durations, times, sizes, status labels.

export function fmtDuration(us: number | null | undefined): string {
  if (us == null || !isFinite(us)) return '—';
  if (us < 0) us = 0;
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
  if (us < 60e6) return `${(us / 1e6).toFixed(2)} s`;
  const s = Math.round(us / 1e6);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function fmtTime(us: number | null | undefined): string {
  if (!us) return '—';
  const d = new Date(us / 1000);
  const now = new Date();
  const time = d.toLocaleTimeString(undefined, { hour12: false });
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

export function fmtAgo(us: number | null | undefined): string {
  if (!us) return '';
  const s = (Date.now() * 1000 - us) / 1e6;
  if (s < 5) return 'just now';
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function fmtKb(kb: number | null | undefined): string {
  if (kb == null) return '—';
  if (kb < 1024) return `${kb} KiB`;
  if (kb < 1024 * 1024) return `${(kb / 1024).toFixed(1)} MiB`;
  return `${(kb / 1024 / 1024).toFixed(2)} GiB`;
}

export function statusLabel(s: string): string {
  return s === 'timed_out' ? 'timed out' : s;
}

export function jsonPreview(v: unknown, max = 120): string {
  if (v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

export function nowUs(): number { return Date.now() * 1000; }
