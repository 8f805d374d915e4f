// used / limit for every quota resource. Usage above a limit (an admin lowered it) is shown in
// red with the word "over", never hidden; an unlimited resource says so instead of a bar.
import { QUOTA_KEYS, QUOTA_LABELS, formatQuantity, isOverLimit, usageFraction, type Quota, type QuotaKey } from '../lib/quota';
import { ProgressBar } from './ProgressBar';

export function QuotaBars({ quota, keys = QUOTA_KEYS }: { quota: Quota; keys?: readonly QuotaKey[] }) {
  return (
    <ul className="quota-list" aria-label="Quota usage">
      {keys.map((key) => {
        const used = quota.usage[key] ?? 0;
        const limit = quota.limits[key];
        const over = isOverLimit(quota, key);
        const full = limit !== null && used >= limit;
        return (
          <li key={key} className={over ? 'quota quota-over' : 'quota'} data-quota={key}>
            <div className="quota-head">
              <span className="quota-label">{QUOTA_LABELS[key]}</span>
              <span className="quota-value">
                {formatQuantity(key, used)} / {limit === null ? 'unlimited' : formatQuantity(key, limit)}
                {over && <strong className="quota-flag"> over limit</strong>}
              </span>
            </div>
            {limit === null ? (
              <div className="bar bar-unlimited" aria-hidden="true" />
            ) : (
              <ProgressBar value={usageFraction(quota, key)} label={`${QUOTA_LABELS[key]} used`} danger={over || full} />
            )}
          </li>
        );
      })}
    </ul>
  );
}
