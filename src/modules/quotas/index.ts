export { createQuotasService, registerQuotaDenialRecorder, recordQuotaDenial, quotaExceeded, type QuotasService, type QuotaView, type HostCapacity } from './quotas.service.js';
export { registerQuotaRoutes } from './quotas.routes.js';
export { QUOTA_KEYS, type QuotaKey, type QuotaLimits, type QuotaRequest } from './quota-rules.js';
export { RUNNING_STATES, lockUserQuota } from './quotas.repo.js';
export { createQuotaPolicy } from './quota-policy.js';
