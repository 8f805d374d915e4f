// The audit log: every state-changing action, newest first; filters live in the URL.
import { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { admin } from '../../api/endpoints';
import type { AuditQuery } from '../../api/types';
import { AsyncView, EmptyState } from '../../components/AsyncStates';
import { AuditTable } from '../../components/AuditTable';
import { Pager } from '../../components/Pager';
import { useAsync } from '../../lib/useAsync';

const PER_PAGE = 50;

export function AuditLogPage() {
  const [params, setParams] = useSearchParams();
  const action = params.get('action') ?? '';
  const result = params.get('result') ?? '';
  const targetId = params.get('target_id') ?? '';
  const page = Math.max(1, Number(params.get('page') ?? 1) || 1);
  const [draft, setDraft] = useState({ action, targetId });
  const list = useAsync(() => admin.audit({ action: action || undefined, result: (result || undefined) as AuditQuery['result'], target_id: targetId || undefined, page, per_page: PER_PAGE }), [action, result, targetId, page]);

  const apply = (next: Record<string, string>) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v) p.set(k, v);
      else p.delete(k);
    }
    if (!('page' in next)) p.delete('page');
    setParams(p, { replace: true });
  };

  return (
    <section className="page">
      <h1>Audit log</h1>
      <form className="filters" role="search" onSubmit={(e) => { e.preventDefault(); apply({ action: draft.action.trim(), target_id: draft.targetId.trim() }); }}>
        <div className="field">
          <label htmlFor="a-action">Action</label>
          <input id="a-action" placeholder="e.g. vm.start" value={draft.action} onChange={(e) => setDraft((d) => ({ ...d, action: e.target.value }))} />
        </div>
        <div className="field">
          <label htmlFor="a-target">Target id</label>
          <input id="a-target" value={draft.targetId} onChange={(e) => setDraft((d) => ({ ...d, targetId: e.target.value }))} />
        </div>
        <div className="field">
          <label htmlFor="a-result">Result</label>
          <select id="a-result" value={result} onChange={(e) => apply({ result: e.target.value })}>
            <option value="">Any</option>
            <option value="success">Success</option>
            <option value="failure">Failure</option>
            <option value="denied">Denied</option>
          </select>
        </div>
        <button type="submit" className="btn">Filter</button>
      </form>
      <AsyncView {...list} isEmpty={(d) => d.items.length === 0} empty={<EmptyState title="No audit entries match" />}>
        {(d) => (
          <>
            <AuditTable items={d.items} />
            <Pager page={page} perPage={PER_PAGE} total={d.total} onPage={(p) => apply({ page: p === 1 ? '' : String(p) })} />
          </>
        )}
      </AsyncView>
    </section>
  );
}
