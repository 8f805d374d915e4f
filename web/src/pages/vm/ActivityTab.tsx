// The VM's audit rows, for whoever may see the VM (GET /api/vms/{uuid}/activity; client IPs
// appear for admins only).
import { vms } from '../../api/endpoints';
import type { Vm } from '../../api/types';
import { AsyncView, EmptyState } from '../../components/AsyncStates';
import { AuditTable } from '../../components/AuditTable';
import { useAsync } from '../../lib/useAsync';

export function ActivityTab({ vm }: { vm: Vm }) {
  const rows = useAsync(async () => (await vms.activity(vm.uuid)).items, [vm.uuid]);
  return (
    <section className="panel" aria-labelledby="activity-h">
      <h2 id="activity-h">Activity</h2>
      <AsyncView {...rows} isEmpty={(r) => r.length === 0} empty={<EmptyState title="No activity recorded" />}>
        {(items) => <AuditTable items={items} showTarget={false} />}
      </AsyncView>
    </section>
  );
}
