// Home: your quota and your machines, kept live by /ws/events (no polling). A refetch happens only
// when the event socket (re)connects, since events sent while disconnected are lost.
import { useCallback, useState } from 'react';
import { useVmEvents } from '../api/events';
import { quota as quotaApi, vms as vmsApi } from '../api/endpoints';
import type { Vm } from '../api/types';
import { AsyncView, EmptyState } from '../components/AsyncStates';
import { QuotaBars } from '../components/QuotaBars';
import { VmCard } from '../components/VmCard';
import { useAsync } from '../lib/useAsync';
import { applyVmEvent, mergeFetchedVms } from '../lib/vm-events';
import { CreateVmDialog } from './CreateVmDialog';

export function DashboardPage() {
  const quota = useAsync(() => quotaApi.mine(), []);
  const list = useAsync(async () => (await vmsApi.list()).items, []);
  const [creating, setCreating] = useState(false);
  const { setData: setVms, reload: reloadVms } = list;
  const reloadQuota = quota.reload;

  useVmEvents(
    useCallback(
      (ev) => {
        if (ev.type === 'resync') {
          // Merge rather than replace: an event newer than this fetch must survive it.
          void vmsApi.list().then((r) => setVms((cur) => mergeFetchedVms(cur ?? [], r.items)), () => undefined);
          reloadQuota();
          return;
        }
        setVms((cur) => (cur ? applyVmEvent(cur, ev) : cur));
        // Creating, deleting, starting and stopping change usage; stats do not.
        if (ev.type !== 'vm.stats') reloadQuota();
      },
      [setVms, reloadQuota],
    ),
  );

  const replaceVm = (vm: Vm) => setVms((cur) => (cur ? applyVmEvent(cur, { type: 'vm.updated', vm }) : cur));

  return (
    <section className="page">
      <header className="page-header">
        <h1>Dashboard</h1>
        <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
          New virtual machine
        </button>
      </header>

      <section className="panel" aria-labelledby="quota-heading">
        <h2 id="quota-heading">Your quota</h2>
        <AsyncView {...quota}>{(q) => <QuotaBars quota={q} />}</AsyncView>
      </section>

      <section aria-labelledby="vms-heading">
        <h2 id="vms-heading">Virtual machines</h2>
        <AsyncView
          {...list}
          reload={reloadVms}
          isEmpty={(v) => v.length === 0}
          empty={
            <EmptyState title="You have no virtual machines yet">
              <p>
                Create one with <strong>New virtual machine</strong>: give it a name, choose its size within your quota and an installer ISO from the library. Then start it and open its console to
                install an operating system.
              </p>
              <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
                Create your first VM
              </button>
            </EmptyState>
          }
        >
          {(items) => (
            <div className="vm-grid">
              {items.map((vm) => (
                <VmCard key={vm.uuid} vm={vm} onChanged={replaceVm} />
              ))}
            </div>
          )}
        </AsyncView>
      </section>

      <CreateVmDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(vm) => {
          setVms((cur) => applyVmEvent(cur ?? [], { type: 'vm.created', vm }));
          reloadQuota();
        }}
      />
    </section>
  );
}
