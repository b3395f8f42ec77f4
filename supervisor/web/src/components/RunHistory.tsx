// A flow's run history at a glance (Flows page): runs per hour over the last 24 h, or per day
// over the last 14 days, as stacked bars (ok / problem / other), with the failure rate.
// Reads up to 1,000 of the flow's newest runs (one play_list page).
import { useEffect, useState } from 'preact/hooks';
import { api, PROBLEMS, type RunRecord } from '../api';

const LIMIT = 1000;

export interface Bucket { start_us: number; ok: number; problem: number; other: number }

/** Buckets runs by creation time: `n` buckets of `width_us` ending at `end_us`. */
export function bucketRuns(runs: RunRecord[], end_us: number, width_us: number, n: number): Bucket[] {
  const first = end_us - n * width_us;
  const out: Bucket[] = [];
  for (let k = 0; k < n; k++) out.push({ start_us: first + k * width_us, ok: 0, problem: 0, other: 0 });
  for (const r of runs) {
    const k = Math.floor((r.created_us - first) / width_us);
    if (k < 0 || k >= n) continue;
    if (r.status === 'ok') out[k].ok++;
    else if (PROBLEMS.includes(r.status)) out[k].problem++;
    else out[k].other++;
  }
  return out;
}

export function RunHistory({ flow }: { flow: string }) {
  const [runs, setRuns] = useState<RunRecord[] | null>(null);
  const [scale, setScale] = useState<'hour' | 'day'>('hour');
  useEffect(() => { api.list({ flow, limit: LIMIT }).then((r) => setRuns(r.runs || [])).catch(() => setRuns([])); }, [flow]);
  if (!runs) return null;
  const hour = 3600e6;
  const now = Date.now() * 1000;
  const width = scale === 'hour' ? hour : 24 * hour;
  const n = scale === 'hour' ? 24 : 14;
  const end = Math.ceil(now / width) * width;
  const buckets = bucketRuns(runs, end, width, n);
  const total = buckets.reduce((a, b) => a + b.ok + b.problem + b.other, 0);
  const problems = buckets.reduce((a, b) => a + b.problem, 0);
  const ended = buckets.reduce((a, b) => a + b.ok + b.problem, 0);
  const max = Math.max(1, ...buckets.map((b) => b.ok + b.problem + b.other));
  const W = 300, H = 60, bw = W / n;
  const label = (us: number) => {
    const d = new Date(us / 1000);
    return scale === 'hour' ? `${String(d.getHours()).padStart(2, '0')}:00` : d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  };
  return (
    <div class="history" data-testid="run-history">
      <div class="history-head">
        <h3>History</h3>
        <span class="muted" data-testid="run-history-summary">{total} run{total === 1 ? '' : 's'} · {ended ? `${Math.round((problems / ended) * 100)}% failed` : 'none ended'}</span>
        <span class="grow" />
        <button class={`chip-s${scale === 'hour' ? ' on' : ''}`} onClick={() => setScale('hour')}>24 h</button>
        <button class={`chip-s${scale === 'day' ? ' on' : ''}`} onClick={() => setScale('day')}>14 days</button>
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" class="history-chart" role="img" aria-label={`runs per ${scale}`}>
        {buckets.map((b, k) => {
          const x = k * bw + 1, w = Math.max(1, bw - 2);
          const hOk = (b.ok / max) * H, hBad = (b.problem / max) * H, hOther = (b.other / max) * H;
          const t = `${label(b.start_us)}: ${b.ok} ok, ${b.problem} problem${b.problem === 1 ? '' : 's'}${b.other ? `, ${b.other} running/queued` : ''}`;
          return (
            <g key={k}><title>{t}</title>
              <rect x={x} y={0} width={w} height={H} fill="transparent" />
              <rect x={x} y={H - hOk} width={w} height={hOk} fill="var(--ok)" />
              <rect x={x} y={H - hOk - hBad} width={w} height={hBad} fill="var(--failed)" data-bad={b.problem || undefined} />
              <rect x={x} y={H - hOk - hBad - hOther} width={w} height={hOther} fill="var(--running)" />
            </g>
          );
        })}
      </svg>
      <div class="history-axis"><span>{label(buckets[0].start_us)}</span><span>now</span></div>
    </div>
  );
}
