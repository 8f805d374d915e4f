// "Provision for group": one VM per active member from a template, in one request the server
// accepts or refuses as a whole (each member's quota and the group's). Progress follows
// `group.provision.progress` over /ws/events (refetched on reconnect); every member's result is
// listed, so a partial failure names who has no machine and why. The form's rules and the merging
// of progress live in lib/group-provision.ts.
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { useAdminEvents } from '../../api/events';
import { groups, templates as templatesApi } from '../../api/endpoints';
import type { GroupDetail, GroupProvision, Template } from '../../api/types';
import { InlineError } from '../../components/AsyncStates';
import { ProgressBar } from '../../components/ProgressBar';
import {
  applyProvisionUpdate, defaultNamePrefix, isValidNamePrefix, memberVmName, provisionSummary, quotaRefusal, sizesBelowMinimum, sizesFromTemplate,
  templatesForGroup, type ProvisionSizes,
} from '../../lib/group-provision';
import { formatMemoryMb } from '../../lib/quota';
import { useAsync } from '../../lib/useAsync';
import { useSubmit } from '../../lib/useSubmit';

const SIZE_FIELDS: [keyof ProvisionSizes, string][] = [['vcpus', 'vCPUs'], ['memory_mb', 'Memory (MiB)'], ['disk_gb', 'Disk (GB)']];

export function GroupProvisionPanel({ group, onProgress }: { group: GroupDetail; onProgress: () => void }) {
  const offered = useAsync(async () => templatesForGroup((await templatesApi.list()).items, group.id), [group.id]);
  // the latest provision of this group (a reload of the page shows how the last one went)
  const [provision, setProvision] = useState<GroupProvision | null>(null);
  const latest = useAsync(async () => (await groups.provisions(group.id)).items[0] ?? null, [group.id]);
  useEffect(() => {
    if (latest.data) setProvision((cur) => applyProvisionUpdate(cur, latest.data!));
  }, [latest.data]);

  useAdminEvents((ev) => {
    if (ev.type === 'resync') {
      // events sent while the socket was away are lost: ask for the one we show
      if (provision) void groups.provisionStatus(provision.id).then((p) => setProvision((cur) => applyProvisionUpdate(cur, p)), () => undefined);
      return;
    }
    if (ev.type !== 'group.provision.progress' || ev.provision.group_id !== group.id) return;
    setProvision((cur) => applyProvisionUpdate(cur, ev.provision as unknown as GroupProvision));
    onProgress();
  });

  return (
    <section className="panel" aria-labelledby="provision-h">
      <h2 id="provision-h">Provision for group</h2>
      <p className="muted">Creates one machine per active member from a template, named after the member. The whole batch is refused when any member's quota or the group's would be exceeded: then nothing is created.</p>
      {offered.error !== undefined ? (
        <InlineError error={offered.error} />
      ) : offered.data === undefined ? (
        <p className="muted">Loading templates…</p>
      ) : offered.data.length === 0 ? (
        <p className="notice">No ready template is shared with this group or with everyone. <Link to="/templates">Make or share one on the Templates page.</Link></p>
      ) : (
        <ProvisionForm group={group} templates={offered.data} onAccepted={(p) => { setProvision(p); onProgress(); }} />
      )}
      {provision && <ProvisionProgress provision={provision} />}
    </section>
  );
}

function ProvisionForm({ group, templates, onAccepted }: { group: GroupDetail; templates: Template[]; onAccepted: (p: GroupProvision) => void }) {
  const [templateId, setTemplateId] = useState(templates[0]!.id);
  const template = templates.find((t) => t.id === templateId) ?? templates[0]!;
  const [sizes, setSizes] = useState<ProvisionSizes>(() => sizesFromTemplate(template));
  const [prefix, setPrefix] = useState(() => defaultNamePrefix(group.name));
  const [cloneMode, setCloneMode] = useState<'linked' | 'full'>('linked');
  const [start, setStart] = useState(true);
  const [refused, setRefused] = useState<unknown>(undefined);
  const active = group.members.filter((m) => m.status === 'active');
  const below = sizesBelowMinimum(template, sizes);
  const prefixOk = isValidNamePrefix(prefix.trim());

  const { pending, error, submit } = useSubmit(async () => {
    setRefused(undefined);
    try {
      onAccepted(await groups.provision(group.id, { template: template.id, name_prefix: prefix.trim(), clone_mode: cloneMode, start, ...sizes }));
    } catch (e) {
      // a quota refusal gets its own explanation below; anything else is a plain error
      if (quotaRefusal(e)) setRefused(e);
      else throw e;
    }
  });
  const refusal = quotaRefusal(refused);

  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Provision for group">
      <div className="field-row">
        <div className="field">
          <label htmlFor="prov-template">Template</label>
          <select id="prov-template" value={template.id} onChange={(e) => {
            const next = templates.find((t) => t.id === e.target.value)!;
            setTemplateId(next.id);
            setSizes(sizesFromTemplate(next)); // the new template's minimums
          }}>
            {templates.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
          </select>
          <small className="muted">At least {template.min_vcpus} vCPU · {formatMemoryMb(template.min_memory_mb)} · {template.min_disk_gb} GB{template.visibility === 'group' ? ' · shared with this group' : ' · shared with everyone'}</small>
        </div>
        {SIZE_FIELDS.map(([key, label]) => (
          <div className="field" key={key}>
            <label htmlFor={`prov-${key}`}>{label}</label>
            <input id={`prov-${key}`} type="number" min={sizesFromTemplate(template)[key]} value={Number.isNaN(sizes[key]) ? '' : sizes[key]} aria-invalid={below.includes(key)}
              onChange={(e) => setSizes((s) => ({ ...s, [key]: e.target.valueAsNumber }))} />
          </div>
        ))}
        <div className="field">
          <label htmlFor="prov-prefix">Name prefix</label>
          <input id="prov-prefix" maxLength={32} value={prefix} aria-invalid={!prefixOk} aria-describedby="prov-prefix-hint" onChange={(e) => setPrefix(e.target.value)} />
          <small id="prov-prefix-hint" className="muted">
            {prefixOk
              ? <>Machines are named <code>{memberVmName(prefix.trim(), '<member>')}</code>{active[0] ? <>, e.g. <code>{memberVmName(prefix.trim(), active[0].username)}</code></> : null}.</>
              : 'Letters, digits, ".", "_" or "-", starting with a letter or digit (at most 32).'}
          </small>
        </div>
        <div className="field">
          <label htmlFor="prov-clone">Disk</label>
          <select id="prov-clone" value={cloneMode} onChange={(e) => setCloneMode(e.target.value as 'linked' | 'full')}>
            <option value="linked">Linked clone</option>
            <option value="full">Full copy</option>
          </select>
        </div>
      </div>
      <label className="checkbox"><input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} /> Start each machine after it is created</label>
      {below.length > 0 && <p className="inline-error" role="alert">{below.map((k) => SIZE_FIELDS.find((f) => f[0] === k)![1]).join(', ')}: below the template's minimum.</p>}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={pending || active.length === 0 || below.length > 0 || !prefixOk}>
          {pending ? 'Provisioning…' : `Provision ${active.length} machine${active.length === 1 ? '' : 's'}`}
        </button>
        {active.length === 0 && <span className="muted">The group has no active members.</span>}
      </div>
      <InlineError error={error} />
      {refusal && (
        <div className="notice notice-danger" role="alert" data-provision-refused={refusal.scope}>
          <p><strong>Refused as a whole: nothing was created.</strong> {refusal.message}</p>
          {refusal.scope === 'group'
            ? <p>The group's quota for {refusal.resource} allows {refusal.limit ?? 'unlimited'}; {refusal.used} in use, {refusal.requested} requested. Raise the group quota above, or provision fewer or smaller machines.</p>
            : <p>{refusal.members.length > 0 ? <>Over their own {refusal.resource} quota: {refusal.members.join(', ')}.</> : <>A member's own {refusal.resource} quota is exhausted.</>} Raise their quota on the Users page, or choose smaller sizes.</p>}
        </div>
      )}
    </form>
  );
}

function ProvisionProgress({ provision: p }: { provision: GroupProvision }) {
  const done = p.succeeded + p.failed;
  return (
    <div className="provision-progress" role="status" data-provision-state={p.state}>
      <h3>Last provision <span className="muted">({p.name_prefix}-…, {new Date(p.created_at).toLocaleString()})</span></h3>
      <ProgressBar value={p.total ? done / p.total : 1} label="Provisioning progress" danger={p.failed > 0} />
      <p className={p.state === 'running' ? 'muted' : p.state === 'succeeded' ? 'notice notice-success' : 'notice notice-danger'}>{provisionSummary(p)}</p>
      <table className="table table-compact">
        <thead><tr><th scope="col">Member</th><th scope="col">Machine</th><th scope="col">Result</th><th scope="col">Detail</th></tr></thead>
        <tbody>
          {p.items.map((i) => (
            <tr key={i.user_id} data-provision-item={i.username} data-state={i.state}>
              <td>{i.username}</td>
              <td>{i.vm_uuid && i.state !== 'failed' ? <Link to={`/vms/${i.vm_uuid}`}>{i.vm_name}</Link> : i.vm_name}</td>
              <td><span className={`badge badge-result-${i.state === 'succeeded' ? 'success' : i.state === 'failed' ? 'failure' : 'pending'}`}>{i.state === 'pending' ? 'creating…' : i.state}</span></td>
              <td>{i.error ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
