// JSON-RPC 2.0 client for the daemon's POST /rpc, and the shapes it returns (SPEC §6).
// Same origin only: the page is served by the daemon it talks to. Every call reports to
// `conn` (reachable or not), which the header, banner and timers follow.
import { conn } from './conn';
import { splitLogLines } from './spanmodel';

export type RunStatus =
  | 'queued' | 'running' | 'ok' | 'failed' | 'timed_out' | 'cancelled' | 'killed' | 'interrupted';

export const TERMINAL: ReadonlySet<string> =
  new Set(['ok', 'failed', 'timed_out', 'cancelled', 'killed', 'interrupted']);
export const ALL_STATUSES: RunStatus[] =
  ['queued', 'running', 'ok', 'failed', 'timed_out', 'cancelled', 'killed', 'interrupted'];

/** The "problems" preset of the runs filter: every way a run can end badly. */
export const PROBLEMS: string[] = ['failed', 'timed_out', 'killed', 'cancelled', 'interrupted'];

export interface RunRecord {
  id: number;
  flow: string | null;
  flow_version: number | null;
  parent_run: number | null;
  parent_span?: string | null;
  input: unknown;
  output: unknown;
  status: RunStatus;
  reason: string | null;
  exit_code: number | null;
  signal: number | null;
  profile: string;
  network: boolean;
  created_us: number;
  started_us: number | null;
  ended_us: number | null;
  cpu_us: number | null;
  peak_rss_kb: number | null;
  span_count: number;
  dropped?: Record<string, number>;
  diagnostics?: unknown[];
  stdout_tail?: string;
  stderr_tail?: string;
  queue_position?: number | null;
}

export interface SpanRow {
  id: string;
  parent: string | null;
  seq: number;
  name: string;
  kind: string;
  status: string;
  start_us: number;
  end_us: number | null;
  tags: Record<string, unknown> | null;
  error: string | null;
  error_type: string | null;
  traceback: string | null;
  rpc_service: string | null;
  rpc_method: string | null;
  file: string | null;
  line: number | null;
  cpu_us: number | null;
  rss_kb: number | null;
  child_run_id: number | null;
  orphan: boolean;
}

/** play_spans(format: "columns"): one array per SpanRow field (index = seq order) and the
 *  logs as parallel arrays; log_span is the span's index (null: a span never reported). */
export interface SpanColumns {
  format: 'columns';
  count: number;
  [field: string]: unknown;
  log_span: (number | null)[];
  log_ts_us: number[];
  log_stream: string[];
  log_text: string[];
}

export interface LogLine { ts_us: number; stream: string; text: string; span_id?: string }


export interface TreeNode extends SpanRow { logs?: LogLine[]; children?: TreeNode[] }

export type InputType = 'str' | 'int' | 'float' | 'bool' | 'list' | 'dict' | string;

export interface Flow {
  name: string;
  version: number;
  source: string;
  description: string;
  docstring: string | null;
  inputs: Record<string, InputType>;
  outputs: Record<string, InputType>;
  tags: string[];
  entry: string | null;
  versions: unknown;
}

export interface FlowSummary {
  name: string;
  version?: number;
  description?: string;
  tags?: string[];
  inputs?: Record<string, InputType>;
  updated_us?: number;
  [k: string]: unknown;
}

export interface SearchHit { name: string; description: string; score: number; snippet: string }

export interface Example { id: number | string; flow: string; name: string; input: Record<string, unknown> }

export class RpcError extends Error {
  constructor(public code: number, message: string, public data?: unknown) { super(message); }
}

let nextId = 1;

export async function rpc<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
  // Drop undefined values: the daemon treats a present null differently from an absent field.
  const clean: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) clean[k] = v;
  let res: Response;
  try {
    res = await fetch('rpc', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params: clean }),
    });
  } catch (e) {
    conn.failed();
    throw new RpcError(-1, `cannot reach the daemon (${(e as Error).message})`);
  }
  conn.ok();
  let body: { result?: T; error?: { code: number; message: string; data?: unknown } };
  // res.json() parses straight from the bytes (no intermediate string): it matters for a
  // 100k-span play_spans answer.
  const copy = res.clone();
  try {
    body = await res.json();
  } catch {
    const text = await copy.text().catch(() => '');
    throw new RpcError(-1, `HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  if (body.error) throw new RpcError(body.error.code, body.error.message, body.error.data);
  return body.result as T;
}

/** Normalizes list-shaped answers: the daemon may return an array or an object wrapping one. */
export function asArray<T>(v: unknown, key: string): T[] {
  if (Array.isArray(v)) return v as T[];
  if (v && typeof v === 'object' && Array.isArray((v as Record<string, unknown>)[key])) {
    return (v as Record<string, T[]>)[key];
  }
  return [];
}

export interface RunsPage { runs: RunRecord[]; next_cursor: string | number | null }

export const api = {
  flowList: async () => asArray<FlowSummary>(await rpc('flow_list'), 'flows'),
  flowGet: (name: string, version?: number) => rpc<Flow>('flow_get', { name, version }),
  flowCreate: (source: string, name?: string, description?: string) =>
    rpc<Flow>('flow_create', { source, name, description }),
  flowUpdate: (name: string, source: string) => rpc<Flow>('flow_update', { name, source }),
  flowVersions: async (name: string) => asArray<Record<string, unknown>>(await rpc('flow_versions', { name }), 'versions'),
  flowSetCurrent: (name: string, version: number) => rpc('flow_set_current', { name, version }),
  flowDelete: (name: string) => rpc('flow_delete', { name }),
  search: async (query: string, limit = 50) =>
    asArray<SearchHit>(await rpc('flow_library_search', { query, limit }), 'results'),
  runAsync: (p: { flow?: string; source?: string; input?: unknown; profile?: string; timeout_ms?: number }) =>
    rpc<{ run_id: number }>('play_run_async', p),
  status: (run_id: number) => rpc<RunRecord>('play_status', { run_id }),
  cancel: (run_id: number) => rpc('play_cancel', { run_id }),
  retry: (run_id: number) => rpc<{ run_id: number }>('play_retry', { run_id }),
  list: (p: { flow?: string; status?: string; since_us?: number; until_us?: number; text?: string; cursor?: unknown; limit?: number }) =>
    rpc<RunsPage>('play_list', p),
  spans: (run_id: number) => rpc<TreeNode | { tree: TreeNode } | null>('play_spans', { run_id }),
  /** The compact form (parallel arrays): a third of the bytes, parsed several times faster. */
  spanColumns: (run_id: number) => rpc<SpanColumns | TreeNode | null>('play_spans', { run_id, format: 'columns' }),
  /** Every log line of a run (or of one span), in order: [{span_id, ts_us, stream, text}]. */
  logs: async (run_id: number, span_id?: string) =>
    asArray<LogLine & { span_id: string }>(await rpc('play_logs', { run_id, span_id }), 'logs').flatMap(splitLogLines),
  exampleList: async (flow: string) => asArray<Example>(await rpc('example_list', { flow }), 'examples'),
  exampleCreate: (flow: string, name: string, input: unknown) => rpc<Example>('example_create', { flow, name, input }),
  exampleDelete: (id: number | string) => rpc('example_delete', { id }),
};
