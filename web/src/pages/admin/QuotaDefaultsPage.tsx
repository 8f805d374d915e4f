// Defaults for new users' quotas. Changing them does not touch existing users.
import { admin } from '../../api/endpoints';
import { AsyncView } from '../../components/AsyncStates';
import { QuotaEditor } from '../../components/QuotaEditor';
import { useAsync } from '../../lib/useAsync';

export function QuotaDefaultsPage() {
  const d = useAsync(() => admin.quotaDefaults(), []);
  return (
    <section className="page">
      <h1>Quota defaults</h1>
      <p className="muted">New accounts start with these limits. Existing users keep theirs; change those on the Users page.</p>
      <section className="panel">
        <AsyncView {...d}>{(limits) => <QuotaEditor idPrefix="defaults" limits={limits} onSave={async (patch) => d.setData(await admin.setQuotaDefaults(patch))} />}</AsyncView>
      </section>
    </section>
  );
}
