// One VM: live state and power actions in the header, then tabs for overview/resize, console,
// media and boot order, snapshots, and activity. The tab is in the URL (?tab=) so it can be linked.
import { useCallback, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { useVmEvents } from '../../api/events';
import { vms } from '../../api/endpoints';
import type { Vm } from '../../api/types';
import { AsyncView, EmptyState } from '../../components/AsyncStates';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { StateBadge } from '../../components/StateBadge';
import { useAsync } from '../../lib/useAsync';
import { applyVmEventToOne, isNewerOrSame } from '../../lib/vm-events';
import { ActivityTab } from './ActivityTab';
import { ConsoleTab } from './ConsoleTab';
import { MediaTab } from './MediaTab';
import { OverviewTab } from './OverviewTab';
import { PowerActions } from './PowerActions';
import { SnapshotsTab } from './SnapshotsTab';

const TABS = [
  ['overview', 'Overview'],
  ['console', 'Console'],
  ['media', 'Media & boot'],
  ['snapshots', 'Snapshots'],
  ['activity', 'Activity'],
] as const;
type Tab = (typeof TABS)[number][0];

export function VmPage() {
  const { uuid = '' } = useParams();
  const vm = useAsync(() => vms.get(uuid), [uuid]);
  const [deleted, setDeleted] = useState(false);
  const { setData, reload } = vm;

  useVmEvents(
    useCallback(
      (ev) => {
        if (ev.type === 'resync') return reload();
        if (ev.vm.uuid !== uuid) return;
        if (ev.type === 'vm.deleted') setDeleted(true);
        setData((cur) => applyVmEventToOne(cur ?? null, ev) ?? cur);
      },
      [uuid, reload, setData],
    ),
  );

  const accept = useCallback((next: Vm) => setData((cur) => (cur && !isNewerOrSame(next, cur) ? cur : next)), [setData]);

  if (deleted) {
    return (
      <section className="page">
        <EmptyState title="This virtual machine was deleted">
          <Link to="/">Back to the dashboard</Link>
        </EmptyState>
      </section>
    );
  }
  return (
    <section className="page">
      <p className="breadcrumb">
        <Link to="/">Dashboard</Link> / virtual machine
      </p>
      <AsyncView {...vm}>{(v) => <VmView vm={v} onChange={accept} onDeleted={() => setDeleted(true)} />}</AsyncView>
    </section>
  );
}

function VmView({ vm, onChange, onDeleted }: { vm: Vm; onChange: (vm: Vm) => void; onDeleted: () => void }) {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const tab: Tab = TABS.some(([t]) => t === params.get('tab')) ? (params.get('tab') as Tab) : 'overview';

  return (
    <>
      <header className="page-header">
        <div>
          <h1>{vm.name}</h1>
          <p className="vm-state-line">
            State: <StateBadge state={vm.state} />
            {vm.state === 'missing' && <span className="muted"> — the hypervisor no longer has this machine; ask an administrator.</span>}
          </p>
        </div>
        <div className="header-actions">
          <PowerActions vm={vm} onChange={onChange} />
          <button type="button" className="btn btn-danger-outline" onClick={() => setConfirmDelete(true)} disabled={vm.state === 'deleting'}>
            Delete
          </button>
        </div>
      </header>

      <div className="tabs" role="tablist" aria-label="Virtual machine sections">
        {TABS.map(([id, label]) => (
          <button
            key={id}
            type="button"
            role="tab"
            id={`tab-${id}`}
            aria-selected={tab === id}
            aria-controls={`panel-${id}`}
            className={tab === id ? 'tab tab-active' : 'tab'}
            onClick={() => setParams(id === 'overview' ? {} : { tab: id }, { replace: true })}
          >
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tab-panel">
        {tab === 'overview' && <OverviewTab vm={vm} onChange={onChange} />}
        {tab === 'console' && <ConsoleTab vm={vm} />}
        {tab === 'media' && <MediaTab vm={vm} />}
        {tab === 'snapshots' && <SnapshotsTab vm={vm} />}
        {tab === 'activity' && <ActivityTab vm={vm} />}
      </div>

      <ConfirmDialog
        open={confirmDelete}
        title={`Delete ${vm.name}?`}
        message="The machine is powered off if running, and its disk and snapshots are deleted. This cannot be undone."
        confirmLabel="Delete permanently"
        onClose={() => setConfirmDelete(false)}
        onConfirm={async () => {
          await vms.remove(vm.uuid);
          onDeleted();
          navigate('/', { replace: true });
        }}
      />
    </>
  );
}
