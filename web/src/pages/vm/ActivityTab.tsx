// The VM's audit rows. Admins read them from the audit log; owners need a per-VM endpoint the
// contract does not have yet (GET /api/vms/{uuid}/activity, proposed), so a 404 there says so.
import { admin, vms } from '../../api/endpoints';
import { ApiError } from '../../api/errors';
import type { Vm } from '../../api/types';
import { useAuth } from '../../auth/AuthContext';
import { AsyncView, EmptyState } from '../../components/AsyncStates';
import { AuditTable } from '../../components/AuditTable';
import { useAsync } from '../../lib/useAsync';

export function ActivityTab({ vm }: { vm: Vm }) {
  const { user } = useAuth();
  const isAdmin = user?.role === 'admin';
  const rows = useAsync(async () => {
    try {
      const r = isAdmin ? await admin.audit({ target_type: 'vm', target_id: vm.uuid, per_page: 50 }) : await vms.activity(vm.uuid);
      return r.items;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && !isAdmin) return null;
      throw e;
    }
  }, [vm.uuid, isAdmin]);
  return (
    <section className="panel" aria-labelledby="activity-h">
      <h2 id="activity-h">Activity</h2>
      <AsyncView {...rows}>
        {(items) =>
          items === null ? (
            <EmptyState title="Activity is not available yet">This server does not offer the per-machine activity list yet.</EmptyState>
          ) : items.length === 0 ? (
            <EmptyState title="No activity recorded" />
          ) : (
            <AuditTable items={items} showTarget={false} />
          )
        }
      </AsyncView>
    </section>
  );
}
