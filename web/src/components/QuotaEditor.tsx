// Edit quota limits: a number per resource, or "unlimited" (null). Only changed keys are sent
// (PUT takes any subset; the rest keep their value). Lowering a limit below usage is allowed — it
// blocks new allocations and never touches running machines — so the editor only warns.
import { useState, type FormEvent } from 'react';
import { QUOTA_KEYS, QUOTA_LABELS, formatQuantity, type QuotaKey, type QuotaLimits, type QuotaUsage } from '../lib/quota';
import { InlineError } from './AsyncStates';

const UNIT: Partial<Record<QuotaKey, string>> = { memory_mb: 'MiB', running_memory_mb: 'MiB', disk_gb: 'GB' };

/** `keys`: the limits this editor shows (a group has only vms, vcpus, memory and disk). */
interface Props { limits: Partial<QuotaLimits>; usage?: Partial<QuotaUsage>; onSave: (patch: Partial<QuotaLimits>) => Promise<unknown>; idPrefix: string; keys?: readonly QuotaKey[] }

export function QuotaEditor({ limits, usage, onSave, idPrefix, keys = QUOTA_KEYS }: Props) {
  const [draft, setDraft] = useState<Record<QuotaKey, string>>(() => Object.fromEntries(keys.map((k) => [k, limits[k] == null ? '' : String(limits[k])])) as Record<QuotaKey, string>);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(false);

  const value = (k: QuotaKey): number | null => ((draft[k] ?? '').trim() === '' ? null : Number(draft[k]));
  const invalid = keys.filter((k) => {
    const v = value(k);
    return v !== null && (!Number.isInteger(v) || v < 0);
  });
  const changed = keys.filter((k) => value(k) !== (limits[k] ?? null));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    setSaved(false);
    try {
      await onSave(Object.fromEntries(changed.map((k) => [k, value(k)])));
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setPending(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} className="quota-editor">
      <table className="table table-compact">
        <thead>
          <tr><th scope="col">Resource</th><th scope="col">Limit (empty = unlimited)</th>{usage && <th scope="col">In use</th>}</tr>
        </thead>
        <tbody>
          {keys.map((k) => {
            const v = value(k);
            const below = usage && v !== null && (usage[k] ?? 0) > v;
            return (
              <tr key={k}>
                <th scope="row"><label htmlFor={`${idPrefix}-${k}`}>{QUOTA_LABELS[k]}</label></th>
                <td>
                  <input id={`${idPrefix}-${k}`} className="input-number" type="number" min={0} step={1} inputMode="numeric" placeholder="unlimited" value={draft[k]} aria-invalid={invalid.includes(k)} onChange={(e) => setDraft((d) => ({ ...d, [k]: e.target.value }))} />
                  {UNIT[k] && <span className="unit"> {UNIT[k]}</span>}
                  {below && <p className="hint hint-warn">Below current use: blocks new allocations, running machines are not touched.</p>}
                </td>
                {usage && <td>{formatQuantity(k, usage[k] ?? 0)}</td>}
              </tr>
            );
          })}
        </tbody>
      </table>
      {invalid.length > 0 && <p className="inline-error">Limits are whole numbers of 0 or more.</p>}
      <InlineError error={error} />
      {saved && <p className="notice notice-success" role="status">Saved.</p>}
      <button type="submit" className="btn btn-primary" disabled={pending || changed.length === 0 || invalid.length > 0}>
        {pending ? 'Saving…' : `Save${changed.length ? ` (${changed.length} changed)` : ''}`}
      </button>
    </form>
  );
}
