export { audit, type AuditEvent } from './audit.service.js';
export { listAudit, type AuditFilter, type AuditRow, type AuditResult } from './audit.repo.js';
export { registerAuditRoutes } from './audit.routes.js';
