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

const PLACEHOLDER: Record<string, string> = {
  str: 'text', int: 'whole number', float: 'number', list: 'JSON array, e.g. [1, 2]', dict: 'JSON object, e.g. {"k": 1}',
};

export function InputForm({ inputs, values, errors, onChange }: {
  inputs: Record<string, string>; values: FormValues; errors: Record<string, string>; onChange: (v: FormValues) => void;
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
            <label for={id}>{k} <span class="type">{t}</span></label>
            {t === 'bool' ? (
              <select id={id} name={k} value={values[k] ?? ''} onChange={(e) => set(k, (e.target as HTMLSelectElement).value)}>
                <option value="">(flow default)</option><option value="true">true</option><option value="false">false</option>
              </select>
            ) : t === 'list' || t === 'dict' ? (
              <textarea id={id} name={k} rows={2} placeholder={PLACEHOLDER[t]} value={values[k] ?? ''}
                onInput={(e) => set(k, (e.target as HTMLTextAreaElement).value)} />
            ) : (
              <input id={id} name={k} type="text" inputMode={t === 'int' ? 'numeric' : t === 'float' ? 'decimal' : undefined}
                placeholder={PLACEHOLDER[t] ?? t} value={values[k] ?? ''} onInput={(e) => set(k, (e.target as HTMLInputElement).value)} />
            )}
            {err ? <div class="field-error" role="alert">{k} {err}</div> : null}
          </div>
        );
      })}
      <p class="hint">Empty fields are left out, so the flow's defaults apply.</p>
    </div>
  );
}
