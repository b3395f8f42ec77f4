// A form generated from a flow's declared inputs ({field: "str"|"int"|"float"|"bool"|"list"|
// "dict"}), with per-field validation messages. Empty fields are left out so the flow's own
// defaults apply.

export type FormValues = Record<string, string>;

export function validateField(type: string, raw: string): { value?: unknown; error?: string } {
  const v = raw.trim();
  if (v === '') return {};
  switch (type) {
    case 'int':
      if (!/^[-+]?\d+$/.test(v)) return { error: 'must be a whole number, e.g. 3' };
      return { value: Number(v) };
    case 'float':
      if (v === '' || Number.isNaN(Number(v))) return { error: 'must be a number, e.g. 2.5' };
      return { value: Number(v) };
    case 'bool':
      if (v === 'true') return { value: true };
      if (v === 'false') return { value: false };
      return { error: 'must be true or false' };
    case 'list':
    case 'dict': {
      let parsed: unknown;
      try { parsed = JSON.parse(v); } catch (e) { return { error: `not valid JSON: ${(e as Error).message}` }; }
      if (type === 'list' && !Array.isArray(parsed)) return { error: 'must be a JSON array, e.g. ["a", "b"]' };
      if (type === 'dict' && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) return { error: 'must be a JSON object, e.g. {"k": 1}' };
      return { value: parsed };
    }
    case 'str':
      return { value: raw };
    default: {
      try { return { value: JSON.parse(v) }; } catch { return { value: raw }; }
    }
  }
}

export function buildInput(inputs: Record<string, string>, values: FormValues): { input: Record<string, unknown>; errors: Record<string, string> } {
  const input: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const [k, t] of Object.entries(inputs)) {
    const r = validateField(t, values[k] ?? '');
    if (r.error) errors[k] = r.error;
    else if (r.value !== undefined) input[k] = r.value;
  }
  return { input, errors };
}

export function toFormValues(inputs: Record<string, string>, input: Record<string, unknown>): FormValues {
  const out: FormValues = {};
  for (const k of Object.keys(inputs)) {
    const v = input?.[k];
    if (v === undefined || v === null) out[k] = '';
    else out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/** The defaults of the flow function's parameters, as written in the source (`name="world"`
 *  → {name: '"world"'}), read from the `def` after the first `@flow`. Shown in the form: an
 *  empty field means this value. Best effort: an unusual signature gives fewer defaults. */
export function sourceDefaults(source: string, entry?: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  const at = source.indexOf('@flow');
  const find = (re: RegExp) => { re.lastIndex = at < 0 ? 0 : at; return re.exec(source); };
  const named = entry && /^\w+$/.test(entry) ? find(new RegExp(`def\\s+${entry}\\s*\\(`, 'g')) : null;
  const m = named ?? find(/def\s+\w+\s*\(/g);
  if (!m) return out;
  // The parameter list up to its closing parenthesis, split at top-level commas.
  let depth = 1, k = m.index + m[0].length, cur = '';
  const parts: string[] = [];
  let quote = '';
  for (; k < source.length && depth > 0; k++) {
    const ch = source[k];
    if (quote) { if (ch === quote && source[k - 1] !== '\\') quote = ''; cur += ch; continue; }
    if (ch === '"' || ch === "'") { quote = ch; cur += ch; continue; }
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) { depth--; if (!depth) break; }
    if (ch === ',' && depth === 1) { parts.push(cur); cur = ''; continue; }
    cur += ch;
  }
  parts.push(cur);
  for (const p of parts) {
    const d = /^\s*\**(\w+)\s*(?::[^=]+)?=\s*([\s\S]+?)\s*$/.exec(p);
    if (d) out[d[1]] = d[2];
  }
  return out;
}

const PLACEHOLDER: Record<string, string> = {
  str: 'text', int: 'whole number', float: 'number', list: 'JSON array, e.g. [1, 2]', dict: 'JSON object, e.g. {"k": 1}',
};

export function InputForm({ inputs, values, errors, onChange, defaults = {} }: {
  inputs: Record<string, string>; values: FormValues; errors: Record<string, string>; onChange: (v: FormValues) => void;
  /** default values from the source, shown as placeholders and beside the label */
  defaults?: Record<string, string>;
}) {
  const names = Object.keys(inputs);
  if (!names.length) return <p class="muted">This flow declares no inputs.</p>;
  const set = (k: string, v: string) => onChange({ ...values, [k]: v });
  return (
    <div class="form">
      {names.map((k) => {
        const t = inputs[k];
        const id = `in-${k}`;
        const err = errors[k];
        return (
          <div key={k} class={`field${err ? ' invalid' : ''}`}>
            <label for={id}>{k} <span class="type">{t}</span>
              {defaults[k] != null ? <span class="default" data-testid="input-default">default {defaults[k]}</span> : <span class="default">required</span>}</label>
            {t === 'bool' ? (
              <select id={id} name={k} value={values[k] ?? ''} onChange={(e) => set(k, (e.target as HTMLSelectElement).value)}>
                <option value="">{defaults[k] != null ? `(default: ${defaults[k]})` : '(flow default)'}</option><option value="true">true</option><option value="false">false</option>
              </select>
            ) : t === 'list' || t === 'dict' ? (
              <textarea id={id} name={k} rows={2} placeholder={PLACEHOLDER[t]} value={values[k] ?? ''}
                onInput={(e) => set(k, (e.target as HTMLTextAreaElement).value)} />
            ) : (
              <input id={id} name={k} type="text" inputMode={t === 'int' ? 'numeric' : t === 'float' ? 'decimal' : undefined}
                placeholder={defaults[k] != null ? `default: ${defaults[k]}` : PLACEHOLDER[t] ?? t} value={values[k] ?? ''} onInput={(e) => set(k, (e.target as HTMLInputElement).value)} />
            )}
            {err ? <div class="field-error" role="alert">{k} {err}</div> : null}
          </div>
        );
      })}
      <p class="hint">Empty fields are left out, so the flow's defaults apply.</p>
    </div>
  );
}
