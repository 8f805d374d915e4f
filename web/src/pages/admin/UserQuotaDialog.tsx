// One user's quota (limits and current usage), editable by an admin.
import { adminUsers } from '../../api/endpoints';
import type { AdminUser } from '../../api/types';
import { AsyncView } from '../../components/AsyncStates';
import { Modal } from '../../components/Modal';
import { QuotaEditor } from '../../components/QuotaEditor';
import { useAsync } from '../../lib/useAsync';

export function UserQuotaDialog({ user, onClose }: { user: AdminUser; onClose: () => void }) {
  const q = useAsync(() => adminUsers.quota(user.id), [user.id]);
  return (
    <Modal title={`Quota of ${user.username}`} open onClose={onClose} wide>
      <AsyncView {...q}>
        {(quota) => (
          <QuotaEditor
            idPrefix="user-quota"
            limits={quota.limits}
            usage={quota.usage}
            onSave={async (patch) => q.setData(await adminUsers.setQuota(user.id, patch))}
          />
        )}
      </AsyncView>
    </Modal>
  );
}
