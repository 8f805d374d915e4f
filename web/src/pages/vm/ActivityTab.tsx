// The VM's audit rows. Admins read them from the audit log (filtered by target). The API has no
// per-VM activity route for owners, so they get an explanation instead of a request that can only 404.
import { admin } from '../../api/endpoints';
import type { Vm } from '../../api/types';
import { useAuth } from '../../auth/AuthContext';
import { AsyncView, EmptyState } from '../../components/AsyncStates';
import { AuditTable } from '../../components/AuditTable';
import { useAsync } from '../../lib/useAsync';

function AdminActivity({ uuid }: { uuid: string }) {
  const rows = useAsync(async () => (await admin.audit({ target_type: 'vm', target_id: uuid, per_page: 50 })).items, [uuid]);
  return (
    <AsyncView {...rows} isEmpty={(r) => r.length === 0} empty={<EmptyState title="No activity recorded" />}>
      {(items) => <AuditTable items={items} showTarget={false} />}
    </AsyncView>
  );
}

export function ActivityTab({ vm }: { vm: Vm }) {
  const { user } = useAuth();
  return (
    <section className="panel" aria-labelledby="activity-h">
      <h2 id="activity-h">Activity</h2>
      {user?.role === 'admin' ? (
        <AdminActivity uuid={vm.uuid} />
      ) : (
        <EmptyState title="Activity is not available yet">Every action on this machine is recorded in the audit log; an administrator can show you its entries.</EmptyState>
      )}
    </section>
  );
}
